"""Embedders (hashed n-grams, OpenAI-compatible endpoint), kNN novelty, the FM judge."""

import json
import math
import os
import re
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from arenax.search.embedders import (
    EmbedderError,
    HashedNgramEmbedder,
    OpenAIEmbedder,
    make_embedder,
    split_prose,
)
from arenax.search.fm_errors import ProposerError
from arenax.search.novelty import FMJudge, NoveltyRule, knn_novelty, nearest, parse_verdict
from arenax.search.proposal import Usage

# The hand-written strategies' files are their `.source`; read them without importing JAX.
STRATEGIES = Path(__file__).resolve().parents[1] / "agents" / "car_tag"
SOURCES = {
    f"{folder}/{path.stem}": path.read_text()
    for folder in ("pursuers", "evaders")
    for path in sorted((STRATEGIES / folder).glob("*.py"))
    if path.stem != "__init__"
}


def change_a_constant(source: str) -> str:
    """The source with its first numeric literal in the code (after the docstring) changed."""
    start = source.index('"""', 3) + 3
    body = source[start:]
    match = re.search(r"(?<![\w.])\d+(\.\d+)?", body)
    assert match, "no numeric literal in the code"
    new = f"{float(match.group()) * 1.37 + 0.11:.3f}"
    return source[:start] + body[: match.start()] + new + body[match.end() :]


@pytest.fixture(scope="module")
def hashed():
    return HashedNgramEmbedder()


# ---- hashed n-gram embedder ---------------------------------------------------------


def test_hashed_embeddings_are_unit_float32_rows(hashed):
    texts = [*SOURCES.values(), ""]
    x = hashed.embed(texts)
    assert x.shape == (len(texts), 512) and x.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(x[:-1], axis=1), 1.0, atol=1e-5)
    assert not x[-1].any(), "an empty text embeds to the zero row"
    assert hashed.embed([]).shape == (0, 512)
    with pytest.raises(TypeError, match="single str"):
        hashed.embed("def act(obs, memory, key): ...")


def test_hashed_embeddings_are_deterministic_across_processes(hashed):
    text = SOURCES["pursuers/pure_pursuit"]
    here = hashed.embed([text])[0]
    assert np.array_equal(here, HashedNgramEmbedder().embed([text])[0])
    script = (
        "import sys, numpy as np\n"
        "from arenax.search.embedders import HashedNgramEmbedder\n"
        "v = HashedNgramEmbedder().embed([sys.stdin.read()])[0]\n"
        "sys.stdout.write(v.tobytes().hex())\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", script], input=text, capture_output=True, text=True, env=env
    )
    assert out.returncode == 0, out.stderr
    assert np.array_equal(np.frombuffer(bytes.fromhex(out.stdout), np.float32), here)


def test_a_changed_constant_is_closer_than_any_other_strategy(hashed):
    names = list(SOURCES)
    x = hashed.embed([SOURCES[n] for n in names])
    changed = hashed.embed([change_a_constant(SOURCES[n]) for n in names])
    for i, name in enumerate(names):
        to_copy = float(np.linalg.norm(x[i] - changed[i]))
        to_others = np.linalg.norm(np.delete(x, i, axis=0) - x[i], axis=1)
        assert to_copy < 0.1, name
        assert to_others.min() > 0.5, name
        assert to_copy < to_others.min() / 5, name


def test_renaming_moves_less_than_a_different_strategy(hashed):
    source = SOURCES["pursuers/pure_pursuit"]
    renamed = (
        source.replace("rel", "delta").replace("bearing", "off_nose").replace("steering", "turn")
    )
    x = hashed.embed([source, renamed, SOURCES["pursuers/intercept"]])
    assert np.linalg.norm(x[0] - x[1]) < 0.5 * np.linalg.norm(x[0] - x[2])


def test_description_prefix_is_read_as_prose():
    source = SOURCES["evaders/jink"]
    prose, code = split_prose("Jinks left and right at random.\n" + source)
    assert prose == "Jinks left and right at random."
    assert code == source
    assert split_prose(source) == ("", source)
    embedder = HashedNgramEmbedder()
    structure, _, prose_words, _ = embedder.features("Jinks left and right.\n" + source)
    assert structure == embedder.features(source)[0]
    alone = embedder.features(source)[2]
    assert prose_words["jinks left"] == alone["jinks left"] + 1


def test_hashed_rejects_bad_settings():
    with pytest.raises(ValueError, match="dim"):
        HashedNgramEmbedder(dim=2)
    with pytest.raises(ValueError, match="weights"):
        HashedNgramEmbedder(weights=(0, 0, 0, 0))


def test_make_embedder_specs(monkeypatch):
    assert make_embedder("hashed").dim == 512
    assert make_embedder("hashed:64").dim == 64
    with pytest.raises(ValueError, match="names no model"):
        make_embedder("openai:")
    with pytest.raises(ValueError, match="unknown embedder spec"):
        make_embedder("word2vec")
    with pytest.raises(ValueError, match="integer"):
        make_embedder("hashed:big")
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)
    with pytest.raises(EmbedderError, match=r"pip install 'arenax\[embeddings\]'"):
        make_embedder("st:all-MiniLM-L6-v2")


# ---- kNN novelty --------------------------------------------------------------------

POINTS = np.array([[0.0, 0.0], [1.0, 0.0], [3.0, 0.0], [0.0, 4.0]])


def test_knn_novelty_on_hand_made_points():
    assert knn_novelty([0.0, 0.0], POINTS, k=1) == 0.0
    assert knn_novelty([0.0, 0.0], POINTS, k=2) == pytest.approx(0.5)
    assert knn_novelty([0.0, 0.0], POINTS, k=3) == pytest.approx(4.0 / 3.0)
    assert knn_novelty([0.0, 0.0], POINTS, k=10) == pytest.approx(2.0)
    assert knn_novelty([3.0, 4.0], POINTS, k=1) == pytest.approx(3.0)
    assert knn_novelty([1.0, 1.0], np.zeros((0, 2)), k=3) == math.inf
    assert knn_novelty([1.0, 1.0], np.array([]), k=3) == math.inf
    with pytest.raises(ValueError, match=r"\(m, 3\)"):
        knn_novelty([1.0, 1.0, 1.0], POINTS)
    with pytest.raises(ValueError, match="NaN"):
        knn_novelty([np.nan, 1.0], POINTS)
    with pytest.raises(ValueError, match="k must be"):
        knn_novelty([1.0, 1.0], POINTS, k=0)


def test_nearest_on_hand_made_points():
    assert nearest([2.6, 0.5], POINTS) == (2, pytest.approx(math.hypot(0.4, 0.5)))
    assert nearest([0.0, 3.0], POINTS) == (3, pytest.approx(1.0))
    with pytest.raises(ValueError, match="empty"):
        nearest([0.0, 0.0], np.zeros((0, 2)))


def test_novelty_rule_in_embedding_space():
    rule = NoveltyRule(threshold=0.8, k=2, space="embedding")
    archive = np.array([[1.0, 0.0], [0.0, 1.0]])
    novel, score, index = rule.is_novel(np.array([1.0, 0.1]), None, archive, None)
    assert not novel and index == 0
    assert score == pytest.approx((0.1 + math.hypot(1.0, 0.9)) / 2)
    novel, score, index = rule.is_novel(np.array([-1.0, 0.0]), None, archive, None)
    assert novel and index == 1 and score == pytest.approx((2.0 + math.sqrt(2.0)) / 2)
    assert rule.is_novel(np.array([1.0, 0.0]), None, np.array([]), None) == (True, math.inf, None)


def test_novelty_rule_in_behaviour_space_scales_fields():
    archive = np.array([[0.5, 0.50], [0.9, 0.52]])
    candidate = np.array([0.5, 0.60])
    unit = NoveltyRule(threshold=0.1, k=1, space="behaviour")
    novel, score, index = unit.is_novel(None, candidate, None, archive)
    # RMS over fields: sqrt((0^2 + 0.1^2) / 2).
    assert (novel, index) == (False, 0) and score == pytest.approx(0.1 / math.sqrt(2))
    # The second field only spans ~0.1 in practice: scaling it up makes the move novel,
    # and member 1 (0.4 and 0.08/0.1 away) becomes nearer than member 0 (0 and 0.1/0.1).
    scaled = NoveltyRule(threshold=0.1, k=1, space="behaviour", behaviour_scale=(1.0, 0.1))
    novel, score, index = scaled.is_novel(None, candidate, None, archive)
    assert novel and index == 1 and score == pytest.approx(math.sqrt((0.4**2 + 0.8**2) / 2))
    with pytest.raises(ValueError, match="behaviour_scale has 1 fields, the behaviour vector 2"):
        NoveltyRule(0.1, space="behaviour", behaviour_scale=(1.0,)).is_novel(
            None, candidate, None, archive
        )
    with pytest.raises(ValueError, match="needs behaviour"):
        unit.is_novel(np.ones(2), None, np.ones((2, 2)), archive)


def test_novelty_rule_both_averages_the_two_distances_per_member():
    embeddings = np.array([[1.0, 0.0], [0.0, 1.0]])
    behaviours = np.array([[0.0, 0.0], [1.0, 1.0]])
    rule = NoveltyRule(threshold=0.3, k=1, space="both")
    # Member 0: same code, behaviour RMS 0.8 -> 0.4; member 1: code sqrt(2), behaviour
    # RMS 0.2 -> (1.414 + 0.2) / 2. The nearest is member 0 in the combined distance.
    novel, score, index = rule.is_novel(
        np.array([1.0, 0.0]), np.array([0.8, 0.8]), embeddings, behaviours
    )
    assert novel and index == 0 and score == pytest.approx(0.4)
    novel, score, index = rule.is_novel(
        np.array([1.0, 0.0]), np.array([0.1, 0.1]), embeddings, behaviours
    )
    assert not novel and index == 0 and score == pytest.approx(0.05)
    with pytest.raises(ValueError, match="2 embeddings but 1 behaviour"):
        rule.is_novel(np.array([1.0, 0.0]), np.zeros(2), embeddings, behaviours[:1])


def test_novelty_rule_rejects_bad_settings():
    with pytest.raises(ValueError, match="space"):
        NoveltyRule(0.1, space="vibes")
    with pytest.raises(ValueError, match="k must"):
        NoveltyRule(0.1, k=0)
    with pytest.raises(ValueError, match="threshold"):
        NoveltyRule(-1.0)
    with pytest.raises(ValueError, match="behaviour_scale"):
        NoveltyRule(0.1, behaviour_scale=(1.0, 0.0))


# ---- FM judge -----------------------------------------------------------------------


class FakeChat:
    def __init__(self, answer, error=None):
        self.answer, self.error, self.calls = answer, error, []

    def __call__(self, messages):
        self.calls.append(messages)
        if self.error is not None:
            raise self.error
        return self.answer, Usage(prompt_tokens=100, completion_tokens=9, cost_usd=0.001)


@pytest.mark.parametrize(
    ("answer", "verdict", "reason"),
    [
        ("YES\nIt searches over Dubins paths, which no neighbour does.", True, "It searches"),
        ("no - the same pure pursuit law with another gain.", False, "the same pure pursuit"),
        ("**Answer:** Yes. It predicts the evader's motion.", True, "It predicts"),
        ("Let me compare them.\n\nNO\n\nOnly the constants differ.", False, "Only the constants"),
        ("The candidate is a retuned copy, so my answer is NO.", False, "The candidate"),
    ],
)
def test_judge_reads_verdicts(answer, verdict, reason):
    chat = FakeChat(answer)
    novel, why, usage = FMJudge(chat).judge("def act(...): candidate", ["def act(...): other"])
    assert novel is verdict
    assert why.startswith(reason)
    assert usage.prompt_tokens == 100
    prompt = chat.calls[0][0]["content"]
    assert "candidate" in prompt and "other" in prompt and "YES or NO" in prompt


def test_judge_counts_garbage_as_no(caplog):
    for garbage in ("I cannot tell.", "", "Hmm, YES and NO.", "Hard to say: yes or no."):
        novel, why, _ = FMJudge(FakeChat(garbage)).judge("a", ["b"])
        assert novel is False and why.startswith("unparseable judge answer")
    assert "no YES/NO" in caplog.text
    assert parse_verdict("Nothing new here.") == (None, "")


def test_judge_chat_failures():
    transient = ProposerError("timeout_exhausted", "timed out 3 times", usage=Usage(5, 0, 0.0))
    novel, why, usage = FMJudge(FakeChat("", error=transient)).judge("a", ["b"])
    assert novel is False and "judge failed" in why and usage.prompt_tokens == 5
    with pytest.raises(ProposerError, match="auth"):
        FMJudge(FakeChat("", error=ProposerError("auth", "401"))).judge("a", ["b"])


def test_judge_cuts_long_programs():
    chat = FakeChat("NO\nsame")
    FMJudge(chat, max_chars=100, max_neighbours=1).judge("x" * 1000, ["y" * 50, "z" * 50])
    prompt = chat.calls[0][0]["content"]
    assert "900 more characters cut" in prompt and "y" * 50 in prompt and "z" * 50 not in prompt


# ---- OpenAI-compatible embeddings endpoint ------------------------------------------


class EmbeddingsHandler(BaseHTTPRequestHandler):
    """/v1/embeddings: each text -> [len(text), 1, 0] (unnormalised), data in reverse
    order; `server.faults` is a list of HTTP codes to answer with first."""

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append(body)
        if self.path != "/v1/embeddings":
            return self.reply(404, {"error": {"message": "not found"}})
        if self.server.faults:
            code = self.server.faults.pop(0)
            return self.reply(code, {"error": {"message": f"injected {code}"}})
        texts = body["input"]
        data = [
            {"object": "embedding", "index": i, "embedding": [float(len(t)), 1.0, 0.0]}
            for i, t in enumerate(texts)
        ]
        self.reply(
            200,
            {
                "object": "list",
                "data": data[::-1],
                "model": body["model"],
                "usage": {"prompt_tokens": len(texts), "total_tokens": len(texts)},
            },
        )

    def reply(self, code, payload):
        raw = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), EmbeddingsHandler)
    httpd.requests, httpd.faults = [], []
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def endpoint(server, monkeypatch):
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("ARENAX_TEST_KEY", raising=False)
    server.requests.clear()
    server.faults.clear()
    return f"http://127.0.0.1:{server.server_address[1]}/v1"


def test_openai_embedder_batches_orders_and_normalises(server, endpoint):
    embedder = OpenAIEmbedder(
        "tiny-embed", base_url=endpoint, api_key_env="ARENAX_TEST_KEY", batch_size=2
    )
    texts = ["a", "bbb", "cc", "dddd", "e"]
    x = embedder.embed(texts)
    assert len(server.requests) == 3
    assert [r["input"] for r in server.requests] == [["a", "bbb"], ["cc", "dddd"], ["e"]]
    assert server.requests[0]["model"] == "tiny-embed"
    raw = np.array([[len(t), 1.0, 0.0] for t in texts])
    np.testing.assert_allclose(x, raw / np.linalg.norm(raw, axis=1, keepdims=True), rtol=1e-6)
    assert x.dtype == np.float32 and embedder.dim == 3 and embedder.name == "openai:tiny-embed"


def test_openai_embedder_retries_a_500(server, endpoint):
    server.faults.append(500)
    embedder = OpenAIEmbedder("m", base_url=endpoint, max_retries=2)
    x = embedder.embed(["abc"])
    assert len(server.requests) == 2
    assert x.shape == (1, 3)


def test_openai_embedder_errors_are_clear(server, endpoint, monkeypatch):
    server.faults.extend([500, 500])
    with pytest.raises(EmbedderError, match="HTTP 500"):
        OpenAIEmbedder("m", base_url=endpoint, max_retries=1).embed(["abc"])
    server.faults.append(401)
    with pytest.raises(EmbedderError, match="HTTP 401"):
        OpenAIEmbedder("m", base_url=endpoint, max_retries=3).embed(["abc"])
    assert len(server.requests) == 3, "a 401 is not retried"
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(EmbedderError, match="set ARENAX_TEST_KEY"):
        OpenAIEmbedder("m", api_key_env="ARENAX_TEST_KEY")
