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
  program, from the runs' event logs;
- scoring speed at the target's size (`--part speed`): one worker scores new
  generated candidates against 32 opponents (hand-written ones under distinct
  ids, or generated ones) x 64 episodes at the default horizon, through the
  whole sandbox path; the breakdown is check (static checks, loading and the
  validation compile), compile (the match) and run. `benchmarks/scoring_speed.py`
  measures the in-worker scorer alone, against a single-jit reference.

    python benchmarks/fmsp.py                  # ~45 min on 2 CPU cores
    python benchmarks/fmsp.py --part speed     # only the scoring speed, ~4 min
    python benchmarks/fmsp.py --quick          # a smoke run with tiny shapes, ~3 min

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
from arenax.search.program import Program, strategy_programs
from arenax.search.proposal import ProposalRequest
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
    parser.add_argument("--speed-opponents", type=int, default=32)
    parser.add_argument("--speed-episodes", type=int, default=64)
    parser.add_argument("--speed-candidates", type=int, default=5, help="after the first")
    parser.add_argument(
        "--part", choices=("all", "quality", "speed"), default="all", help="what to measure"
    )
    parser.add_argument("--quick", action="store_true", help="tiny shapes, one seed")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    args.env = {}
    if args.quick:
        args.seeds, args.iterations, args.candidates = 1, 1, 1
        args.episodes, args.held_out_episodes, args.max_opponents = 4, 4, 4
        args.env = {"horizon": 60}
        args.speed_opponents, args.speed_episodes, args.speed_candidates = 4, 4, 1
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


def speed_opponents(role: str, kind: str, count: int) -> list[Program]:
    """`count` distinct opponent programs of `role`: hand-written ones (the look-ahead
    planner left out) under distinct ids, or programs written by the offline generator."""
    if kind == "hand-written":
        base = [p for p in strategy_programs(role) if p.name != "lookahead"]
        return [
            Program(
                name=f"{p.name}_{k}",
                role=role,
                source=f"{p.source}\n# copy {k}\n",
                description=p.description,
            )
            for k, p in ((k, base[k % len(base)]) for k in range(count))
        ]
    generator = OfflineGenerator(seed=7)
    programs = []
    for k in range(count):
        proposal = generator.propose(ProposalRequest(role=role, mode="novel", seed=10_000 + k))
        programs.append(Program(proposal.name, role, proposal.source, proposal.description))
    return programs


def scoring_speed(args: argparse.Namespace) -> dict[str, Any]:
    """One worker scores new generated candidates against 32 opponents x 64 episodes at
    the default horizon, through the whole sandbox path (static checks, validation
    compile, match compile, rollouts, IPC). The first candidate of a scenario also
    compiles the opponents; the figures that matter are the later candidates'."""
    scenarios = []
    generator = OfflineGenerator(seed=11)
    with Sandbox(
        env_overrides=args.env, num_workers=1, num_episodes=args.speed_episodes, seed=0
    ) as sandbox:
        horizon = int(sandbox.params.horizon)
        sandbox.wait_ready()
        for role in ROLES:
            other = "evader" if role == "pursuer" else "pursuer"
            for kind in ("hand-written", "generated"):
                opponents = speed_opponents(other, kind, args.speed_opponents)
                rows = []
                for k in range(args.speed_candidates + 1):
                    request = ProposalRequest(role=role, mode="novel", seed=20_000 + k)
                    proposal = generator.propose(request)
                    candidate = Program(proposal.name, role, proposal.source, proposal.description)
                    evaluation = sandbox.evaluate(candidate, opponents)
                    if not evaluation.ok:
                        raise RuntimeError(
                            f"{candidate.name}: {evaluation.error_kind}: {evaluation.error_message}"
                        )
                    t = evaluation.timings
                    rows.append(
                        {
                            "candidate": candidate.name,
                            "first": k == 0,
                            **{key: t.get(key) for key in ("check_s", "compile_s", "run_s")},
                            "total_s": t["total_s"],
                            "quality": evaluation.quality,
                        }
                    )
                    print(
                        f"{role} vs {len(opponents)} {kind} {other}s, {candidate.name}: "
                        f"check {t['check_s']:.2f} s, compile {t['compile_s']:.2f} s, "
                        f"run {t['run_s']:.2f} s, total {t['total_s']:.2f} s"
                        + (" (first: opponents compiled too)" if k == 0 else ""),
                        flush=True,
                    )
                later = np.array([r["total_s"] for r in rows[1:]])
                scenarios.append(
                    {
                        "role": role,
                        "opponents": kind,
                        "candidates": rows,
                        "median_total_s": float(np.median(later)),
                        "max_total_s": float(later.max()),
                    }
                )
    return {
        "opponents": args.speed_opponents,
        "episodes": args.speed_episodes,
        "horizon": horizon,
        "target_s": 3.0,
        "scenarios": scenarios,
    }


def plot(records: list[dict[str, Any]], held: dict[str, Any], algos: list[str], path: Path):
    """QD-score over the search per run; held-out scores per role as sorted bars."""
    fig, _ = new_figure((13.0, 4.2))
    fig.clf()
    ax_curve, *ax_held = fig.subplots(1, 3)
    colours = dict(zip(ALGOS, ("tab:blue", "tab:orange", "tab:green", "tab:gray"), strict=True))
    for algo in algos:
        for n, record in enumerate(r for r in records if r["algo"] == algo):
            rounds = [c["iteration"] / (2 if algo == "vfmsp" else 1) for c in record["curve"]]
            total = [c["pursuer_qd_score"] + c["evader_qd_score"] for c in record["curve"]]
            ax_curve.plot(rounds, total, color=colours[algo], label=algo if n == 0 else None)
    ax_curve.set(xlabel="proposal rounds per role", ylabel="QD-score (both roles)")
    ax_curve.set_title("QD-score over the search (one line per seed)", fontsize=9)
    ax_curve.grid(alpha=0.3)
    ax_curve.legend(fontsize=8)
    for ax, role in zip(ax_held, ROLES, strict=True):
        rows = sorted(held["scores"][role], key=lambda r: r["score"])
        algo_of = [r["label"].split("/")[0] for r in rows]
        ax.barh(
            np.arange(len(rows)),
            [r["score"] for r in rows],
            color=[colours.get(a, "black") for a in algo_of],
        )
        ax.set_yticks(np.arange(len(rows)))
        ax.set_yticklabels([r["label"] for r in rows], fontsize=7)
        ax.set_xlabel(
            f"held-out score vs the pool of {'evaders' if role == 'pursuer' else 'pursuers'}"
        )
        ax.set_title(f"best {role}s (black: hand-written)", fontsize=9)
        ax.grid(alpha=0.3, axis="x")
    fig.tight_layout()
    return save_figure(fig, path)


def quality(args: argparse.Namespace, algos: list[str]) -> dict[str, Any]:
    """Every (seed, algorithm) search, then the held-out cross-play; prints the tables."""
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
    return {
        "seconds": time.perf_counter() - started,
        "summary": summary,
        "runs": [{k: v for k, v in r.items() if k != "timings"} for r in records],
        "held_out": held,
        "scoring_in_loop": timings,
    }


def main() -> None:
    args = parse_args()
    algos = [a.strip() for a in args.algos.split(",") if a.strip()]
    unknown = sorted(set(algos) - set(ALGOS))
    if unknown:
        raise SystemExit(f"unknown --algos {unknown}; choose from {', '.join(ALGOS)}")
    args.out.mkdir(parents=True, exist_ok=True)
    name = "fmsp_quick" if args.quick else "fmsp"
    path = args.out / f"{name}.json"
    result = json.loads(path.read_text()) if path.exists() and args.part != "all" else {}
    result["machine"] = {"cpus": os.cpu_count(), "platform": platform.platform(), "backend": "cpu"}
    if args.part in ("all", "quality"):
        result["config"] = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
        result["quality"] = quality(args, algos)
        plot(
            result["quality"]["runs"],
            result["quality"]["held_out"],
            algos,
            args.out / f"{name}.png",
        )
    if args.part in ("all", "speed"):
        result["scoring_speed"] = scoring_speed(args)
    path.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {path}" + (f" and {name}.png" if args.part != "speed" else ""))


if __name__ == "__main__":
    main()
