"""What each Car Tag player observes: named fields, plus a flat array view.

Hand-written and generated policies read fields by name (`obs.opp_pos`);
neural networks use `obs.to_array()`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from arenax.envs.car_tag.dynamics import heading_vector
from arenax.envs.car_tag.params import CarTagParams, CarTagState


@struct.dataclass
class CarTagObs:
    """One player's view of the game, in world coordinates (m, rad, m/s, s).

    Attributes:
        own_pos: (2,) own position.
        own_heading: () own heading (the evader's is its last direction of motion).
        own_vel: (2,) own velocity (the pursuer's is speed * heading vector).
        opp_pos: (2,) opponent position.
        opp_heading: () opponent heading.
        opp_vel: (2,) opponent velocity.
        time_left: () seconds until the horizon.
        pursuer_speed: () the pursuer's constant speed, m/s.
        evader_speed: () the evader's maximum speed, m/s.
        min_turn_radius: () the pursuer's tightest turning radius, m.
        capture_radius: () capture distance, m.
        arena_half_size: () walls at +-arena_half_size on both axes, m.
        dt: () time step, s.
    """

    own_pos: jax.Array
    own_heading: jax.Array
    own_vel: jax.Array
    opp_pos: jax.Array
    opp_heading: jax.Array
    opp_vel: jax.Array
    time_left: jax.Array
    pursuer_speed: jax.Array
    evader_speed: jax.Array
    min_turn_radius: jax.Array
    capture_radius: jax.Array
    arena_half_size: jax.Array
    dt: jax.Array

    def to_array(self) -> jax.Array:
        """Flat (..., 21) float32 view for neural networks.

        Layout: own_pos/L (2), cos/sin own_heading (2), own_vel/v_p (2),
        opp_pos/L (2), cos/sin opp_heading (2), opp_vel/v_p (2), opponent
        position in the own heading frame / L (2), time_left (1), then the six
        constants (pursuer_speed, evader_speed, min_turn_radius,
        capture_radius, arena_half_size, dt).
        """
        scale = self.arena_half_size[..., None]
        vscale = self.pursuer_speed[..., None]
        rel = self.opp_pos - self.own_pos
        c, s = jnp.cos(self.own_heading), jnp.sin(self.own_heading)
        rel_local = jnp.stack(
            [c * rel[..., 0] + s * rel[..., 1], -s * rel[..., 0] + c * rel[..., 1]], -1
        )
        parts = [
            self.own_pos / scale,
            heading_vector(self.own_heading),
            self.own_vel / vscale,
            self.opp_pos / scale,
            heading_vector(self.opp_heading),
            self.opp_vel / vscale,
            rel_local / scale,
            self.time_left[..., None],
            jnp.stack(
                [
                    self.pursuer_speed,
                    self.evader_speed,
                    self.min_turn_radius,
                    self.capture_radius,
                    self.arena_half_size,
                    self.dt,
                ],
                -1,
            ),
        ]
        return jnp.concatenate(parts, axis=-1).astype(jnp.float32)


OBS_FLAT_SIZE = 21


def observe(state: CarTagState, params: CarTagParams) -> dict[str, CarTagObs]:
    """Both players' observations of `state`, keyed "pursuer" and "evader"."""
    f32 = jnp.float32
    pursuer_vel = params.pursuer_speed * heading_vector(state.pursuer_heading)
    time_left = (jnp.asarray(params.horizon, f32) - state.t.astype(f32)) * params.dt
    constants = dict(
        time_left=jnp.asarray(time_left, f32),
        pursuer_speed=jnp.asarray(params.pursuer_speed, f32),
        evader_speed=jnp.asarray(params.evader_speed, f32),
        min_turn_radius=jnp.asarray(params.min_turn_radius, f32),
        capture_radius=jnp.asarray(params.capture_radius, f32),
        arena_half_size=jnp.asarray(params.arena_half_size, f32),
        dt=jnp.asarray(params.dt, f32),
    )
    pursuer = CarTagObs(
        own_pos=state.pursuer_pos,
        own_heading=state.pursuer_heading,
        own_vel=pursuer_vel,
        opp_pos=state.evader_pos,
        opp_heading=state.evader_heading,
        opp_vel=state.evader_vel,
        **constants,
    )
    evader = CarTagObs(
        own_pos=state.evader_pos,
        own_heading=state.evader_heading,
        own_vel=state.evader_vel,
        opp_pos=state.pursuer_pos,
        opp_heading=state.pursuer_heading,
        opp_vel=pursuer_vel,
        **constants,
    )
    return {"pursuer": pursuer, "evader": evader}
