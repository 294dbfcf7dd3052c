"""Bird's-eye pictures of one IGDrivSim scene: a PNG of one timestep and a GIF of an
episode. Roads (edges, lane centres, stop lines), traffic lights in their colour,
vehicles as boxes, the SDC's perception region and the objects it sees, and the
expert's logged SDC box as a ghost.

Inputs are ONE scene's `SimulatorState` (numpy or jax leaves, no batch axis).
Drawing happens on a private Agg canvas (no pyplot, nothing left open).
"""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from matplotlib.axes import Axes
from matplotlib.patches import Polygon, Wedge
from PIL import Image

from arenax.envs.igdrive.datatypes import LANE_TYPES, ROAD_EDGE_TYPES, LightState, RoadType
from arenax.envs.igdrive.geometry import box_corners
from arenax.envs.igdrive.observation import to_sdc_frame
from arenax.envs.igdrive.perception import object_visibility, parse_restrictions
from arenax.plots import new_figure, save_figure

SDC_COLOR = "#c0392b"
SEEN_COLOR = "#1f5fa8"
UNSEEN_COLOR = "#9aa5b1"
LIGHT_COLORS = {"red": "#d62728", "yellow": "#f0b400", "green": "#2ca02c", "unknown": "#7f7f7f"}
VIEW_RADIUS = 45.0  # metres shown around the SDC


def _light_color(state: int) -> str:
    if state in (LightState.STOP, LightState.ARROW_STOP, LightState.FLASHING_STOP):
        return LIGHT_COLORS["red"]
    if state in (LightState.CAUTION, LightState.ARROW_CAUTION, LightState.FLASHING_CAUTION):
        return LIGHT_COLORS["yellow"]
    if state in (LightState.GO, LightState.ARROW_GO):
        return LIGHT_COLORS["green"]
    return LIGHT_COLORS["unknown"]


def _with_breaks(x: np.ndarray, y: np.ndarray, jump: float = 4.0):
    """The polyline with NaNs where consecutive points are more than `jump` m apart (an
    edge interrupted by a junction is drawn as two pieces)."""
    far = np.hypot(np.diff(x), np.diff(y)) > jump
    cut = np.flatnonzero(far) + 1
    return np.insert(x, cut, np.nan), np.insert(y, cut, np.nan)


def _draw_map(ax: Axes, road) -> None:
    types, valid = np.asarray(road.types), np.asarray(road.valid)
    ids, x, y = np.asarray(road.ids), np.asarray(road.x), np.asarray(road.y)
    for polyline in np.unique(ids[valid]):
        keep = valid & (ids == polyline)
        kind = int(types[keep][0])
        px, py = _with_breaks(x[keep], y[keep])
        if kind in ROAD_EDGE_TYPES:
            ax.plot(px, py, color="#333333", lw=1.4, zorder=1)
        elif kind in LANE_TYPES:
            ax.plot(px, py, color="#bbbbbb", lw=0.8, ls="--", zorder=1)
        elif kind == RoadType.STOP_LINE:
            ax.plot(px, py, color="white", lw=2.5, zorder=2)
            ax.plot(px, py, color="#555555", lw=0.6, zorder=2)


def _box(ax: Axes, x, y, yaw, length, width, **style) -> None:
    corners = np.asarray(box_corners(*(jnp.asarray(v) for v in (x, y, yaw, length, width))))
    ax.add_patch(Polygon(corners, closed=True, **style))


def _seen_objects(state, t: int, restrictions, key) -> np.ndarray:
    traj = jax.tree_util.tree_map(lambda a: np.asarray(a)[:, t], state.sim_trajectory)
    sdc = int(np.argmax(np.asarray(state.object_metadata.is_sdc)))
    rel = to_sdc_frame(traj.x, traj.y, traj.x[sdc], traj.y[sdc], traj.yaw[sdc])
    others = np.asarray(traj.valid) & ~np.asarray(state.object_metadata.is_sdc)
    seen = object_visibility(
        rel,
        jnp.asarray(traj.yaw - traj.yaw[sdc]),
        jnp.asarray(traj.length),
        jnp.asarray(traj.width),
        jnp.asarray(others),
        jnp.float32(np.hypot(traj.vel_x[sdc], traj.vel_y[sdc])),
        key,
        restrictions,
    )
    return np.asarray(seen)


def _perception_region(ax: Axes, x, y, yaw, speed, restrictions) -> None:
    heading = np.degrees(yaw)
    for r in restrictions:
        p = r.params
        if r.name == "range":
            ax.add_patch(Wedge((x, y), p["radius"], 0, 360, alpha=0.08, color=SEEN_COLOR))
        elif r.name in ("cone", "speed_cone"):
            angle = p["angle"]
            if r.name == "speed_cone":
                fraction = min(speed / p["speed"], 1.0)
                angle = p["angle"] - (p["angle"] - p["min_angle"]) * fraction
            radius = min(p["radius"], VIEW_RADIUS * 2)
            ax.add_patch(
                Wedge(
                    (x, y),
                    radius,
                    heading - angle / 2,
                    heading + angle / 2,
                    alpha=0.1,
                    color=SEEN_COLOR,
                )
            )


def draw_frame(ax: Axes, state, t: int, perception: str = "full", key=None) -> None:
    """Draw timestep `t` of one scene on `ax`."""
    restrictions = parse_restrictions(perception)
    key = jax.random.PRNGKey(0) if key is None else key
    sim = jax.tree_util.tree_map(lambda a: np.asarray(a)[:, t], state.sim_trajectory)
    log = jax.tree_util.tree_map(lambda a: np.asarray(a)[:, t], state.log_trajectory)
    sdc = int(np.argmax(np.asarray(state.object_metadata.is_sdc)))
    _draw_map(ax, state.roadgraph_points)
    lights = state.log_traffic_light
    for i in np.flatnonzero(np.asarray(lights.valid)[:, t]):
        color = _light_color(int(np.asarray(lights.state)[i, t]))
        ax.plot(np.asarray(lights.x)[i, t], np.asarray(lights.y)[i, t], "o", ms=5, color=color)
    seen = _seen_objects(state, t, restrictions, key)
    speed = float(np.hypot(sim.vel_x[sdc], sim.vel_y[sdc]))
    _perception_region(ax, sim.x[sdc], sim.y[sdc], sim.yaw[sdc], speed, restrictions)
    for i in np.flatnonzero(np.asarray(sim.valid)):
        if i == sdc:
            continue
        color = SEEN_COLOR if seen[i] else UNSEEN_COLOR
        _box(
            ax,
            sim.x[i],
            sim.y[i],
            sim.yaw[i],
            sim.length[i],
            sim.width[i],
            fc=color,
            ec="k",
            lw=0.4,
        )
    if log.valid[sdc]:
        _box(
            ax, log.x[sdc], log.y[sdc], log.yaw[sdc], log.length[sdc], log.width[sdc],
            fill=False, ec=SDC_COLOR, lw=0.8, ls="--",
        )  # fmt: skip
    _box(
        ax, sim.x[sdc], sim.y[sdc], sim.yaw[sdc], sim.length[sdc], sim.width[sdc],
        fc=SDC_COLOR, ec="k", lw=0.6, zorder=5,
    )  # fmt: skip
    ax.set_xlim(sim.x[sdc] - VIEW_RADIUS, sim.x[sdc] + VIEW_RADIUS)
    ax.set_ylim(sim.y[sdc] - VIEW_RADIUS, sim.y[sdc] + VIEW_RADIUS)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(
        f"t = {t * 0.1:.1f} s   perception: {perception}\n"
        "red: SDC (dashed: expert log); blue: seen; grey: unseen",
        fontsize=7,
    )


def plot_scene(state, path: str | Path, t: int = 0, perception: str = "full") -> Path:
    """PNG of one timestep."""
    fig, ax = new_figure((5.0, 5.0), dpi=110)
    draw_frame(ax, state, t, perception)
    return save_figure(fig, path)


def animate_scene(
    state, path: str | Path, start: int = 0, stop: int | None = None, perception: str = "full"
) -> Path:
    """GIF of timesteps start..stop (default: to the end) at 10 frames per second."""
    stop = stop if stop is not None else np.asarray(state.sim_trajectory.x).shape[-1]
    fig, ax = new_figure((4.0, 4.0), dpi=80)
    frames = []
    for t in range(start, stop):
        ax.clear()
        draw_frame(ax, state, t, perception, key=jax.random.PRNGKey(t))
        fig.tight_layout()
        fig.canvas.draw()
        frames.append(Image.fromarray(np.asarray(fig.canvas.buffer_rgba())[..., :3]))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    return path
