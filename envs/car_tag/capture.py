"""Continuous capture detection on the segment travelled during a step.

Checking only the end-of-step distance lets a fast pursuer jump over the
evader at large `dt`. Instead the relative position is interpolated linearly
over the step (both agents move along straight chords; the pursuer's arc
deviates from its chord by at most v^2 dt^2 / (8 R), 1.25 mm at the
defaults) and the first time it enters the capture disc is solved for.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from arenax.envs.car_tag.dynamics import dot2


def first_contact_fraction(
    rel_start: jax.Array, rel_end: jax.Array, radius: jax.Array | float
) -> tuple[jax.Array, jax.Array]:
    """First fraction of the step at which |relative position| <= radius.

    Args:
        rel_start: (2,) evader minus pursuer position at the start of the step, m.
        rel_end: (2,) the same at the end of the step, m.
        radius: capture radius, m.

    Returns:
        `(hit, fraction)`: `hit` a bool, `fraction` in [0, 1] the earliest
        contact along the step (1.0 when there is no contact).
    """
    delta = rel_end - rel_start
    a = dot2(delta, delta)
    b = dot2(rel_start, delta)
    c = dot2(rel_start, rel_start) - radius * radius
    disc = b * b - a * c
    safe_a = jnp.where(a > 1e-12, a, 1.0)
    root = (-b - jnp.sqrt(jnp.maximum(disc, 0.0))) / safe_a
    crosses = (a > 1e-12) & (disc >= 0.0) & (root >= 0.0) & (root <= 1.0)
    inside_at_start = c <= 0.0
    hit = inside_at_start | crosses
    fraction = jnp.where(inside_at_start, 0.0, jnp.where(crosses, root, 1.0))
    return hit, fraction
