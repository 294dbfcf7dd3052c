"""The hand-written strategies as genomes: the closest settings the offline generator can express.

When a hand-written program is the parent of an "improve" request, the generator
mutates these settings instead of a genome whose blocks were guessed from the
code and whose numbers were drawn at random (`infer_genome`): a mutation of the
swerve evader then starts at the swerve's 1.2 m trigger, 90 degree step and
wall field, where it is strong, instead of far from it. A program matches only
when its source is exactly a hand-written strategy's.

Settings the blocks express only approximately: the centre pulls (-p / L here,
-p / (|p| + L) in the hand-written code), and the look-ahead evader's nine
closed-loop plans, which become nine straight-run directions around the flee
urge plus standing still, with its sidestep as the reflex. Of the pursuers, only
the look-ahead pursuer's genome differs from its program: it caps the drive time
left at the horizon's end at 20 s instead of 100 s. (The hand-written intercept's
loop of 3 fixed-point steps starts at t = 0 and aims at the 2nd iterate, as 2
generated steps do.) The look-ahead pursuer's seven plans (shortest path, or
full left, straight or full right held 3 or 8 steps and then the shortest path,
against a constant-velocity and a dodging evader) are the "two_holds" block's.
"""

from __future__ import annotations

import copy
from functools import cache

from arenax.search.offline_genome import Genome

_WALLS = {"kind": "repel", "margin": 2.0, "strength": 0.5}  # the hand-written wall field
_FLEE = {"kind": "away", "weight": 1.0}

KNOWN_EVADERS: dict[str, dict[str, dict]] = {
    "straight_flee": {"flee": _FLEE},
    "wall_flee": {"flee": _FLEE, "walls": _WALLS, "centre": {"kind": "pull", "weight": 0.2}},
    "swerve": {
        "flee": _FLEE,
        "walls": _WALLS,
        "centre": {"kind": "pull", "weight": 0.2},
        "sidestep": {"kind": "swerve", "trigger": 1.2, "angle": 90.0, "close_angle": 65.0},
    },
    "lookahead": {
        "flee": _FLEE,
        "lookahead": {
            "kind": "directions",
            "candidates": 9,
            "horizon": 20,
            "spread": 3.14,
            "model": "both",
            "reflex": True,
            "stand": True,
            "score": "driving_time",
            "blend": 1.0,
            "wall_penalty": 2.0,
        },
        "sidestep": {
            "kind": "committed",
            "trigger": 1.5,
            "angle": 90.0,
            "close_angle": 65.0,
            "commit": 0.5,
        },
    },
}


_CURRENT = {"kind": "current"}
_SHORTEST = {"aim": _CURRENT, "steer": {"kind": "dubins"}}

KNOWN_PURSUERS: dict[str, dict[str, dict]] = {
    "pure_pursuit": {"aim": _CURRENT, "steer": {"kind": "proportional", "gain": 5.0}},
    "shortest_path": _SHORTEST,
    "intercept": {
        "aim": {"kind": "intercept_dubins", "iterations": 2, "cap": 2.0},
        "steer": {"kind": "dubins"},
    },
    "proportional_navigation": {
        "aim": _CURRENT,
        "steer": {"kind": "pronav", "nav_gain": 4.0, "bias": 1.0, "behind": 1.57},
        "escape": {"kind": "circle", "radius_factor": 0.9},
    },
    "lookahead": {
        **_SHORTEST,
        "lookahead": {
            "kind": "two_holds",
            "candidates": 4,
            "horizon": 15,
            "hold": 3,
            "long_hold": 8,
            "model": "constant+dodge",
            "dodge_trigger": 1.5,
            "score": "capture",
            "rollout": "own",
            "remain_weight": 1.0,
        },
    },
}
KNOWN = {"pursuer": KNOWN_PURSUERS, "evader": KNOWN_EVADERS}


@cache
def _hand_written_sources(role: str) -> dict[str, str]:
    from arenax.search.program import strategy_programs

    return {program.source: program.name for program in strategy_programs(role)}


def known_genome(source: str, role: str) -> Genome | None:
    """The genome of the hand-written `role` strategy whose source is `source`, if the
    generator can express it (a fresh copy); None for any other program."""
    known = KNOWN.get(role, {})
    name = _hand_written_sources(role).get(source)
    if name is None or name not in known:
        return None
    return {"role": role, "blocks": copy.deepcopy(known[name])}
