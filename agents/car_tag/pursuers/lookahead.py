"""Look-ahead (model-predictive) pursuer: simulate 7 candidate steering plans for 1.5 s against two
predictions of the evader with the real dynamics, and start the plan with the best total
outcome.

Each plan holds a steering of -1, 0 or +1 for 0.3 s or 0.8 s and then follows
the shortest (Dubins) path to the simulated evader; the seventh follows the
shortest path from the start. The evader is predicted two ways: keeping its
current velocity, and a dodger that runs straight away from the car until
the car is within 1.5 m ahead of it, then sidesteps perpendicular to the
car's heading on the side it is on. A plan costs its capture time if it
catches the prediction within 1.5 s, else 1.5 s plus the shortest-path time
still needed at the end; costs of the two predictions are added. Planning
against a dodger lets the car anticipate the homicidal chauffeur's sidestep
instead of overshooting it.
"""

import jax
import jax.numpy as jnp

from arenax.envs.car_tag import dubins, dynamics

STEPS = 15
PLANS = (
    (0.0, 0),
    (-1.0, 3),
    (0.0, 3),
    (1.0, 3),
    (-1.0, 8),
    (0.0, 8),
    (1.0, 8),
)  # (steering, steps held)


def closest_approach(rel_start, rel_end):
    """Least distance between the agents during a step, both moving in straight lines."""
    delta = rel_end - rel_start
    t = jnp.clip(-jnp.dot(rel_start, delta) / jnp.maximum(jnp.dot(delta, delta), 1e-12), 0.0, 1.0)
    return jnp.linalg.norm(rel_start + t * delta)


def predicted_velocity(dodger, obs, car, heading, evader):
    """The evader's velocity under prediction 0 (keeps its velocity) or 1 (dodger)."""
    rel = evader - car
    dist = jnp.sqrt(rel[0] * rel[0] + rel[1] * rel[1])
    nose = dynamics.heading_vector(heading)
    ahead = rel[0] * nose[0] + rel[1] * nose[1]
    left = -rel[0] * nose[1] + rel[1] * nose[0]
    sidestep = jnp.where(left >= 0.0, 1.0, -1.0) * jnp.stack([-nose[1], nose[0]])
    away = rel / (dist + 1e-6)
    dodge = jnp.where((dist < 1.5) & (ahead > -0.3), sidestep, away) * obs.evader_speed
    return jnp.where(dodger, dodge, dynamics.clip_speed(obs.opp_vel, obs.evader_speed))


def plan_cost(steer, hold, dodger, obs):
    """Cost of one plan against one prediction (`dodger` False/True), and its first steering.

    The cost is the capture time if the plan catches the prediction within the
    horizon, else the horizon plus the shortest-path time still needed at its end.
    """

    def step(carry, i):
        car, heading, evader, caught, when = carry
        rel = evader - car
        _, chase = dubins.shortest_path(
            car, heading, evader, obs.pursuer_speed, obs.min_turn_radius
        )
        steering = jnp.where(i < hold, steer, chase)
        velocity = predicted_velocity(dodger, obs, car, heading, evader)
        car, heading = dynamics.pursuer_step(
            car,
            heading,
            steering,
            obs.pursuer_speed,
            obs.min_turn_radius,
            obs.dt,
            obs.arena_half_size,
        )
        evader, _ = dynamics.evader_step(
            evader, velocity, obs.evader_speed, obs.dt, obs.arena_half_size
        )
        hit = closest_approach(rel, evader - car) <= obs.capture_radius
        when = jnp.where(hit & ~caught, (i + 1) * obs.dt, when)
        return (car, heading, evader, caught | hit, when), steering

    start = (obs.own_pos, obs.own_heading, obs.opp_pos, jnp.zeros((), bool), jnp.zeros(()))
    (car, heading, evader, caught, when), steerings = jax.lax.scan(step, start, jnp.arange(STEPS))
    remaining, _ = dubins.shortest_path(
        car, heading, evader, obs.pursuer_speed, obs.min_turn_radius
    )
    return jnp.where(caught, when, STEPS * obs.dt + jnp.minimum(remaining, 100.0)), steerings[0]


def act(obs, memory, key):
    steers = jnp.array([p[0] for p in PLANS])
    holds = jnp.array([p[1] for p in PLANS])
    # Both predictions share one traced simulation (lax.map runs them in turn).
    costs, first = jax.lax.map(
        lambda dodger: jax.vmap(lambda s, h: plan_cost(s, h, dodger, obs))(steers, holds),
        jnp.array([False, True]),
    )
    best = jnp.argmin(jnp.nan_to_num(jnp.sum(costs, axis=0), nan=1e9))
    return jnp.reshape(jnp.nan_to_num(first[0, best]), (1,)), memory
