"""Imitation-gap table: BC, DAgger, BC+RL and BIG on TigerDoor and PoisonedDoors, with
and without the gap, beside each environment's analytic optimum and ADVISOR's
published PoisonedDoors numbers (Weihs et al. 2021: pure imitation -0.59, ADVISOR
1.00).

Each cell is the mean true return (1,024 evaluation episodes per seed) over seeds,
with a Student-t 95% interval across seeds. Budgets are the small defaults of
`agents/imitation/gap_runs.py` (256 demonstrations, noise-injected with probability
0.3, for BC, BC+RL and BIG; BC+RL 41k PPO steps; BIG 41k per learner, best of 4);
`--scale` multiplies them.

    python benchmarks/gap_table.py                 # 5 seeds, ~28 min on 2 CPU cores
    python benchmarks/gap_table.py --seeds 2       # quicker
    python benchmarks/gap_table.py --scale 10      # the full-size run, for a GPU

Writes `benchmarks/results/gap_table.json` and `gap_table.md`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import jax
import numpy as np
from scipy import stats

from arenax.agents.imitation.gap_runs import GAP_ENVS, METHODS, run_method

RESULTS = Path(__file__).resolve().parent / "results"
ADVISOR = {"bc": -0.59, "advisor": 1.00}  # PoisonedDoors with the gap, Weihs et al. 2021
NAMES = {"bc": "BC", "dagger": "DAgger", "bc_rl": "BC+RL", "big": "BIG"}


def t_interval(values: list[float]) -> tuple[float, float]:
    x = np.asarray(values, float)
    if x.size < 2:
        return float(x.mean()), float("nan")
    half = stats.t.ppf(0.975, x.size - 1) * x.std(ddof=1) / np.sqrt(x.size)
    return float(x.mean()), float(half)


def markdown(cells: dict, optima: dict) -> str:
    header = "| environment | gap | optimum | " + " | ".join(NAMES[m] for m in METHODS) + " |"
    lines = [header, "|" + "---|" * (3 + len(METHODS))]
    for (env_name, gap), by_method in cells.items():
        row = [env_name, "yes" if gap else "no", f"{optima[(env_name, gap)]:.2f}"]
        for method in METHODS:
            mean, half = by_method[method]["mean"], by_method[method]["ci95"]
            row.append(f"{mean:.2f} ± {half:.2f}")
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    lines.append(
        f"ADVISOR (published, PoisonedDoors with the gap): pure imitation {ADVISOR['bc']:.2f}, "
        f"ADVISOR {ADVISOR['advisor']:.2f}."
    )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--out", type=Path, default=RESULTS / "gap_table.json")
    args = parser.parse_args()
    started = time.perf_counter()
    runs, cells, optima = [], {}, {}
    for env_name in GAP_ENVS:
        for gap in (True, False):
            by_method = {}
            for method in METHODS:
                results = [
                    run_method(env_name, method, gap, seed, scale=args.scale)
                    for seed in range(args.seeds)
                ]
                runs.extend(results)
                mean, half = t_interval([r["return"] for r in results])
                seconds = float(np.mean([r["seconds"] for r in results]))
                by_method[method] = {"mean": mean, "ci95": half, "seconds_per_run": seconds}
                optima[(env_name, gap)] = results[0]["optimal_return"]
                print(
                    f"{env_name:15s} gap={gap!s:5s} {NAMES[method]:7s} {mean:6.2f} ± {half:.2f}"
                    f"  ({seconds:.1f} s/run)",
                    flush=True,
                )
            cells[(env_name, gap)] = by_method
    table = markdown(cells, optima)
    print("\n" + table)
    result = {
        "device": f"{jax.devices()[0].platform}",
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "jax": jax.__version__,
        },
        "seeds": args.seeds,
        "scale": args.scale,
        "wall_clock_s": time.perf_counter() - started,
        "advisor_published": ADVISOR,
        "cells": [
            {"env": e, "gap": g, "optimal_return": optima[(e, g)], **{m: v for m, v in c.items()}}
            for (e, g), c in cells.items()
        ],
        "runs": runs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    args.out.with_suffix(".md").write_text(table)
    print(f"wrote {args.out} and {args.out.with_suffix('.md')}")


if __name__ == "__main__":
    main()
