"""Configuration of an FMSP run (vFMSP, NSSP, QDSP or random search)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from arenax.search.insertion import ALGORITHMS
from arenax.search.selection import SELECTORS

NOVELTY_SPACES = ("embedding", "behaviour", "both")


@dataclass(frozen=True)
class LoopConfig:
    """Everything that decides what an FMSP run does (saved as the run's config.json).

    Attributes:
        algo: "vfmsp", "nssp", "qdsp" or "random" (QDSP's rule on parentless proposals).
        iterations: loop iterations; each proposes `candidates_per_role` programs per role
            (vFMSP: for one role, alternating).
        candidates_per_role: proposals per role per iteration.
        num_parents: parents shown to the proposer for "improve" requests.
        max_opponents: quality is the mean score against at most this many members of the
            other role's archive (a fixed-seed sample per iteration when larger).
        num_episodes: episodes per (candidate, opponent) pair.
        repair_rounds: how often a failing program goes back to the proposer with its error.
        selection: parent selection rule ("uniform" or "score_children").
        novelty_space: compare candidates by code "embedding", rollout "behaviour" or "both".
        novelty_threshold: kNN distance above which a candidate counts as novel (the
            distances of `novelty.py`: about 0.2 for "both", 0.4 for "embedding", 0.03 for
            "behaviour" separate variants of one idea from different ideas).
        novelty_k: neighbours in the kNN novelty score (1: QDSP's nearest-neighbour rule).
        embedder: "hashed" (offline), "openai:MODEL" or "st:MODEL".
        judge: also ask the FM whether a candidate the metric calls novel is interestingly new.
        seed_strategies: seed both archives with the hand-written strategies.
        seed_names: only the hand-written strategies of these names (empty: all of them);
            each role needs at least one.
        num_workers: sandbox worker processes.
        env_overrides: Car Tag parameter overrides (e.g. {"horizon": 100}).
        seed: master seed (episode keys, selection, proposer requests).
    """

    algo: str = "qdsp"
    iterations: int = 10
    candidates_per_role: int = 4
    num_parents: int = 2
    max_opponents: int = 32
    num_episodes: int = 64
    repair_rounds: int = 1
    selection: str = "score_children"
    novelty_space: str = "both"
    novelty_threshold: float = 0.2
    novelty_k: int = 1
    embedder: str = "hashed"
    judge: bool = False
    seed_strategies: bool = True
    seed_names: tuple[str, ...] = ()
    num_workers: int = 1
    env_overrides: dict[str, Any] = field(default_factory=dict)
    seed: int = 0

    def __post_init__(self) -> None:
        problems = []
        if self.algo not in ALGORITHMS:
            problems.append(f"algo {self.algo!r} is not one of {', '.join(ALGORITHMS)}")
        if self.selection not in SELECTORS:
            problems.append(f"selection {self.selection!r} is not one of {', '.join(SELECTORS)}")
        if self.novelty_space not in NOVELTY_SPACES:
            problems.append(
                f"novelty_space {self.novelty_space!r} is not one of {', '.join(NOVELTY_SPACES)}"
            )
        for name in ("iterations", "candidates_per_role", "max_opponents", "num_episodes"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("num_parents", "repair_rounds", "novelty_k"):
            if getattr(self, name) < 0:
                problems.append(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.num_workers < 1:
            problems.append(f"num_workers must be >= 1, got {self.num_workers}")
        problems += self._seed_name_problems()
        if problems:
            raise ValueError("bad FMSP config: " + "; ".join(problems))

    def _seed_name_problems(self) -> list[str]:
        if not self.seed_names:
            return []
        from arenax.agents.car_tag import EVADERS, PURSUERS

        object.__setattr__(self, "seed_names", tuple(self.seed_names))
        problems = []
        unknown = sorted(set(self.seed_names) - set(PURSUERS) - set(EVADERS))
        if unknown:
            known = ", ".join(sorted(set(PURSUERS) | set(EVADERS)))
            problems.append(f"seed_names {unknown} are not hand-written strategies ({known})")
        for role, strategies in (("pursuer", PURSUERS), ("evader", EVADERS)):
            if not set(self.seed_names) & set(strategies):
                problems.append(f"seed_names name no {role} (choose from {', '.join(strategies)})")
        return problems

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LoopConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown FMSP config keys: {', '.join(unknown)}")
        return cls(**data)
