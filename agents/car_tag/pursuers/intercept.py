"""Lead pursuit: predict where the evader will be if it keeps its current velocity, and drive the
car's shortest path to that intercept point.

The intercept time t solves t = time of the car's shortest path to
(evader + velocity * t), found by a few fixed-point iterations, with the
prediction capped at 2 s and clamped to the arena. The shortest path is a
Dubins path: full lock then straight, or two opposite full-lock turns when
the point lies inside a turning circle. Leading is deadly against a runner
that keeps its course, but a late sidestep sends the car to an empty point.
"""

import jax
import jax.numpy as jnp

from arenax.envs.car_tag import dubins, dynamics


def act(obs, memory, key):
    velocity = dynamics.clip_speed(obs.opp_vel, obs.evader_speed)

    def refine(i, t_and_steering):
        t, _ = t_and_steering
        aim = dynamics.clamp_to_arena(
            obs.opp_pos + velocity * jnp.clip(t, 0.0, 2.0), obs.arena_half_size
        )
        return dubins.shortest_path(
            obs.own_pos, obs.own_heading, aim, obs.pursuer_speed, obs.min_turn_radius
        )

    _, steering = jax.lax.fori_loop(0, 3, refine, (jnp.zeros(()), jnp.zeros(())))
    return jnp.reshape(jnp.nan_to_num(steering), (1,)), memory
