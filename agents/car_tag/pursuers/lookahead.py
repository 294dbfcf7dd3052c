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

from arenax.envs.car_tag import dynamics

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
TWO_PI = 2.0 * jnp.pi


def atan2(y, x):
    """`jnp.arctan2(y, x)` via the vectorisable helper (arctan2 is a scalar call on CPU)."""
    return dynamics.vector_heading(jnp.stack([x, y], axis=-1))


def acos(x):
    x = jnp.clip(x, -1.0, 1.0)
    return atan2(jnp.sqrt(jnp.maximum(1.0 - x * x, 0.0)), x)


def turn_angle(angle):
    """An angle wrapped to [0, 2 pi): how far to turn counter-clockwise."""
    return dynamics.wrap_angle(angle - jnp.pi) + jnp.pi


def left_first_paths(x, y):
    """Car paths starting with a left turn to target (x ahead, y left), in turning radii.

    Returns (CS length, CS first-arc angle, CC length, CC first-arc angle);
    CS = full lock then straight, CC = full lock then opposite full lock;
    an impossible path has length 1e6.
    """
    wx, wy = x, y - 1.0  # target seen from the left turning centre (0, 1)
    dc = jnp.maximum(jnp.sqrt(wx * wx + wy * wy), 1e-6)
    base = atan2(wy, wx)
    # CS: turn until the tangent from the circle points at the target.
    cs_arc = turn_angle(base - acos(1.0 / jnp.maximum(dc, 1.0)) + 0.5 * jnp.pi)
    cs_arc = jnp.where(cs_arc > TWO_PI - 1e-3, 0.0, cs_arc)  # on the tangent up to rounding
    cs = jnp.where(dc >= 0.98, cs_arc + jnp.sqrt(jnp.maximum(dc * dc - 1.0, 0.0)), 1e6)
    # CC: turn left by a, then right round the centre (2 sin a, 1 - 2 cos a), which
    # must lie at distance 1 from the target (two solutions).
    spread = acos((3.0 + dc * dc) / (4.0 * dc))
    cc, cc_arc = jnp.full_like(cs, 1e6), jnp.zeros_like(cs)
    for sign in (1.0, -1.0):
        a = turn_angle(base + sign * spread + 0.5 * jnp.pi)
        a = jnp.where(a > TWO_PI - 0.05, 0.0, a)
        unit = dynamics.heading_vector(a)
        cos_a, sin_a = unit[..., 0], unit[..., 1]
        b = turn_angle(a + 0.5 * jnp.pi - atan2(y - 1.0 + 2.0 * cos_a, x - 2.0 * sin_a))
        length = jnp.where((dc >= 1.0) & (dc <= 3.0), a + b, 1e6)
        better = length < cc
        cc, cc_arc = jnp.where(better, length, cc), jnp.where(better, a, cc_arc)
    return cs, cs_arc, cc, cc_arc


def shortest_path(pos, heading, target, speed, radius):
    """(time of the car's shortest path to `target`, steering in [-1, 1] that starts it).

    The shortest path to a point (any final heading) is a Dubins path: full
    lock then straight (CS), or two opposite full-lock turns (CC) when the
    point is inside a turning circle. All four (left/right first) are measured.
    """
    rel = target - pos
    nose = dynamics.heading_vector(heading)
    c, s = nose[..., 0], nose[..., 1]
    radius = jnp.maximum(radius, 1e-6)
    x = (rel[0] * c + rel[1] * s) / radius
    y = (-rel[0] * s + rel[1] * c) / radius
    cs_l, arc_l, cc_l, a_l = left_first_paths(x, y)
    cs_r, arc_r, cc_r, a_r = left_first_paths(x, -y)  # mirror image: right turn first
    length, steering = cs_l, jnp.clip(10.0 * arc_l, 0.0, 1.0)  # ease off as the nose lines up
    options = (
        (cs_r, -jnp.clip(10.0 * arc_r, 0.0, 1.0)),
        (cc_l, jnp.where(a_l > 0.02, 1.0, -1.0)),  # first arc done: start the second
        (cc_r, jnp.where(a_r > 0.02, -1.0, 1.0)),
    )
    for option, option_steering in options:
        better = option < length
        length = jnp.where(better, option, length)
        steering = jnp.where(better, option_steering, steering)
    return length * radius / jnp.maximum(speed, 1e-6), steering


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
        _, chase = shortest_path(car, heading, evader, obs.pursuer_speed, obs.min_turn_radius)
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
    remaining, _ = shortest_path(car, heading, evader, obs.pursuer_speed, obs.min_turn_radius)
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
