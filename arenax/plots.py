"""Figures for reports: score-matrix heatmaps and learning curves (PNG).

Everything draws on a private Agg canvas (no pyplot, no display, no global
backend change), so it works headless and leaves no figure open.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

ArrayLike = np.ndarray | Sequence


def new_figure(figsize: tuple[float, float], dpi: int = 150) -> tuple[Figure, Axes]:
    """A figure with one axes on its own Agg canvas."""
    fig = Figure(figsize=figsize, dpi=dpi)
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def save_figure(fig: Figure, path: str | Path) -> Path:
    """Lay out and write `fig` to `path` (parent folders created); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path)
    return path


def plot_score_matrix(
    matrix: ArrayLike,
    ci: ArrayLike | None,
    row_names: Sequence[str],
    col_names: Sequence[str],
    path: str | Path,
    title: str,
    row_label: str = "pursuer",
    col_label: str = "evader",
) -> Path:
    """Heatmap of a score matrix, each cell annotated "mean ± ci".

    Args:
        matrix: (R, C) scores in [0, 1] (e.g. the row player's mean score).
        ci: (R, C) half-widths of the confidence intervals, or None.
        row_names: R labels; col_names: C labels.
        path: output PNG file.
        title: figure title; row_label / col_label: axis titles.
    """
    m = np.asarray(matrix, dtype=float)
    rows, cols = m.shape
    if (rows, cols) != (len(row_names), len(col_names)):
        raise ValueError(f"matrix {m.shape} vs {len(row_names)} row and {len(col_names)} col names")
    half = None if ci is None else np.broadcast_to(np.asarray(ci, dtype=float), m.shape)
    longest = max(len(str(n)) for n in col_names)
    rotate = 0 if longest * cols <= 60 else 40
    width = 2.2 + 1.1 * cols + 0.07 * max(len(str(n)) for n in row_names)
    height = 1.6 + 0.8 * rows + (0.06 * longest if rotate else 0.0)
    fig, ax = new_figure((max(width, 4.0), max(height, 3.0)))
    image = ax.imshow(m, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
    for i in range(rows):
        for j in range(cols):
            value = m[i, j]
            text = "n/a" if np.isnan(value) else f"{value:.2f}"
            if half is not None and not np.isnan(half[i, j]):
                text += f"\n± {half[i, j]:.2f}"
            r, g, b, _ = image.cmap(image.norm(value))
            color = "black" if 0.299 * r + 0.587 * g + 0.114 * b > 0.5 else "white"
            ax.text(j, i, text, ha="center", va="center", fontsize=8, color=color, linespacing=1.1)
    ax.set_xticks(
        range(cols),
        [str(n) for n in col_names],
        rotation=rotate,
        ha="right" if rotate else "center",
        rotation_mode="anchor",
        fontsize=8,
    )
    ax.set_yticks(range(rows), [str(n) for n in row_names], fontsize=8)
    ax.set_xticks(np.arange(cols + 1) - 0.5, minor=True)
    ax.set_yticks(np.arange(rows + 1) - 0.5, minor=True)
    ax.grid(which="minor", color="white", lw=1.5)
    ax.tick_params(which="minor", length=0)
    ax.set_xlabel(col_label)
    ax.set_ylabel(row_label)
    ax.set_title(title, fontsize=10)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.03).ax.tick_params(labelsize=8)
    return save_figure(fig, path)


def plot_learning_curve(
    steps: ArrayLike,
    values: ArrayLike,
    path: str | Path,
    ylabel: str,
    title: str,
    labels: Sequence[str] | None = None,
    band: ArrayLike | None = None,
    xlabel: str = "step",
) -> Path:
    """Line plot of one or several series against a shared or per-series x.

    Args:
        steps: (T,) x values shared by every series, or (K, T) one row per series.
        values: (T,) one series or (K, T) K series.
        path: output PNG file.
        ylabel, title, xlabel: axis label, title and x label.
        labels: K legend entries (a legend is drawn when given).
        band: same shape as `values`: half-width of a shaded band (mean ± band),
            e.g. a standard deviation or confidence interval over seeds.
    """
    y = np.atleast_2d(np.asarray(values, dtype=float))
    x = np.broadcast_to(np.atleast_2d(np.asarray(steps, dtype=float)), y.shape)
    b = None if band is None else np.broadcast_to(np.atleast_2d(np.asarray(band, float)), y.shape)
    if labels is not None and len(labels) != len(y):
        raise ValueError(f"{len(labels)} labels for {len(y)} series")
    fig, ax = new_figure((6.0, 4.0))
    for k in range(len(y)):
        (line,) = ax.plot(x[k], y[k], lw=1.6, label=None if labels is None else labels[k])
        if b is not None:
            ax.fill_between(x[k], y[k] - b[k], y[k] + b[k], color=line.get_color(), alpha=0.2, lw=0)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    if labels is not None:
        ax.legend(fontsize=8)
    return save_figure(fig, path)
