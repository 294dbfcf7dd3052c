"""FMSP with the offline generator: QDSP, NSSP, vFMSP and random search at equal budgets.

For every algorithm and seed, one search on Car Tag (both roles co-evolving, seeded
with the hand-written strategies), then one held-out cross-play tournament:

- equal budgets: every run proposes `iterations x candidates` programs per role
  (vFMSP improves one role per iteration, so it gets twice the iterations);
- per run: final QD-score and archive size per role, the best in-run quality of a
  generated program (against that run's own opponent archive, so not comparable
  across algorithms: vFMSP's archive holds one opponent), programs evaluated per
  minute (the loop's wall-clock, sandbox workers already started);
- held-out cross-play: the best generated pursuer and evader of every run (by
  in-run quality), and every hand-written strategy, all against all, with fresh
  episode seeds and more episodes. A program's held-out score is its mean
  score against every program of the other role in that pool. The target: QDSP's
  best pursuer and best evader each score higher than the best hand-written
  strategy of their role;
- scoring speed inside the loop: check, compile and run seconds per evaluated
  program, from the runs' event logs (the controlled 32 opponents x 64 episodes
  measurement is `benchmarks/scoring_speed.py`).

    python benchmarks/fmsp.py             # ~35 min on 2 CPU cores
    python benchmarks/fmsp.py --quick     # a smoke run with tiny shapes, ~3 min

Writes `benchmarks/results/fmsp.json` and `benchmarks/results/fmsp.png`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from arenax.plots import new_figure, save_figure
from arenax.search.archive import Archive, ArchiveEntry
from arenax.search.embedders import make_embedder
from arenax.search.event_log import read_events
from arenax.search.loop_config import LoopConfig
from arenax.search.loops import ROLES, FMSPLoop
from arenax.search.offline import OfflineGenerator
from arenax.search.program import strategy_programs
from arenax.search.report import crossplay, iteration_rows
from arenax.search.sandbox import Sandbox

ALGOS = ("qdsp", "nssp", "vfmsp", "random")
RESULTS = Path(__file__).resolve().parent / "results"
HELD_OUT_SEED = 1_000_003


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--iterations", type=int, default=5)
    parser.add_argument("--candidates", type=int, default=4)
    parser.add_argument("--episodes", type=int, default=32, help="per pair, in the search")
    parser.add_argument("--held-out-episodes", type=int, default=64)
    parser.add_argument("--max-opponents", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--algos", default=",".join(ALGOS))
    parser.add_argument("--quick", action="store_true", help="tiny shapes, one seed")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    args.env = {}
    if args.quick:
        args.seeds, args.iterations, args.candidates = 1, 1, 1
        args.episodes, args.held_out_episodes, args.max_opponents = 4, 4, 4
        args.env = {"horizon": 60}
    return args


def run_search(
    algo: str, seed: int, args: argparse.Namespace, sandbox: Sandbox, folder: Path
) -> dict[str, Any]:
    """One search; returns its figures and its best generated entries per role."""
    iterations = args.iterations * (2 if algo == "vfmsp" else 1)
    config = LoopConfig(
        algo=algo,
        iterations=iterations,
        candidates_per_role=args.candidates,
        num_episodes=args.episodes,
        max_opponents=args.max_opponents,
        num_workers=args.workers,
        env_overrides=args.env,
        seed=seed,
    )
    out = folder / f"{algo}_seed{seed}"
    loop = FMSPLoop(config, out, OfflineGenerator(seed=seed), sandbox, make_embedder("hashed"))
    started = time.perf_counter()
    try:
        loop.run(iterations)
    finally:
        loop.close()
    seconds = time.perf_counter() - started
    rows = iteration_rows(out)
    evaluated = [e for e in read_events(out / "events.jsonl") if e["event"] == "evaluated"]
    record: dict[str, Any] = {
        "algo": algo,
        "seed": seed,
        "iterations": iterations,
        "seconds": seconds,
        "programs_evaluated": len(evaluated),
        "programs_per_minute": 60.0 * len(evaluated) / seconds if seconds > 0 else None,
        "failed": sum(not e["ok"] for e in evaluated),
        "curve": [
            {k: r[k] for k in r if k.endswith(("_qd_score", "_size")) or k == "iteration"}
            for r in rows
        ],
        "timings": [e["timings"] for e in evaluated if e["ok"]],
    }
    best: dict[str, ArchiveEntry | None] = {}
    for role in ROLES:
        archive = Archive(out / "archives" / f"{role}.jsonl", role)
        members = archive.members()
        generated = [e for e in archive.entries() if e.generation > 0 and e.quality is not None]
        best[role] = max(generated, key=lambda e: e.quality, default=None)
        record[role] = {
            "qd_score": float(sum(m.quality for m in members)),
            "archive_size": len(members),
            "generated_members": sum(m.generation > 0 for m in members),
            "best_generated_in_run": None if best[role] is None else best[role].quality,
            "best_generated": None if best[role] is None else best[role].name,
        }
    return {"record": record, "best": best}


def held_out(
    runs: list[dict[str, Any]], args: argparse.Namespace, sandbox: Sandbox
) -> dict[str, Any]:
    """All-against-all of every run's best generated programs and the hand-written ones."""
    pools: dict[str, list[tuple[str, ArchiveEntry]]] = {role: [] for role in ROLES}
    for role in ROLES:
        for program in strategy_programs(role):
            entry = ArchiveEntry(
                id=program.id,
                role=role,
                name=program.name,
                source=program.source,
                description=program.description,
                status="accepted",
                generation=0,
            )
            pools[role].append((f"hand-written/{program.name}", entry))
        for run in runs:
            entry = run["best"][role]
            if entry is not None:
                label = f"{run['record']['algo']}/seed{run['record']['seed']}"
                pools[role].append((label, entry))
    result = crossplay(sandbox, [e for _, e in pools["pursuer"]], [e for _, e in pools["evader"]])
    mean = result.mean  # (P, E) pursuer score
    scores = {
        "pursuer": mean.mean(axis=1),
        "evader": (1.0 - mean).mean(axis=0),
    }
    table: dict[str, list[dict[str, Any]]] = {}
    for role in ROLES:
        table[role] = [
            {"label": label, "name": entry.name, "id": entry.id, "score": float(score)}
            for (label, entry), score in zip(pools[role], scores[role], strict=True)
        ]
    verdict = {}
    for role in ROLES:
        hand = [r for r in table[role] if r["label"].startswith("hand-written/")]
        best_hand = max(hand, key=lambda r: r["score"])
        qdsp = [r for r in table[role] if r["label"].startswith("qdsp/")]
        verdict[role] = {
            "best_hand_written": best_hand,
            "qdsp_best_per_seed": qdsp,
            "qdsp_seeds_beating_best_hand_written": sum(
                r["score"] > best_hand["score"] for r in qdsp
            ),
            "qdsp_seeds": len(qdsp),
        }
    return {
        "episodes": args.held_out_episodes,
        "episode_seed": HELD_OUT_SEED,
        "pursuer_labels": [label for label, _ in pools["pursuer"]],
        "evader_labels": [label for label, _ in pools["evader"]],
        "pursuer_score_matrix": mean.tolist(),
        "scores": table,
        "target": verdict,
    }


def summarise(records: list[dict[str, Any]], algos: list[str]) -> list[dict[str, Any]]:
    """Mean (min, max) over seeds per algorithm."""
    rows = []
    for algo in algos:
        mine = [r for r in records if r["algo"] == algo]
        row: dict[str, Any] = {"algo": algo, "seeds": len(mine)}
        for role in ROLES:
            for key in ("qd_score", "archive_size", "best_generated_in_run"):
                values = [r[role][key] for r in mine if r[role][key] is not None]
                row[f"{role}_{key}"] = float(np.mean(values)) if values else None
        row["programs_per_minute"] = float(np.mean([r["programs_per_minute"] for r in mine]))
        rows.append(row)
    return rows


def timing_summary(records: list[dict[str, Any]]) -> dict[str, Any]:
    timings = [t for r in records for t in r["timings"]]
    out: dict[str, Any] = {"programs": len(timings)}
    for key in ("check_s", "compile_s", "run_s", "total_s"):
        values = np.array([t.get(key, np.nan) for t in timings], dtype=float)
        values = values[np.isfinite(values)]
        if values.size:
            out[key] = {
                "median": float(np.median(values)),
                "p90": float(np.percentile(values, 90)),
                "max": float(values.max()),
            }
    return out


def plot(records: list[dict[str, Any]], held: dict[str, Any], algos: list[str], path: Path):
    fig, _ = new_figure((11.0, 3.8))
    fig.clf()
    ax_curve, ax_held = fig.subplots(1, 2)
    colours = dict(zip(ALGOS, ("tab:blue", "tab:orange", "tab:green", "tab:gray"), strict=True))
    for algo in algos:
        for n, record in enumerate(r for r in records if r["algo"] == algo):
            proposals = [
                c["iteration"] * (1 if algo == "vfmsp" else 2) * 0.5 for c in record["curve"]
            ]
            total = [c["pursuer_qd_score"] + c["evader_qd_score"] for c in record["curve"]]
            ax_curve.plot(proposals, total, color=colours[algo], label=algo if n == 0 else None)
    ax_curve.set(
        xlabel="proposal rounds per role",
        ylabel="QD-score (both roles)",
        title="QD-score over the search",
    )
    ax_curve.grid(alpha=0.3)
    ax_curve.legend(fontsize=8)
    width = 0.38
    for k, role in enumerate(ROLES):
        rows = held["scores"][role]
        x = np.arange(len(rows)) + (k - 0.5) * width
        ax_held.bar(x, [r["score"] for r in rows], width, label=role)
    labels = held["scores"]["pursuer"]
    ax_held.set_xticks(np.arange(len(labels)))
    ax_held.set_xticklabels([r["label"] for r in labels], rotation=70, fontsize=6)
    ax_held.set(ylabel="held-out score", title="Held-out cross-play (rows: pursuers / evaders)")
    ax_held.legend(fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)


def main() -> None:
    args = parse_args()
    algos = [a.strip() for a in args.algos.split(",") if a.strip()]
    unknown = sorted(set(algos) - set(ALGOS))
    if unknown:
        raise SystemExit(f"unknown --algos {unknown}; choose from {', '.join(ALGOS)}")
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    runs = []
    with tempfile.TemporaryDirectory(prefix="fmsp_bench_") as folder:
        with Sandbox(
            env_overrides=args.env,
            num_workers=args.workers,
            num_episodes=args.episodes,
            seed=0,
            compilation_cache_dir=os.path.join(folder, "xla_cache"),
        ) as sandbox:
            sandbox.wait_ready()
            for seed in range(args.seeds):
                for algo in algos:
                    run = run_search(algo, seed, args, sandbox, Path(folder))
                    runs.append(run)
                    r = run["record"]
                    print(
                        f"{algo:7s} seed {seed}: {r['programs_evaluated']} programs in "
                        f"{r['seconds']:.0f} s ({r['programs_per_minute']:.1f}/min); QD-score "
                        f"P {r['pursuer']['qd_score']:.2f} E {r['evader']['qd_score']:.2f}; "
                        f"size P {r['pursuer']['archive_size']} E {r['evader']['archive_size']}",
                        flush=True,
                    )
        with Sandbox(
            env_overrides=args.env,
            num_workers=args.workers,
            num_episodes=args.held_out_episodes,
            seed=HELD_OUT_SEED,
            compilation_cache_dir=os.path.join(folder, "xla_cache"),
        ) as sandbox:
            held = held_out(runs, args, sandbox)
    records = [run["record"] for run in runs]
    summary = summarise(records, algos)
    print("\nalgo     QD-score P/E     size P/E     best in-run P/E   programs/min")
    for row in summary:
        print(
            f"{row['algo']:7s} {row['pursuer_qd_score']:6.2f}/{row['evader_qd_score']:<6.2f} "
            f"{row['pursuer_archive_size']:5.1f}/{row['evader_archive_size']:<5.1f} "
            f"{row['pursuer_best_generated_in_run'] or float('nan'):7.3f}/"
            f"{row['evader_best_generated_in_run'] or float('nan'):<7.3f} "
            f"{row['programs_per_minute']:8.1f}"
        )
    print("\nheld-out cross-play (score vs every program of the other role in the pool):")
    for role in ROLES:
        for entry in sorted(held["scores"][role], key=lambda r: -r["score"]):
            print(f"  {role:7s} {entry['score']:.3f}  {entry['label']} ({entry['name']})")
        target = held["target"][role]
        print(
            f"  -> {role}: QDSP best beats the best hand-written "
            f"({target['best_hand_written']['name']}, {target['best_hand_written']['score']:.3f}) "
            f"in {target['qdsp_seeds_beating_best_hand_written']}/{target['qdsp_seeds']} seeds"
        )
    timings = timing_summary(records)
    print(f"\nscoring inside the loop (median/p90/max s): {json.dumps(timings)}")
    result = {
        "config": {k: (v if not isinstance(v, Path) else str(v)) for k, v in vars(args).items()},
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "backend": "cpu",
        },
        "seconds": time.perf_counter() - started,
        "summary": summary,
        "runs": [{k: v for k, v in r.items() if k != "timings"} for r in records],
        "held_out": held,
        "scoring_in_loop": timings,
    }
    name = "fmsp_quick" if args.quick else "fmsp"
    (args.out / f"{name}.json").write_text(json.dumps(result, indent=1) + "\n")
    plot(records, held, algos, args.out / f"{name}.png")
    print(f"wrote {args.out / f'{name}.json'} and {name}.png in {result['seconds']:.0f} s")


if __name__ == "__main__":
    main()
