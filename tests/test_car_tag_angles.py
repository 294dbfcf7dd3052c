"""Car Tag angle helpers: the vectorisable sin/cos, atan2 and wrap agree with float64 maths."""

from __future__ import annotations

import math

import jax
import numpy as np
import pytest

from arenax.envs.car_tag.dynamics import sin_cos, vector_heading, wrap_angle

ANGLES = np.linspace(-60.0, 60.0, 200_001, dtype=np.float32)


def _angle_error(a, b) -> np.ndarray:
    """|a - b| modulo 2 pi (so -pi and pi count as equal)."""
    d = np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64)) % (2 * math.pi)
    return np.minimum(d, 2 * math.pi - d)


def test_sin_cos_match_float64():
    sin, cos = jax.jit(sin_cos)(ANGLES)
    x = ANGLES.astype(np.float64)
    assert np.abs(np.asarray(sin, np.float64) - np.sin(x)).max() < 2e-7
    assert np.abs(np.asarray(cos, np.float64) - np.cos(x)).max() < 2e-7
    tiny = np.float32([0.0, -0.0, 1e-30, -1e-20])
    sin, cos = sin_cos(tiny)
    np.testing.assert_array_equal(np.asarray(sin), tiny)
    np.testing.assert_array_equal(np.asarray(cos), 1.0)


def test_vector_heading_matches_atan2():
    rng = np.random.default_rng(0)
    v = (rng.normal(size=(100_000, 2)) * np.exp(rng.uniform(-8, 8, (100_000, 1)))).astype(
        np.float32
    )
    got = jax.jit(vector_heading)(v)
    want = np.arctan2(v[:, 1].astype(np.float64), v[:, 0].astype(np.float64))
    assert np.abs(np.asarray(got, np.float64) - want).max() < 3e-7


@pytest.mark.parametrize("y", [0.0, -0.0, 1.0, -1.0])
@pytest.mark.parametrize("x", [0.0, -0.0, 1.0, -1.0])
def test_vector_heading_axes_and_signed_zeros(x, y):
    got = float(vector_heading(np.float32([x, y])))
    assert got == pytest.approx(math.atan2(y, x), abs=1e-7)
    assert math.copysign(1.0, got) == math.copysign(1.0, math.atan2(y, x))


def test_wrap_angle_range_and_value():
    wrapped = np.asarray(jax.jit(wrap_angle)(ANGLES))
    pi32 = np.float32(math.pi)
    assert np.all((wrapped >= -pi32) & (wrapped < pi32))
    assert _angle_error(wrapped, ANGLES).max() < 3e-7
    # The interval's ends: +-pi go to -pi; just below pi stays.
    below_pi = np.nextafter(pi32, np.float32(0.0))
    edges = wrap_angle(np.float32([math.pi, -math.pi, below_pi, 3 * math.pi]))
    assert np.all(np.asarray(edges) < pi32) and np.all(np.asarray(edges) >= -pi32)
    assert float(edges[2]) == below_pi
