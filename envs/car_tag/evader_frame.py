"""`car_tag_evader_car_frame`: a learner interface for the Car Tag evader that acts in the
car's heading frame.

The network's action (a, b) becomes the world velocity `a * nose + b * left`, with
nose the car's heading vector and left that vector turned 90 degrees: (0, +-1)
steps sideways across the car's path, the homicidal chauffeur's escape, and
(1, 0) runs ahead of a car that is chasing, wherever the car is and however it
is turned. In world coordinates the same manoeuvres are products of the
observation's cosines and sines, which a small MLP fits poorly: PPO's evader
against the look-ahead pursuer plateaus at fleeing with `flat` and learns to
sidestep with this interface (`benchmarks/train_cartag.py` measures both).

Features: the flat `CarTagObs.to_array()` (21) followed by 10 values in the
car's frame: distance / L, 1 / (distance + 0.2 m), the evader's bearing from the
car's nose (cos, sin), the evader's position relative to the car / L (2), the
evader's position / L (2) and velocity / pursuer speed (2) rotated into the
car's frame (L: arena half-size).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from arenax.envs.car_tag.dynamics import heading_vector
from arenax.envs.car_tag.observation import OBS_FLAT_SIZE, CarTagObs
from arenax.envs.interfaces import Interface

FEATURE_SIZE = OBS_FLAT_SIZE + 10


def into_frame(vector: jax.Array, axis: jax.Array) -> jax.Array:
    """(..., 2) `vector` in the frame whose x axis is the unit vector `axis` (..., 2)."""
    return jnp.stack(
        [
            vector[..., 0] * axis[..., 0] + vector[..., 1] * axis[..., 1],
            -vector[..., 0] * axis[..., 1] + vector[..., 1] * axis[..., 0],
        ],
        -1,
    )


def separation_features(relative: jax.Array, half_size: jax.Array) -> jax.Array:
    """(..., 6) features of the evader's position `relative` (..., 2) to the car, in the
    car's frame, m: distance / L, 1 / (distance + 0.2 m), the unit direction (2) and
    `relative` / L (2), with L the arena half-size `half_size` (...)."""
    distance = jnp.sqrt(jnp.sum(relative * relative, axis=-1))
    return jnp.concatenate(
        [
            jnp.stack([distance / half_size, 1.0 / (distance + 0.2)], -1),
            relative / (distance[..., None] + 1e-6),
            relative / half_size[..., None],
        ],
        -1,
    )


def car_frame_features(obs: CarTagObs) -> jax.Array:
    """(..., 31) network input for the evader's observation `obs`."""
    nose = heading_vector(obs.opp_heading)
    relative = into_frame(obs.own_pos - obs.opp_pos, nose)
    scale = obs.arena_half_size[..., None]
    extra = [
        separation_features(relative, obs.arena_half_size),
        into_frame(obs.own_pos, nose) / scale,
        into_frame(obs.own_vel, nose) / obs.pursuer_speed[..., None],
    ]
    return jnp.concatenate([obs.to_array(), *extra], axis=-1).astype(jnp.float32)


def car_frame_to_world(action: jax.Array, obs: CarTagObs) -> jax.Array:
    """(..., 2) world velocity of the car-frame action `action` (..., 2)."""
    nose = heading_vector(obs.opp_heading)
    left = jnp.stack([-nose[..., 1], nose[..., 0]], -1)
    return action[..., :1] * nose + action[..., 1:2] * left


EVADER_CAR_FRAME = Interface(
    name="car_tag_evader_car_frame",
    features=car_frame_features,
    to_env_action=car_frame_to_world,
    description="Car Tag evader: extra features, actions in the car's heading frame",
    role="evader",
)
