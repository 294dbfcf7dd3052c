"""The offline program generator: the embedded, network-free `Proposer`.

Honestly named: no foundation model is involved. `OfflineGenerator` writes
real, varied JAX policy programs by composing strategy building blocks —
aim points and pursuit laws (pure pursuit, lead, intercept, proportional
navigation, shortest paths), switching conditions, look-ahead over steering
plans or escape directions with the real car dynamics, wall handling, flee
and orbit urges, sidesteps, jinks, memory (velocity filters, stall
detectors, committed manoeuvres) — each with continuous parameters (the
genome, `offline_genome`). It drives every FMSP loop end to end without a
network and is the baseline an FM must beat.

Modes:
- "novel": a fresh random genome; of 16 drawn, the one whose block
  combination is farthest from those of the archive's generated programs.
- "improve": mutate the parent's genome (Gaussian parameter steps, block
  swaps, blocks added or dropped); with two generated parents, cross them
  over first. A hand-written parent the blocks can express (every pursuer;
  the swerve, wall-flee, straight-flee and look-ahead evaders) gives its own
  settings as a genome (`offline_known`); any other parent without an embedded
  genome (the jink evader, FM source) seeds one from the blocks its source shows
  (`infer_genome`); either is then mutated. No parents gives a fresh genome.
- "repair": the failed source's genome simplified (look-ahead halved after a
  time or compile error, else the costliest optional block dropped); a
  failed source without a genome gives a fresh, simple genome.

Everything is deterministic given the generator's `seed` and `request.seed`.
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
from typing import Any

import numpy as np

from arenax.search.offline_evader import render_evader
from arenax.search.offline_genome import (
    SLOTS,
    Genome,
    constrain,
    crossover,
    mutate,
    random_genome,
    sample_block,
    signature,
    signature_distance,
    simplify,
)
from arenax.search.offline_known import known_genome
from arenax.search.offline_pursuer import render_pursuer
from arenax.search.offline_render import parse_genome
from arenax.search.proposal import Proposal, ProposalRequest, Usage

NOVEL_CANDIDATES = 16  # fresh genomes drawn per novel request; the most unusual is kept
_MODES = ("improve", "novel", "repair")
_SHORT = {
    "current": "pp",
    "lead": "lead",
    "lead_distance": "leadd",
    "intercept_straight": "icpt",
    "intercept_dubins": "icptd",
    "proportional": "prop",
    "bang_bang": "bang",
    "dubins": "dub",
    "pronav": "pn",
    "away": "flee",
    "predicted": "pflee",
    "arc": "aflee",
}


def render(genome: Genome) -> str:
    """The program source of `genome` (either role)."""
    return render_pursuer(genome) if genome["role"] == "pursuer" else render_evader(genome)


def describe(source: str) -> str:
    """A generated program's description: its docstring's first paragraph, on one line."""
    return " ".join(source.split('"""')[1].split("\n\n")[0].split())


def program_name(genome: Genome) -> str:
    """A short snake_case name: role, main blocks, and 6 hex digits of the genome's hash."""
    blocks = genome["blocks"]
    if genome["role"] == "pursuer":
        parts = ["p", _SHORT[blocks["aim"]["kind"]], _SHORT[blocks["steer"]["kind"]]]
        parts += [tag for slot, tag in (("switch", "sw"), ("lookahead", "look")) if slot in blocks]
    else:
        parts = ["e", _SHORT[blocks["flee"]["kind"]]]
        parts += [
            tag
            for slot, tag in (("sidestep", "dodge"), ("jink", "jink"), ("lookahead", "look"))
            if slot in blocks
        ]
    digest = hashlib.sha1(json.dumps(genome, sort_keys=True).encode()).hexdigest()[:6]
    return "_".join(["gen", *parts, digest])


# Code features of hand-written-like programs and the block each suggests:
# (role, alternatives (each a group of words that must all appear), slot, kind).
_FEATURES: tuple[tuple[str, tuple[tuple[str, ...], ...], str, str], ...] = (
    ("pursuer", (("shortest_path",),), "steer", "dubins"),
    ("pursuer", (("los",), ("navigation",)), "steer", "pronav"),
    ("pursuer", (("fori_loop", "opp_vel"), ("intercept",)), "aim", "intercept_dubins"),
    ("pursuer", (("scan",),), "lookahead", "plans"),
    ("pursuer", (("trapped",), ("turning_circle",), ("to_centre",)), "escape", "circle"),
    ("evader", (("sidestep",), ("swerve",), ("dodge",)), "sidestep", "swerve"),
    ("evader", (("random",),), "jink", "random"),
    ("evader", (("margin",), ("wall_gap",), ("wall_push",)), "walls", "repel"),
    ("evader", (("centre",), ("center",)), "centre", "pull"),
    ("evader", (("orbit",),), "orbit", "tangent"),
    ("evader", (("scan",),), "lookahead", "directions"),
)


def code_words(source: str) -> set[str]:
    """The identifiers of the source's code in lower case, whole and split at "_" (comments
    and the module docstring left out: prose often names what a program does not do)."""
    try:
        tree = ast.parse(source)
        if ast.get_docstring(tree) is not None:
            tree.body = tree.body[1:]
        text = ast.unparse(tree)
    except (SyntaxError, ValueError):
        text = source
    names = set(re.findall(r"[a-z_][a-z0-9_]*", text.lower()))
    return names | {part for name in names for part in name.split("_") if part}


def infer_genome(source: str, role: str, rng: np.random.Generator) -> Genome:
    """A genome seeded from the blocks a foreign (hand-written or FM) program shows.

    A keyword heuristic on the code, not an analysis: e.g. a pursuer calling
    `dubins.shortest_path` gets the shortest-path steering law, one with a
    `lax.scan` a look-ahead (against a dodging evader if it mentions one), an
    evader with a `sidestep` the swerve (played in its look-ahead too). Slots the
    code says nothing about keep their plainest kind (proportional pursuit of
    the current position; a straight flee); parameters are drawn at random.
    """
    if role == "pursuer":
        blocks = {
            "aim": sample_block(role, "aim", rng, "current"),
            "steer": sample_block(role, "steer", rng, "proportional"),
        }
    else:
        blocks = {"flee": sample_block(role, "flee", rng, "away")}
    words = code_words(source)
    for feature_role, alternatives, slot, kind in _FEATURES:
        if feature_role == role and any(words.issuperset(group) for group in alternatives):
            blocks[slot] = sample_block(role, slot, rng, kind)
    plan = blocks.get("lookahead")
    if plan is not None and role == "pursuer" and words & {"dodge", "dodger", "sidestep"}:
        plan["model"] = "constant+dodge"  # it plans against an evader that sidesteps
    if plan is not None and role == "evader":
        plan["reflex"] = "sidestep" in blocks  # its plans include the sidestep
        plan["stand"] = "stand" in words
    return constrain({"role": role, "blocks": blocks}, rng)


class OfflineGenerator:
    """`Proposer` writing programs from strategy building blocks, with no network.

    Args:
        seed: the generator's own seed; with `request.seed` it fixes every draw.
    """

    name = "offline"

    def __init__(self, seed: int = 0) -> None:
        self.seed = int(seed)

    def _rng(self, request: ProposalRequest) -> np.random.Generator:
        mode = _MODES.index(request.mode)
        entropy = [self.seed % 2**63, int(request.seed) % 2**63, mode, len(request.parents)]
        return np.random.default_rng(np.random.SeedSequence(entropy))

    def propose(self, request: ProposalRequest) -> Proposal:
        """A new program for `request.role` in `request.mode` (see the module docstring)."""
        if request.role not in SLOTS:
            raise ValueError(f"unknown role {request.role!r}; choose pursuer or evader")
        if request.mode not in _MODES:
            raise ValueError(f"unknown mode {request.mode!r}; choose one of {', '.join(_MODES)}")
        for parent in request.parents:
            if parent.role != request.role:
                raise ValueError(
                    f"parent {parent.id!r} plays {parent.role!r}, the request {request.role!r}"
                )
        rng = self._rng(request)
        if request.mode == "novel":
            genome, operation = self._novel(request, rng)
        elif request.mode == "improve":
            genome, operation = self._improve(request, rng)
        else:
            genome, operation = self._repair(request, rng)
        source = render(genome)
        raw = json.dumps({"operation": operation, "genome": genome}, sort_keys=True)
        return Proposal(
            source=source,
            name=program_name(genome),
            description=describe(source),
            usage=Usage(),
            raw=raw,
        )

    def _novel(self, request: ProposalRequest, rng: np.random.Generator) -> tuple[Genome, str]:
        known = [
            signature(g)
            for g in (parse_genome(p.source) for p in (*request.archive, *request.parents))
            if g is not None and g["role"] == request.role
        ]
        candidates = [random_genome(request.role, rng) for _ in range(NOVEL_CANDIDATES)]
        if not known:
            return candidates[0], "fresh random genome"

        def remoteness(genome: Genome) -> int:
            return min(signature_distance(signature(genome), s) for s in known)

        best = max(candidates, key=remoteness)  # first of the most remote on ties
        return best, (
            f"fresh random genome, block combination {remoteness(best)} blocks away from"
            f" the nearest of {len(known)} generated archive programs"
        )

    def _improve(self, request: ProposalRequest, rng: np.random.Generator) -> tuple[Genome, str]:
        if not request.parents:
            return random_genome(request.role, rng), "fresh random genome (no parents given)"
        genomes = [parse_genome(p.source) for p in request.parents]
        own = [g for g in genomes if g is not None and g["role"] == request.role]
        if len(own) >= 2:
            child = crossover(own[0], own[1], rng)
            return mutate(child, rng, scale=0.1), "crossover of two parents, then mutation"
        if own:
            return mutate(own[0], rng), "mutation of the parent"
        parent = request.parents[0]
        known = known_genome(parent.source, request.role)
        if known is not None:
            return mutate(constrain(known, rng), rng), (
                f"genome of hand-written parent {parent.name!r} (its own settings), then mutated"
            )
        seeded = infer_genome(parent.source, request.role, rng)
        return mutate(seeded, rng), (
            f"genome seeded from the blocks of foreign parent {parent.name!r}, then mutated"
        )

    def _repair(self, request: ProposalRequest, rng: np.random.Generator) -> tuple[Genome, str]:
        if request.failed_source is None:
            raise ValueError("repair mode needs request.failed_source")
        genome = parse_genome(request.failed_source)
        if genome is None or genome["role"] != request.role:
            fresh = random_genome(request.role, rng)
            for _ in range(3):  # a fresh but simple program: drop optional blocks
                fresh, _ = simplify(fresh, request.error)
            return constrain(fresh, rng), "fresh simple genome (the failed source has none)"
        simpler, change = simplify(genome, request.error)
        if simpler == genome:
            return mutate(genome, rng), "mutation (nothing left to simplify)"
        return simpler, f"repair: {change}"


def genome_of(source: str) -> dict[str, Any] | None:
    """The genome embedded in a generated program's source (None for other programs)."""
    return parse_genome(source)


__all__ = ["OfflineGenerator", "describe", "genome_of", "infer_genome", "program_name", "render"]
