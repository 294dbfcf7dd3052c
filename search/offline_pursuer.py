"""Render a pursuer genome as a program: aim points, steering laws, switching, look-ahead, memory.

The program is built around one pure function of the situation,
`steering_law(obs, car, heading, evader, velocity) -> steering`, composed from
the genome's blocks (aim point, steering law, optional second law behind a
switching condition, wall-aware aim, turning-circle escape). `act` applies it
to the observation, optionally through a look-ahead that simulates steering
plans with the real car dynamics (and can roll out `steering_law` itself), a
smoothed velocity estimate, or a stall detector that breaks out of circling.
"""

from __future__ import annotations

from arenax.search.offline_genome import Genome, pursuer_plan_count
from arenax.search.offline_render import Module, assemble, dict_literal, number

_LAWS = (("aim", "steer", "primary", "PRIMARY"), ("aim2", "steer2", "secondary", "SECONDARY"))

_AIM_WORDS = {
    "current": lambda b: "the evader's current position",
    "lead": lambda b: f"a lead point {number(b['lead_time'])} s ahead of the evader",
    "lead_distance": lambda b: (
        f"a lead point extrapolated {number(b['factor'])} times the car's time to cover the"
        f" distance ahead (at most {number(b['cap'])} s)"
    ),
    "intercept_straight": lambda b: (
        f"the straight-line intercept point (at most {number(b['cap'])} s ahead)"
    ),
    "intercept_dubins": lambda b: (
        f"the intercept point along its shortest path ({b['iterations']} fixed-point steps,"
        f" at most {number(b['cap'])} s ahead)"
    ),
}
_STEER_WORDS = {
    "proportional": lambda b: f"steers proportionally (gain {number(b['gain'])}) at",
    "bang_bang": lambda b: (
        f"steers bang-bang (full lock outside a {number(b['dead_band'])} rad dead band) at"
    ),
    "dubins": lambda b: "drives the car's shortest (Dubins) path to",
    "pronav": lambda b: (
        f"flies proportional navigation (N = {number(b['nav_gain'])}, pursuit bias"
        f" {number(b['bias'])}) toward"
    ),
}
_SWITCH_WORDS = {
    "distance": lambda b: f"within {number(b['threshold'])} m of the evader",
    "time_left": lambda b: f"in the last {number(b['threshold'])} s",
    "angle_off": lambda b: (
        f"when the evader is more than {number(b['threshold'])} rad off the nose"
    ),
}


def _law_phrase(blocks: dict, aim: str, steer: str) -> str:
    aim_block, steer_block = blocks[aim], blocks[steer]
    return (
        f"{_STEER_WORDS[steer_block['kind']](steer_block)}"
        f" {_AIM_WORDS[aim_block['kind']](aim_block)}"
    )


def _aim(m: Module, block: dict, fn: str, prefix: str, wall: bool) -> None:
    kind = block["kind"]
    ret = "wall_aware(obs, {})" if wall else "{}"
    head = f"def {fn}(obs, car, heading, evader, velocity):\n"
    if kind == "current":
        m.add(
            head + '    """The evader\'s current position."""\n    return ' + ret.format("evader")
        )
        return
    if kind == "lead":
        lead = m.const(f"{prefix}_LEAD_TIME", block["lead_time"], "s")
        doc = f'"""Where the evader will be in {lead} s if it keeps its velocity."""'
        aim = "dynamics.clamp_to_arena(aim, obs.arena_half_size)"
        m.add(
            f"{head}    {doc}\n    aim = evader + {lead} * velocity\n    return {ret.format(aim)}"
        )
        return
    if kind == "lead_distance":
        factor = m.const(f"{prefix}_LEAD_FACTOR", block["factor"])
        cap = m.const(f"{prefix}_LEAD_CAP", block["cap"], "s")
        m.add(f'''
            {head.rstrip()}
                """The evader extrapolated by a lead time growing with the car's time to it."""
                rel = evader - car
                dist = jnp.sqrt(dynamics.dot2(rel, rel))
                lead = jnp.minimum({factor} * dist / obs.pursuer_speed, {cap})
                aim = dynamics.clamp_to_arena(evader + lead * velocity, obs.arena_half_size)
                return {ret.format("aim")}
        ''')
        return
    if kind == "intercept_straight":
        cap = m.const(f"{prefix}_INTERCEPT_CAP", block["cap"], "s")
        m.add(f'''
            {head.rstrip()}
                """Where a car driving straight at full speed meets an evader keeping its velocity.

                Solves |rel + v t| = speed * t for the positive root t, capped at {cap}.
                """
                rel = evader - car
                v = dynamics.clip_speed(velocity, obs.evader_speed)
                a = jnp.minimum(dynamics.dot2(v, v) - obs.pursuer_speed**2, -1e-3)
                b = 2.0 * dynamics.dot2(rel, v)
                c = dynamics.dot2(rel, rel)
                t = (b + jnp.sqrt(jnp.maximum(b * b - 4.0 * a * c, 0.0))) / (-2.0 * a)
                aim = evader + jnp.clip(t, 0.0, {cap}) * v
                return {ret.format("dynamics.clamp_to_arena(aim, obs.arena_half_size)")}
        ''')
        return
    iterations = m.const(f"{prefix}_INTERCEPT_STEPS", block["iterations"])
    cap = m.const(f"{prefix}_INTERCEPT_CAP", block["cap"], "s")
    m.add(f'''
        {head.rstrip()}
            """The intercept along the car's shortest path: fixed-point steps of
            t = drive time to (evader + velocity * t), with t capped at {cap}."""
            v = dynamics.clip_speed(velocity, obs.evader_speed)

            def refine(i, t):
                point = evader + v * jnp.clip(t, 0.0, {cap})
                point = dynamics.clamp_to_arena(point, obs.arena_half_size)
                time, _ = dubins.shortest_path(
                    car, heading, point, obs.pursuer_speed, obs.min_turn_radius
                )
                return time

            t = jax.lax.fori_loop(0, {iterations}, refine, jnp.zeros(()))
            aim = evader + v * jnp.clip(t, 0.0, {cap})
            aim = dynamics.clamp_to_arena(aim, obs.arena_half_size)
            return {ret.format("aim")}
    ''')


def _steer(m: Module, block: dict, fn: str, aim_fn: str, prefix: str) -> None:
    kind = block["kind"]
    head = f"def {fn}(obs, car, heading, evader, velocity):\n"
    aim = f"    aim = {aim_fn}(obs, car, heading, evader, velocity)\n"
    if kind == "proportional":
        gain = m.const(f"{prefix}_GAIN", block["gain"])
        doc = f'    """Steer at the aim point: {gain} times its bearing, clipped to [-1, 1]."""\n'
        m.add(
            head
            + doc
            + aim
            + f"    return jnp.clip({gain} * bearing(car, heading, aim), -1.0, 1.0)"
        )
    elif kind == "bang_bang":
        band = m.const(f"{prefix}_DEAD_BAND", block["dead_band"], "rad")
        m.add(f'''
            {head.rstrip()}
                """Full lock toward the aim point, straight ahead inside a dead band of {band}."""
            {aim.rstrip()}
                angle = bearing(car, heading, aim)
                return jnp.where(jnp.abs(angle) > {band}, jnp.where(angle > 0.0, 1.0, -1.0), 0.0)
        ''')
    elif kind == "dubins":
        m.add(f'''
            {head.rstrip()}
                """The first control of the car's shortest (Dubins) path to the aim point."""
            {aim.rstrip()}
                _, steering = dubins.shortest_path(
                    car, heading, aim, obs.pursuer_speed, obs.min_turn_radius
                )
                return steering
        ''')
    else:
        nav = m.const(f"{prefix}_NAV_GAIN", block["nav_gain"])
        bias = m.const(f"{prefix}_PURSUIT_BIAS", block["bias"])
        behind = m.const(f"{prefix}_BEHIND", block["behind"], "rad: full lock beyond this bearing")
        m.add(f'''
            {head.rstrip()}
                """Proportional navigation toward the aim point: turn rate = {nav} * line-of-sight
                rate + {bias} * bearing; full lock beyond a bearing of {behind}."""
            {aim.rstrip()}
                rel = aim - car
                rel_vel = velocity - obs.pursuer_speed * dynamics.heading_vector(heading)
                los_rate = (rel[0] * rel_vel[1] - rel[1] * rel_vel[0]) / jnp.maximum(
                    dynamics.dot2(rel, rel), 1e-6
                )
                angle = bearing(car, heading, aim)
                rate = {nav} * los_rate + {bias} * angle
                steering = jnp.clip(rate * obs.min_turn_radius / obs.pursuer_speed, -1.0, 1.0)
                full_lock = jnp.where(angle > 0.0, 1.0, -1.0)
                return jnp.where(jnp.abs(angle) > {behind}, full_lock, steering)
        ''')


def _geometry(m: Module) -> None:
    m.add('''
        def frame(car, heading, point):
            """`point` in the car's frame: (distance ahead, distance to the left)."""
            rel = point - car
            nose = dynamics.heading_vector(heading)
            return rel[0] * nose[0] + rel[1] * nose[1], -rel[0] * nose[1] + rel[1] * nose[0]


        def bearing(car, heading, point):
            """Angle (rad) of `point` off the car's nose, positive to the left."""
            ahead, left = frame(car, heading, point)
            return dubins.atan2(left, ahead)
    ''')


def _wall(m: Module, block: dict) -> None:
    margin = m.const("WALL_MARGIN", block["margin"], "m")
    strength = m.const("WALL_PULL", block["strength"])
    m.add(f'''
        def wall_aware(obs, aim):
            """Pull an aim point closer than {margin} to a wall back in: evaders slide off walls."""
            limit = obs.arena_half_size - {margin}
            excess = jnp.maximum(jnp.abs(aim) - limit, 0.0)
            return aim - {strength} * jnp.where(aim > 0.0, 1.0, -1.0) * excess
    ''')
    m.sentences.append(
        f"The aim point is pulled in from walls closer than {number(block['margin'])} m."
    )


def _law(m: Module, blocks: dict) -> None:
    lines = [
        "def steering_law(obs, car, heading, evader, velocity):",
        '    """Steering in [-1, 1] for the car at (car, heading) chasing an evader at',
        "    `evader` moving with `velocity`; a pure function of the situation, so look-ahead",
        '    can use it."""',
        "    steering = primary_steering(obs, car, heading, evader, velocity)",
    ]
    switch = blocks.get("switch")
    if switch is not None:
        kind = switch["kind"]
        if kind == "distance":
            limit = m.const("SWITCH_DISTANCE", switch["threshold"], "m")
            lines += [
                "    rel = evader - car",
                f"    switched = jnp.sqrt(dynamics.dot2(rel, rel)) < {limit}",
            ]
        elif kind == "time_left":
            limit = m.const("SWITCH_TIME_LEFT", switch["threshold"], "s")
            lines.append(f"    switched = obs.time_left < {limit}")
        else:
            limit = m.const("SWITCH_ANGLE", switch["threshold"], "rad")
            lines.append(f"    switched = jnp.abs(bearing(car, heading, evader)) > {limit}")
        lines += [
            "    secondary = secondary_steering(obs, car, heading, evader, velocity)",
            "    steering = jnp.where(switched, secondary, steering)",
        ]
    escape = blocks.get("escape")
    if escape is not None:
        radius = m.const("ESCAPE_RADIUS", escape["radius_factor"], "turning radii")
        lines += [
            "    # Evader inside the turning circle on its side: unreachable that way, open room.",
            "    ahead, left = frame(car, heading, evader)",
            "    to_centre = jnp.sqrt(ahead * ahead + (jnp.abs(left) - obs.min_turn_radius) ** 2)",
            f"    inside = to_centre < {radius} * obs.min_turn_radius",
            "    steering = jnp.where(inside, jnp.where(left >= 0.0, -1.0, 1.0), steering)",
        ]
        m.sentences.append(
            "When the evader sits inside the turning circle on its side, it steers the other"
            " way to open room."
        )
    lines.append("    return steering")
    m.functions.append("\n".join(lines))


def _lookahead(m: Module, block: dict) -> None:
    k = block["candidates"]
    steers = tuple(round(-1.0 + 2.0 * i / (k - 2), 3) for i in range(k - 1))
    plans = m.const("PLAN_STEERINGS", steers, "fixed steerings tried besides the law")
    hold = m.const("PLAN_HOLD", block["hold"], "steps a fixed steering is held")
    if block["kind"] == "two_holds":
        long_hold = m.const("PLAN_LONG_HOLD", block["long_hold"], "... or held this long")
        held = f"held {hold} or {long_hold} steps"
        fixed_steers, fixed_holds = f"{plans} * 2", f"({hold},) * fixed + ({long_hold},) * fixed"
        held_words = f"{block['hold']} or {block['long_hold']}"
    else:
        held, fixed_steers, fixed_holds = f"held {hold} steps", plans, f"({hold},) * fixed"
        held_words = f"{block['hold']}"
    steps = m.const("PLAN_STEPS", block["horizon"], "steps simulated")
    weight = m.const("REMAIN_WEIGHT", block["remain_weight"])
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
    names = {"constant": "constant_evader", "flee": "fleeing_evader", "dodge": "dodging_evader"}
    models = [names[part] for part in block["model"].split("+")]
    if "constant_evader" in models:
        m.add('''
            def constant_evader(obs, car, heading, evader, velocity):
                """Evader model: keeps its current velocity."""
                return dynamics.clip_speed(velocity, obs.evader_speed)
        ''')
    if "fleeing_evader" in models:
        m.add('''
            def fleeing_evader(obs, car, heading, evader, velocity):
                """Evader model: runs straight away from the car at full speed."""
                away = evader - car
                return obs.evader_speed * away / (jnp.sqrt(dynamics.dot2(away, away)) + 1e-6)
        ''')
    if "dodging_evader" in models:
        trigger = m.const("DODGE_TRIGGER", block["dodge_trigger"], "m")
        m.add(f'''
            def dodging_evader(obs, car, heading, evader, velocity):
                """Evader model: flees straight away until the car is within {trigger} and
                the evader ahead of it, then sidesteps square to the car's heading on its side."""
                rel = evader - car
                dist = jnp.sqrt(dynamics.dot2(rel, rel))
                nose = dynamics.heading_vector(heading)
                left = jnp.stack([-nose[1], nose[0]])
                side = jnp.where(dynamics.dot2(rel, left) >= 0.0, 1.0, -1.0)
                close = (dist < {trigger}) & (dynamics.dot2(rel, nose) > -0.3)
                move = jnp.where(close, side * left, rel / (dist + 1e-6))
                return obs.evader_speed * move
        ''')
    if block["rollout"] == "own":
        follow = "steering_law(obs, car, heading, evader, velocity)"
        follow_words = "follows the program's own steering law"
    else:
        follow = "jnp.clip(5.0 * bearing(car, heading, evader), -1.0, 1.0)"
        follow_words = "steers at the simulated evader (pure pursuit)"
    if block["score"] == "capture":
        score = f"""
            remaining, _ = dubins.shortest_path(
                car, heading, evader, obs.pursuer_speed, obs.min_turn_radius
            )
            late = {steps} * obs.dt + {weight} * jnp.minimum(remaining, 20.0)
            return jnp.where(caught, when, late)"""
        score_doc = f"Cost: the capture time, else the horizon plus {weight} x the drive time left."
        score_words = "the earliest capture (or the least drive time left)"
    else:
        score = f"""
            rel = evader - car
            final = jnp.sqrt(dynamics.dot2(rel, rel))
            return jnp.where(caught, when - {steps} * obs.dt, closest + {weight} * final)"""
        score_doc = f"Cost: the closest approach plus {weight} x the final distance (captures win)."
        score_words = "the closest approach"
    m.add(f'''
        def plan_cost(obs, steer, hold, velocity, model):
            """Cost of a plan against the evader `model` over {steps} steps (lower is better).

            The plan holds `steer` for `hold` steps, then the follow-up law.
            {score_doc}
            """

            def step(carry, i):
                car, heading, evader, caught, when, closest = carry
                rel = evader - car
                follow = {follow}
                steering = jnp.where(i < hold, steer, follow)
                move = model(obs, car, heading, evader, velocity)
                car, heading = dynamics.pursuer_step(
                    car, heading, steering, obs.pursuer_speed, obs.min_turn_radius, obs.dt,
                    obs.arena_half_size,
                )
                evader, _ = dynamics.evader_step(
                    evader, move, obs.evader_speed, obs.dt, obs.arena_half_size
                )
                gap = closest_approach(rel, evader - car)
                hit = gap <= obs.capture_radius
                when = jnp.where(hit & ~caught, (i + 1) * obs.dt, when)
                return (car, heading, evader, caught | hit, when, jnp.minimum(closest, gap)), None

            start = (
                obs.own_pos, obs.own_heading, obs.opp_pos, jnp.zeros((), bool), jnp.zeros(()),
                jnp.full((), 1e3),
            )
            (car, heading, evader, caught, when, closest), _ = jax.lax.scan(
                step, start, jnp.arange({steps})
            )
            {score.strip()}
    ''')
    model_list = f"({models[0]},)" if len(models) == 1 else f"({', '.join(models)})"
    m.add(f'''
        def look_ahead(obs, velocity, steering):
            """The first steering of the best plan: the law's own steering (held one step) or
            one of {plans} {held}, each followed by the follow-up law."""
            fixed = len({plans})
            steers = jnp.concatenate([jnp.reshape(steering, (1,)), jnp.array({fixed_steers})])
            holds = jnp.array((1,) + {fixed_holds})
            cost = jnp.zeros(steers.shape)
            for model in {model_list}:
                cost = cost + jax.vmap(lambda s, h, m=model: plan_cost(obs, s, h, velocity, m))(
                    steers, holds
                )
            return steers[jnp.argmin(jnp.nan_to_num(cost, nan=1e9))]
    ''')
    words = {
        "constant": "an evader that keeps its velocity",
        "flee": "an evader that flees straight away",
        "dodge": "an evader that sidesteps when the car is within"
        f" {number(block['dodge_trigger'])} m",
    }
    parts = [words[part] for part in block["model"].split("+")]
    model_words = parts[0] if len(parts) == 1 else f"both {parts[0]} and {parts[1]}"
    m.sentences.append(
        f"Every step it simulates {pursuer_plan_count(block)} plans ({k - 1} fixed steerings held"
        f" {held_words} steps, or its own law) for {block['horizon']} steps with the real"
        f" car dynamics against {model_words}, and starts the plan with {score_words}."
    )
    m.details.append(f"After the first part of a plan the simulated car {follow_words}.")


def render_pursuer(genome: Genome) -> str:
    """Python source of the pursuer program described by `genome` (see `offline_genome`)."""
    blocks = genome["blocks"]
    m = Module()
    m.sentences.append(f"Generated pursuer: {_law_phrase(blocks, 'aim', 'steer')}.")
    if "switch" in blocks:
        when = _SWITCH_WORDS[blocks["switch"]["kind"]](blocks["switch"])
        m.sentences.append(
            f"{when[:1].upper()}{when[1:]} it switches: it {_law_phrase(blocks, 'aim2', 'steer2')}."
        )
    _geometry(m)
    if "wall" in blocks:
        _wall(m, blocks["wall"])
    for aim, steer, name, prefix in _LAWS:
        if aim in blocks:
            _aim(m, blocks[aim], f"{name}_aim", prefix, "wall" in blocks)
            _steer(m, blocks[steer], f"{name}_steering", f"{name}_aim", prefix)
    _law(m, blocks)
    if "lookahead" in blocks:
        _lookahead(m, blocks["lookahead"])
    _act(m, blocks)
    return assemble(m, genome)


def _act(m: Module, blocks: dict) -> None:
    init: list[str] = []
    lines = ["def act(obs, memory, key):"]
    memory_out: list[str] = []
    smoothing = blocks.get("filter")
    if smoothing is not None:
        alpha = m.const("SMOOTHING", smoothing["smoothing"], "weight of the newest velocity")
        init += ['"velocity": jnp.zeros(2)', '"seen": jnp.zeros((), bool)']
        lines += [
            "    # Exponentially smoothed evader velocity (the first observation starts it).",
            f'    smoothed = (1.0 - {alpha}) * memory["velocity"] + {alpha} * obs.opp_vel',
            '    velocity = jnp.where(memory["seen"], smoothed, obs.opp_vel)',
        ]
        memory_out += ['"velocity": velocity', '"seen": jnp.ones((), bool)']
        m.sentences.append(
            f"It tracks the evader's velocity with an exponential filter (weight"
            f" {number(smoothing['smoothing'])} on the newest observation)."
        )
    else:
        lines.append("    velocity = obs.opp_vel")
    lines.append(
        "    steering = steering_law(obs, obs.own_pos, obs.own_heading, obs.opp_pos, velocity)"
    )
    if "lookahead" in blocks:
        lines.append("    steering = look_ahead(obs, velocity, steering)")
    stall = blocks.get("breakaway")
    if stall is not None:
        patience = m.const("STALL_PATIENCE", stall["patience"], "s without closing in")
        duration = m.const("BREAK_TIME", stall["duration"], "s driving straight")
        init += [
            '"closest": jnp.full((), 1e3)',
            '"stall": jnp.zeros(())',
            '"straight": jnp.zeros(())',
        ]
        lines += [
            "    # Stall detector: no new closest approach for a while means circling; break away.",
            "    rel = obs.opp_pos - obs.own_pos",
            "    dist = jnp.sqrt(dynamics.dot2(rel, rel))",
            '    closer = dist < memory["closest"] - 0.05',
            '    stall = jnp.where(closer, 0.0, memory["stall"] + obs.dt)',
            '    closest = jnp.where(closer, dist, memory["closest"])',
            f"    stuck = stall > {patience}",
            '    left = jnp.maximum(memory["straight"] - obs.dt, 0.0)',
            f"    straight = jnp.where(stuck, {duration}, left)",
            "    closest = jnp.where(stuck, dist, closest)",
            "    stall = jnp.where(stuck, 0.0, stall)",
            "    steering = jnp.where(straight > 0.0, 0.0, steering)",
        ]
        memory_out += ['"closest": closest', '"stall": stall', '"straight": straight']
        m.sentences.append(
            f"If it has not closed in for {number(stall['patience'])} s it drives straight for"
            f" {number(stall['duration'])} s to break out of circling."
        )
    if memory_out:
        lines.append("    memory = " + dict_literal(memory_out, 4))
        names = ", ".join(k.split(":")[0].strip('"') for k in init)
        m.add(f'def init(key):\n    """Memory: {names}."""\n    return {dict_literal(init, 4)}')
    lines.append(
        "    return jnp.reshape(jnp.clip(jnp.nan_to_num(steering), -1.0, 1.0), (1,)), memory"
    )
    m.functions.append("\n".join(lines))
