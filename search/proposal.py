"""What a loop asks a program proposer for, and what it gets back.

Every proposer (an FM behind `search/fm.py`, the offline generator, a replay
of recorded answers) turns a `ProposalRequest` into a `Proposal`: new policy
source for one role, written against the parents and the opponents the loop
chose. The loop then checks, compiles and scores the source in the sandbox.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

Mode = Literal["improve", "novel", "repair"]


@dataclass(frozen=True)
class ProgramSummary:
    """A program shown to the proposer: its source, what it does and how it scored.

    Attributes:
        id: archive id.
        name: short name.
        role: "pursuer" or "evader".
        source: Python source in the policy protocol.
        description: one or two sentences on the idea.
        quality: mean score against the opponents' archive, or None if unscored.
    """

    id: str
    name: str
    role: str
    source: str
    description: str = ""
    quality: float | None = None


@dataclass(frozen=True)
class ProposalRequest:
    """One request for a new program.

    Attributes:
        role: the role the new program plays.
        mode: "improve" (beat the opponents, building on the parents), "novel"
            (be different from everything shown), or "repair" (fix `failed_source`).
        parents: programs to build on (may be empty).
        archive: other programs of the same role, for context (may be empty).
        opponents: programs of the other role it will be scored against.
        failed_source: the source that failed (repair mode).
        error: the error message for `failed_source`, as the sandbox gave it.
        seed: an integer the proposer may use for its own randomness.
    """

    role: str
    mode: Mode
    parents: tuple[ProgramSummary, ...] = ()
    archive: tuple[ProgramSummary, ...] = ()
    opponents: tuple[ProgramSummary, ...] = ()
    failed_source: str | None = None
    error: str | None = None
    seed: int = 0


@dataclass(frozen=True)
class Usage:
    """Token and cost counters of one proposal (zero for the offline generator)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.cost_usd + other.cost_usd,
        )


@dataclass(frozen=True)
class Proposal:
    """A proposer's answer.

    Attributes:
        source: the program's Python source (code only, no markdown fences).
        name: a short snake_case name for it.
        description: one or two sentences on the idea.
        usage: tokens and cost spent on this proposal.
        raw: the proposer's full answer (FM text), for the event log.
    """

    source: str
    name: str
    description: str
    usage: Usage = field(default_factory=Usage)
    raw: str = ""


class Proposer(Protocol):
    """Anything that writes programs: `propose(request) -> Proposal`.

    Raises `ProposerError` (search/fm.py) when no usable answer came back.
    """

    name: str

    def propose(self, request: ProposalRequest) -> Proposal: ...
