"""Tables and files for tournament results (rich tables, JSON, CSV)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from rich.table import Table

from arenax.plots import plot_score_matrix
from arenax.runs import write_json
from arenax.tournament import TournamentResult


def _cell_style(value: float) -> str:
    if value >= 0.75:
        return "bold red"
    if value >= 0.5:
        return "red"
    if value >= 0.25:
        return "green"
    return "bold green"


def score_table(result: TournamentResult, title: str | None = None) -> Table:
    """Rich table of the row role's mean score ± 95% CI, with row and column means."""
    table = Table(
        title=title or f"{result.row_role} score (rows) vs {result.col_role} (columns), ±95% CI",
        caption=f"{result.returns.shape[-1]} episodes per match; "
        f"{result.col_role} score = 1 - {result.row_role} score",
    )
    table.add_column(f"{result.row_role} \\ {result.col_role}", style="bold")
    for name in result.col_names:
        table.add_column(name, justify="center")
    table.add_column("mean", justify="center", style="bold")
    mean, ci = result.mean, result.ci95
    for i, name in enumerate(result.row_names):
        cells = [
            f"[{_cell_style(m)}]{m:.2f}[/] ±{c:.2f}" for m, c in zip(mean[i], ci[i], strict=True)
        ]
        table.add_row(name, *cells, f"{mean[i].mean():.2f}")
    table.add_row("mean", *[f"{m:.2f}" for m in mean.mean(0)], f"{mean.mean():.2f}", style="dim")
    return table


def write_matrix(result: TournamentResult, out_dir: Path, stem: str = "scores") -> list[Path]:
    """Write `<stem>.json` (means, CIs, roles, names) and `<stem>.csv` (one row per match)."""
    json_path = write_json(out_dir / f"{stem}.json", result.to_dict())
    csv_path = out_dir / f"{stem}.csv"
    with csv_path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(
            [
                result.row_role,
                result.col_role,
                f"{result.row_role}_score",
                "ci95",
                f"{result.col_role}_score",
                "episodes",
            ]
        )
        mean, ci = result.mean, result.ci95
        for i, row in enumerate(result.row_names):
            for j, col in enumerate(result.col_names):
                writer.writerow(
                    [
                        row,
                        col,
                        f"{mean[i, j]:.4f}",
                        f"{ci[i, j]:.4f}",
                        f"{result.col_mean[i, j]:.4f}",
                        result.returns.shape[-1],
                    ]
                )
    return [json_path, csv_path]


def strongest(result: TournamentResult) -> tuple[int, int]:
    """(row, col) indices of the strongest row policy (highest mean) and the strongest
    column policy (lowest mean row score against it)."""
    return int(np.argmax(result.mean.mean(1))), int(np.argmin(result.mean.mean(0)))


def write_tournament_outputs(result: TournamentResult, out_dir: Path, title: str) -> list[Path]:
    """`write_matrix` plus the heatmap `scores.png`; returns every path written."""
    paths = write_matrix(result, out_dir)
    paths.append(
        plot_score_matrix(
            result.mean,
            result.ci95,
            result.row_names,
            result.col_names,
            out_dir / "scores.png",
            title=title,
        )
    )
    return paths
