"""Genomes of the offline program generator: which strategy blocks a program uses, with numbers.

A genome is a JSON-ready dict::

    {"role": "pursuer", "blocks": {"aim": {"kind": "lead", "lead_time": 0.84}, ...}}

Each *slot* (aim point, steering law, switching condition, look-ahead, wall
handling, ...) holds at most one block: a `kind` and that kind's continuous or
discrete parameters, drawn from the ranges in `SLOTS`. Required slots are always
present, optional ones with a per-slot probability. This module samples,
mutates, crosses over, simplifies, validates and compares genomes; the
renderers (`offline_pursuer`, `offline_evader`) turn them into source.

Every number is rounded to 3 significant digits when drawn, so a genome
survives the round trip through JSON and the rendered constants exactly.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

Genome = dict[str, Any]
ROLES = ("pursuer", "evader")


def round3(x: float) -> float:
    """`x` to 3 significant digits (the precision of every genome number)."""
    return float(f"{x:.3g}")


@dataclass(frozen=True)
class Real:
    """A continuous parameter in [low, high]."""

    low: float
    high: float

    def sample(self, rng: np.random.Generator) -> float:
        return round3(rng.uniform(self.low, self.high))

    def mutate(self, value: Any, rng: np.random.Generator, scale: float) -> float:
        """Gaussian step of `scale` times the range, clipped into it."""
        step = rng.normal(0.0, scale * (self.high - self.low))
        return round3(float(np.clip(float(value) + step, self.low, self.high)))

    def valid(self, value: Any) -> bool:
        return isinstance(value, int | float) and self.low <= value <= self.high


@dataclass(frozen=True)
class Integer:
    """An integer parameter in [low, high]."""

    low: int
    high: int

    def sample(self, rng: np.random.Generator) -> int:
        return int(rng.integers(self.low, self.high + 1))

    def mutate(self, value: Any, rng: np.random.Generator, scale: float) -> int:
        step = rng.normal(0.0, max(scale * (self.high - self.low), 0.6))
        return int(np.clip(round(int(value) + step), self.low, self.high))

    def valid(self, value: Any) -> bool:
        return (
            isinstance(value, int)
            and not isinstance(value, bool)
            and self.low <= value <= self.high
        )


@dataclass(frozen=True)
class Choice:
    """A parameter taking one of a few values."""

    options: tuple[Any, ...]

    def sample(self, rng: np.random.Generator) -> Any:
        return self.options[int(rng.integers(len(self.options)))]

    def mutate(self, value: Any, rng: np.random.Generator, scale: float) -> Any:
        return self.sample(rng) if rng.random() < min(1.0, 2.0 * scale) else value

    def valid(self, value: Any) -> bool:
        return value in self.options


ParamSpec = Real | Integer | Choice


@dataclass(frozen=True)
class Slot:
    """One place in a genome: its block kinds (name -> parameter specs) and how often it appears."""

    kinds: Mapping[str, Mapping[str, ParamSpec]]
    probability: float = 1.0  # 1.0: a required slot

    @property
    def required(self) -> bool:
        return self.probability >= 1.0


_AIMS: dict[str, dict[str, ParamSpec]] = {
    "current": {},
    "lead": {"lead_time": Real(0.2, 2.0)},
    "lead_distance": {"factor": Real(0.3, 1.5), "cap": Real(0.5, 3.0)},
    "intercept_straight": {"cap": Real(0.5, 4.0)},
    "intercept_dubins": {"iterations": Integer(2, 4), "cap": Real(0.5, 3.0)},
}
_STEERS: dict[str, dict[str, ParamSpec]] = {
    "proportional": {"gain": Real(1.5, 10.0)},
    "bang_bang": {"dead_band": Real(0.02, 0.3)},
    "dubins": {},
    "pronav": {"nav_gain": Real(2.0, 6.0), "bias": Real(0.2, 2.0), "behind": Real(1.2, 2.8)},
}

# Evader models a pursuer's look-ahead plans against ("+": the costs of both are added).
PURSUER_MODELS = ("constant", "flee", "dodge", "constant+dodge", "flee+dodge", "constant+flee")

_PLANS: dict[str, ParamSpec] = {
    "candidates": Choice((3, 4, 5, 7, 9)),  # the law's own steering + (candidates - 1) fixed
    "horizon": Integer(6, 20),
    "hold": Integer(2, 8),
    "model": Choice(PURSUER_MODELS),
    "dodge_trigger": Real(0.8, 2.0),
    "score": Choice(("capture", "distance")),
    "rollout": Choice(("own", "pursuit")),
    "remain_weight": Real(0.3, 2.0),
}

PURSUER_SLOTS: dict[str, Slot] = {
    "aim": Slot(_AIMS),
    "steer": Slot(_STEERS),
    # A switching condition and the second law it switches to (aim2 + steer2).
    "switch": Slot(
        {
            "distance": {"threshold": Real(0.8, 4.0)},
            "time_left": {"threshold": Real(3.0, 20.0)},
            "angle_off": {"threshold": Real(0.5, 2.5)},
        },
        0.4,
    ),
    "aim2": Slot(_AIMS, 0.0),
    "steer2": Slot(_STEERS, 0.0),
    "wall": Slot({"pull_in": {"margin": Real(0.5, 2.5), "strength": Real(0.2, 1.0)}}, 0.3),
    "escape": Slot({"circle": {"radius_factor": Real(0.6, 1.0)}}, 0.3),
    # "two_holds": every fixed steering is tried held `hold` and held `long_hold` steps.
    "lookahead": Slot({"plans": _PLANS, "two_holds": {**_PLANS, "long_hold": Integer(5, 12)}}, 0.4),
    "filter": Slot({"velocity": {"smoothing": Real(0.1, 0.9)}}, 0.25),
    "breakaway": Slot({"stall": {"patience": Real(1.0, 4.0), "duration": Real(0.3, 1.5)}}, 0.2),
}

EVADER_SLOTS: dict[str, Slot] = {
    "flee": Slot(
        {
            "away": {"weight": Real(0.5, 1.5)},
            "predicted": {"weight": Real(0.5, 1.5), "lead_time": Real(0.2, 1.5)},
            "arc": {"weight": Real(0.5, 1.5), "lead_time": Real(0.2, 1.5)},
        }
    ),
    # Weight of an inverse-square push (see `offline_evader._walls`): 0.5 is the hand-written
    # evaders' field. Likely, since an evader that flees into a wall is caught there.
    "walls": Slot({"repel": {"margin": Real(0.8, 3.0), "strength": Real(0.1, 1.5)}}, 0.8),
    "centre": Slot({"pull": {"weight": Real(0.1, 0.8)}}, 0.4),
    "orbit": Slot({"tangent": {"range": Real(1.0, 4.0), "weight": Real(0.3, 1.5)}}, 0.3),
    "regroup": Slot({"far": {"distance": Real(3.0, 7.0)}}, 0.2),
    "jink": Slot(
        {
            "random": {
                "amplitude": Real(0.3, 1.5),
                "min_period": Real(0.2, 1.0),
                "period_range": Real(0.2, 1.5),
            },
            "periodic": {"amplitude": Real(0.2, 1.2), "period": Real(0.5, 4.0)},
        },
        0.3,
    ),
    "sidestep": Slot(
        {
            "swerve": {
                "trigger": Real(0.6, 2.0),
                "angle": Real(60.0, 120.0),
                "close_angle": Real(40.0, 90.0),
            },
            "committed": {
                "trigger": Real(0.6, 2.0),
                "angle": Real(60.0, 120.0),
                "close_angle": Real(40.0, 90.0),
                "commit": Real(0.2, 1.2),
            },
        },
        0.5,
    ),
    "lookahead": Slot(
        {
            "directions": {
                "candidates": Choice((3, 5, 7, 9)),
                "horizon": Integer(8, 20),
                "spread": Real(0.8, 3.14),
                "model": Choice(("pure_pursuit", "shortest_path", "both")),
                "reflex": Choice((False, True)),
                "stand": Choice((False, True)),
                "score": Choice(("driving_time", "distance")),
                "blend": Real(0.3, 1.0),
                "wall_penalty": Real(0.0, 3.0),
            }
        },
        0.35,
    ),
}

SLOTS: dict[str, dict[str, Slot]] = {"pursuer": PURSUER_SLOTS, "evader": EVADER_SLOTS}
_SECOND_LAW = ("aim2", "steer2")  # present exactly when the pursuer has a switch
_DUBINS_CALLS = {"intercept_dubins": 1.0, "dubins": 1.0}  # cost units per law evaluation
LOOKAHEAD_BUDGET = 400.0  # most (plans x horizon x models x law cost) a look-ahead may take


def _check_role(role: str) -> None:
    if role not in SLOTS:
        raise ValueError(f"unknown role {role!r}; choose pursuer or evader")


def sample_block(role: str, slot: str, rng: np.random.Generator, kind: str | None = None) -> dict:
    """A fresh block for `slot`: a random kind (or `kind`) with random parameters."""
    spec = SLOTS[role][slot]
    kinds = sorted(spec.kinds)
    kind = kinds[int(rng.integers(len(kinds)))] if kind is None else kind
    return {"kind": kind, **{n: p.sample(rng) for n, p in spec.kinds[kind].items()}}


def random_genome(role: str, rng: np.random.Generator) -> Genome:
    """A fresh genome: every required slot, each optional slot with its probability."""
    _check_role(role)
    blocks = {}
    for slot, spec in SLOTS[role].items():
        if spec.required or rng.random() < spec.probability:
            blocks[slot] = sample_block(role, slot, rng)
    return constrain({"role": role, "blocks": blocks}, rng)


def law_cost(blocks: Mapping[str, dict]) -> float:
    """Cost of one evaluation of the pursuer's steering law, in shortest-path calls (>= 0.3)."""
    cost = 0.3
    for aim, steer in (("aim", "steer"), ("aim2", "steer2")):
        if aim in blocks:
            iterations = blocks[aim].get("iterations", 0)
            cost += iterations * _DUBINS_CALLS.get(blocks[aim]["kind"], 0.0)
            cost += _DUBINS_CALLS.get(blocks[steer]["kind"], 0.0)
    return cost


def pursuer_plan_count(plan: Mapping[str, Any]) -> int:
    """How many plans a pursuer's look-ahead block simulates: the law's own steering and
    each fixed steering, the latter twice for the "two_holds" kind."""
    fixed = plan["candidates"] - 1
    return 1 + fixed * (2 if plan["kind"] == "two_holds" else 1)


def constrain(genome: Genome, rng: np.random.Generator) -> Genome:
    """Make a genome consistent: a pursuer's second law exists iff it has a switch, and
    a look-ahead stays within `LOOKAHEAD_BUDGET` (it rolls out the cheap pursuit law
    instead of its own, then shortens the horizon)."""
    blocks = genome["blocks"]
    if genome["role"] == "pursuer":
        for slot in _SECOND_LAW:
            if "switch" in blocks and slot not in blocks:
                blocks[slot] = sample_block("pursuer", slot, rng)
            elif "switch" not in blocks:
                blocks.pop(slot, None)
        plan = blocks.get("lookahead")
        if plan is not None:
            runs = pursuer_plan_count(plan) * len(plan["model"].split("+"))
            cost = law_cost(blocks) if plan["rollout"] == "own" else 0.3
            if runs * plan["horizon"] * cost > LOOKAHEAD_BUDGET:
                plan["rollout"], cost = "pursuit", 0.3
            while runs * plan["horizon"] * cost > LOOKAHEAD_BUDGET:
                plan["horizon"] -= 1
    return genome


def signature(genome: Genome) -> tuple[str, ...]:
    """The block combination: sorted "slot:kind" strings (parameters ignored)."""
    return tuple(sorted(f"{slot}:{block['kind']}" for slot, block in genome["blocks"].items()))


def signature_distance(a: tuple[str, ...], b: tuple[str, ...]) -> int:
    """How many slot:kind entries the two combinations do not share."""
    return len(set(a) ^ set(b))


def mutate(genome: Genome, rng: np.random.Generator, scale: float = 0.15) -> Genome:
    """A mutated copy: Gaussian steps on about a third of the parameters, and with
    probability 0.4 one structural change (a block's kind swapped, an optional block
    added or removed). Always differs from `genome`."""
    role = genome["role"]
    slots = SLOTS[role]
    for _ in range(20):
        child = copy.deepcopy(genome)
        blocks = child["blocks"]
        for slot, block in blocks.items():
            for name, value in block.items():
                if name != "kind" and rng.random() < 0.35:
                    block[name] = slots[slot].kinds[block["kind"]][name].mutate(value, rng, scale)
        if rng.random() < 0.4:
            structural_change(child, rng)
        child = constrain(child, rng)
        if child != genome:
            return child
    child = copy.deepcopy(genome)
    structural_change(child, rng)
    return constrain(child, rng)


def structural_change(genome: Genome, rng: np.random.Generator) -> None:
    """In place: swap one block's kind, or add or remove one optional block."""
    role, blocks = genome["role"], genome["blocks"]
    slots = [s for s in SLOTS[role] if s not in _SECOND_LAW or s in blocks]
    slot = slots[int(rng.integers(len(slots)))]
    spec = SLOTS[role][slot]
    if slot in blocks and not spec.required and (len(spec.kinds) == 1 or rng.random() < 0.5):
        del blocks[slot]
    elif slot in blocks:
        others = sorted(k for k in spec.kinds if k != blocks[slot]["kind"])
        if others:
            blocks[slot] = sample_block(role, slot, rng, others[int(rng.integers(len(others)))])
        else:  # a required slot with one kind: redraw its parameters
            blocks[slot] = sample_block(role, slot, rng)
    else:
        blocks[slot] = sample_block(role, slot, rng)


def crossover(a: Genome, b: Genome, rng: np.random.Generator) -> Genome:
    """A child taking each slot (present or absent) from `a` or `b` with equal odds;
    the pursuer's switch and second law travel together."""
    if a["role"] != b["role"]:
        raise ValueError(f"crossover of a {a['role']} with a {b['role']} genome")
    blocks: dict[str, dict] = {}
    for slot in SLOTS[a["role"]]:
        if slot in _SECOND_LAW:
            continue
        parent = a if rng.random() < 0.5 else b
        group = (slot, *_SECOND_LAW) if slot == "switch" else (slot,)
        for s in group:
            if s in parent["blocks"]:
                blocks[s] = copy.deepcopy(parent["blocks"][s])
    return constrain({"role": a["role"], "blocks": blocks}, rng)


# Slots dropped first when a program must be simplified (most costly or fragile first).
_SIMPLIFY_ORDER = {
    "pursuer": ("lookahead", "breakaway", "filter", "switch", "escape", "wall"),
    "evader": ("lookahead", "jink", "sidestep", "orbit", "regroup", "centre", "walls"),
}


def simplify(genome: Genome, error: str | None) -> tuple[Genome, str]:
    """A simpler copy of `genome` and what was changed.

    For time, compile or memory errors the look-ahead is halved (candidates and
    horizon) or dropped when already small; otherwise the first optional block of
    `_SIMPLIFY_ORDER` is dropped. With nothing left to drop, the required blocks
    fall back to the plainest kinds (pursuit of the current position / straight flee).
    """
    child = copy.deepcopy(genome)
    role, blocks = child["role"], child["blocks"]
    slow = error is not None and any(
        word in error.lower() for word in ("time", "compile", "memory", "slow")
    )
    plan = blocks.get("lookahead")
    if slow and plan is not None and plan["horizon"] > 8 and plan["candidates"] > 3:
        horizon = SLOTS[role]["lookahead"].kinds[plan["kind"]]["horizon"]
        plan["horizon"] = max(plan["horizon"] // 2, horizon.low)
        plan["candidates"] = max(3, (plan["candidates"] // 2) | 1)  # odd: 9 -> 5, 7 -> 3
        return child, "halved the look-ahead (candidates and horizon)"
    for slot in _SIMPLIFY_ORDER[role]:
        if slot in blocks:
            del blocks[slot]
            for second in _SECOND_LAW if slot == "switch" else ():
                blocks.pop(second, None)
            return child, f"dropped the {slot} block"
    if role == "pursuer":
        blocks["aim"], blocks["steer"] = {"kind": "current"}, {"kind": "dubins"}
        return child, "reset the law to shortest-path pursuit of the current position"
    blocks["flee"] = {"kind": "away", "weight": 1.0}
    return child, "reset to a straight flee"


def validate(genome: Any) -> Genome:
    """`genome` if it is a well-formed genome of a known role, else ValueError saying why."""
    if not isinstance(genome, dict) or set(genome) != {"role", "blocks"}:
        raise ValueError("a genome is a dict with exactly the keys 'role' and 'blocks'")
    role, blocks = genome["role"], genome["blocks"]
    _check_role(role)
    if not isinstance(blocks, dict):
        raise ValueError("genome 'blocks' must be a dict slot -> block")
    slots = SLOTS[role]
    for slot, block in blocks.items():
        if slot not in slots:
            raise ValueError(f"unknown {role} slot {slot!r}; known: {', '.join(slots)}")
        if not isinstance(block, dict) or block.get("kind") not in slots[slot].kinds:
            raise ValueError(f"slot {slot!r} needs a kind from {sorted(slots[slot].kinds)}")
        params = slots[slot].kinds[block["kind"]]
        if set(block) - {"kind"} != set(params):
            raise ValueError(f"{slot}:{block['kind']} takes parameters {sorted(params)}")
        for name, spec in params.items():
            if not spec.valid(block[name]):
                raise ValueError(
                    f"{slot}:{block['kind']} parameter {name}={block[name]!r} out of range"
                )
    missing = [s for s, spec in slots.items() if spec.required and s not in blocks]
    if missing:
        raise ValueError(f"{role} genome misses required slots {missing}")
    if role == "pursuer" and any(("switch" in blocks) != (s in blocks) for s in _SECOND_LAW):
        raise ValueError("a pursuer genome has aim2/steer2 exactly when it has a switch")
    return genome
