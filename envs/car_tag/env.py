"""Car Tag: a pursuer-evader game in the tradition of Isaacs' homicidal chauffeur.

A car (the pursuer) moves at constant speed with a bounded turn rate and
chases a slower but holonomic evader inside a walled square arena. The game is
zero-sum in outcome: the evader scores the fraction of the horizon it
survived (1.0 = never caught), the pursuer scores one minus that.

Rewards per step add up to those scores exactly: the evader earns
`survived_fraction_of_step / horizon` every step; the pursuer earns, on the
step of capture, the fraction of the horizon it denied the evader
(`1 - capture_time / horizon_time`), and 0 otherwise.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from arenax.envs import spaces
from arenax.envs.car_tag.capture import first_contact_fraction
from arenax.envs.car_tag.dynamics import (
    clamp_to_arena,
    dot2,
    evader_step,
    pursuer_step,
    vector_heading,
    wrap_angle,
)
from arenax.envs.car_tag.observation import CarTagObs, observe
from arenax.envs.car_tag.params import CarTagParams, CarTagState
from arenax.envs.environment import Actions, Environment, Info, Obs, Rewards

PURSUER = "pursuer"
EVADER = "evader"
_START_CANDIDATES = 8


class CarTag(Environment[CarTagState, CarTagParams]):
    """A constant-speed car (the pursuer) chases a slower holonomic evader in a walled arena.

    Actions:
        pursuer: (1,) steering in [-1, 1]; turn rate = steering * speed / min_turn_radius.
        evader: (2,) velocity, m/s; clipped to norm `evader_speed`.
    """

    name = "car_tag"
    agents = (PURSUER, EVADER)

    @property
    def default_params(self) -> CarTagParams:
        return CarTagParams()

    def reset(self, key: jax.Array, params: CarTagParams) -> tuple[Obs, CarTagState]:
        """Pursuer uniform in the arena with a uniform heading; the evader uniform
        in the arena at a distance in [min_start_distance, max_start_distance]
        from it: the first of a few uniform draws that qualifies; if none does, a
        point at a uniform distance in the band on the line to the farthest
        corner (always inside the arena), or that corner when the band lies
        beyond it."""
        k_pos, k_head, k_ev, k_ev_head = jax.random.split(key, 4)
        half = jnp.asarray(params.arena_half_size, jnp.float32)
        pursuer_pos = jax.random.uniform(k_pos, (2,), jnp.float32, -half, half)
        heading = jax.random.uniform(k_head, (), jnp.float32, -jnp.pi, jnp.pi)
        candidates = jax.random.uniform(k_ev, (_START_CANDIDATES, 2), jnp.float32, -half, half)
        dist = jnp.linalg.norm(candidates - pursuer_pos, axis=-1)
        miss = jnp.maximum(params.min_start_distance - dist, 0.0) + jnp.maximum(
            dist - params.max_start_distance, 0.0
        )
        # Fallback: the band always fits along the line to the farthest corner if it fits at all.
        corner = jnp.where(pursuer_pos >= 0.0, -half, half)
        corner_dist = jnp.linalg.norm(corner - pursuer_pos)
        lo = jnp.minimum(params.min_start_distance, corner_dist)
        hi = jnp.minimum(params.max_start_distance, corner_dist)
        d = lo + jax.random.uniform(jax.random.fold_in(k_ev, 1), (), jnp.float32) * (hi - lo)
        fallback = clamp_to_arena(pursuer_pos + d / corner_dist * (corner - pursuer_pos), half)
        evader_pos = jnp.where(jnp.min(miss) > 0.0, fallback, candidates[jnp.argmin(miss)])
        state = CarTagState(
            pursuer_pos=pursuer_pos,
            pursuer_heading=heading,
            evader_pos=evader_pos,
            evader_vel=jnp.zeros(2, jnp.float32),
            evader_heading=jax.random.uniform(k_ev_head, (), jnp.float32, -jnp.pi, jnp.pi),
            t=jnp.zeros((), jnp.int32),
            captured=jnp.zeros((), bool),
            capture_time=params.horizon_time,
            done=jnp.zeros((), bool),
        )
        return observe(state, params), state

    def step(
        self, key: jax.Array, state: CarTagState, actions: Actions, params: CarTagParams
    ) -> tuple[Obs, CarTagState, Rewards, jax.Array, Info]:
        del key  # the game is deterministic given the actions
        steering = jnp.nan_to_num(jnp.reshape(actions[PURSUER], (-1,))[0].astype(jnp.float32))
        velocity = jnp.reshape(actions[EVADER], (2,)).astype(jnp.float32)

        with jax.named_scope("car_tag_dynamics"):
            p_pos, p_head = pursuer_step(
                state.pursuer_pos,
                state.pursuer_heading,
                steering,
                params.pursuer_speed,
                params.min_turn_radius,
                params.dt,
                params.arena_half_size,
            )
            e_pos, e_vel = evader_step(
                state.evader_pos, velocity, params.evader_speed, params.dt, params.arena_half_size
            )
        with jax.named_scope("car_tag_capture"):
            hit, fraction = first_contact_fraction(
                state.evader_pos - state.pursuer_pos, e_pos - p_pos, params.capture_radius
            )
        moving = dot2(e_vel, e_vel) > 1e-12
        e_head = jnp.where(moving, vector_heading(e_vel), state.evader_heading)

        active = ~state.done
        horizon = jnp.asarray(params.horizon, jnp.float32)
        t_float = state.t.astype(jnp.float32)
        captured_now = active & hit
        contact_step = t_float + fraction
        survived = jnp.where(captured_now, fraction, 1.0)
        t_next = state.t + active.astype(jnp.int32)
        done = state.done | captured_now | (t_next >= params.horizon)

        def keep(new: jax.Array, old: jax.Array) -> jax.Array:
            return jnp.where(active, new, old)

        next_state = CarTagState(
            pursuer_pos=keep(p_pos, state.pursuer_pos),
            pursuer_heading=keep(p_head, state.pursuer_heading),
            evader_pos=keep(e_pos, state.evader_pos),
            evader_vel=keep(e_vel, state.evader_vel),
            evader_heading=keep(wrap_angle(e_head), state.evader_heading),
            t=t_next,
            captured=state.captured | captured_now,
            capture_time=jnp.where(captured_now, contact_step * params.dt, state.capture_time),
            done=done,
        )
        evader_reward = jnp.where(active, survived / horizon, 0.0)
        pursuer_reward = jnp.where(captured_now, 1.0 - contact_step / horizon, 0.0)
        rewards = {PURSUER: pursuer_reward, EVADER: evader_reward}
        info = {
            "captured": next_state.captured,
            "capture_time": next_state.capture_time,
            "evader_score": next_state.capture_time / params.horizon_time,
        }
        return observe(next_state, params), next_state, rewards, done, info

    def observe(self, state: CarTagState, params: CarTagParams) -> Obs:
        """Both players' observations of `state` (as `reset` and `step` return them)."""
        return observe(state, params)

    def observation_space(self, params: CarTagParams) -> dict[str, spaces.Dict]:
        """Named fields of `CarTagObs` with their bounds (same for both players)."""
        inf = jnp.inf
        half = params.arena_half_size
        vmax = jnp.maximum(params.pursuer_speed, params.evader_speed)
        scalar = lambda lo, hi: spaces.Box(lo, hi, ())
        fields = {
            "own_pos": spaces.Box(-half, half, (2,)),
            "own_heading": scalar(-jnp.pi, jnp.pi),
            "own_vel": spaces.Box(-vmax, vmax, (2,)),
            "opp_pos": spaces.Box(-half, half, (2,)),
            "opp_heading": scalar(-jnp.pi, jnp.pi),
            "opp_vel": spaces.Box(-vmax, vmax, (2,)),
            "time_left": scalar(0.0, params.horizon_time),
            "pursuer_speed": scalar(0.0, inf),
            "evader_speed": scalar(0.0, inf),
            "min_turn_radius": scalar(0.0, inf),
            "capture_radius": scalar(0.0, inf),
            "arena_half_size": scalar(0.0, inf),
            "dt": scalar(0.0, inf),
        }
        space = spaces.Dict(fields)
        return {PURSUER: space, EVADER: space}

    def action_space(self, params: CarTagParams) -> dict[str, spaces.Box]:
        return {
            PURSUER: spaces.Box(-1.0, 1.0, (1,)),
            EVADER: spaces.Box(-params.evader_speed, params.evader_speed, (2,)),
        }


def obs_from_dict(fields: dict[str, jax.Array]) -> CarTagObs:
    """Build a `CarTagObs` from a dict of its fields (e.g. a sampled observation space)."""
    return CarTagObs(**fields)
