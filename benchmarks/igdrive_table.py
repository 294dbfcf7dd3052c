"""IGDrivSim imitation-gap table: the expert, BC, BC+RL and BIG under each perception
setting (full, range, cone, noise, random drop, occlusion), scored on a fixed test
split of procedural scenes with the shared episode metrics.

Columns: overlap (collision) rate, off-road rate, red-light rate, ADE (m) and route
progress, each the mean over the test episodes (rates are episode rates). Budgets
are `agents/imitation/igdrive_runs.py`'s defaults: 256 demonstration episodes, BC
1,500 Adam steps of 16 episodes; BC+RL fine-tunes that BC policy with 492k PPO
steps on the penalty rewards (overlap 10 per step, off-road and red light 1,
tailgating 3 times the headway shortfall) plus the BC term (weight 0.1,
`--bc-coef`); BIG fine-tunes it the same way on rewards drawn per episode from its
reward posterior (`agents/imitation/driving_big.py`: fitted once, from 64 expert
episodes with 5 candidate manoeuvres at every 8th step). Other vehicles are
reactive (IDM along their logged paths).

A second table gives, per perception setting and learner (BC+RL, BIG), its overlap
rate minus BC's, paired scene by scene (both drive the same test scenes), with a
95% interval and the number of scenes where it avoids a collision BC has, or adds
one.

    python benchmarks/igdrive_table.py               # one seed, 512 scenes, ~86 min on 2 CPU cores
    python benchmarks/igdrive_table.py --methods big --reuse benchmarks/results/igdrive_table.json
        # only BIG's runs; the other methods' runs are read from that file (~38 min)
    python benchmarks/igdrive_table.py --settings range --methods bc,bc_rl --bc-coef 1.0 \
        --out /tmp/range_bc_coef_1.json    # one setting, one BC weight (~6 min)
    python benchmarks/igdrive_table.py --scale 10 --seeds 3 --test 2048  # for a GPU

Writes `benchmarks/results/igdrive_table.json`, `igdrive_table.md` and
`igdrive_table.png`.
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

from arenax.agents.imitation.igdrive_runs import BC_RL_BC_COEF, METHODS, SETTINGS, run_driver
from arenax.plots import new_figure, save_figure

RESULTS = Path(__file__).resolve().parent / "results"
COLUMNS = ("overlap", "offroad", "red_light", "ade", "progress")
NAMES = {"expert": "expert", "bc": "BC", "bc_rl": "BC+RL", "big": "BIG"}
LEARNERS = ("bc_rl", "big")  # compared with BC scene by scene


def markdown(rows: list[dict]) -> str:
    lines = [
        "| perception | method | overlap | off-road | red light | ADE (m) | progress |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        cells = [f"{row[c]:.3f}" if c != "ade" else f"{row[c]:.2f}" for c in COLUMNS]
        lines.append(f"| {row['setting']} | {NAMES[row['method']]} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def paired_overlap_change(runs: list[dict], setting: str, method: str) -> dict[str, float]:
    """`method`'s overlap rate minus BC's under `setting`, paired scene by scene (same
    test scenes, same seed), with a normal 95% interval over the paired differences."""
    diffs = []
    for bc in (r for r in runs if r["setting"] == setting and r["method"] == "bc"):
        (other,) = [
            r for r in runs
            if r["setting"] == setting and r["method"] == method and r["seed"] == bc["seed"]
        ]  # fmt: skip
        diffs.append(np.subtract(other["overlap_per_episode"], bc["overlap_per_episode"]))
    d = np.concatenate(diffs).astype(float)
    half = 1.96 * d.std(ddof=1) / np.sqrt(len(d)) if len(d) > 1 else float("nan")
    return {"change": float(d.mean()), "ci95": float(half), "pairs": len(d),
            "fewer": int(np.sum(d < 0)), "more": int(np.sum(d > 0))}  # fmt: skip


def change_markdown(changes: dict[str, dict[str, dict]]) -> str:
    lines = [
        "| perception | learner | overlap rate - BC's (95% CI, paired scenes) | "
        "scenes it avoids | scenes it adds |",
        "|---|---|---|---|---|",
    ]
    for setting, by_method in changes.items():
        for method, c in by_method.items():
            lines.append(
                f"| {setting} | {NAMES[method]} | {c['change']:+.3f} ± {c['ci95']:.3f} | "
                f"{c['fewer']} | {c['more']} |"
            )
    return "\n".join(lines) + "\n"


def plot(rows: list[dict], methods: list[str], settings: list[str], path: Path) -> None:
    fig, first = new_figure((13, 4))
    fig.delaxes(first)
    axes = fig.subplots(1, 3)
    width = 0.27
    for ax, metric in zip(axes, ("overlap", "red_light", "ade"), strict=True):
        shown = [m for m in methods if m != "expert"]
        for i, method in enumerate(shown):
            values = [
                np.mean([r[metric] for r in rows if r["setting"] == s and r["method"] == method])
                for s in settings
            ]
            offset = (i - (len(shown) - 1) / 2) * width
            ax.bar(np.arange(len(settings)) + offset, values, width, label=NAMES[method])
        ax.set_xticks(np.arange(len(settings)), settings, rotation=30)
        ax.set_title(metric.replace("_", " "))
    axes[0].legend()
    save_figure(fig, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--test", type=int, default=512, help="test episodes")
    parser.add_argument("--out", type=Path, default=RESULTS / "igdrive_table.json")
    parser.add_argument(
        "--methods", default=",".join(METHODS), help="methods to run (comma-separated)"
    )
    parser.add_argument(
        "--settings", default=",".join(SETTINGS), help="perception settings (comma-separated)"
    )
    parser.add_argument(
        "--bc-coef",
        type=float,
        default=BC_RL_BC_COEF,
        help="weight of the BC term in BC+RL's and BIG's fine-tuning",
    )
    parser.add_argument(
        "--reuse",
        type=Path,
        help="a previous results JSON: the other methods' runs are read from it (same "
        "seeds, scale and test split required)",
    )
    args = parser.parse_args()
    methods = list(dict.fromkeys(m.strip() for m in args.methods.split(",") if m.strip()))
    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        parser.error(f"unknown methods {unknown}; choose from {', '.join(METHODS)}")
    settings = list(dict.fromkeys(s.strip() for s in args.settings.split(",") if s.strip()))
    unknown = sorted(set(settings) - set(SETTINGS))
    if unknown or not settings:
        parser.error(f"unknown settings {unknown}; choose from {', '.join(SETTINGS)}")
    if args.bc_coef < 0:
        parser.error(f"--bc-coef must be >= 0, got {args.bc_coef}")
    started = time.perf_counter()
    runs, reused_from = [], None
    if args.reuse is not None:
        previous = json.loads(args.reuse.read_text())
        for field, wanted in (("seeds", args.seeds), ("scale", args.scale),
                              ("test_episodes", args.test)):  # fmt: skip
            if previous[field] != wanted:
                parser.error(f"{args.reuse} has {field}={previous[field]}, this run {wanted}")
        runs = [
            r for r in previous["runs"] if r["method"] not in methods and r["setting"] in settings
        ]
        other_coef = sorted({
            r["bc_coef"] for r in runs if r["method"] in LEARNERS and r["bc_coef"] != args.bc_coef
        })  # fmt: skip
        if other_coef:
            parser.error(f"{args.reuse}'s fine-tuned runs have bc_coef {other_coef}, this run "
                         f"{args.bc_coef}: add them to --methods")  # fmt: skip
        missing = [
            (setting, method) for setting in settings for method in METHODS
            if method not in methods
            and not any(r["setting"] == setting and r["method"] == method for r in runs)
        ]  # fmt: skip
        if missing:
            parser.error(f"{args.reuse} lacks runs for {missing}; add them to --methods")
        reused_from = {
            "file": str(args.reuse),
            "methods": sorted({r["method"] for r in runs}),
            "its_wall_clock_s": previous["wall_clock_s"],
        }
    for setting in settings:
        for method in methods:
            seeds = [0] if method == "expert" else range(args.seeds)
            for seed in seeds:
                run = run_driver(
                    method, setting, seed, args.scale, test_episodes=args.test,
                    bc_coef=args.bc_coef,
                )  # fmt: skip
                runs.append(run)
                figures = "  ".join(f"{c} {run[c]:.3f}" for c in COLUMNS)
                print(f"{setting:10s} {NAMES[method]:7s} seed {seed}: {figures}"
                      f"  ({run['train_seconds']:.0f} s)", flush=True)  # fmt: skip
    present = [m for m in METHODS if any(r["method"] == m for r in runs)]
    rows = []
    for setting in settings:
        for method in present:
            mine = [r for r in runs if r["setting"] == setting and r["method"] == method]
            rows.append(
                {"setting": setting, "method": method,
                 **{c: float(np.mean([r[c] for r in mine])) for c in COLUMNS}}
            )  # fmt: skip
    changes = {
        setting: {
            m: paired_overlap_change(runs, setting, m)
            for m in LEARNERS
            if m in present and "bc" in present
        }
        for setting in settings
    }
    table = markdown(rows) + "\n" + change_markdown(changes)
    print("\n" + table)
    result = {
        "device": jax.devices()[0].platform,
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "jax": jax.__version__,
        },
        "seeds": args.seeds,
        "scale": args.scale,
        "test_episodes": args.test,
        "bc_coef": args.bc_coef,
        "settings": settings,
        "wall_clock_s": time.perf_counter() - started,
        "methods_run": methods,
        "reused": reused_from,
        "rows": rows,
        "overlap_change": changes,
        "runs": runs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    args.out.with_suffix(".md").write_text(table)
    plot(rows, present, settings, args.out.with_suffix(".png"))
    print(f"wrote {args.out}, its .md and .png")


if __name__ == "__main__":
    main()
