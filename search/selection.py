"""Parent selection: which archive members a new program builds on.

Selectors are pluggable functions `select(members, children, rng, k) -> chosen`:

- `uniform`: every member equally likely.
- `score_children`: weight ∝ sigmoid-ranked quality / (1 + number of children), the
  "score-and-children" rule of MAP-Elites-style open-ended search: good members are
  picked more, but a member that already had many children yields to the others,
  so the search does not collapse onto one lineage.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

import numpy as np


class Scored(Protocol):
    """What a selector reads of an archive member."""

    id: str
    quality: float | None


Selector = Callable[[Sequence[Scored], Mapping[str, int], np.random.Generator, int], list[Scored]]


def uniform(
    members: Sequence[Scored], children: Mapping[str, int], rng: np.random.Generator, k: int
) -> list[Scored]:
    """`k` distinct members (fewer if the archive is smaller), uniformly at random."""
    del children
    if not members:
        return []
    picks = rng.choice(len(members), size=min(k, len(members)), replace=False)
    return [members[int(i)] for i in picks]


def score_children_weights(
    qualities: Sequence[float | None], children: Sequence[int]
) -> np.ndarray:
    """(M,) selection probabilities: rank-sigmoid of quality divided by (1 + children).

    Unscored members count as the median quality. Ranks (not raw values) make the
    rule independent of the score's scale.
    """
    q = np.array([np.nan if v is None else float(v) for v in qualities], dtype=float)
    if np.all(np.isnan(q)):
        q = np.zeros_like(q)
    q = np.where(np.isnan(q), np.nanmedian(q), q)
    # Mid-ranks (ties share their average rank), scaled to 0 (worst) .. 1 (best).
    below = (q[:, None] > q[None, :]).sum(1)
    ties = (q[:, None] == q[None, :]).sum(1) - 1
    ranks = (below + 0.5 * ties) / max(len(q) - 1, 1)
    weights = 1.0 / (1.0 + np.exp(-6.0 * (ranks - 0.5)))
    weights = weights / (1.0 + np.asarray(children, dtype=float))
    return weights / weights.sum()


def score_children(
    members: Sequence[Scored], children: Mapping[str, int], rng: np.random.Generator, k: int
) -> list[Scored]:
    """`k` distinct members drawn with `score_children_weights`."""
    if not members:
        return []
    p = score_children_weights(
        [m.quality for m in members], [children.get(m.id, 0) for m in members]
    )
    picks = rng.choice(len(members), size=min(k, len(members)), replace=False, p=p)
    return [members[int(i)] for i in picks]


SELECTORS: dict[str, Selector] = {"uniform": uniform, "score_children": score_children}


def get_selector(name: str) -> Selector:
    """The selector called `name`; ValueError lists the valid names."""
    if name not in SELECTORS:
        raise ValueError(f"unknown parent selection {name!r}; choose one of {', '.join(SELECTORS)}")
    return SELECTORS[name]
