"""Shortest car paths to a point (Dubins paths), for policies that plan with the car's geometry.

Part of the policy helper API (like `dynamics`): programs may import it with
`from arenax.envs.car_tag import dubins`. For a car with a minimum turning
radius the time-optimal path to a point, with any final heading, is a
full-lock turn then a straight line (CS), or, when the point lies inside one
of the two turning circles, two opposite full-lock turns (CC); all four
candidates are measured in closed form. Everything is elementwise `jnp`
maths, so it vectorises.
"""

import jax.numpy as jnp

from arenax.envs.car_tag import dynamics

TWO_PI = 2.0 * jnp.pi


def atan2(y, x):
    """`jnp.arctan2(y, x)` via the vectorisable helper (arctan2 is a scalar call on CPU)."""
    return dynamics.vector_heading(jnp.stack([x, y], axis=-1))


def acos(x):
    x = jnp.clip(x, -1.0, 1.0)
    return atan2(jnp.sqrt(jnp.maximum(1.0 - x * x, 0.0)), x)


def turn_angle(angle):
    """An angle wrapped to [0, 2 pi): how far to turn counter-clockwise."""
    return dynamics.wrap_angle(angle - jnp.pi) + jnp.pi


def left_first_paths(x, y):
    """Car paths starting with a left turn to target (x ahead, y left), in turning radii.

    Returns (CS length, CS first-arc angle, CC length, CC first-arc angle);
    CS = full lock then straight, CC = full lock then opposite full lock;
    an impossible path has length 1e6.
    """
    wx, wy = x, y - 1.0  # target seen from the left turning centre (0, 1)
    dc = jnp.maximum(jnp.sqrt(wx * wx + wy * wy), 1e-6)
    base = atan2(wy, wx)
    # CS: turn until the tangent from the circle points at the target.
    cs_arc = turn_angle(base - acos(1.0 / jnp.maximum(dc, 1.0)) + 0.5 * jnp.pi)
    cs_arc = jnp.where(cs_arc > TWO_PI - 1e-3, 0.0, cs_arc)  # on the tangent up to rounding
    cs = jnp.where(dc >= 0.98, cs_arc + jnp.sqrt(jnp.maximum(dc * dc - 1.0, 0.0)), 1e6)
    # CC: turn left by a, then right round the centre (2 sin a, 1 - 2 cos a), which
    # must lie at distance 1 from the target (two solutions).
    spread = acos((3.0 + dc * dc) / (4.0 * dc))
    cc, cc_arc = jnp.full_like(cs, 1e6), jnp.zeros_like(cs)
    for sign in (1.0, -1.0):
        a = turn_angle(base + sign * spread + 0.5 * jnp.pi)
        a = jnp.where(a > TWO_PI - 0.05, 0.0, a)
        unit = dynamics.heading_vector(a)
        cos_a, sin_a = unit[..., 0], unit[..., 1]
        b = turn_angle(a + 0.5 * jnp.pi - atan2(y - 1.0 + 2.0 * cos_a, x - 2.0 * sin_a))
        length = jnp.where((dc >= 1.0) & (dc <= 3.0), a + b, 1e6)
        better = length < cc
        cc, cc_arc = jnp.where(better, length, cc), jnp.where(better, a, cc_arc)
    return cs, cs_arc, cc, cc_arc


def shortest_path(pos, heading, target, speed, radius):
    """(time of the car's shortest path to `target`, steering in [-1, 1] that starts it).

    The shortest path to a point (any final heading) is a Dubins path: full
    lock then straight (CS), or two opposite full-lock turns (CC) when the
    point is inside a turning circle. All four (left/right first) are measured.
    """
    rel = target - pos
    nose = dynamics.heading_vector(heading)
    c, s = nose[..., 0], nose[..., 1]
    radius = jnp.maximum(radius, 1e-6)
    x = (rel[0] * c + rel[1] * s) / radius
    y = (-rel[0] * s + rel[1] * c) / radius
    cs_l, arc_l, cc_l, a_l = left_first_paths(x, y)
    cs_r, arc_r, cc_r, a_r = left_first_paths(x, -y)  # mirror image: right turn first
    length, steering = cs_l, jnp.clip(10.0 * arc_l, 0.0, 1.0)  # ease off as the nose lines up
    options = (
        (cs_r, -jnp.clip(10.0 * arc_r, 0.0, 1.0)),
        (cc_l, jnp.where(a_l > 0.02, 1.0, -1.0)),  # first arc done: start the second
        (cc_r, jnp.where(a_r > 0.02, -1.0, 1.0)),
    )
    for option, option_steering in options:
        better = option < length
        length = jnp.where(better, option, length)
        steering = jnp.where(better, option_steering, steering)
    return length * radius / jnp.maximum(speed, 1e-6), steering
