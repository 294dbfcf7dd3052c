"""Render an evader genome as a program: a weighted sum of steering urges, then manoeuvres.

`act` adds up the genome's urges (flee from the car, now or where it will be;
repulsion from walls; a pull to the centre; orbiting toward the car's tail),
normalises the sum, may trade it for a regroup move when the car is far,
rotates it by a jink (random with memory, or periodic), refines it with a
look-ahead over candidate directions simulated against a car model with the
real dynamics, and lets a last-moment sidestep (the homicidal chauffeur's
swerve, optionally committed to with memory) override it when the car is close.
"""

from __future__ import annotations

import math

from arenax.search.offline_genome import Genome
from arenax.search.offline_render import Module, assemble, dict_literal, number


def _flee(m: Module, block: dict, init: list[str], out: list[str]) -> str:
    kind = block["kind"]
    if kind == "away":
        m.add('''
            def flee_direction(obs, memory):
                """Unit vector away from the car's current position."""
                return unit(obs.own_pos - obs.opp_pos)
        ''')
        m.sentences.append("Generated evader: it runs away from the car")
        return "flee_direction(obs, memory)"
    lead = m.const("CAR_LEAD_TIME", block["lead_time"], "s the car's position is predicted ahead")
    if kind == "predicted":
        m.add(f'''
            def flee_direction(obs, memory):
                """Unit vector away from where the car will be in {lead} s driving straight."""
                car = obs.opp_pos + {lead} * obs.opp_vel
                car = dynamics.clamp_to_arena(car, obs.arena_half_size)
                return unit(obs.own_pos - car)
        ''')
        m.sentences.append(
            f"Generated evader: it runs away from where the car will be in"
            f" {number(block['lead_time'])} s if it drives straight"
        )
        return "flee_direction(obs, memory)"
    init += ['"car_heading": jnp.zeros(())', '"seen": jnp.zeros((), bool)']
    out += ['"car_heading": obs.opp_heading', '"seen": jnp.ones((), bool)']
    m.add(f'''
        def flee_direction(obs, memory):
            """Unit vector away from where the car will be in {lead} s if it keeps turning at the
            rate measured from its last two headings (memory), along the exact arc."""
            turn = dynamics.wrap_angle(obs.opp_heading - memory["car_heading"]) / obs.dt
            steering = turn * obs.min_turn_radius / obs.pursuer_speed
            steering = jnp.where(memory["seen"], steering, 0.0)
            car, _ = dynamics.pursuer_step(
                obs.opp_pos, obs.opp_heading, steering, obs.pursuer_speed, obs.min_turn_radius,
                {lead}, obs.arena_half_size,
            )
            return unit(obs.own_pos - car)
    ''')
    m.sentences.append(
        f"Generated evader: it runs away from where the car will be in"
        f" {number(block['lead_time'])} s if it keeps turning as it did last step (memory)"
    )
    return "flee_direction(obs, memory)"


def _walls(m: Module, block: dict) -> str:
    margin = m.const("WALL_MARGIN", block["margin"], "m")
    m.add(f'''
        def wall_push(obs):
            """Push (2,) off walls closer than {margin}: (margin / gap)^2 - 1 per wall, so 0 at
            the margin, 3 at half of it, capped at 25 (the hand-written evaders' field)."""
            half = obs.arena_half_size
            margin = jnp.minimum({margin}, 0.45 * half)
            gap_low = jnp.maximum(obs.own_pos + half, 1e-2)
            gap_high = jnp.maximum(half - obs.own_pos, 1e-2)
            push_low = jnp.clip((margin / gap_low) ** 2 - 1.0, 0.0, 25.0)
            push_high = jnp.clip((margin / gap_high) ** 2 - 1.0, 0.0, 25.0)
            return push_low - push_high
    ''')
    m.sentences.append(f"pushed off walls closer than {number(block['margin'])} m")
    return f"{m.const('WALL_STRENGTH', block['strength'])} * wall_push(obs)"


def _centre(m: Module, block: dict) -> str:
    m.add('''
        def centre_pull(obs):
            """Toward the arena centre, growing with the distance from it (1 at the walls)."""
            return -obs.own_pos / obs.arena_half_size
    ''')
    m.sentences.append(f"pulled toward the centre (weight {number(block['weight'])})")
    return f"{m.const('CENTRE_WEIGHT', block['weight'])} * centre_pull(obs)"


def _orbit(m: Module, block: dict) -> str:
    reach = m.const("ORBIT_RANGE", block["range"], "m")
    m.add(f'''
        def orbit_direction(obs):
            """Sideways round the car against its heading (toward its tail), fading at {reach}."""
            rel = obs.own_pos - obs.opp_pos
            dist = jnp.sqrt(dynamics.dot2(rel, rel))
            tangent = jnp.stack([-rel[1], rel[0]]) / (dist + 1e-6)
            nose = dynamics.heading_vector(obs.opp_heading)
            side = jnp.where(dynamics.dot2(tangent, nose) > 0.0, -1.0, 1.0)
            return side * jnp.clip(1.0 - dist / {reach}, 0.0, 1.0) * tangent
    ''')
    m.sentences.append(
        f"circling toward the car's tail when it is within {number(block['range'])} m"
    )
    return f"{m.const('ORBIT_WEIGHT', block['weight'])} * orbit_direction(obs)"


def _regroup(m: Module, block: dict) -> list[str]:
    far = m.const("REGROUP_DISTANCE", block["distance"], "m")
    m.sentences.append(
        f"While the car is more than {number(block['distance'])} m away it regroups toward the"
        " open centre."
    )
    return [
        "    # Car far away: use the time to regain open space near the centre.",
        "    rel = obs.own_pos - obs.opp_pos",
        f"    far = jnp.sqrt(dynamics.dot2(rel, rel)) > {far}",
        "    regroup = unit(-obs.own_pos / obs.arena_half_size + 0.3 * unit(rel))",
        "    direction = jnp.where(far, regroup, direction)",
    ]


def _jink(m: Module, block: dict, init: list[str], out: list[str]) -> list[str]:
    amplitude = m.const("JINK_AMPLITUDE", block["amplitude"], "rad")
    if block["kind"] == "periodic":
        period = m.const("JINK_PERIOD", block["period"], "s")
        m.sentences.append(
            f"It weaves periodically ({number(block['amplitude'])} rad every"
            f" {number(block['period'])} s)."
        )
        return [
            "    # Periodic weave: the heading swings sinusoidally with the clock.",
            f"    swing, _ = dynamics.sin_cos(2.0 * math.pi * obs.time_left / {period})",
            f"    direction = rotate(direction, {amplitude} * swing)",
        ]
    shortest = m.const("JINK_MIN_PERIOD", block["min_period"], "s")
    extra = m.const("JINK_PERIOD_RANGE", block["period_range"], "s")
    init += ['"veer": jnp.zeros(())', '"timer": jnp.zeros(())']
    out += ['"veer": veer', '"timer": timer']
    m.sentences.append(
        f"It jinks: a random veer of up to {number(1.5 * block['amplitude'])} rad to a random side,"
        f" redrawn every {number(block['min_period'])}-"
        f"{number(block['min_period'] + block['period_range'])} s (memory)."
    )
    return [
        "    # Random jink: hold a random veer until a random timer runs out.",
        '    renew = memory["timer"] <= 0.0',
        "    u = jax.random.uniform(key, (3,))",
        f"    fresh = jnp.where(u[0] < 0.5, -1.0, 1.0) * {amplitude} * (0.5 + u[1])",
        '    veer = jnp.where(renew, fresh, memory["veer"])',
        f'    timer = jnp.where(renew, {shortest} + {extra} * u[2], memory["timer"]) - obs.dt',
        "    direction = rotate(direction, veer)",
    ]


def _lookahead(m: Module, block: dict, reflex: bool) -> list[str]:
    k = block["candidates"]
    spread = block["spread"]
    offsets = tuple(round(-spread + 2.0 * spread * i / (k - 1), 4) for i in range(k))
    angles = m.const("ESCAPE_OFFSETS", offsets, "rad, candidate directions around the urge")
    steps = m.const("ESCAPE_STEPS", block["horizon"], "steps simulated")
    blend = m.const("ESCAPE_BLEND", block["blend"], "weight of the best candidate")
    penalty = m.const("WALL_PENALTY", block["wall_penalty"], "s per m closer than 1 m to a wall")
    m.add('''
        def closest_approach(rel_start, rel_end):
            """Least distance during a step, both agents moving in straight lines."""
            delta = rel_end - rel_start
            t = jnp.clip(
                -dynamics.dot2(rel_start, delta) / jnp.maximum(dynamics.dot2(delta, delta), 1e-12),
                0.0,
                1.0,
            )
            gap = rel_start + t * delta
            return jnp.sqrt(dynamics.dot2(gap, gap))
    ''')
    models = []
    if block["model"] in ("pure_pursuit", "both"):
        models.append("pursuit_car")
        m.add('''
            def pursuit_car(obs, car, heading, evader):
                """Car model: pure pursuit, nose at the evader, saturating 0.2 rad off the nose."""
                rel = evader - car
                nose = dynamics.heading_vector(heading)
                ahead = rel[0] * nose[0] + rel[1] * nose[1]
                left = -rel[0] * nose[1] + rel[1] * nose[0]
                return jnp.clip(5.0 * dubins.atan2(left, ahead), -1.0, 1.0)
        ''')
    if block["model"] in ("shortest_path", "both"):
        models.append("shortest_path_car")
        m.add('''
            def shortest_path_car(obs, car, heading, evader):
                """Car model: drives its shortest (Dubins) path to the evader."""
                _, steering = dubins.shortest_path(
                    car, heading, evader, obs.pursuer_speed, obs.min_turn_radius
                )
                return steering
        ''')
    model_words = {
        "pure_pursuit": "a pure-pursuit car",
        "shortest_path": "a shortest-path car",
        "both": "two car models (pure pursuit, shortest path; worst case)",
    }[block["model"]]
    if block["score"] == "driving_time":
        left = """remaining, _ = dubins.shortest_path(
                car, heading, evader, obs.pursuer_speed, obs.min_turn_radius
            )
            free = jnp.minimum(remaining, 10.0)"""
        score_words = "the car's drive time to the evader"
    else:
        left = """rel = evader - car
            free = jnp.sqrt(dynamics.dot2(rel, rel)) / obs.pursuer_speed"""
        score_words = "the final distance"
    if reflex:
        run = """run = jnp.where(
                    closing(car, heading, evader),
                    sidestep(car, heading, evader, nose_side(car, heading, evader)),
                    direction,
                )"""
        run_doc = "Its sidestep reflex takes over when the car closes in.\n            "
    else:
        run, run_doc = "run = direction", ""
    m.add(f'''
        def escape_score(obs, direction, car_model):
            """Survival (s) of running along `direction` for {steps} steps against `car_model`.

            {run_doc}The capture time, or the horizon plus the car's remaining effort, minus
            a wall penalty.
            """

            def step(carry, i):
                car, heading, evader, caught, when = carry
                rel = evader - car
                {run}
                steering = car_model(obs, car, heading, evader)
                car, heading = dynamics.pursuer_step(
                    car, heading, steering, obs.pursuer_speed, obs.min_turn_radius, obs.dt,
                    obs.arena_half_size,
                )
                evader, _ = dynamics.evader_step(
                    evader, obs.evader_speed * run, obs.evader_speed, obs.dt, obs.arena_half_size
                )
                hit = closest_approach(rel, evader - car) <= obs.capture_radius
                when = jnp.where(hit & ~caught, (i + 1) * obs.dt, when)
                return (car, heading, evader, caught | hit, when), None

            start = (obs.opp_pos, obs.opp_heading, obs.own_pos, jnp.zeros((), bool), jnp.zeros(()))
            (car, heading, evader, caught, when), _ = jax.lax.scan(step, start, jnp.arange({steps}))
            {left}
            wall_gap = jnp.min(obs.arena_half_size - jnp.abs(evader))
            free = {steps} * obs.dt + free - {penalty} * jnp.maximum(1.0 - wall_gap, 0.0)
            return jnp.where(caught, when, free)
    ''')
    stand = block["stand"]
    options = "dynamics.heading_vector(angles)"
    if stand:
        options = f"jnp.concatenate([{options}, jnp.zeros((1, 2))])"
    if len(models) == 1:
        scores = f"jax.vmap(lambda d: escape_score(obs, d, {models[0]}))(options)"
    else:
        scores = (
            "jnp.minimum(\n"
            + "".join(
                f"        jax.vmap(lambda d: escape_score(obs, d, {name}))(options),\n"
                for name in models
            )
            + "    )"
        )
    doc = f"Blend `direction` with the best of the candidates: {angles} around it"
    doc += ",\n    or standing still (the last)." if stand else "."
    lines = [
        "def look_ahead(obs, direction):",
        f'    """{doc}"""',
        f"    angles = dynamics.vector_heading(direction) + jnp.array({angles})",
        f"    options = {options}",
        f"    scores = {scores}",
        "    best = options[jnp.argmax(jnp.nan_to_num(scores, nan=-1e9))]",
        f"    mixed = (1.0 - {blend}) * direction + {blend} * best",
        "    return jnp.where(jnp.any(best != 0.0), unit(mixed), mixed)",
    ]
    m.functions.append("\n".join(lines))
    m.sentences.append(
        f"It then tries {k} directions within {number(spread)} rad of that urge"
        f"{' and standing still' if stand else ''}, each run for {block['horizon']} steps"
        f"{' with its sidestep reflex' if reflex else ''} against {model_words} with the real"
        f" dynamics, and leans {number(block['blend'])} of the way to the one that survives"
        f" longest (counting {score_words} at the end)."
    )
    return ["    direction = look_ahead(obs, direction)"]


def _sidestep(m: Module, block: dict, init: list[str], out: list[str]) -> list[str]:
    trigger = m.const("SIDESTEP_TRIGGER", block["trigger"], "m")
    angle = m.const("SIDESTEP_ANGLE", round(math.radians(block["angle"]), 4), "rad off the car")
    close = m.const(
        "CLOSE_ANGLE", round(math.radians(block["close_angle"]), 4), "rad, inside 0.5 m"
    )
    m.add(f'''
        def closing(car, heading, evader):
            """Whether the car is within {trigger} of the evader and the evader not behind it."""
            rel = evader - car
            nose = dynamics.heading_vector(heading)
            near = jnp.sqrt(dynamics.dot2(rel, rel)) < {trigger}
            return near & (dynamics.dot2(rel, nose) > -0.3)


        def nose_side(car, heading, evader):
            """+1 if the evader is left of the car's line of travel, else -1."""
            rel = evader - car
            nose = dynamics.heading_vector(heading)
            return jnp.where(nose[0] * rel[1] - nose[1] * rel[0] >= 0.0, 1.0, -1.0)


        def sidestep(car, heading, evader, side):
            """Unit step at {angle} off the car's heading ({close} inside 0.5 m) to `side`
            (+1: the car's left, -1: its right): the homicidal chauffeur's swerve."""
            rel = evader - car
            nose = dynamics.heading_vector(heading)
            left = jnp.stack([-nose[1], nose[0]])
            dist = jnp.sqrt(dynamics.dot2(rel, rel))
            sin, cos = dynamics.sin_cos(jnp.where(dist < 0.5, {close}, {angle}))
            return cos * nose + side * sin * left
    ''')
    lines = [
        "    # Sidestep as the car closes in: it overshoots and must go round its turning circle.",
        "    closing_now = closing(obs.opp_pos, obs.opp_heading, obs.own_pos)",
        "    side = nose_side(obs.opp_pos, obs.opp_heading, obs.own_pos)",
    ]
    words = (
        f"When the car closes within {number(block['trigger'])} m with the evader ahead of it,"
        f" it sidesteps at {number(block['angle'])} degrees to the car's heading"
        f" ({number(block['close_angle'])} inside 0.5 m) on its own side of the nose"
    )
    swerve = "    swerve = sidestep(obs.opp_pos, obs.opp_heading, obs.own_pos, side)"
    if block["kind"] == "committed":
        commit = m.const("COMMIT_TIME", block["commit"], "s a started sidestep is kept")
        init += ['"side": jnp.ones(())', '"commit": jnp.zeros(())']
        out += ['"side": side', '"commit": commit']
        lines += [
            "    # Once started, keep the sidestep and its side for a while (memory).",
            '    start = closing_now & (memory["commit"] <= 0.0)',
            '    side = jnp.where(start, side, memory["side"])',
            f'    commit = jnp.where(start, {commit}, jnp.maximum(memory["commit"] - obs.dt, 0.0))',
            swerve,
            "    direction = jnp.where(closing_now | (commit > 0.0), swerve, direction)",
        ]
        words += f", and keeps a started sidestep for {number(block['commit'])} s (memory)."
    else:
        lines += [swerve, "    direction = jnp.where(closing_now, swerve, direction)"]
        words += "."
    m.sentences.append(words)
    return lines


def render_evader(genome: Genome) -> str:
    """Python source of the evader program described by `genome` (see `offline_genome`)."""
    blocks = genome["blocks"]
    m = Module()
    init: list[str] = []
    out: list[str] = []
    m.add('''
        def unit(v):
            """`v` scaled to length 1 (zero stays zero)."""
            return v / (jnp.sqrt(dynamics.dot2(v, v)) + 1e-6)


        def rotate(v, angle):
            """`v` turned counter-clockwise by `angle` (rad)."""
            sin, cos = dynamics.sin_cos(angle)
            return jnp.stack([cos * v[0] - sin * v[1], sin * v[0] + cos * v[1]])
    ''')
    weight = m.const("FLEE_WEIGHT", blocks["flee"]["weight"])
    urges = [f"{weight} * {_flee(m, blocks['flee'], init, out)}"]
    extras = [
        make(m, blocks[slot])
        for slot, make in (("walls", _walls), ("centre", _centre), ("orbit", _orbit))
        if slot in blocks
    ]
    urges += extras
    m.sentences[-1] = ", ".join(m.sentences[-len(extras) - 1 :]) + "."
    del m.sentences[-len(extras) - 1 : -1]
    lines = ["def act(obs, memory, key):", f"    urge = {urges[0]}"]
    lines += [f"    urge = urge + {term}" for term in urges[1:]]
    lines.append("    direction = unit(urge)")
    if "regroup" in blocks:
        lines += _regroup(m, blocks["regroup"])
    if "jink" in blocks:
        lines += _jink(m, blocks["jink"], init, out)
    if "lookahead" in blocks:
        reflex = "sidestep" in blocks and blocks["lookahead"]["reflex"]
        lines += _lookahead(m, blocks["lookahead"], reflex)
    if "sidestep" in blocks:
        lines += _sidestep(m, blocks["sidestep"], init, out)
    lines.append(
        "    velocity = dynamics.clip_speed(obs.evader_speed * direction, obs.evader_speed)"
    )
    if out:
        lines.append("    memory = " + dict_literal(out, 4))
        names = ", ".join(item.split(":")[0].strip('"') for item in init)
        m.add(f'def init(key):\n    """Memory: {names}."""\n    return {dict_literal(init, 4)}')
    lines.append("    return velocity, memory")
    m.functions.append("\n".join(lines))
    return assemble(m, genome)
