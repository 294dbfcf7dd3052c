"""Archive insertion rules of the FMSP loops, as pure decisions.

Each rule sees one scored candidate, how novel it is, and its nearest archive
neighbour, and says whether it joins the archive and which member (if any) it
retires. Keeping the rules free of I/O makes them testable on hand-made cases.

- `vfmsp`: one policy per role. The candidate replaces the current policy if it
  scores higher against the current opponent; novelty is ignored.
- `nssp` (novelty-search self-play): the candidate joins if it is novel;
  quality is ignored.
- `qdsp` (dimensionless MAP-Elites): the candidate joins if it is novel;
  otherwise it replaces its nearest neighbour only if it scores higher.
- `random`: plain random search uses QDSP's rule on proposals drawn without
  parents, so the comparison isolates what parent-based proposals add.
"""

from __future__ import annotations

from dataclasses import dataclass

ALGORITHMS = ("vfmsp", "nssp", "qdsp", "random")


@dataclass(frozen=True)
class Decision:
    """What to do with a candidate.

    Attributes:
        accept: the candidate joins the archive.
        retire: id of the member it replaces, or None.
        reason: a sentence for the event log and the archive entry.
    """

    accept: bool
    retire: str | None
    reason: str


def decide(
    algo: str,
    quality: float,
    novel: bool,
    novelty: float,
    neighbour_id: str | None,
    neighbour_quality: float | None,
    current_id: str | None = None,
    current_quality: float | None = None,
) -> Decision:
    """Apply `algo`'s insertion rule.

    Args:
        quality: the candidate's mean score against its opponents.
        novel: whether the novelty rule found it novel.
        novelty: its novelty score (for the reason text).
        neighbour_id, neighbour_quality: its nearest archive member (None if empty).
        current_id, current_quality: vFMSP's current policy of the role.
    """
    if algo == "vfmsp":
        if current_id is None or current_quality is None:
            return Decision(True, None, "first policy of its role")
        if quality > current_quality:
            return Decision(
                True,
                current_id,
                f"beats the current policy ({quality:.3f} > {current_quality:.3f})",
            )
        return Decision(
            False,
            None,
            f"does not beat the current policy ({quality:.3f} <= {current_quality:.3f})",
        )
    if algo == "nssp":
        if novel:
            return Decision(True, None, f"novel (novelty {novelty:.3f})")
        return Decision(False, None, f"not novel (novelty {novelty:.3f}, nearest {neighbour_id})")
    if algo in ("qdsp", "random"):
        if novel or neighbour_id is None:
            return Decision(True, None, f"novel (novelty {novelty:.3f})")
        if neighbour_quality is None or quality > neighbour_quality:
            shown = "unscored" if neighbour_quality is None else f"{neighbour_quality:.3f}"
            return Decision(
                True,
                neighbour_id,
                f"not novel but beats its nearest neighbour {neighbour_id} "
                f"({quality:.3f} > {shown})",
            )
        return Decision(
            False,
            None,
            f"not novel (novelty {novelty:.3f}) and no better than its nearest neighbour "
            f"{neighbour_id} ({quality:.3f} <= {neighbour_quality:.3f})",
        )
    raise ValueError(f"unknown algorithm {algo!r}; choose one of {', '.join(ALGORITHMS)}")
