"""Restricted perception: what the SDC's sensor lets it see (the imitation gap).

Restrictions are named with parameters and compose, e.g.
`parse_restrictions("cone:radius=20,angle=120 + occlusion + drop:p=0.1")`:

- `range:radius=R`: objects and map points farther than R metres are unseen;
- `cone:radius=R,angle=A`: seen only within a forward cone of A degrees and R metres;
- `blind_spots:angle=A[,centre=C]`: two side sectors of A degrees centred at +-C
  degrees (default 135: the rear quarters) are unseen;
- `speed_cone:angle=A,min_angle=B,speed=V[,radius=R]`: a forward cone narrowing
  linearly from A degrees at rest to B at speed V (m/s) and above;
- `drop:p=P`: each object is missed with probability P at each step;
- `noise:std=S`: one Gaussian localisation offset (std S metres) per episode
  shifts every perceived position;
- `speed_noise:coef=C`: per-step Gaussian position noise, std C x SDC speed;
- `occlusion`: objects whose centre is hidden behind another vehicle's box, seen
  from the SDC, are unseen (the original IGDrivSim has no occlusion).

Everything works in the SDC's frame (x forward, y left), on arrays with leading
batch axes; no Python loops over objects.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import jax
import jax.numpy as jnp

from arenax.envs.igdrive.geometry import box_corners

PARAMETERS: dict[str, dict[str, float | None]] = {
    "range": {"radius": None},
    "cone": {"radius": None, "angle": None},
    "blind_spots": {"angle": None, "centre": 135.0},
    "speed_cone": {"angle": None, "min_angle": None, "speed": None, "radius": math.inf},
    "drop": {"p": None},
    "noise": {"std": None},
    "speed_noise": {"coef": None},
    "occlusion": {},
}


@dataclass(frozen=True)
class Restriction:
    """One named restriction and its parameters (see the module table)."""

    name: str
    params: dict[str, float] = field(default_factory=dict)

    def __hash__(self) -> int:
        return hash((self.name, tuple(sorted(self.params.items()))))

    def __str__(self) -> str:
        shown = ",".join(f"{k}={v:g}" for k, v in self.params.items())
        return f"{self.name}:{shown}" if shown else self.name


def parse_restriction(text: str) -> Restriction:
    """`"cone:radius=20,angle=120"` -> Restriction; ValueError naming the problem."""
    name, _, rest = text.strip().partition(":")
    name = name.strip()
    if name not in PARAMETERS:
        raise ValueError(
            f"unknown perception restriction {name!r} in {text!r}; "
            f"choose from {', '.join(PARAMETERS)}"
        )
    allowed = PARAMETERS[name]
    given: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in rest.split(","))):
        key, eq, value = item.partition("=")
        key = key.strip()
        if not eq or key not in allowed:
            expected = ", ".join(allowed) or "no parameters"
            raise ValueError(f"{text!r}: {item!r} is not a parameter of {name} ({expected})")
        try:
            given[key] = float(value)
        except ValueError:
            raise ValueError(f"{text!r}: {key}={value!r} is not a number") from None
    missing = [k for k, default in allowed.items() if default is None and k not in given]
    if missing:
        raise ValueError(f"{text!r}: {name} needs {', '.join(missing)}")
    params = {k: given.get(k, default) for k, default in allowed.items()}
    _check_ranges(text, name, params)
    return Restriction(name, params)


def _check_ranges(text: str, name: str, params: dict[str, float]) -> None:
    for key in ("radius", "std", "coef", "speed"):
        if key in params and not params[key] > 0:
            raise ValueError(f"{text!r}: {key} must be positive, got {params[key]:g}")
    for key in ("angle", "min_angle"):
        if key in params and not 0 < params[key] <= 360:
            raise ValueError(f"{text!r}: {key} must be in (0, 360] degrees, got {params[key]:g}")
    if name == "drop" and not 0 <= params["p"] <= 1:
        raise ValueError(f"{text!r}: p must be in [0, 1], got {params['p']:g}")
    if name == "speed_cone" and params["min_angle"] > params["angle"]:
        raise ValueError(f"{text!r}: min_angle must not exceed angle")


def parse_restrictions(text: str | None) -> tuple[Restriction, ...]:
    """Restrictions joined by `+` (empty or "full": none, the expert's view)."""
    if text is None or text.strip() in ("", "full", "none"):
        return ()
    return tuple(parse_restriction(part) for part in text.split("+"))


def bearing_and_distance(rel_xy: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(..., K) bearing in degrees (0 ahead, positive to the left) and distance."""
    return jnp.degrees(jnp.arctan2(rel_xy[..., 1], rel_xy[..., 0])), jnp.linalg.norm(
        rel_xy, axis=-1
    )


def _in_cone(bearing, dist, angle, radius) -> jax.Array:
    return (jnp.abs(bearing) <= 0.5 * angle) & (dist <= radius)


def geometric_mask(rel_xy: jax.Array, sdc_speed: jax.Array, restrictions) -> jax.Array:
    """(..., K) points that the range, cone, blind-spot and speed-cone restrictions keep.

    Args:
        rel_xy: (..., K, 2) positions in the SDC frame.
        sdc_speed: (...) the SDC's speed.
    """
    bearing, dist = bearing_and_distance(rel_xy)
    keep = jnp.ones(dist.shape, bool)
    for r in restrictions:
        p = r.params
        if r.name == "range":
            keep &= dist <= p["radius"]
        elif r.name == "cone":
            keep &= _in_cone(bearing, dist, p["angle"], p["radius"])
        elif r.name == "blind_spots":
            off = jnp.abs(jnp.abs(bearing) - p["centre"])
            keep &= off > 0.5 * p["angle"]
        elif r.name == "speed_cone":
            fraction = jnp.clip(sdc_speed / p["speed"], 0.0, 1.0)[..., None]
            angle = p["angle"] - (p["angle"] - p["min_angle"]) * fraction
            keep &= _in_cone(bearing, dist, angle, p["radius"])
    return keep


def segment_hits_box(start: jax.Array, end: jax.Array, corners: jax.Array) -> jax.Array:
    """Whether segments start->end (..., 2) cross boxes given by corners (..., 4, 2)
    (slab test in each box's frame; a segment ending inside the box counts)."""
    centre = corners.mean(axis=-2)
    axis_u = corners[..., 0, :] - corners[..., 1, :]  # front-left minus rear-left: length
    axis_v = corners[..., 0, :] - corners[..., 3, :]  # front-left minus front-right: width
    half = 0.5 * jnp.stack([jnp.linalg.norm(axis_u, axis=-1), jnp.linalg.norm(axis_v, axis=-1)], -1)
    u = axis_u / jnp.maximum(2 * half[..., :1], 1e-9)
    v = axis_v / jnp.maximum(2 * half[..., 1:], 1e-9)
    basis = jnp.stack([u, v], axis=-2)  # (..., 2, 2)
    a = jnp.einsum("...ij,...j->...i", basis, start - centre)
    b = jnp.einsum("...ij,...j->...i", basis, end - centre)
    direction = b - a
    safe = jnp.where(jnp.abs(direction) < 1e-9, 1e-9, direction)
    t1, t2 = (-half - a) / safe, (half - a) / safe
    t_enter = jnp.max(jnp.minimum(t1, t2), axis=-1)
    t_exit = jnp.min(jnp.maximum(t1, t2), axis=-1)
    parallel_outside = jnp.any((jnp.abs(direction) < 1e-9) & (jnp.abs(a) > half), axis=-1)
    return (t_enter <= t_exit) & (t_exit >= 0.0) & (t_enter <= 1.0) & ~parallel_outside


def occlusion_mask(
    rel_xy: jax.Array, rel_yaw: jax.Array, length: jax.Array, width: jax.Array, valid: jax.Array
) -> jax.Array:
    """(..., K) objects whose centre is not hidden behind another valid object's box,
    seen from the SDC at the origin. Inputs (..., K) in the SDC frame."""
    corners = box_corners(rel_xy[..., 0], rel_xy[..., 1], rel_yaw, length, width)  # (..., K, 4, 2)
    origin = jnp.zeros_like(rel_xy)
    # Ray to target j (axis -2) against box of blocker i (axis -1).
    hits = segment_hits_box(
        origin[..., :, None, :], rel_xy[..., :, None, :], corners[..., None, :, :, :]
    )
    k = rel_xy.shape[-2]
    blocker = valid[..., None, :] & ~jnp.eye(k, dtype=bool)
    return ~jnp.any(hits & blocker, axis=-1)


def object_visibility(
    rel_xy: jax.Array,
    rel_yaw: jax.Array,
    length: jax.Array,
    width: jax.Array,
    valid: jax.Array,
    sdc_speed: jax.Array,
    key: jax.Array,
    restrictions,
) -> jax.Array:
    """(..., K) which valid objects the SDC sees this step under `restrictions`."""
    seen = valid & geometric_mask(rel_xy, sdc_speed, restrictions)
    for r in restrictions:
        if r.name == "occlusion":
            seen &= occlusion_mask(rel_xy, rel_yaw, length, width, valid)
        elif r.name == "drop":
            seen &= jax.random.bernoulli(key, 1.0 - r.params["p"], seen.shape)
    return seen


def perceived_positions(
    rel_xy: jax.Array,
    sdc_speed: jax.Array,
    episode_key: jax.Array,
    step_key: jax.Array,
    restrictions,
) -> jax.Array:
    """(..., K, 2) positions as the SDC estimates them (localisation noise added)."""
    out = rel_xy
    for r in restrictions:
        if r.name == "noise":
            offset = r.params["std"] * jax.random.normal(episode_key, (2,))
            out = out + offset
        elif r.name == "speed_noise":
            std = r.params["coef"] * sdc_speed[..., None, None]
            out = out + std * jax.random.normal(step_key, out.shape)
    return out
