"""The hand-written evaders as genomes: the closest settings the offline generator can express.

When a hand-written program is the parent of an "improve" request, the generator
mutates these settings instead of a genome whose blocks were guessed from the
code and whose numbers were drawn at random (`infer_genome`): a mutation of the
swerve evader then starts at the swerve's 1.2 m trigger, 90 degree step and
wall field, where it is strong, instead of far from it. A program matches only
when its source is exactly a hand-written strategy's.

Settings the blocks express only approximately: the centre pulls (-p / L here,
-p / (|p| + L) in the hand-written code), and the look-ahead evader's nine
closed-loop plans, which become nine straight-run directions around the flee
urge plus standing still, with its sidestep as the reflex.
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


@cache
def _hand_written_sources(role: str) -> dict[str, str]:
    from arenax.search.program import strategy_programs

    return {program.source: program.name for program in strategy_programs(role)}


def known_genome(source: str, role: str) -> Genome | None:
    """The genome of the hand-written `role` strategy whose source is `source`, if the
    generator can express it (a fresh copy); None for any other program."""
    if role != "evader":
        return None
    name = _hand_written_sources(role).get(source)
    if name is None or name not in KNOWN_EVADERS:
        return None
    return {"role": role, "blocks": copy.deepcopy(KNOWN_EVADERS[name])}
