"""Scoring speed: one new candidate against 32 archived opponents x 64 episodes x 300 steps.

The target (issue 4): scoring a new candidate, compile included, takes under
3 s on a 2-core CPU. `arenax.search.scoring.MatchScorer` is what a sandbox
worker runs; it keeps compiled opponents across candidates, so the first
candidate a worker scores pays for compiling its opponents and every later
one pays only for its own compile and the rollouts.

For each scenario (the candidate's role and its opponents) this prints:

- the first candidate's time (every opponent compiled too, and the game when the
  scenario is the first with its role);
- for each further candidate: check (static source checks, when the sandbox's
  `check_source` is importable), compile, run and total;
- the single-jit reference: `arenax.tournament.compile_row_vs_columns` (the
  candidate and all opponents in one function, `lax.switch` over opponents),
  compile and run for the last candidate, with a check that both give the
  same returns, and the ratio of its total to the scorer's.

Opponents are the hand-written strategies of the other role repeated under
distinct ids (distinct ids are compiled separately, as distinct programs
would be; JAX's persistent compilation cache stays off so repeats are not
shared). The `mixed` scenario adds the `lookahead` evader (a 15-step
look-ahead planner, ~200x the cost per step of the others) to show what one
expensive opponent costs. The machine is shared: the 1-minute load average
is recorded before and after every scenario.

    python benchmarks/scoring_speed.py                  # ~2-3 min on 2 CPU cores
    python benchmarks/scoring_speed.py --quick          # small shapes, a smoke run
    python benchmarks/scoring_speed.py --no-mixed       # skip the look-ahead scenario

Writes `benchmarks/results/scoring_speed.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import jax
import numpy as np
from rich.console import Console
from rich.table import Table

from arenax.agents.car_tag import EVADERS, PURSUERS
from arenax.envs import make
from arenax.policy import Policy
from arenax.search.scoring import MatchScorer
from arenax.tournament import compile_row_vs_columns

RESULTS = Path(__file__).resolve().parent / "results" / "scoring_speed.json"
TARGET_S = 3.0
CANDIDATES = {
    "pursuer": ("pure_pursuit", "intercept", "proportional_navigation", "shortest_path"),
    "evader": ("straight_flee", "jink", "swerve", "wall_flee"),
}
CHEAP = {
    "pursuer": [n for n in PURSUERS if n != "lookahead"],
    "evader": [n for n in EVADERS if n != "lookahead"],
}


def source_checker() -> Any:
    """The sandbox's static `check_source`, or None if that module is not there yet."""
    try:
        from arenax.search.program import check_source
    except ImportError:
        return None
    return check_source


def opponents_for(role: str, count: int, heavy: int, tag: str) -> list[tuple[str, Policy]]:
    """`count` opponents of `role`: the cheap strategies cycled, plus `heavy` lookahead copies.

    Ids are `tag/name#i`, so no two scenarios share a compiled opponent.
    """
    table = PURSUERS if role == "pursuer" else EVADERS
    names = ["lookahead"] * heavy
    names += [CHEAP[role][i % len(CHEAP[role])] for i in range(count - heavy)]
    return [(f"{tag}/{name}#{i}", table[name]) for i, name in enumerate(names)]


def reference(
    env: Any,
    params: Any,
    role: str,
    candidate: Policy,
    opponents: list[tuple[str, Policy]],
    episodes: int,
    steps: int,
    seed: int,
) -> tuple[float, float, np.ndarray]:
    """`(compile_s, run_s, returns (O, N))` of the single-jit tournament row."""
    opp_role = "evader" if role == "pursuer" else "pursuer"
    keys = jax.random.split(jax.random.PRNGKey(seed), episodes)
    fn = compile_row_vs_columns(env, role, candidate, opp_role, [p for _, p in opponents], steps)
    start = time.perf_counter()
    compiled = fn.lower(keys, params).compile()
    compile_s = time.perf_counter() - start
    start = time.perf_counter()
    returns, _ = compiled(keys, params)
    returns = np.asarray(returns)
    return compile_s, time.perf_counter() - start, returns


def scenario(
    scorer: MatchScorer,
    params: Any,
    role: str,
    opponents: list[tuple[str, Policy]],
    candidates: tuple[str, ...],
    check: Any,
    console: Console,
) -> dict[str, Any]:
    """Score the candidates in turn; then the reference for the last one.

    The first candidate compiles every opponent (their ids are new to `scorer`), and the
    game too unless an earlier scenario had the same role and number of opponents.
    """
    table = PURSUERS if role == "pursuer" else EVADERS
    load_before = os.getloadavg()[0]
    rows = []
    for i, name in enumerate(candidates):
        policy = table[name]
        check_s = None
        if check is not None:
            start = time.perf_counter()
            check(policy.source)
            check_s = time.perf_counter() - start
        scores = scorer.score(policy, role, opponents)
        t = scores.timings
        rows.append(
            {
                "candidate": name,
                "first": i == 0,
                "check_s": check_s,
                "compile_s": t["compile_s"],
                "opponent_compile_s": t["opponent_compile_s"],
                "run_s": t["run_s"],
                "total_s": t["total_s"] + (check_s or 0.0),
                "steps_run": scores.steps_run,
                "quality": scores.quality,
            }
        )
        console.print(
            f"  {name:24s} {'first' if i == 0 else 'new':5s} compile {t['compile_s']:6.2f}s "
            f"(opponents {t['opponent_compile_s']:5.2f}s)  run {t['run_s']:5.2f}s  "
            f"total {rows[-1]['total_s']:6.2f}s  load {os.getloadavg()[0]:.2f}"
        )
    ref_compile, ref_run, ref_returns = reference(
        scorer.env,
        params,
        role,
        table[candidates[-1]],
        opponents,
        scorer.num_episodes,
        scorer.num_steps,
        scorer.seed,
    )
    same = bool(np.allclose(ref_returns, scores.returns, atol=1e-6))
    new_rows = [r for r in rows if not r["first"]]
    worst_new = max(r["total_s"] for r in new_rows) if new_rows else float("nan")
    ref_total = ref_compile + ref_run
    console.print(
        f"  reference single jit ({candidates[-1]}): compile {ref_compile:.2f}s run "
        f"{ref_run:.2f}s total {ref_total:.2f}s; same returns: {same}; "
        f"speed-up {ref_total / rows[-1]['total_s']:.1f}x"
    )
    return {
        "role": role,
        "opponents": [oid for oid, _ in opponents],
        "candidates": rows,
        "worst_new_candidate_total_s": worst_new,
        "reference": {
            "candidate": candidates[-1],
            "compile_s": ref_compile,
            "run_s": ref_run,
            "total_s": ref_total,
            "same_returns": same,
        },
        "speedup_vs_reference": ref_total / rows[-1]["total_s"],
        "load_1min": [load_before, os.getloadavg()[0]],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--opponents", type=int, default=32)
    parser.add_argument("--episodes", type=int, default=64)
    parser.add_argument("--steps", type=int, default=None, help="default: the horizon (300)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="8 opponents x 16 episodes x 60")
    parser.add_argument("--no-mixed", action="store_true", help="skip the look-ahead scenario")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.quick:
        args.opponents, args.episodes, args.steps = 8, 16, 60

    console = Console(width=160)
    env, params = make("car_tag")
    check = source_checker()
    scorer = MatchScorer(env, params, args.episodes, args.seed, num_steps=args.steps)
    console.print(
        f"{args.opponents} opponents x {args.episodes} episodes x {scorer.num_steps} steps; "
        f"{os.cpu_count()} CPUs, jax {jax.__version__} ({jax.default_backend()}); "
        f"episode starts {scorer.setup_s:.2f}s (once per worker); "
        f"check: {'search.program.check_source' if check else 'not available'}"
    )
    plan = [
        ("pursuer vs evaders", "pursuer", opponents_for("evader", args.opponents, 0, "a")),
        ("evader vs pursuers", "evader", opponents_for("pursuer", args.opponents, 0, "b")),
    ]
    if not args.no_mixed:
        plan.append(
            (
                "pursuer vs evaders + 1 lookahead",
                "pursuer",
                opponents_for("evader", args.opponents, 1, "c"),
            )
        )
    results = []
    for title, role, opponents in plan:
        console.print(f"[bold]{title}[/bold]")
        results.append(
            {
                "scenario": title,
                **scenario(scorer, params, role, opponents, CANDIDATES[role], check, console),
            }
        )

    summary = Table(title="scoring speed (seconds)")
    for column in (
        "scenario",
        "first candidate",
        "new: compile",
        "new: run",
        "new: total",
        "reference total",
        "speed-up",
        f"< {TARGET_S:g} s",
    ):
        summary.add_column(column)
    for r in results:
        new = [c for c in r["candidates"] if not c["first"]]
        summary.add_row(
            r["scenario"],
            f"{r['candidates'][0]['total_s']:.2f}",
            "/".join(f"{c['compile_s']:.2f}" for c in new),
            "/".join(f"{c['run_s']:.2f}" for c in new),
            "/".join(f"{c['total_s']:.2f}" for c in new),
            f"{r['reference']['total_s']:.2f}",
            f"{r['speedup_vs_reference']:.1f}x",
            str(r["worst_new_candidate_total_s"] < TARGET_S),
        )
    console.print(summary)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "config": {
                    "opponents": args.opponents,
                    "episodes": args.episodes,
                    "steps": scorer.num_steps,
                    "seed": args.seed,
                    "target_s": TARGET_S,
                },
                "machine": {
                    "cpus": os.cpu_count(),
                    "platform": platform.platform(),
                    "jax": jax.__version__,
                    "backend": jax.default_backend(),
                },
                "setup_s": scorer.setup_s,
                "scenarios": results,
            },
            indent=2,
        )
    )
    console.print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
