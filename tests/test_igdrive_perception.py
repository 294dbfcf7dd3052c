"""Perception restrictions on hand-placed objects (SDC at the origin looking along +x):
inside/outside range and cones, blind spots, the speed cone, drops, noise, a car hidden
behind a truck; and the restriction strings' errors."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from arenax.envs.igdrive.perception import (
    object_visibility,
    parse_restrictions,
    perceived_positions,
)

KEY = jax.random.PRNGKey(0)


def visible(points, restrictions, speed=0.0, yaw=None, length=None, width=None, key=KEY):
    xy = jnp.asarray(points, jnp.float32)
    k = xy.shape[0]
    return np.asarray(
        object_visibility(
            xy,
            jnp.zeros(k) if yaw is None else jnp.asarray(yaw, jnp.float32),
            jnp.full(k, 4.5) if length is None else jnp.asarray(length, jnp.float32),
            jnp.full(k, 2.0) if width is None else jnp.asarray(width, jnp.float32),
            jnp.ones(k, bool),
            jnp.float32(speed),
            key,
            parse_restrictions(restrictions),
        )
    ).tolist()


def test_full_perception_sees_everything():
    assert visible([(100, 0), (-50, 30)], "full") == [True, True]


def test_range_and_cone():
    points = [(19, 0), (21, 0), (10, 10), (10, 20), (-5, 0)]
    assert visible(points, "range:radius=20") == [True, False, True, False, True]
    # 120 degree cone: bearings 0, 0, 45, 63.4, 180 degrees; radius 20 m.
    assert visible(points, "cone:radius=20,angle=120") == [True, False, True, False, False]


def test_blind_spots_hide_the_rear_quarters_only():
    points = [(-7, 7), (-7, -7), (0, 8), (10, 0), (-10, 0)]  # bearings 135, -135, 90, 0, 180
    assert visible(points, "blind_spots:angle=40") == [False, False, True, True, True]


def test_speed_cone_narrows_with_speed():
    points = [(10, 0), (10, 5), (10, 12)]  # bearings 0, 26.6, 50.2 degrees
    spec = "speed_cone:angle=120,min_angle=30,speed=20"
    assert visible(points, spec, speed=0.0) == [True, True, True]
    assert visible(points, spec, speed=10.0) == [True, True, False]  # 75 degree cone
    assert visible(points, spec, speed=30.0) == [True, False, False]  # 30 degree cone


def test_car_hidden_behind_a_truck():
    # A 12 m truck 10 m ahead; a car straight behind it, another off to the side.
    points = [(10, 0), (25, 0), (25, 12)]
    length, width = [12.0, 4.5, 4.5], [2.6, 2.0, 2.0]
    assert visible(points, "occlusion", length=length, width=width) == [True, False, True]
    assert visible(points, "full", length=length, width=width) == [True, True, True]
    # A small car in front of the truck and off the line of sight hides nothing.
    assert visible([(15, 0), (5, 1.5)], "occlusion", length=[12, 2], width=[2.6, 1]) == [True, True]


def test_drop_rate_matches_p_and_depends_on_the_key():
    points = np.stack([np.arange(1, 2001), np.zeros(2000)], -1)
    seen = np.array(visible(points, "drop:p=0.3"))
    assert abs(seen.mean() - 0.7) < 0.04
    other = np.array(visible(points, "drop:p=0.3", key=jax.random.PRNGKey(1)))
    assert (seen != other).any()


def test_noise_shifts_all_positions_by_one_offset_per_episode():
    xy = jnp.array([[10.0, 0.0], [0.0, 5.0]])
    restrictions = parse_restrictions("noise:std=1.0")
    out = perceived_positions(xy, jnp.float32(0), KEY, jax.random.PRNGKey(5), restrictions)
    shift = np.asarray(out - xy)
    np.testing.assert_allclose(shift[0], shift[1], atol=1e-5)
    assert np.abs(shift).sum() > 0
    again = perceived_positions(xy, jnp.float32(0), KEY, jax.random.PRNGKey(6), restrictions)
    np.testing.assert_allclose(out, again)  # same episode key, same offset
    moving = parse_restrictions("speed_noise:coef=0.1")
    still = perceived_positions(xy, jnp.float32(0), KEY, KEY, moving)
    np.testing.assert_allclose(still, xy)
    fast = perceived_positions(xy, jnp.float32(20), KEY, KEY, moving)
    assert np.abs(np.asarray(fast - xy)).max() > 0.1


@pytest.mark.parametrize(
    "spec, message",
    [
        ("lidar:radius=20", "unknown perception restriction 'lidar'"),
        ("cone:radius=20", "cone needs angle"),
        ("cone:radius=20,angle=120,height=3", "'height=3' is not a parameter of cone"),
        ("range:radius=abc", "radius='abc' is not a number"),
        ("range:radius=-1", "radius must be positive"),
        ("drop:p=1.5", "p must be in [0, 1]"),
        ("speed_cone:angle=30,min_angle=60,speed=10", "min_angle must not exceed angle"),
    ],
)
def test_bad_restriction_strings_name_the_problem(spec, message):
    with pytest.raises(ValueError) as err:
        parse_restrictions(spec)
    assert message in str(err.value)


def test_restrictions_compose_and_print_back():
    parsed = parse_restrictions("cone:radius=20,angle=120 + occlusion + drop:p=0.1")
    assert [r.name for r in parsed] == ["cone", "occlusion", "drop"]
    assert str(parsed[0]) == "cone:radius=20,angle=120"
    assert parse_restrictions(" + ".join(map(str, parsed))) == parsed
