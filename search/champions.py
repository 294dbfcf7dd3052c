"""A run's champion per role: its best generated program, judged against one common
set of opponents.

A program's in-run quality is its score against the opposing archive *as it was
when the program was scored*; early programs met the hand-written seeds, later ones
a stronger, co-evolved archive. Their qualities are therefore not comparable, and
the highest one is often an early program that only beat weak opponents. The
champion is chosen instead by re-scoring the `top_k` generated programs (by in-run
quality) against the final opposing archive, the same opponents for all of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from arenax.search.archive import Archive, ArchiveEntry
from arenax.search.loops import OTHER, ROLES, as_program
from arenax.search.sandbox import Sandbox


@dataclass(frozen=True)
class Champion:
    """The chosen program of one role and how it was chosen.

    Attributes:
        entry: the champion's archive entry.
        quality: its mean score against the final opposing archive.
        quality_ci95: half-width of the 95% interval of `quality` (episodes as samples).
        opponents: the number of opponents it was re-scored against.
        rescored: (id, name, in-run quality, re-scored quality) of every contender,
            best re-scored first.
    """

    entry: ArchiveEntry
    quality: float
    quality_ci95: float
    opponents: int
    rescored: tuple[tuple[str, str, float, float], ...]


def contenders(archive: Archive, top_k: int) -> list[ArchiveEntry]:
    """The `top_k` scored generated entries (any status) by in-run quality, best first."""
    scored = [e for e in archive.entries() if e.generation > 0 and e.quality is not None]
    return sorted(scored, key=lambda e: -e.quality)[:top_k]


def pick_champions(
    archives: Mapping[str, Archive], sandbox: Sandbox, top_k: int = 4
) -> dict[str, Champion | None]:
    """Each role's champion (None when the run generated no scored program).

    Args:
        archives: "pursuer" and "evader" archives of one finished run.
        sandbox: scores the contenders (its episodes and game settings apply).
        top_k: contenders re-scored per role (>= 1).

    Raises:
        ValueError: `top_k` < 1, or a role with contenders faces an empty archive.
    """
    if top_k < 1:
        raise ValueError(f"top_k must be >= 1, got {top_k}")
    champions: dict[str, Champion | None] = {}
    for role in ROLES:
        pool = contenders(archives[role], top_k)
        if not pool:
            champions[role] = None
            continue
        opponents = [as_program(m) for m in archives[OTHER[role]].members()]
        if not opponents:
            raise ValueError(f"the {OTHER[role]} archive is empty: no opponents to score against")
        evaluations = sandbox.evaluate_many([(as_program(e), opponents) for e in pool])
        results = [
            (entry, evaluation)
            for entry, evaluation in zip(pool, evaluations, strict=True)
            if evaluation.ok
        ]
        if not results:
            champions[role] = None
            continue
        results.sort(key=lambda pair: -pair[1].quality)
        best, evaluation = results[0]
        champions[role] = Champion(
            entry=best,
            quality=evaluation.quality,
            quality_ci95=evaluation.quality_ci95,
            opponents=len(opponents),
            rescored=tuple((e.id, e.name, float(e.quality), ev.quality) for e, ev in results),
        )
    return champions
