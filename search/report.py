"""The run folder's reports: metrics CSV, progress plots, cross-play of the final
archives, the embedding map, and GIFs of the best match-ups.

`write_report(out, sandbox)` regenerates all of it from the archives and the event
log, so `arenax fmsp report DIR` works on a finished, interrupted or copied run.
Generated programs are untrusted, so every match (cross-play, recorded GIF
episodes) is played in the sandbox; this module only draws.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from arenax.plots import new_figure, save_figure
from arenax.reporting import write_tournament_outputs
from arenax.runs import write_json
from arenax.search.archive import Archive, ArchiveEntry
from arenax.search.event_log import read_events
from arenax.search.loops import ROLES, as_program
from arenax.search.sandbox import Sandbox
from arenax.tournament import TournamentResult

METRIC_COLUMNS = (
    "iteration",
    "pursuer_size",
    "evader_size",
    "pursuer_qd_score",
    "evader_qd_score",
    "pursuer_best",
    "evader_best",
    "programs_evaluated",
    "proposed",
    "failed",
    "repaired",
    "accepted",
    "rejected",
    "prompt_tokens",
    "completion_tokens",
    "cost_usd",
    "seconds",
)


def iteration_rows(out: Path) -> list[dict[str, Any]]:
    """One dict per finished iteration (the last record wins if an iteration was redone)."""
    rows: dict[int, dict[str, Any]] = {}
    for event in read_events(Path(out) / "events.jsonl"):
        if event["event"] == "iteration_end":
            rows[int(event["iteration"])] = event
    return [rows[i] for i in sorted(rows)]


def write_metrics_csv(out: Path) -> Path:
    """`metrics.csv`: one row per iteration (archive sizes, QD-scores, best, counters, tokens)."""
    path = Path(out) / "metrics.csv"
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=METRIC_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for row in iteration_rows(out):
            writer.writerow({k: row.get(k, "") for k in METRIC_COLUMNS})
    return path


def plot_progress(out: Path) -> Path:
    """`progress.png`: QD-score and archive size of both roles over iterations."""
    rows = iteration_rows(out)
    x = [r["iteration"] for r in rows]
    fig, ax_qd = new_figure((9.0, 3.6))
    fig.clf()
    ax_qd, ax_size = fig.subplots(1, 2)
    for role, style in zip(ROLES, ("-o", "-s"), strict=True):
        ax_qd.plot(x, [r[f"{role}_qd_score"] for r in rows], style, ms=3, label=role)
        ax_size.plot(x, [r[f"{role}_size"] for r in rows], style, ms=3, label=role)
    ax_qd.set(xlabel="iteration", ylabel="QD-score (sum of member qualities)", title="QD-score")
    ax_size.set(xlabel="iteration", ylabel="members", title="archive size")
    for ax in (ax_qd, ax_size):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return save_figure(fig, Path(out) / "progress.png")


def display_names(entries: Sequence[ArchiveEntry]) -> list[str]:
    """Unique, short labels: hand-written seeds keep their name; generated ones lose the
    offline generator's `gen_<role>_` prefix and hash suffix and get their id's first
    four characters (e.g. `pp_dub_look#e01b`)."""
    return [e.name if e.generation == 0 else f"{short_name(e.name)}#{e.id[:4]}" for e in entries]


def short_name(name: str) -> str:
    short = re.sub(r"_[0-9a-f]{6}$", "", re.sub(r"^gen_[pe]_", "", name))
    return short or name


def top_members(archive: Archive, limit: int) -> list[ArchiveEntry]:
    """The `limit` best members by quality, hand-written seeds always included."""
    members = archive.members()
    seeds = [m for m in members if m.generation == 0]
    generated = sorted((m for m in members if m.generation > 0), key=lambda m: -(m.quality or 0.0))
    return generated[: max(limit - len(seeds), 0)] + seeds


def crossplay(
    sandbox: Sandbox, pursuers: Sequence[ArchiveEntry], evaders: Sequence[ArchiveEntry]
) -> TournamentResult:
    """Every pursuer against every evader, in the sandbox (one job per pursuer)."""
    evader_programs = [as_program(e) for e in evaders]
    evaluations = sandbox.evaluate_many([(as_program(p), evader_programs) for p in pursuers])
    returns, evader_returns = [], []
    for pursuer, evaluation in zip(pursuers, evaluations, strict=True):
        if not evaluation.ok:
            raise RuntimeError(
                f"cross-play: {pursuer.name} ({pursuer.id}) failed: "
                f"{evaluation.error_kind}: {evaluation.error_message}"
            )
        returns.append(np.asarray(evaluation.returns))
        evader_returns.append(np.asarray(evaluation.opponent_returns))
    return TournamentResult(
        row_names=tuple(display_names(pursuers)),
        col_names=tuple(display_names(evaders)),
        row_role="pursuer",
        col_role="evader",
        returns=np.stack(returns),
        col_returns=np.stack(evader_returns),
    )


def plot_embedding_map(archive: Archive, path: Path) -> Path | None:
    """2-D PCA of the code embeddings of every scored program, coloured by quality;
    members are ringed, hand-written seeds labelled. None if fewer than 3 programs."""
    scored = [e for e in archive.entries() if e.embedding is not None and e.quality is not None]
    if len(scored) < 3:
        return None
    x = np.array([e.embedding for e in scored], dtype=float)
    x = x - x.mean(0)
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    xy = x @ vt[:2].T
    quality = np.array([e.quality for e in scored])
    member = np.array([e.status == "accepted" for e in scored])
    fig, ax = new_figure((6.0, 4.8))
    points = ax.scatter(xy[:, 0], xy[:, 1], c=quality, cmap="viridis", s=22, vmin=0, vmax=1)
    ax.scatter(xy[member, 0], xy[member, 1], s=70, facecolors="none", edgecolors="black", lw=0.8)
    for (px, py), entry in zip(xy, scored, strict=True):
        if entry.generation == 0:
            ax.annotate(entry.name, (px, py), fontsize=7, xytext=(3, 3), textcoords="offset points")
    fig.colorbar(points, ax=ax, label="quality")
    ax.set(xlabel="PC 1", ylabel="PC 2")
    ax.set_title(
        f"{archive.role} programs in code-embedding space (ringed: archive members)", fontsize=9
    )
    return save_figure(fig, path)


def best_matchups(
    result: TournamentResult, pursuers, evaders
) -> list[tuple[ArchiveEntry, ArchiveEntry]]:
    """The best generated pursuer vs the strongest evader, and the best generated evader
    vs the strongest pursuer (hand-written seeds stand in when nothing was generated)."""
    mean = result.mean
    best_p = int(np.argmax(mean.mean(1)))
    best_e = int(np.argmin(mean.mean(0)))
    gen_p = [i for i, p in enumerate(pursuers) if p.generation > 0]
    gen_e = [j for j, e in enumerate(evaders) if e.generation > 0]
    top_gen_p = max(gen_p, key=lambda i: mean[i].mean(), default=best_p)
    top_gen_e = min(gen_e, key=lambda j: mean[:, j].mean(), default=best_e)
    pairs = [(pursuers[top_gen_p], evaders[best_e]), (pursuers[best_p], evaders[top_gen_e])]
    unique = []
    for pair in pairs:
        if all(pair[0].id != u[0].id or pair[1].id != u[1].id for u in unique):
            unique.append(pair)
    return unique


def champions(
    result: TournamentResult, pursuers: Sequence[ArchiveEntry], evaders: Sequence[ArchiveEntry]
) -> dict[str, dict[str, Any]]:
    """Per role, the best generated and the best hand-written program, each scored by
    its mean against the hand-written programs of the other role (same episodes)."""
    mean = result.mean  # (P, E) pursuer score
    hand_p = [i for i, p in enumerate(pursuers) if p.generation == 0]
    hand_e = [j for j, e in enumerate(evaders) if e.generation == 0]
    scores = {
        "pursuer": mean[:, hand_e].mean(axis=1),
        "evader": (1.0 - mean[hand_p, :]).mean(axis=0),
    }
    out = {}
    for role, entries in (("pursuer", pursuers), ("evader", evaders)):
        names = display_names(entries)
        best: dict[str, Any] = {}
        for kind, generated in (("generated", True), ("hand_written", False)):
            picks = [i for i, e in enumerate(entries) if (e.generation > 0) == generated]
            if picks:
                i = max(picks, key=lambda k: scores[role][k])
                best[kind] = {
                    "name": names[i],
                    "id": entries[i].id,
                    "score": float(scores[role][i]),
                }
        out[role] = best
    return out


def champion_lines(champs: dict[str, dict[str, Any]]) -> list[str]:
    """One line per role: best discovered vs best hand-written, against hand-written foes."""
    lines = []
    for role, best in champs.items():
        hand = best.get("hand_written")
        gen = best.get("generated")
        if hand is None or gen is None:
            continue
        verdict = "beats" if gen["score"] > hand["score"] else "does not beat"
        lines.append(
            f"best discovered {role} {gen['name']} ({gen['score']:.3f}) {verdict} the best "
            f"hand-written {role} {hand['name']} ({hand['score']:.3f}), both scored against "
            "the hand-written opponents"
        )
    return lines


def write_report(
    out: Path, sandbox: Sandbox, limit: int = 12, gifs: bool = True
) -> tuple[dict[str, Any], TournamentResult]:
    """Regenerate every report file of run folder `out`.

    Returns a JSON-ready summary (also written to report.json) and the cross-play
    result of the final archives (best `limit` members per role, seeds included).
    """
    from arenax.envs import make
    from arenax.envs.car_tag.render import animate_episode, plot_episode

    out = Path(out)
    archives = {role: Archive(out / "archives" / f"{role}.jsonl", role) for role in ROLES}
    paths = [write_metrics_csv(out), plot_progress(out)]
    for role in ROLES:
        archives[role].to_json(out / f"archive_{role}.json")
        path = plot_embedding_map(archives[role], out / f"embedding_map_{role}.png")
        if path is not None:
            paths.append(path)
    pursuers = top_members(archives["pursuer"], limit)
    evaders = top_members(archives["evader"], limit)
    result = crossplay(sandbox, pursuers, evaders)
    cross_dir = out / "crossplay"
    cross_dir.mkdir(exist_ok=True)
    paths += write_tournament_outputs(
        result, cross_dir, title="Final archives: pursuer score (1 - evader survival)"
    )
    summary: dict[str, Any] = {
        "crossplay": result.to_dict(),
        "champions": champions(result, pursuers, evaders),
        "matchups": [],
    }
    if gifs:
        env_overrides = dict(sandbox.env_overrides or {})
        _, params = make("car_tag", **env_overrides)
        for pursuer, evader in best_matchups(result, pursuers, evaders):
            states = sandbox.record(as_program(pursuer), as_program(evader))
            names = (display_names([pursuer])[0], display_names([evader])[0])
            stem = f"{names[0]}_vs_{names[1]}".replace("#", "_")
            title = f"{names[0]} (pursuer) vs {names[1]} (evader)"
            paths.append(
                plot_episode(states, params, out / f"{stem}.png", title=title, names=names)
            )
            paths.append(
                animate_episode(states, params, out / f"{stem}.gif", title=title, names=names)
            )
            summary["matchups"].append(
                {"pursuer": pursuer.id, "evader": evader.id, "files": [stem]}
            )
    summary["files"] = [str(p) for p in paths]
    write_json(out / "report.json", summary)
    return summary, result
