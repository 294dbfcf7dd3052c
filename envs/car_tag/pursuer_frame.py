"""`car_tag_pursuer_car_frame`: a learner interface for the Car Tag pursuer that sees the
evader from its own driving seat.

The action is the game's steering, unchanged: steering is already relative to the
car's heading. The features add what a steering law reads, in the car's frame:
the evader's bearing from the nose as an angle, so that pure pursuit
(`steering = clip(5 * bearing)`) is one linear unit of the first layer instead of
products of the flat observation's cosines and sines.

Features: the flat `CarTagObs.to_array()` (21) followed by 11 values: distance / L,
1 / (distance + 0.2 m), the bearing angle / pi, its cos and sin, the evader's
position relative to the car / L (2) and velocity / pursuer speed (2) in the car's
frame, and the car's own position / L in its frame (2: where the walls are,
seen from the nose) (L: arena half-size).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from arenax.envs.car_tag.dynamics import heading_vector
from arenax.envs.car_tag.evader_frame import into_frame, separation_features
from arenax.envs.car_tag.observation import OBS_FLAT_SIZE, CarTagObs
from arenax.envs.interfaces import Interface, pass_action

FEATURE_SIZE = OBS_FLAT_SIZE + 11


def pursuer_frame_features(obs: CarTagObs) -> jax.Array:
    """(..., 32) network input for the pursuer's observation `obs`."""
    nose = heading_vector(obs.own_heading)
    relative = into_frame(obs.opp_pos - obs.own_pos, nose)
    separation = separation_features(relative, obs.arena_half_size)
    bearing = jnp.arctan2(relative[..., 1], relative[..., 0])
    scale = obs.arena_half_size[..., None]
    extra = [
        separation[..., :2],
        (bearing / math.pi)[..., None],
        separation[..., 2:],
        into_frame(obs.opp_vel, nose) / obs.pursuer_speed[..., None],
        into_frame(obs.own_pos, nose) / scale,
    ]
    return jnp.concatenate([obs.to_array(), *extra], axis=-1).astype(jnp.float32)


PURSUER_CAR_FRAME = Interface(
    name="car_tag_pursuer_car_frame",
    features=pursuer_frame_features,
    to_env_action=pass_action,
    description="Car Tag pursuer: extra features in its own heading frame (the evader's bearing)",
    uses_observation_for_action=False,
    role="pursuer",
)
