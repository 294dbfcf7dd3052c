"""FM clients against a scripted OpenAI-compatible server on 127.0.0.1, plus parsing,
replay/recording and prompt building. No JAX runs here."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from arenax.search.code_extraction import extract_code, parse_answer
from arenax.search.fm import (
    OpenAIProposer,
    ProposerError,
    RecordingProposer,
    ReplayProposer,
    make_proposer,
)
from arenax.search.fm_openai import is_local_url
from arenax.search.prompt_facts import observation_fields
from arenax.search.prompting import PromptLimits, build_messages
from arenax.search.proposal import ProgramSummary, Proposal, ProposalRequest, Usage

PROGRAM = '''"""Pure pursuit: steer the car's nose straight at the evader.

Steering is proportional to the heading error.
"""
import jax.numpy as jnp

from arenax.envs.car_tag import dynamics


def act(obs, memory, key):
    rel = obs.opp_pos - obs.own_pos
    error = dynamics.wrap_angle(dynamics.vector_heading(rel) - obs.own_heading)
    return jnp.clip(3.0 * error, -1.0, 1.0)[None], memory
'''
ANSWER = f"Some reasoning first.\n\nNAME: pure_pursuit_v2\n```python\n{PROGRAM}```\n"
REQUEST = ProposalRequest(role="pursuer", mode="improve", seed=1)


def completion(
    content: str | None, finish_reason: str = "stop", prompt_tokens: int = 100, completion_tokens=20
) -> dict[str, Any]:
    """An OpenAI chat-completions response body."""
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 0,
        "model": "test-model",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": finish_reason,
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def error_body(status: int) -> dict[str, Any]:
    return {"error": {"message": f"scripted {status}", "type": "test", "code": None}}


class ScriptedServer:
    """An HTTP server on 127.0.0.1 answering POSTs from a script of responses.

    A step is a dict: `status` (default 200), `body` (dict -> JSON, or bytes),
    `sleep` (seconds before answering), `headers`. Requests are recorded as
    parsed JSON; an unscripted request gets a 599 so the test fails loudly.
    """

    def __init__(self) -> None:
        self.steps: list[dict[str, Any]] = []
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server.lock:
                    server.requests.append(body)
                    step = server.steps.pop(0) if server.steps else {"status": 599, "body": b"{}"}
                time.sleep(step.get("sleep", 0.0))
                payload = step.get("body", b"")
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                try:
                    self.send_response(step.get("status", 200))
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for key, value in step.get("headers", {}).items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the client timed out and hung up

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            block_on_close = False

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def script(self, *steps: dict[str, Any]) -> None:
        with self.lock:
            self.steps = list(steps)
            self.requests = []

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def server():
    scripted = ScriptedServer()
    yield scripted
    scripted.close()


def ok(content: str | None = ANSWER, **kwargs: Any) -> dict[str, Any]:
    return {"body": completion(content, **kwargs)}


def fail(status: int, **kwargs: Any) -> dict[str, Any]:
    return {"status": status, "body": error_body(status), **kwargs}


def proposer(server: ScriptedServer, **kwargs: Any) -> OpenAIProposer:
    options = dict(timeout_s=0.5, max_retries=3, backoff_s=0.001, max_backoff_s=0.01, seed=0)
    options.update(kwargs)
    return OpenAIProposer("test-model", base_url=server.url, **options)


# --- the HTTP path -----------------------------------------------------------------------------


def test_proposal_from_a_clean_answer(server):
    server.script(ok())
    fm = proposer(server, price_per_1k_prompt=0.5, price_per_1k_completion=2.0, temperature=0.3)
    proposal = fm.propose(REQUEST)
    assert proposal.source == PROGRAM
    assert proposal.name == "pure_pursuit_v2"
    assert proposal.description == "Pure pursuit: steer the car's nose straight at the evader."
    assert proposal.raw == ANSWER
    assert proposal.usage == Usage(100, 20, pytest.approx(0.1 * 0.5 + 0.02 * 2.0))
    (sent,) = server.requests
    assert sent["model"] == "test-model"
    assert sent["max_tokens"] == 4096 and sent["temperature"] == 0.3
    assert [m["role"] for m in sent["messages"]] == ["system", "user"]
    assert fm.stats()["attempts"] == 1 and fm.stats()["retries"] == 0


def test_server_errors_are_retried_then_succeed(server):
    server.script(fail(500), fail(503), ok())
    fm = proposer(server)
    assert fm.propose(REQUEST).source == PROGRAM
    assert len(server.requests) == 3
    assert (fm.attempts, fm.retries) == (3, 2)


def test_rate_limit_is_retried_honouring_retry_after(server):
    server.script(fail(429, headers={"Retry-After": "0.2"}), ok())
    fm = proposer(server, max_backoff_s=1.0)  # Retry-After is honoured up to this cap
    start = time.monotonic()
    assert fm.propose(REQUEST).name == "pure_pursuit_v2"
    assert time.monotonic() - start >= 0.2
    assert len(server.requests) == 2


def test_rate_limit_exhausted(server):
    server.script(*[fail(429)] * 3)
    with pytest.raises(ProposerError) as caught:
        proposer(server, max_retries=2).propose(REQUEST)
    assert caught.value.kind == "rate_limit_exhausted" and not caught.value.fatal
    assert caught.value.attempts == 3 and len(server.requests) == 3


@pytest.mark.parametrize(("status", "kind"), [(401, "auth"), (403, "auth"), (400, "bad_request")])
def test_client_errors_are_not_retried(server, status, kind):
    server.script(fail(status), ok())
    fm = proposer(server)
    with pytest.raises(ProposerError) as caught:
        fm.propose(REQUEST)
    assert caught.value.kind == kind and caught.value.fatal
    assert len(server.requests) == 1
    assert fm.failures[kind] == 1
    server.script(ok(""), fail(status))  # an empty (billed) answer, then the refusal
    with pytest.raises(ProposerError) as caught:
        fm.propose(REQUEST)
    assert caught.value.kind == kind and caught.value.attempts == 2
    assert caught.value.usage == Usage(100, 20, 0.0)


def test_timeout_is_retried_then_succeeds(server):
    server.script({**ok(), "sleep": 0.6}, ok())
    fm = proposer(server, timeout_s=0.2)
    assert fm.propose(REQUEST).source == PROGRAM
    assert fm.attempts == 2


def test_timeouts_exhausted(server):
    server.script(*[{**ok(), "sleep": 0.4}] * 2)
    with pytest.raises(ProposerError) as caught:
        proposer(server, timeout_s=0.15, max_retries=1).propose(REQUEST)
    assert caught.value.kind == "timeout_exhausted"
    assert "timed out" in str(caught.value)


def test_malformed_json_is_retried(server):
    server.script({"body": b"{not json"}, {"body": {"id": "x"}}, ok())
    assert proposer(server).propose(REQUEST).source == PROGRAM
    assert len(server.requests) == 3


def test_server_errors_exhausted(server):
    server.script({"body": b"{not json"}, fail(500), fail(502))
    with pytest.raises(ProposerError) as caught:
        proposer(server, max_retries=2).propose(REQUEST)
    assert caught.value.kind == "server_error_exhausted"
    assert "HTTP 502" in str(caught.value) and "3 attempt(s)" in str(caught.value)


def test_empty_content_is_retried_then_raises(server):
    server.script(ok(None), ok("   "), ok())
    fm = proposer(server)
    proposal = fm.propose(REQUEST)
    assert proposal.source == PROGRAM
    assert proposal.usage == Usage(300, 60, 0.0)  # the empty answers were billed too
    server.script(ok(""), ok(""))
    with pytest.raises(ProposerError) as caught:
        proposer(server, max_retries=1).propose(REQUEST)
    assert caught.value.kind == "empty"
    assert caught.value.usage == Usage(200, 40, 0.0)


def test_truncated_answer_asks_once_for_a_shorter_program(server):
    server.script(ok("```python\ndef act(obs, memo", finish_reason="length"), ok())
    fm = proposer(server)
    proposal = fm.propose(REQUEST)
    assert proposal.source == PROGRAM
    assert proposal.usage == Usage(200, 40, 0.0)
    first, second = server.requests
    assert "shorter program" not in first["messages"][-1]["content"]
    assert "shorter program" in second["messages"][-1]["content"]
    assert len(second["messages"]) == 2  # the note joins the user message (roles alternate)


def test_truncated_twice_raises(server):
    cut = ok("```python\ndef act(obs", finish_reason="length")
    server.script(cut, cut)
    with pytest.raises(ProposerError) as caught:
        proposer(server).propose(REQUEST)
    assert caught.value.kind == "truncated"
    assert caught.value.raw.startswith("```python")
    assert caught.value.usage == Usage(200, 40, 0.0)
    assert len(server.requests) == 2


def test_answer_without_code_raises_no_code(server):
    server.script(ok("I would steer towards the evader, but I cannot write code today."))
    with pytest.raises(ProposerError) as caught:
        proposer(server).propose(REQUEST)
    assert caught.value.kind == "no_code" and not caught.value.fatal
    assert "cannot write code" in caught.value.raw
    assert caught.value.usage == Usage(100, 20, 0.0)


def test_usage_counters_add_up(server):
    server.script(
        {"body": completion(ANSWER, prompt_tokens=1000, completion_tokens=200)},
        fail(500),
        {"body": completion(ANSWER, prompt_tokens=2000, completion_tokens=100)},
        {"body": completion("", prompt_tokens=500, completion_tokens=0)},
        {"body": completion("no code here", prompt_tokens=10, completion_tokens=5)},
    )
    fm = proposer(server, price_per_1k_prompt=1.0, price_per_1k_completion=10.0)
    first, second = fm.propose(REQUEST), fm.propose(REQUEST)
    with pytest.raises(ProposerError) as caught:
        fm.propose(REQUEST)
    assert first.usage == Usage(1000, 200, pytest.approx(3.0))
    assert second.usage == Usage(2000, 100, pytest.approx(3.0))
    assert caught.value.usage == Usage(510, 5, pytest.approx(0.51 + 0.05))
    total = first.usage + second.usage + caught.value.usage
    assert fm.usage.prompt_tokens == total.prompt_tokens == 3510
    assert fm.usage.completion_tokens == total.completion_tokens == 305
    assert fm.usage.cost_usd == pytest.approx(total.cost_usd)
    stats = fm.stats()
    assert (stats["attempts"], stats["retries"], stats["failures"]) == (5, 2, {"no_code": 1})


def test_chat_for_other_uses(server):
    server.script(ok("yes: it circles the car", prompt_tokens=7, completion_tokens=3))
    text, usage = proposer(server).chat([{"role": "user", "content": "Is this new?"}], max_tokens=8)
    assert text == "yes: it circles the car" and usage == Usage(7, 3, 0.0)
    assert server.requests[0]["max_tokens"] == 8


def test_max_completion_tokens_field_and_server_default_temperature(server):
    server.script(ok())
    proposer(server, token_limit_field="max_completion_tokens", temperature=None).propose(REQUEST)
    (sent,) = server.requests
    assert sent["max_completion_tokens"] == 4096
    assert "max_tokens" not in sent and "temperature" not in sent


def test_missing_key_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("MY_FM_KEY", raising=False)
    with pytest.raises(ProposerError, match="OPENAI_API_KEY") as caught:
        OpenAIProposer("gpt-test")
    assert caught.value.kind == "config" and caught.value.fatal
    with pytest.raises(ProposerError, match="MY_FM_KEY"):
        OpenAIProposer("m", base_url="https://fm.example.com/v1", api_key_env="MY_FM_KEY")
    # Local servers take any key; a remote one without auth takes an explicit "EMPTY".
    assert OpenAIProposer("m", base_url="http://localhost:11434/v1").client.api_key == "EMPTY"
    explicit = OpenAIProposer("m", base_url="https://fm.example.com/v1", api_key="EMPTY")
    assert explicit.client.api_key == "EMPTY"
    monkeypatch.setenv("MY_FM_KEY", "sk-test")
    keyed = OpenAIProposer("m", base_url="https://fm.example.com/v1", api_key_env="MY_FM_KEY")
    assert keyed.client.api_key == "sk-test"


@pytest.mark.parametrize(
    ("url", "local"),
    [
        ("http://127.0.0.1:8000/v1", True),
        ("http://localhost:11434/v1", True),
        ("http://[::1]:8080/v1", True),
        ("http://192.168.1.20:8000/v1", True),
        ("http://vllm:8000/v1", True),
        ("https://api.openai.com/v1", False),
        ("https://8.8.8.8/v1", False),
    ],
)
def test_local_urls(url, local):
    assert is_local_url(url) is local


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError, match="model"):
        OpenAIProposer(" ", base_url="http://127.0.0.1:1/v1")
    with pytest.raises(ValueError, match="token_limit_field"):
        OpenAIProposer("m", base_url="http://127.0.0.1:1/v1", token_limit_field="tokens")
    with pytest.raises(ValueError, match="max_retries"):
        OpenAIProposer("m", base_url="http://127.0.0.1:1/v1", max_retries=-1)


# --- parsing answers ---------------------------------------------------------------------------


def test_extract_code_picks_the_block_that_defines_act():
    text = (
        "<think>draft:\n```python\ndef act(obs, memory, key):\n    return 0\n```\n</think>\n"
        "Install first:\n```bash\npip install jax\n```\n"
        "A helper:\n```python\ndef helper(x):\n    return x\n```\n"
        f"The program:\n```python\n{PROGRAM}```\n"
        "Usage:\n```python\naction, memory = act(obs, (), key)\n```\n"
    )
    assert extract_code(text) == PROGRAM


def test_extract_code_variants():
    indented = (
        "1. The program:\n\n    ```py\n"
        + "".join(f"    {line}\n" if line else "\n" for line in PROGRAM.splitlines())
        + "    ```\n"
    )
    assert extract_code(indented) == PROGRAM
    assert extract_code(f"~~~\n{PROGRAM}~~~") == PROGRAM
    assert extract_code(f"NAME: x\n```python\n{PROGRAM}") == PROGRAM  # unclosed (cut off)
    assert extract_code(PROGRAM) == PROGRAM  # unfenced pure code
    assert extract_code(f"Here it is.\n\n{PROGRAM}") == PROGRAM
    assert extract_code(PROGRAM.replace("\n", "\r\n")) == PROGRAM
    broken = "import jax.numpy as jnp\n\ndef act(obs, memory, key)\n    return obs\n"
    assert extract_code(f"Sure:\n{broken}") == broken  # the sandbox reports the syntax error


@pytest.mark.parametrize(
    "text",
    [
        "",
        "I am not sure how to do this.",
        "```python\ndef helper(x):\n    return x\n```",
        "# Plan\nFirst turn left, then act fast.",
    ],
)
def test_extract_code_raises_no_code(text):
    with pytest.raises(ProposerError) as caught:
        extract_code(text)
    assert caught.value.kind == "no_code"
    assert "act(obs, memory, key)" in str(caught.value)


def test_parse_answer_names_and_descriptions():
    source, name, description = parse_answer(
        f"**NAME:** `Wall-Hugger Evader`\n```python\n{PROGRAM}```", "evader"
    )
    assert (source, name) == (PROGRAM, "wall_hugger_evader")
    assert description.startswith("Pure pursuit")
    # No NAME line: from the description; no docstring: the prose; neither: role and hash.
    assert (
        parse_answer(f"```python\n{PROGRAM}```", "pursuer")[1] == "pure_pursuit_steer_the_cars_nose"
    )
    bare = "def act(obs, memory, key):\n    return obs.opp_pos, memory\n"
    _, name, description = parse_answer(f"Runs at the car.\n```python\n{bare}```", "evader")
    assert (name, description) == ("runs_at_the_car", "Runs at the car.")
    _, name, description = parse_answer(bare, "evader")
    assert description == "" and name.startswith("evader_") and len(name) == len("evader_") + 8


@pytest.mark.parametrize("role", ["pursuer", "evader"])
def test_hand_written_strategies_parse_as_answers(role):
    folder = Path(__file__).resolve().parent.parent / "agents" / "car_tag" / f"{role}s"
    files = sorted(p for p in folder.glob("*.py") if p.name != "__init__.py")
    assert len(files) >= 3
    for path in files:
        source = path.read_text()
        answer = f"NAME: {path.stem}\n```python\n{source}```\n"
        assert parse_answer(answer, role) == (
            source,
            path.stem,
            " ".join(source.split('"""')[1].split("\n\n")[0].split()),
        )
        assert extract_code(source) == source  # unfenced


# --- replay and recording ----------------------------------------------------------------------


def write_lines(path, *records: Any) -> None:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records))


def test_replay_returns_recorded_answers_in_order(tmp_path):
    path = tmp_path / "answers.jsonl"
    write_lines(
        path,
        {"proposal": {"source": PROGRAM, "name": "first", "description": "d1"}},
        "",
        {"raw": ANSWER},
        {"request": {"role": "pursuer"}, "error": {"kind": "no_code", "message": "no block"}},
        {"proposal": {"source": PROGRAM, "usage": {"prompt_tokens": 5, "cost_usd": 0.25}}},
    )
    replay = ReplayProposer(path)
    assert len(replay) == 4
    first = replay.propose(REQUEST)
    assert (first.source, first.name, first.description) == (PROGRAM, "first", "d1")
    assert replay.propose(REQUEST).name == "pure_pursuit_v2"
    with pytest.raises(ProposerError, match="no block") as caught:
        replay.propose(REQUEST)
    assert caught.value.kind == "no_code"
    fourth = replay.propose(REQUEST)
    assert fourth.usage == Usage(5, 0, 0.25) and fourth.name == "pure_pursuit_steer_the_cars_nose"
    assert replay.remaining == 0
    with pytest.raises(ProposerError, match="all were replayed") as caught:
        replay.propose(REQUEST)
    assert caught.value.kind == "replay_exhausted" and caught.value.fatal


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ('{"proposal": {"source": "x"', "not JSON"),
        ("[1, 2]", "JSON object"),
        ('{"request": {"role": "pursuer"}}', "exactly one of"),
        ('{"proposal": {"name": "no source"}}', '"source" must be a string'),
        ('{"error": {"kind": "meltdown"}}', "unknown error kind"),
        ('{"proposal": {"source": "x", "usage": {"prompt_tokens": "many"}}}', "non-number"),
        ('{"proposal": {"source": "x", "name": 3}}', '"name" must be a string'),
    ],
)
def test_replay_rejects_malformed_files(tmp_path, line, problem):
    path = tmp_path / "bad.jsonl"
    write_lines(path, {"raw": ANSWER}, line)
    with pytest.raises(ProposerError, match=f"line 2: .*{problem}") as caught:
        ReplayProposer(path)
    assert caught.value.kind == "replay_malformed"


def test_replay_missing_file_and_role_mismatch(tmp_path):
    with pytest.raises(ProposerError, match="does not exist"):
        ReplayProposer(tmp_path / "nope.jsonl")
    path = tmp_path / "evader.jsonl"
    write_lines(path, {"request": {"role": "evader"}, "raw": ANSWER})
    with pytest.raises(ProposerError, match="role 'evader'") as caught:
        ReplayProposer(path).propose(REQUEST)
    assert caught.value.kind == "replay_mismatch"


def test_recording_replays_identically(server, tmp_path):
    server.script(
        {"body": completion(ANSWER, prompt_tokens=11, completion_tokens=7)},
        ok("no program, sorry"),
        {"body": completion(ANSWER.replace("pure_pursuit_v2", "second"), prompt_tokens=3)},
    )
    path = tmp_path / "run" / "fm.jsonl"
    parent = ProgramSummary("p1", "parent", "pursuer", PROGRAM, "a parent", 0.5)
    requests = [
        REQUEST,
        ProposalRequest("evader", "novel", archive=(parent,), seed=2),
        ProposalRequest("pursuer", "repair", failed_source=PROGRAM, error="ShapeError", seed=3),
    ]
    recorder = RecordingProposer(proposer(server, price_per_1k_prompt=0.1), path)
    assert recorder.name == "openai:test-model"
    recorded: list[Proposal | str] = []
    for request in requests:
        try:
            recorded.append(recorder.propose(request))
        except ProposerError as error:
            recorded.append(error.kind)
    assert recorded[1] == "no_code"
    replay = ReplayProposer(path)
    replayed: list[Proposal | str] = []
    for request in requests:
        try:
            replayed.append(replay.propose(request))
        except ProposerError as error:
            replayed.append(error.kind)
    assert replayed == recorded
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert lines[1]["request"] == {
        "role": "evader",
        "mode": "novel",
        "seed": 2,
        "parents": [],
        "archive": ["p1"],
        "opponents": [],
    }
    assert lines[2]["request"]["error"] == "ShapeError"
    assert lines[0]["proposal"]["usage"]["prompt_tokens"] == 11
    # The judge's chat goes through unrecorded; a replay has no chat endpoint.
    server.script(ok("NO: same idea"))
    assert recorder.chat([{"role": "user", "content": "new?"}])[0] == "NO: same idea"
    assert len(path.read_text().splitlines()) == 3
    assert getattr(RecordingProposer(replay, tmp_path / "r.jsonl"), "chat", None) is None


def test_make_proposer(server, tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    fm = make_proposer("openai:qwen2.5-coder:7b", seed=3, base_url=server.url, max_tokens=64)
    assert isinstance(fm, OpenAIProposer)
    assert (fm.model, fm.max_tokens, fm.name) == ("qwen2.5-coder:7b", 64, "openai:qwen2.5-coder:7b")
    monkeypatch.setenv("OPENAI_BASE_URL", server.url)
    assert make_proposer("openai:m").base_url == server.url
    path = tmp_path / "a.jsonl"
    write_lines(path, {"raw": ANSWER})
    assert isinstance(make_proposer(f"replay:{path}"), ReplayProposer)
    recorded = make_proposer(f"replay:{path}", record_to=tmp_path / "copy.jsonl")
    assert isinstance(recorded, RecordingProposer)
    assert recorded.propose(REQUEST).name == "pure_pursuit_v2"
    assert ReplayProposer(tmp_path / "copy.jsonl").propose(REQUEST).name == "pure_pursuit_v2"
    for bad in ("", "openai:", "replay:", "gpt-4", "offline:x", "anthropic:claude"):
        with pytest.raises(ValueError, match="unknown FM spec"):
            make_proposer(bad)
    with pytest.raises(ValueError, match="only to openai"):
        make_proposer(f"replay:{path}", temperature=0.1)


def test_make_proposer_offline():
    offline = pytest.importorskip("arenax.search.offline")
    generator = make_proposer("offline", seed=4)
    assert isinstance(generator, offline.OfflineGenerator)


# --- prompts -----------------------------------------------------------------------------------


def summary(
    i: int, role: str = "pursuer", quality: float | None = 0.5, size: int = 0
) -> ProgramSummary:
    source = PROGRAM + "# padding\n" * size
    return ProgramSummary(f"id{i}", f"prog_{i}", role, source, f"idea number {i}", quality)


def test_build_messages_improve():
    request = ProposalRequest(
        role="evader",
        mode="improve",
        parents=(summary(1, "evader", 0.75),),
        archive=(summary(1, "evader"), summary(2, "evader", None)),
        opponents=(summary(3, quality=0.25),),
    )
    system, user = build_messages(request)
    assert (system["role"], user["role"]) == ("system", "user")
    rules = system["content"]
    for fact in ("homicidal chauffeur", "capture_radius", "lax.fori_loop", "jnp.where", "NAME:"):
        assert fact in rules
    assert all(f"obs.{field}" in rules for field in observation_fields())
    assert "dynamics.pursuer_step(" in rules and "dubins.shortest_path(" in rules
    assert "from arenax.envs.car_tag import dynamics, dubins" in rules
    text = user["content"]
    assert "policy of the **evader**" in text and "# Task: improve" in text
    assert "(2,)" in text  # the evader's action
    assert "score 0.750" in text and "`prog_2` (unscored)" in text and "score 0.250" in text
    assert text.count("`prog_1`") == 1  # a parent is not listed again in the archive
    assert text.count("def act(") == 2  # the parent's and the opponent's sources


def test_build_messages_repair_includes_the_error():
    error = "ShapeError: act returned shape (2,) for the pursuer; expected (1,)"
    request = ProposalRequest(
        role="pursuer", mode="repair", failed_source="def act(obs, memory, key): ...", error=error
    )
    _, user = build_messages(request, helper_api="CUSTOM HELPER DOCS")
    assert error in user["content"] and "def act(obs, memory, key): ..." in user["content"]
    assert "policy of the **pursuer**" in user["content"] and "# Task: repair" in user["content"]
    assert (
        "CUSTOM HELPER DOCS"
        in build_messages(request, helper_api="CUSTOM HELPER DOCS")[0]["content"]
    )


def test_build_messages_is_bounded():
    limits = PromptLimits(max_parents=2, max_archive=3, max_opponents=4, max_source_chars=1500)
    request = ProposalRequest(
        role="pursuer",
        mode="novel",
        parents=tuple(summary(i, size=500) for i in range(5)),
        archive=tuple(summary(i) for i in range(10, 30)),
        opponents=tuple(summary(i, "evader", size=500) for i in range(40, 60)),
    )
    text = build_messages(request, limits=limits)[1]["content"]
    assert "prog_1`" in text and "prog_2`" not in text
    assert "prog_12`" in text and "prog_13`" not in text
    assert "prog_43`" in text and "prog_44`" not in text
    assert "characters omitted" in text
    assert len(text) < 4 * 1600 + 4000
    huge_error = "Traceback\n" + "x" * 50_000 + "\nFinalError: the real cause"
    repair = ProposalRequest("pursuer", "repair", failed_source=PROGRAM, error=huge_error)
    content = build_messages(repair)[1]["content"]
    assert "FinalError: the real cause" in content and len(content) < 8000


def test_build_messages_rejects_bad_requests():
    with pytest.raises(ValueError, match="role"):
        build_messages(ProposalRequest(role="driver", mode="improve"))
    with pytest.raises(ValueError, match="mode"):
        build_messages(ProposalRequest(role="pursuer", mode="mutate"))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="failed_source and error"):
        build_messages(ProposalRequest(role="pursuer", mode="repair", failed_source=PROGRAM))
