"""Pictures of one Car Tag episode: a trajectory PNG and an animated GIF.

Both take the recorded states of ONE episode, e.g.
``jax.tree_util.tree_map(lambda x: x[i], rollout(..., record=True).states)``:
a `CarTagState` whose leaves are (T + 1, ...) numpy or jax arrays. Only the
steps up to the end of the episode are drawn (afterwards the state is frozen),
and a capture is drawn at the exact contact point inside its last step.
Both draw on a private Agg canvas (no pyplot, no display, no global backend
change), so nothing is left open.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import jax
import numpy as np
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.colors import LinearSegmentedColormap, to_rgb
from matplotlib.lines import Line2D
from matplotlib.patches import Circle, Polygon, Rectangle
from PIL import Image

from arenax.envs.car_tag.params import CarTagParams, CarTagState
from arenax.plots import new_figure, save_figure

PURSUER_COLOR = "#c0392b"
EVADER_COLOR = "#1f5fa8"
WALL_COLOR = "#333333"
MAX_FRAMES = 150

Names = Mapping[str, str] | Sequence[str] | None


@dataclass
class _Episode:
    """One episode as numpy arrays, cut at its end (n = steps played).

    Attributes:
        time: (n + 1,) s; the last entry is the capture time when captured.
        p_pos, e_pos: (n + 1, 2) pursuer / evader positions, m.
        p_head: (n + 1,) pursuer heading, rad.
        captured: whether the evader was caught; capture_time: s.
    """

    time: np.ndarray
    p_pos: np.ndarray
    e_pos: np.ndarray
    p_head: np.ndarray
    captured: bool
    capture_time: float


def _episode(states: CarTagState, params: CarTagParams) -> _Episode:
    s = jax.tree_util.tree_map(np.asarray, states)
    if s.t.ndim != 1:
        raise ValueError(f"expected one episode's states (leaves (T+1, ...)), got t {s.t.shape}")
    dt = float(params.dt)
    n = int(min(s.t[-1], len(s.t) - 1))  # steps played; later states are frozen copies
    p_pos, e_pos = s.pursuer_pos[: n + 1].astype(float), s.evader_pos[: n + 1].astype(float)
    p_head = np.unwrap(s.pursuer_heading[: n + 1].astype(float))
    time = np.arange(n + 1) * dt
    captured = bool(s.captured[n])
    capture_time = float(s.capture_time[n])
    if captured and n > 0:  # move the last point back to the contact inside the last step
        f = float(np.clip(capture_time / dt - (n - 1), 0.0, 1.0))
        p_pos[n] = p_pos[n - 1] + f * (p_pos[n] - p_pos[n - 1])
        e_pos[n] = e_pos[n - 1] + f * (e_pos[n] - e_pos[n - 1])
        p_head[n] = p_head[n - 1] + f * (p_head[n] - p_head[n - 1])
        time[n] = capture_time
    return _Episode(time, p_pos, e_pos, p_head, captured, capture_time)


def _names(names: Names) -> tuple[str, str]:
    if names is None:
        return "pursuer", "evader"
    if isinstance(names, Mapping):
        return f"pursuer: {names['pursuer']}", f"evader: {names['evader']}"
    return f"pursuer: {names[0]}", f"evader: {names[1]}"


def _outcome(ep: _Episode) -> str:
    if ep.captured:
        return f"captured at t = {ep.capture_time:.2f} s"
    return f"survived {ep.time[-1]:.1f} s"


def _car(pos: np.ndarray, heading: float, size: float) -> np.ndarray:
    """(4, 2) vertices of a dart (arrowhead) centred on `pos`, pointing along `heading`."""
    local = np.array([[1.0, 0.0], [-0.7, 0.6], [-0.35, 0.0], [-0.7, -0.6]]) * size
    c, s = np.cos(heading), np.sin(heading)
    return local @ np.array([[c, s], [-s, c]]) + pos


def _add_car(ax: Axes, pos: np.ndarray, heading: float, size: float, **style) -> Polygon:
    return ax.add_patch(Polygon(_car(pos, heading, size), closed=True, **style))


def _arena(ax: Axes, half: float, radius: float) -> float:
    """Walls, limits and labels; returns the margin (m) between the walls and the axes."""
    ax.add_patch(Rectangle((-half, -half), 2 * half, 2 * half, fill=False, lw=2.0, ec=WALL_COLOR))
    for spine in ax.spines.values():
        spine.set_visible(False)
    pad = max(0.04 * half, 1.1 * radius)  # room for a capture circle against a wall
    ax.set_xlim(-half - pad, half + pad)
    ax.set_ylim(-half - pad, half + pad)
    ax.set_aspect("equal")
    ax.set_xlabel("x (m)")
    ax.set_ylabel("y (m)")
    return pad


def _fading_path(ax: Axes, xy: np.ndarray, color: str, lw: float = 1.8) -> None:
    """Path whose colour goes from pale (start) to `color` (end)."""
    if len(xy) < 2:
        return
    pale = 0.25 * np.asarray(to_rgb(color)) + 0.75  # blend towards white, no alpha overlap
    cmap = LinearSegmentedColormap.from_list("fade", [pale, color])
    segments = np.stack([xy[:-1], xy[1:]], axis=1)
    lc = LineCollection(segments, cmap=cmap, lw=lw, capstyle="round", zorder=3)
    lc.set_array(np.linspace(0.0, 1.0, len(segments)))
    ax.add_collection(lc)


def _time_ticks(ep: _Episode) -> np.ndarray:
    """Indices of <= 6 evenly spaced round times (1, 2, 5, 10... s apart), start excluded."""
    total = ep.time[-1]
    spacing = next((d for d in (0.5, 1, 2, 5, 10, 20, 50, 100) if total / d <= 6), 200.0)
    dt = ep.time[1] - ep.time[0] if len(ep.time) > 1 else 1.0
    idx = np.round(np.arange(spacing, total - 0.25 * spacing, spacing) / dt).astype(int)
    return idx[idx < len(ep.time) - 1]


def plot_episode(
    states: CarTagState,
    params: CarTagParams,
    path: str | Path,
    title: str | None = None,
    names: Names = None,
) -> Path:
    """Write a trajectory PNG of one episode.

    Args:
        states: `CarTagState` of one episode, leaves (T + 1, ...) (numpy or jax).
        params: the episode's (unbatched) `CarTagParams`.
        path: output PNG file.
        title: figure title; the outcome is always appended.
        names: (pursuer, evader) strategy names, as a pair or a dict keyed by role.

    Returns:
        The path written. Thin grey lines join the players at round times
        (dots on both paths, labelled in seconds on the pursuer's).
    """
    ep = _episode(states, params)
    half, radius = float(params.arena_half_size), float(params.capture_radius)
    turn_r, car = float(params.min_turn_radius), 0.05 * half
    p_label, e_label = _names(names)
    fig, ax = new_figure((5.6, 5.6), dpi=150)
    _arena(ax, half, radius)
    heading0 = ep.p_head[0]
    for side in (1.0, -1.0):  # minimum turning circles at the start
        centre = ep.p_pos[0] + side * turn_r * np.array([-np.sin(heading0), np.cos(heading0)])
        ax.add_patch(
            Circle(centre, turn_r, fill=False, ls="--", lw=0.8, ec=PURSUER_COLOR, alpha=0.5)
        )
    for i in _time_ticks(ep):
        pair = np.stack([ep.p_pos[i], ep.e_pos[i]])
        ax.plot(pair[:, 0], pair[:, 1], color="0.6", lw=0.6, ls=":", zorder=2)
        ax.plot(*pair.T, "o", ms=2.5, color="0.35", zorder=4)
        label = {"xytext": (3, 3), "textcoords": "offset points", "fontsize": 7, "color": "0.3"}
        ax.annotate(f"{ep.time[i]:g} s", ep.p_pos[i], zorder=6, **label)
    _fading_path(ax, ep.p_pos, PURSUER_COLOR)
    _fading_path(ax, ep.e_pos, EVADER_COLOR)
    _add_car(ax, ep.p_pos[0], heading0, car, fill=False, ec=PURSUER_COLOR, lw=1.2, zorder=5)
    ax.plot(*ep.e_pos[0], "o", mfc="white", mec=EVADER_COLOR, mew=1.2, ms=7, zorder=5)
    _add_car(ax, ep.p_pos[-1], ep.p_head[-1], car, fc=PURSUER_COLOR, ec="k", lw=0.6, zorder=6)
    ax.plot(*ep.e_pos[-1], "o", color=EVADER_COLOR, mec="black", mew=0.6, ms=6, zorder=6)
    handles = [
        Line2D([], [], color=PURSUER_COLOR, marker=">", lw=1.8, label=p_label),
        Line2D([], [], color=EVADER_COLOR, marker="o", lw=1.8, label=e_label),
        Line2D([], [], color="0.3", marker=">", mfc="white", ls="none", label="start (hollow)"),
        Line2D(
            [], [], color=PURSUER_COLOR, ls="--", lw=0.8, label=f"min. turn circle ({turn_r:g} m)"
        ),
    ]
    if ep.captured:
        ax.add_patch(
            Circle(ep.e_pos[-1], radius, fc=PURSUER_COLOR, alpha=0.15, ec="none", zorder=2)
        )
        ax.add_patch(Circle(ep.e_pos[-1], radius, fill=False, ec=PURSUER_COLOR, lw=0.9, zorder=5))
        ax.plot(*ep.e_pos[-1], "X", color="black", ms=9, mew=0.5, mec="white", zorder=7)
        label = f"capture (radius {radius:g} m)"
        handles.append(Line2D([], [], color="black", marker="X", ls="none", label=label))
    legend = {"loc": "upper center", "bbox_to_anchor": (0.5, -0.1), "ncol": 2, "frameon": False}
    ax.legend(handles=handles, fontsize=8, **legend)
    ax.set_title(f"{title}\n{_outcome(ep)}" if title else _outcome(ep), fontsize=10)
    return save_figure(fig, path)


def animate_episode(
    states: CarTagState,
    params: CarTagParams,
    path: str | Path,
    fps: int = 20,
    stride: int = 1,
    title: str | None = None,
    names: Names = None,
) -> Path:
    """Write an animated GIF of one episode (4x4 in at 80 dpi, at most ~150 frames).

    Args:
        states: `CarTagState` of one episode, leaves (T + 1, ...) (numpy or jax).
        params: the episode's (unbatched) `CarTagParams`.
        path: output GIF file.
        fps: frames per second of the GIF.
        stride: draw every `stride`-th step; raised automatically to stay under
            `MAX_FRAMES` frames. The final state (capture) is always shown and held.
        title: figure title; names: as in `plot_episode`.

    Returns:
        The path written.
    """
    ep = _episode(states, params)
    half, radius = float(params.arena_half_size), float(params.capture_radius)
    car = 0.06 * half
    n = len(ep.time) - 1
    stride = max(int(stride), -(-n // MAX_FRAMES), 1)
    steps = [*range(0, n, stride), n]
    p_label, e_label = _names(names)

    fig, ax = new_figure((4.0, 4.0), dpi=80)
    pad = _arena(ax, half, radius)
    ax.tick_params(labelsize=7)
    ax.xaxis.label.set_size(8)
    ax.yaxis.label.set_size(8)
    (p_trail,) = ax.plot([], [], color=PURSUER_COLOR, lw=1.3, alpha=0.7, label=p_label)
    (e_trail,) = ax.plot([], [], color=EVADER_COLOR, lw=1.3, alpha=0.7, label=e_label)
    ring = ax.add_patch(Circle(ep.e_pos[0], radius, fill=False, ec=EVADER_COLOR, lw=0.8, ls="--"))
    (e_dot,) = ax.plot([], [], "o", color=EVADER_COLOR, ms=5, zorder=5)
    p_car = _add_car(ax, ep.p_pos[0], ep.p_head[0], car, fc=PURSUER_COLOR, ec="k", lw=0.5, zorder=6)
    inset = 0.02 + pad / (2 * (half + pad))  # just inside the wall, top-left
    clock = ax.text(inset, 1 - inset, "", transform=ax.transAxes, va="top", fontsize=7)
    clock.set(family="monospace", bbox={"fc": "white", "ec": "none", "alpha": 0.75, "pad": 1.5})
    ax.legend(loc="lower right", fontsize=6, framealpha=0.7)
    ax.set_title(textwrap.fill(title or "Car Tag", 52), fontsize=8)
    moving = [p_trail, e_trail, ring, e_dot, p_car, clock]
    for artist in moving:
        artist.set_animated(True)  # left out of the full draw; blitted per frame
    fig.tight_layout()
    canvas = fig.canvas
    canvas.draw()
    background = canvas.copy_from_bbox(fig.bbox)

    frames = []
    for i in steps:
        p_trail.set_data(ep.p_pos[: i + 1, 0], ep.p_pos[: i + 1, 1])
        e_trail.set_data(ep.e_pos[: i + 1, 0], ep.e_pos[: i + 1, 1])
        e_dot.set_data([ep.e_pos[i, 0]], [ep.e_pos[i, 1]])
        ring.center = tuple(ep.e_pos[i])
        p_car.set_xy(_car(ep.p_pos[i], ep.p_head[i], car))
        text = f"t = {ep.time[i]:5.2f} s"
        if i == n:
            text = ("captured " if ep.captured else "survived ") + text
            ring.set_edgecolor(PURSUER_COLOR if ep.captured else EVADER_COLOR)
        clock.set_text(text)
        canvas.restore_region(background)
        for artist in moving:
            ax.draw_artist(artist)
        frames.append(Image.fromarray(np.asarray(canvas.buffer_rgba())[..., :3].copy()))
    # One shared palette from the last (busiest) frame, no dithering: small, flicker-free GIFs.
    palette = frames[-1].quantize(colors=64, method=Image.Quantize.MEDIANCUT)
    frames = [f.quantize(palette=palette, dither=Image.Dither.NONE) for f in frames]

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    durations = [round(1000 / fps)] * (len(frames) - 1) + [1500]  # hold the end 1.5 s
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=durations, loop=0)
    return path
