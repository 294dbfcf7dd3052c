"""Novelty of a candidate program against an archive: kNN distances and an FM judge.

Distances are Euclidean, in two spaces:

- embedding: unit-norm code embeddings (`embedders.py`), distance in [0, 2]
  (sqrt(2 - 2 cos)).
- behaviour: behaviour descriptors (`behaviour.py`, D fields in [0, 1]) divided by a
  per-field scale, compared by root-mean-square difference over the fields, so the
  distance is in [0, 1] for unit scales whatever D is.

Measured on the hand-written Car Tag strategies (`HashedNgramEmbedder`, descriptors
from 16 episodes against each of the other role's strategies):

    pair                                   embedding   behaviour
    a copy with one constant changed       0.00-0.04   0.00-0.03 (0.15: a gain 5 -> 8)
    a copy with renamed variables          ~0.34       0
    two different strategies, pursuers     0.75-1.08   0.03-0.16
    two different strategies, evaders      0.65-1.14   0.12-0.33

`NoveltyRule` turns the k-nearest-neighbour score into a decision; `FMJudge` asks
a chat model whether a candidate is interestingly different from its neighbours.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from string import Template

import numpy as np

from arenax.search.fm_errors import ProposerError
from arenax.search.proposal import Usage

logger = logging.getLogger(__name__)

SPACES = ("embedding", "behaviour", "both")


def _as_points(others: np.ndarray | Sequence[Sequence[float]], dim: int, what: str) -> np.ndarray:
    """`others` as an (m, dim) float64 array; an empty input gives (0, dim)."""
    points = np.asarray(others, dtype=np.float64)
    if points.size == 0:
        return np.zeros((0, dim))
    if points.ndim != 2 or points.shape[1] != dim:
        raise ValueError(
            f"{what}: expected an (m, {dim}) array of points, got shape {points.shape}"
        )
    if not np.all(np.isfinite(points)):
        raise ValueError(f"{what}: points contain NaN or inf")
    return points


def _as_vector(vector: np.ndarray | Sequence[float], what: str) -> np.ndarray:
    v = np.asarray(vector, dtype=np.float64)
    if v.ndim != 1 or v.size == 0:
        raise ValueError(f"{what}: expected a non-empty 1-D vector, got shape {v.shape}")
    if not np.all(np.isfinite(v)):
        raise ValueError(f"{what}: vector contains NaN or inf")
    return v


def distances(vector: np.ndarray | Sequence[float], others: np.ndarray) -> np.ndarray:
    """(m,) Euclidean distances from a (d,) vector to each row of an (m, d) array."""
    v = _as_vector(vector, "distances")
    points = _as_points(others, v.size, "distances")
    return np.linalg.norm(points - v, axis=1)


def knn_score(dists: np.ndarray, k: int) -> float:
    """Mean of the `k` smallest of `dists` (all of them if fewer); inf if there are none."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    dists = np.asarray(dists, dtype=np.float64)
    if dists.size == 0:
        return math.inf
    k = min(k, dists.size)
    return float(np.mean(np.partition(dists, k - 1)[:k]))


def knn_novelty(vector: np.ndarray | Sequence[float], others: np.ndarray, k: int = 3) -> float:
    """Novelty of `vector` (d,): mean Euclidean distance to its `k` nearest rows of `others`
    (m, d), over all m rows when m < k.

    An empty archive gives `math.inf`: with nothing to compare against, anything is
    novel (and `inf > threshold` holds for every threshold).
    """
    return knn_score(distances(vector, others), k)


def nearest(vector: np.ndarray | Sequence[float], others: np.ndarray) -> tuple[int, float]:
    """(index, distance) of the row of `others` (m, d) nearest to `vector` (d,).

    Raises ValueError when `others` is empty.
    """
    d = distances(vector, others)
    if d.size == 0:
        raise ValueError("nearest: the archive is empty")
    index = int(np.argmin(d))
    return index, float(d[index])


@dataclass(frozen=True)
class NoveltyRule:
    """Decides whether a candidate is novel: kNN score above `threshold`.

    Attributes:
        threshold: a candidate is novel when its score is strictly greater.
        k: neighbours averaged in the kNN score.
        space: "embedding" (code embeddings), "behaviour" (rollout descriptors), or
            "both": per archive member, the mean of the embedding distance and the
            behaviour distance, then kNN over those combined distances (so the nearest
            neighbour is one member in both spaces).
        behaviour_scale: per-field divisors applied to behaviour vectors before
            comparison (None: all ones, the fields being in [0, 1] already); use it to
            give fields with a narrow range a fair voice.

    Ranges of the score: embedding [0, 2], behaviour [0, 1] for unit scales, both
    [0, 1.5]. From the figures in the module docstring, thresholds that keep constant
    tweaks and renamed copies out while letting different strategies in, with k=1:
    about 0.4 (embedding, hashed embedder), 0.03 (behaviour), 0.2 (both). With k > 1
    the score averages over farther members too, so in a sparse archive a near-copy
    of one member can still score above the threshold.
    """

    threshold: float
    k: int = 3
    space: str = "both"
    behaviour_scale: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if self.space not in SPACES:
            raise ValueError(f"novelty space {self.space!r} is not one of {', '.join(SPACES)}")
        if self.k < 1:
            raise ValueError(f"novelty k must be >= 1, got {self.k}")
        if not math.isfinite(self.threshold) or self.threshold < 0:
            raise ValueError(f"novelty threshold must be finite and >= 0, got {self.threshold}")
        if self.behaviour_scale is not None:
            scale = tuple(float(s) for s in self.behaviour_scale)
            if not scale or min(scale) <= 0 or not all(math.isfinite(s) for s in scale):
                raise ValueError(f"behaviour_scale must be positive numbers, got {scale}")
            object.__setattr__(self, "behaviour_scale", scale)

    def behaviour_distances(self, candidate: np.ndarray, archive: np.ndarray) -> np.ndarray:
        """(m,) RMS differences over fields between scaled behaviour vectors."""
        v = _as_vector(candidate, "behaviour")
        points = _as_points(archive, v.size, "archive behaviours")
        scale = np.ones(v.size) if self.behaviour_scale is None else np.array(self.behaviour_scale)
        if scale.size != v.size:
            raise ValueError(
                f"behaviour_scale has {scale.size} fields, the behaviour vector {v.size}"
            )
        return np.linalg.norm((points - v) / scale, axis=1) / math.sqrt(v.size)

    def member_distances(
        self,
        candidate_embedding: np.ndarray | None,
        candidate_behaviour: np.ndarray | None,
        archive_embeddings: np.ndarray | None,
        archive_behaviours: np.ndarray | None,
    ) -> np.ndarray:
        """(m,) distance from the candidate to each archive member in this rule's space."""
        parts = []
        if self.space in ("embedding", "both"):
            if candidate_embedding is None or archive_embeddings is None:
                raise ValueError(f"novelty space {self.space!r} needs embeddings")
            parts.append(distances(candidate_embedding, archive_embeddings))
        if self.space in ("behaviour", "both"):
            if candidate_behaviour is None or archive_behaviours is None:
                raise ValueError(f"novelty space {self.space!r} needs behaviour descriptors")
            parts.append(self.behaviour_distances(candidate_behaviour, archive_behaviours))
        if len(parts) == 2 and parts[0].size != parts[1].size:
            raise ValueError(
                f"archive has {parts[0].size} embeddings but {parts[1].size} behaviour vectors"
            )
        return parts[0] if len(parts) == 1 else (parts[0] + parts[1]) / 2.0

    def is_novel(
        self,
        candidate_embedding: np.ndarray | None,
        candidate_behaviour: np.ndarray | None,
        archive_embeddings: np.ndarray | None,
        archive_behaviours: np.ndarray | None,
    ) -> tuple[bool, float, int | None]:
        """(novel, kNN score, index of the nearest archive member or None if empty).

        Args:
            candidate_embedding: (d,) or None when the space does not use it.
            candidate_behaviour: (D,) or None when the space does not use it.
            archive_embeddings: (m, d), or any empty array for an empty archive.
            archive_behaviours: (m, D), or any empty array for an empty archive.
        """
        dists = self.member_distances(
            candidate_embedding, candidate_behaviour, archive_embeddings, archive_behaviours
        )
        score = knn_score(dists, self.k)
        index = int(np.argmin(dists)) if dists.size else None
        return score > self.threshold, score, index


# ---- FM judge -----------------------------------------------------------------------

JUDGE_TEMPLATE = Path(__file__).resolve().parent / "prompts" / "novelty_judge.md"
_VERDICT_START = re.compile(r"^\W*(?:(?:answer|verdict|decision)\W*)?(yes|no)\b", re.IGNORECASE)
_VERDICT_ONLY = re.compile(r"^\W*(yes|no)\W*$", re.IGNORECASE)
_VERDICT_WORD = re.compile(r"\b(YES|NO)\b")


def parse_verdict(text: str) -> tuple[bool | None, str]:
    """(verdict, reason) from a judge's answer; verdict None when it cannot be read.

    Read, in this order: a first line that starts with yes/no (any case, with markdown
    or "Answer:" around it); a later line holding nothing but yes/no; exactly one of
    the upper-case words YES / NO anywhere. The reason is the first sentence of the
    rest of the answer.
    """
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return None, ""
    match = _VERDICT_START.match(lines[0])
    if match:
        rest = " ".join([lines[0][match.end() :], *lines[1:]])
        return match.group(1).lower() == "yes", _first_sentence(rest)
    for i, line in enumerate(lines):
        match = _VERDICT_ONLY.match(line)
        if match:
            rest = " ".join(lines[i + 1 :]) or " ".join(lines[:i])
            return match.group(1).lower() == "yes", _first_sentence(rest)
    words = set(_VERDICT_WORD.findall(text))
    if len(words) == 1:
        return words.pop() == "YES", _first_sentence(text)
    return None, ""


def _first_sentence(text: str, limit: int = 300) -> str:
    text = re.sub(r"\s+", " ", text).strip(" \t*_:.,;-—–")
    match = re.match(r"(.+?[.!?])(\s|$)", text)
    sentence = match.group(1) if match else text
    return sentence[:limit]


class FMJudge:
    """Asks a chat model whether a candidate is interestingly different from its neighbours.

    Args:
        chat: `chat(messages) -> (text, Usage)`, e.g. `OpenAIProposer.chat`; raises
            `ProposerError` on failure.
        max_chars: characters of each program shown (longer ones are cut, with a note).
        max_neighbours: neighbours shown at most.

    `judge(candidate, neighbours)` returns (novel, reason, usage). An answer that
    cannot be read counts as NO (logged); so does a transient chat failure (logged,
    its reason in the result), while a fatal one (auth, bad request) is re-raised.
    """

    def __init__(
        self,
        chat: Callable[[list[dict[str, str]]], tuple[str, Usage]],
        max_chars: int = 6000,
        max_neighbours: int = 3,
    ):
        self.chat = chat
        self.max_chars = int(max_chars)
        self.max_neighbours = int(max_neighbours)
        self.template = Template(JUDGE_TEMPLATE.read_text(encoding="utf-8"))

    def _show(self, text: str) -> str:
        if len(text) <= self.max_chars:
            return text
        return f"{text[: self.max_chars]}\n[... {len(text) - self.max_chars} more characters cut]"

    def messages(self, candidate: str, neighbours: Sequence[str]) -> list[dict[str, str]]:
        """The chat messages asking about `candidate` (description + source text)."""
        shown = list(neighbours)[: self.max_neighbours]
        blocks = [
            f"### Neighbour {i + 1}\n```python\n{self._show(n)}\n```" for i, n in enumerate(shown)
        ]
        prompt = self.template.substitute(
            candidate=f"```python\n{self._show(candidate)}\n```",
            neighbours="\n\n".join(blocks) if blocks else "(none)",
        )
        return [{"role": "user", "content": prompt}]

    def judge(self, candidate: str, neighbours: Sequence[str]) -> tuple[bool, str, Usage]:
        """(novel, one-sentence reason, usage) for `candidate` against `neighbours`."""
        try:
            text, usage = self.chat(self.messages(candidate, neighbours))
        except ProposerError as err:
            if err.fatal:
                raise
            logger.warning("novelty judge failed, counting the candidate as not novel: %s", err)
            return False, f"judge failed: {err}", err.usage
        verdict, reason = parse_verdict(text or "")
        if verdict is None:
            logger.warning("novelty judge gave no YES/NO, counting it as NO: %r", text[:300])
            return False, f"unparseable judge answer: {text.strip()[:200]!r}", usage
        return verdict, reason, usage

    __call__ = judge
