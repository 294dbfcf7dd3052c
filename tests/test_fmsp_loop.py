"""End-to-end FMSP: a tiny QDSP run with the offline generator, resume after an
interruption, vFMSP's one-policy archives, `run_fmsp` with its report, the CLI's
errors; marked slow: a real `kill -9` of the CLI followed by `--resume`.

One sandbox (two workers, short episodes in a small arena) is shared by every test,
so the (cheap) hand-written seeds compile once per worker.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from arenax.cli import app
from arenax.search.archive import Archive
from arenax.search.champions import contenders, pick_champions
from arenax.search.embedders import make_embedder
from arenax.search.event_log import read_events
from arenax.search.loop_config import LoopConfig
from arenax.search.loops import OTHER, ROLES, FMSPLoop, as_program
from arenax.search.offline import OfflineGenerator
from arenax.search.program import strategy_programs
from arenax.search.proposal import Proposal, ProposalRequest
from arenax.search.run_fmsp import run_fmsp
from arenax.search.sandbox import Sandbox

SEEDS = ("pure_pursuit", "proportional_navigation", "straight_flee", "jink")  # cheap ones
ENV = {"horizon": 60, "arena_half_size": 2.5, "min_start_distance": 1.0, "max_start_distance": 3.0}
EPISODES = 4


def tiny_config(**changes) -> LoopConfig:
    fields = dict(
        algo="qdsp",
        iterations=1,
        candidates_per_role=2,
        num_episodes=EPISODES,
        max_opponents=4,
        env_overrides=ENV,
        seed_names=SEEDS,
        seed=3,
    )
    return LoopConfig(**{**fields, **changes})


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(env_overrides=ENV, num_workers=2, num_episodes=EPISODES, seed=3) as box:
        yield box


def run_loop(config: LoopConfig, out: Path, sandbox: Sandbox, proposer=None, iterations=None):
    loop = FMSPLoop(
        config,
        out,
        proposer or OfflineGenerator(seed=config.seed),
        sandbox,
        make_embedder("hashed"),
    )
    try:
        loop.run(iterations or config.iterations)
    finally:
        loop.close()
    return loop


@pytest.fixture(scope="module")
def qdsp_run(sandbox, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("qdsp")
    run_loop(tiny_config(), out, sandbox)
    return out


def archives(out: Path) -> dict[str, Archive]:
    return {role: Archive(out / "archives" / f"{role}.jsonl", role) for role in ROLES}


def test_qdsp_seeds_with_hand_written_strategies_and_grows(qdsp_run):
    for role, archive in archives(qdsp_run).items():
        seed_names = {p.name for p in strategy_programs(role)} & set(SEEDS)
        seeds = [e for e in archive.entries() if e.generation == 0]
        assert {e.name for e in seeds} == seed_names
        assert all(e.status == "accepted" for e in seeds)
        generated = [e for e in archive.entries() if e.generation == 1]
        assert len(generated) >= 2  # both candidates recorded, accepted or not
        for entry in generated:
            assert entry.reason
            if entry.quality is not None:
                assert 0.0 <= entry.quality <= 1.0
                assert len(entry.per_opponent) >= 2
                assert entry.embedding is not None and entry.behaviour is not None


def test_metrics_track_qd_score_and_sizes(qdsp_run):
    ends = [e for e in read_events(qdsp_run / "events.jsonl") if e["event"] == "iteration_end"]
    assert [e["iteration"] for e in ends] == [0, 1]
    for role, archive in archives(qdsp_run).items():
        members = archive.members()
        assert ends[-1][f"{role}_size"] == len(members)
        assert ends[-1][f"{role}_qd_score"] == pytest.approx(sum(m.quality for m in members))
        assert ends[-1][f"{role}_best"] == pytest.approx(max(m.quality for m in members))
    assert ends[-1]["programs_evaluated"] >= 4
    assert ends[-1]["proposed"] == 4


def test_champions_are_rescored_against_the_final_opposing_archive(qdsp_run, sandbox):
    runs = archives(qdsp_run)
    champions = pick_champions(runs, sandbox, top_k=2)
    for role, champion in champions.items():
        assert champion is not None
        top = contenders(runs[role], 2)
        assert champion.entry.id in {e.id for e in top}
        rescored = [quality for _, _, _, quality in champion.rescored]
        assert rescored == sorted(rescored, reverse=True)
        assert champion.quality == rescored[0]
        opponents = [as_program(m) for m in runs[OTHER[role]].members()]
        assert champion.opponents == len(opponents)
        direct = sandbox.evaluate(as_program(champion.entry), opponents)
        assert direct.quality == pytest.approx(champion.quality)
    with pytest.raises(ValueError, match="top_k"):
        pick_champions(runs, sandbox, top_k=0)


def test_resume_after_interruption_keeps_every_accepted_entry(qdsp_run, sandbox, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(qdsp_run, out)
    before = {role: a.entries() for role, a in archives(out).items()}

    class DiesMidIteration:
        """The offline generator, until the process 'dies' on its third proposal."""

        name = "offline"

        def __init__(self) -> None:
            self.inner = OfflineGenerator(seed=3)
            self.calls = 0

        def propose(self, request: ProposalRequest) -> Proposal:
            self.calls += 1
            if self.calls == 3:
                raise KeyboardInterrupt
            return self.inner.propose(request)

    with pytest.raises(KeyboardInterrupt):
        run_loop(tiny_config(), out, sandbox, DiesMidIteration(), iterations=2)
    with (out / "events.jsonl").open("a") as f:
        f.write('{"event": "evaluated", "iter')  # a write torn by the kill
    with (out / "archives" / "pursuer.jsonl").open("a") as f:
        f.write('{"type": "entry", "id": "torn')

    run_loop(tiny_config(), out, sandbox, iterations=2)

    after = archives(out)
    for role, entries in before.items():
        ids = {e.id for e in after[role].entries()}
        assert {e.id for e in entries if e.status == "accepted"} <= ids
        generation_2 = [e for e in after[role].entries() if e.generation == 2]
        assert generation_2, f"iteration 2 added nothing to the {role} archive"
    ends = [
        e["iteration"] for e in read_events(out / "events.jsonl") if e["event"] == "iteration_end"
    ]
    assert ends == [0, 1, 2]


def test_vfmsp_keeps_one_policy_per_role_and_alternates(sandbox, tmp_path):
    run_loop(tiny_config(algo="vfmsp", iterations=2, candidates_per_role=1), tmp_path, sandbox)
    for archive in archives(tmp_path).values():
        assert len(archive.members()) == 1
        best_seed = max(
            (e for e in archive.entries() if e.generation == 0), key=lambda e: e.quality
        )
        assert archive.members()[0].quality >= best_seed.quality
    evaluated = [e for e in read_events(tmp_path / "events.jsonl") if e["event"] == "evaluated"]
    assert [e["role"] for e in evaluated if e["repair_round"] == 0] == ["pursuer", "evader"]


runner = CliRunner()


def test_cli_rejects_bad_algo_before_starting_anything(tmp_path):
    result = runner.invoke(app, ["fmsp", "--algo", "mapelites", "--out", str(tmp_path / "r")])
    assert result.exit_code != 0
    assert "algo 'mapelites' is not one of" in result.output
    assert not (tmp_path / "r").exists()


def test_config_rejects_unknown_seed_names():
    with pytest.raises(ValueError, match=r"\['chase'\] are not hand-written"):
        tiny_config(seed_names=("chase", "jink"))
    with pytest.raises(ValueError, match="name no pursuer"):
        tiny_config(seed_names=("jink",))


def test_cli_rejects_bad_fm_and_unknown_config_key(tmp_path):
    result = runner.invoke(app, ["fmsp", "--fm", "gpt5", "--out", str(tmp_path / "a")])
    assert result.exit_code != 0 and "gpt5" in result.output
    result = runner.invoke(app, ["fmsp", "-c", "temperature=2", "--out", str(tmp_path / "b")])
    assert result.exit_code != 0 and "temperature" in result.output


def test_cli_resume_needs_a_run_folder(tmp_path):
    result = runner.invoke(app, ["fmsp", "--resume", "--out", str(tmp_path)])
    assert result.exit_code != 0 and "config.json" in result.output
    result = runner.invoke(app, ["fmsp", "report", str(tmp_path / "missing")])
    assert result.exit_code != 0


def test_run_fmsp_writes_a_full_run_folder_with_report_and_gifs(sandbox, tmp_path):
    out, summary = run_fmsp(
        tiny_config(candidates_per_role=1),
        out=tmp_path / "run",
        quiet=True,
        report_limit=7,
        sandbox=sandbox,
    )
    saved = json.loads((out / "config.json").read_text())
    assert saved["fm"] == "offline" and saved["loop"]["algo"] == "qdsp"
    for name in ("metrics.csv", "progress.png", "report.json", "events.jsonl"):
        assert (out / name).stat().st_size > 0
    assert len(list(out.glob("*.gif"))) >= 1
    assert (out / "crossplay").is_dir() and any((out / "crossplay").iterdir())
    lines = (out / "metrics.csv").read_text().splitlines()
    assert lines[0].startswith("iteration,pursuer_size") and len(lines) == 3
    members = {role: archive.members() for role, archive in archives(out).items()}
    result = summary["crossplay"]
    assert len(result["rows"]) == min(7, len(members["pursuer"]))
    assert len(result["cols"]) == min(7, len(members["evader"]))
    pursuer, evader = np.array(result["pursuer_mean"]), np.array(result["evader_mean"])
    assert np.allclose(pursuer + evader, 1.0, atol=1e-4)  # zero-sum, as each side scored it
    assert set(summary["champions"]) == {"pursuer", "evader"}
    assert json.loads((out / "report.json").read_text())["files"] == summary["files"]
    with pytest.raises(ValueError, match="config asks for"):
        run_fmsp(tiny_config(num_episodes=9), out=tmp_path / "other", sandbox=sandbox)
    assert not (tmp_path / "other").exists()
    with pytest.raises(ValueError, match="already holds an FMSP run"):
        run_fmsp(tiny_config(), out=out, sandbox=sandbox)


@pytest.mark.slow
def test_cli_run_killed_with_sigkill_resumes_without_losing_accepted_entries(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "run"
    common = ["--candidates", "1", "--episodes", "2", "--quiet", "--no-report"]
    command = [sys.executable, "-c", "from arenax.cli import main; main()", "fmsp"]
    command += ["--out", str(out), *common]
    process = subprocess.Popen(
        [*command, "--iterations", "4", "--set", "horizon=40"], start_new_session=True
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        events = read_events(out / "events.jsonl")
        if any(e["event"] == "decision" and e.get("iteration", 0) >= 1 for e in events):
            break
        assert process.poll() is None, "the run ended before it could be killed"
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    accepted = {
        role: {e.id for e in archive.entries() if e.status == "accepted"}
        for role, archive in archives(out).items()
    }
    result = subprocess.run(
        [*command, "--resume", "--iterations", "2"], capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-2000:]
    for role, archive in archives(out).items():
        assert accepted[role] <= {e.id for e in archive.entries()}
    ends = [
        e["iteration"] for e in read_events(out / "events.jsonl") if e["event"] == "iteration_end"
    ]
    assert ends[-1] == 2 and sorted(set(ends)) == [0, 1, 2]
