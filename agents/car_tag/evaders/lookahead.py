"""Look-ahead evader: simulate nine evasion plans (flee, stand, sidestep left or right at the last
moment, circle the car, head for the centre) for 2.5 s against two models of the car with the
real dynamics, and follow the plan whose worst case keeps the evader free longest and leaves the
car farthest from it in driving time.

Car models: pure pursuit (nose at the evader) and shortest-path pursuit (the
car's time-optimal Dubins path to the evader). Plans are closed-loop rules
re-evaluated every simulated step; the sidesteps wait (standing or fleeing)
until the car is within 1.5 m and ahead, then step perpendicular to its
heading (the homicidal chauffeur's swerve). A plan scores its earliest
capture time if some model catches it within 2.5 s; otherwise 2.5 s plus the
least time either car still needs to drive to the evader, minus a penalty
for ending within 1.5 m of a wall. Driving time, unlike distance, counts the
turning circle, so ending inside it or behind the car scores well. The
evader re-plans every step but, once a sidestep has started, sees it through
while either model says it still works (memory: the previous plan).
"""

import math

import jax
import jax.numpy as jnp

from arenax.envs.car_tag import dubins, dynamics

PLANS = 9
STEPS = 25
TRIGGER = 1.5  # m: sidestep plans start when the car is this close and ahead
COMMIT = 1.0  # keep a started sidestep while its best case survives this fraction of the horizon
COS65, SIN65 = math.cos(math.radians(65.0)), math.sin(math.radians(65.0))


def closest_approach(rel_start, rel_end):
    """Least distance between the agents during a step, both moving in straight lines."""
    delta = rel_end - rel_start
    t = jnp.clip(-jnp.dot(rel_start, delta) / jnp.maximum(jnp.dot(delta, delta), 1e-12), 0.0, 1.0)
    return jnp.linalg.norm(rel_start + t * delta)


def plan_direction(plan, car, heading, evader, half):
    """Unit direction (or zero) of evasion plan 0-8 given the car and evader positions."""
    rel = evader - car
    dist = jnp.sqrt(jnp.dot(rel, rel))
    away = rel / (dist + 1e-6)
    nose = dynamics.heading_vector(heading)
    left = jnp.stack([-nose[1], nose[0]])
    side = jnp.where(plan % 2 == 0, 1.0, -1.0)  # plans 2/4/6 go left, 3/5/7 right
    close = (dist < TRIGGER) & (jnp.dot(rel, nose) > -0.3)
    # 90 degrees off the car's heading, opening to 65 degrees (away from the car) inside 0.5 m.
    sidestep = (
        jnp.where(dist < 0.5, COS65, 0.0) * nose + side * jnp.where(dist < 0.5, SIN65, 1.0) * left
    )
    orbit = side * jnp.stack([-away[1], away[0]])
    centre = -evader / (jnp.sqrt(jnp.dot(evader, evader)) + 0.1 * half)
    options = jnp.stack(
        [
            away,  # 0 flee
            jnp.zeros(2),  # 1 stand
            jnp.where(close, sidestep, jnp.zeros(2)),  # 2, 3 stand, then sidestep
            jnp.where(close, sidestep, jnp.zeros(2)),
            jnp.where(close, sidestep, away),  # 4, 5 flee, then sidestep
            jnp.where(close, sidestep, away),
            orbit,  # 6, 7 circle round the car
            orbit,
            centre,  # 8 head for the centre
        ]
    )
    return options[plan]


def simulate(plan, model, obs):
    """Play one plan against car model 0 (pure pursuit) or 1 (shortest path) for STEPS steps.

    Returns (caught, capture time, final car position, heading, final evader position).
    """

    def step(carry, i):
        car, heading, evader, caught, when = carry
        velocity = obs.evader_speed * plan_direction(
            plan, car, heading, evader, obs.arena_half_size
        )
        rel = evader - car
        if model == 1:  # (a Python constant: each model is traced separately)
            _, steering = dubins.shortest_path(
                car, heading, evader, obs.pursuer_speed, obs.min_turn_radius
            )
        else:
            nose = dynamics.heading_vector(heading)
            steering = jnp.clip(
                5.0
                * dubins.atan2(
                    -rel[0] * nose[1] + rel[1] * nose[0], rel[0] * nose[0] + rel[1] * nose[1]
                ),
                -1.0,
                1.0,
            )
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
        return (car, heading, evader, caught | hit, when), None

    start = (obs.opp_pos, obs.opp_heading, obs.own_pos, jnp.zeros((), bool), jnp.zeros(()))
    (car, heading, evader, caught, when), _ = jax.lax.scan(step, start, jnp.arange(STEPS))
    return caught, when, car, heading, evader


def init(key):
    return jnp.zeros((), jnp.int32)  # the plan followed on the previous step


def act(obs, memory, key):
    plans = jnp.arange(PLANS)
    # Outcomes stacked as (car model, plan).
    caught, when, car, heading, evader = jax.tree_util.tree_map(
        lambda *x: jnp.stack(x),
        *[jax.vmap(lambda p, m=model: simulate(p, m, obs))(plans) for model in (0, 1)],
    )
    flat = lambda x: jnp.reshape(x, (2 * PLANS, *x.shape[2:]))
    remaining, _ = jax.vmap(
        lambda c, h, e: dubins.shortest_path(c, h, e, obs.pursuer_speed, obs.min_turn_radius)
    )(flat(car), flat(heading), flat(evader))
    wall_gap = jnp.min(obs.arena_half_size - jnp.abs(evader), axis=-1)
    free = (
        STEPS * obs.dt
        + jnp.minimum(jnp.reshape(remaining, (2, PLANS)), 10.0)
        - 2.0 * jnp.maximum(1.5 - wall_gap, 0.0)
    )
    scores = jnp.nan_to_num(jnp.where(caught, when, free), nan=-1e9)
    best = jnp.argmax(jnp.min(scores, axis=0))
    # Once a sidestep has started, see it through while some car model says it works:
    # switching mid-dodge because the other model disagrees is usually fatal.
    rel = obs.own_pos - obs.opp_pos
    close = (jnp.linalg.norm(rel) < TRIGGER) & (
        jnp.dot(rel, dynamics.heading_vector(obs.opp_heading)) > -0.3
    )
    hopeful = jnp.max(scores[:, memory]) > COMMIT * STEPS * obs.dt
    best = jnp.where(close & (memory >= 2) & (memory <= 5) & hopeful, memory, best)
    direction = plan_direction(best, obs.opp_pos, obs.opp_heading, obs.own_pos, obs.arena_half_size)
    return obs.evader_speed * direction, best.astype(jnp.int32)
