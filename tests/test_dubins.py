"""Dubins shortest paths to a point, against hand-computed lengths."""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np
import pytest

from arenax.envs.car_tag import dubins


def _turn_then_straight(x: float, y: float) -> float:
    """Hand length of a left-turn-then-straight path from the origin (heading +x, R = 1)
    to (x, y): arc to the tangent from the circle centred at (0, 1), then the tangent."""
    wx, wy = x, y - 1.0
    distance = math.hypot(wx, wy)
    arc = (math.atan2(wy, wx) - math.acos(1 / distance) + math.pi / 2) % (2 * math.pi)
    return arc + math.sqrt(distance**2 - 1.0)


@pytest.mark.parametrize(
    ("target", "length", "steer_sign"),
    [
        ((3.0, 0.0), 3.0, 0.0),  # dead ahead: straight
        ((1.0, 1.0), math.pi / 2, 1.0),  # a quarter circle to the left
        ((1.0, -1.0), math.pi / 2, -1.0),  # a quarter circle to the right
        ((-4.0, 2.0), _turn_then_straight(-4.0, 2.0), 1.0),  # behind, to the left
    ],
)
def test_shortest_path_lengths(target, length, steer_sign):
    # Car at the origin heading +x, speed 1, turning radius 1.
    time, steering = dubins.shortest_path(jnp.zeros(2), jnp.array(0.0), jnp.array(target), 1.0, 1.0)
    np.testing.assert_allclose(float(time), length, rtol=1e-4)
    assert np.sign(float(steering)) == steer_sign


def test_point_inside_turning_circle_needs_two_arcs():
    # (0, 0.5) sits inside the left turning circle: no CS path, a CC path exists
    # and is longer than the straight distance.
    time, steering = dubins.shortest_path(
        jnp.zeros(2), jnp.array(0.0), jnp.array([0.0, 0.5]), 1.0, 1.0
    )
    assert 0.5 < float(time) < 2 * math.pi + 1.0
    assert abs(float(steering)) == 1.0
