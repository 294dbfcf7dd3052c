"""One FMSP job end to end: run folder, proposer, sandbox, loop, progress bar, report.

Used by `arenax fmsp` and `arenax demo`.
"""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from arenax.reporting import score_table
from arenax.runs import new_run_dir, write_json
from arenax.search.embedders import make_embedder
from arenax.search.fm import make_proposer
from arenax.search.fm_replay import RecordingProposer
from arenax.search.loop_config import LoopConfig
from arenax.search.loops import FMSPLoop
from arenax.search.novelty import FMJudge
from arenax.search.report import champion_lines, write_report
from arenax.search.sandbox import Sandbox
from arenax.search.worker_protocol import plain_overrides


def resume_config(out: Path, iterations: int | None) -> tuple[LoopConfig, str]:
    """The config and FM spec saved in run folder `out` (iterations replaced if given)."""
    path = out / "config.json"
    if not path.exists():
        raise ValueError(f"--resume: {out} has no config.json; is it an `arenax fmsp` run folder?")
    saved = json.loads(path.read_text())
    config = LoopConfig.from_dict(saved["loop"])
    if iterations is not None:
        config = LoopConfig.from_dict({**config.to_dict(), "iterations": iterations})
    return config, saved["fm"]


def open_sandbox(config: LoopConfig, out: Path, sandbox: Sandbox | None):
    """A context giving `sandbox` (checked against `config`) or a new one for the run."""
    if sandbox is None:
        return Sandbox(
            env_overrides=config.env_overrides,
            num_workers=config.num_workers,
            num_episodes=config.num_episodes,
            seed=config.seed,
            compilation_cache_dir=str(out / "xla_cache"),
        )
    check_sandbox(config, sandbox)
    return contextlib.nullcontext(sandbox)


def check_sandbox(config: LoopConfig, sandbox: Sandbox | None) -> None:
    """Raise ValueError if a given sandbox does not score the way `config` says."""
    if sandbox is None:
        return
    given = (sandbox.num_episodes, sandbox.seed, sandbox.env_overrides)
    wanted = (config.num_episodes, config.seed, plain_overrides(config.env_overrides))
    if given != wanted:
        raise ValueError(
            f"the sandbox scores (episodes, seed, env overrides) = {given}, "
            f"but the config asks for {wanted}"
        )


def run_fmsp(
    config: LoopConfig,
    fm: str = "offline",
    out: Path | None = None,
    resume: bool = False,
    report: bool = True,
    gifs: bool = True,
    quiet: bool = False,
    console: Console | None = None,
    report_limit: int = 12,
    sandbox: Sandbox | None = None,
) -> tuple[Path, dict[str, Any] | None]:
    """Run (or resume) an FMSP search; returns the run folder and the report summary.

    Args:
        config: the loop's configuration (ignored on resume: the folder's own is used,
            except `iterations`).
        fm: "offline", "openai:MODEL" or "replay:FILE".
        out: run folder (default runs/<timestamp>); must exist when resuming.
        report: write the report (plots, cross-play, GIFs) at the end.
        gifs: include GIFs of the best match-ups in the report.
        quiet: no progress bar or tables.
        report_limit: members per role in the final cross-play (best first, seeds always).
        sandbox: an open sandbox to use (its episodes, seed and Car Tag overrides must
            be the config's); by default one is started for this run and closed after.
    """
    console = console or Console(quiet=quiet)
    if resume:
        if out is None or not Path(out).exists():
            raise ValueError(f"--resume needs an existing run folder, got {out}")
        out = Path(out)
        config, fm = resume_config(out, config.iterations)
    check_sandbox(config, sandbox)
    proposer = make_proposer(fm, seed=config.seed)  # a bad spec fails before any folder exists
    if not resume:
        out = new_run_dir(out)
        if (out / "events.jsonl").exists():
            raise ValueError(f"{out} already holds an FMSP run; use --resume or another --out")
        write_json(out / "config.json", {"loop": config.to_dict(), "fm": fm})

    if fm.startswith("openai:"):
        proposer = RecordingProposer(proposer, out / "fm_responses.jsonl")
    judge = None
    if config.judge:
        chat = getattr(proposer, "chat", None)
        if chat is None:
            raise ValueError(f"judge=true needs an FM with a chat endpoint; {fm!r} has none")
        judge_fm = FMJudge(chat)
        judge = lambda program, neighbours: judge_fm.judge(
            f"{program.description}\n{program.source}",
            [f"{n.description}\n{n.source}" for n in neighbours],
        )

    started = time.perf_counter()
    with open_sandbox(config, out, sandbox) as sandbox:
        with Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total} it"),
            TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(),
            console=console,
            disable=quiet,
        ) as progress:
            task = progress.add_task(config.algo, total=config.iterations, status="seeding")

            def show(row: dict[str, Any]) -> None:
                progress.update(
                    task,
                    completed=max(row["iteration"] - 1, 0),
                    status=(
                        f"archives P{row['pursuer_size']}/E{row['evader_size']} "
                        f"best P{row['pursuer_best']:.2f}/E{row['evader_best']:.2f} "
                        f"programs {row['programs_evaluated']} "
                        f"tokens {row['prompt_tokens'] + row['completion_tokens']}"
                    ),
                )

            loop = FMSPLoop(
                config, out, proposer, sandbox, make_embedder(config.embedder), judge, show
            )
            try:
                loop.run(config.iterations)
            finally:
                loop.close()
            progress.update(task, completed=config.iterations)
        console.print(f"search: {time.perf_counter() - started:.1f} s, run folder {out}")
        summary = None
        if report:
            summary, result = write_report(out, sandbox, limit=report_limit, gifs=gifs)
            console.print(
                score_table(result, title="Final archives: best discovered and hand-written")
            )
            for line in champion_lines(summary["champions"]):
                console.print(line)
    return out, summary


def report_run(out: Path, gifs: bool = True, console: Console | None = None) -> dict[str, Any]:
    """Regenerate the report of run folder `out` (`arenax fmsp report`)."""
    console = console or Console()
    out = Path(out)
    config, _ = resume_config(out, None)
    with open_sandbox(config, out, None) as sandbox:
        summary, result = write_report(out, sandbox, gifs=gifs)
    console.print(score_table(result, title="Final archives: best discovered and hand-written"))
    for line in champion_lines(summary["champions"]):
        console.print(line)
    for path in summary["files"]:
        console.print(f"  wrote {path}")
    return summary
