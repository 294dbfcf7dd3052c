"""The FMSP loops' insertion rules and parent selection on hand-made cases."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from arenax.search.insertion import decide
from arenax.search.loop_config import LoopConfig
from arenax.search.selection import get_selector, score_children_weights


def test_qdsp_adds_novel_candidates_whatever_their_quality():
    d = decide(
        "qdsp", quality=0.1, novel=True, novelty=0.5, neighbour_id="a", neighbour_quality=0.9
    )
    assert d.accept and d.retire is None


def test_qdsp_replaces_nearest_neighbour_only_when_better():
    better = decide("qdsp", 0.6, False, 0.01, "a", 0.5)
    worse = decide("qdsp", 0.4, False, 0.01, "a", 0.5)
    tie = decide("qdsp", 0.5, False, 0.01, "a", 0.5)
    assert better.accept and better.retire == "a"
    assert not worse.accept and worse.retire is None and "no better" in worse.reason
    assert not tie.accept


def test_qdsp_accepts_into_an_empty_archive():
    assert decide("qdsp", 0.0, False, 0.0, None, None).accept


def test_nssp_ignores_quality():
    assert decide("nssp", 0.0, True, 0.3, "a", 1.0).accept
    rejected = decide("nssp", 1.0, False, 0.01, "a", 0.0)
    assert not rejected.accept and rejected.retire is None


def test_vfmsp_keeps_one_policy_and_replaces_it_when_beaten():
    first = decide("vfmsp", 0.2, False, 0.0, None, None)
    assert first.accept and first.retire is None
    better = decide("vfmsp", 0.7, True, 1.0, "x", 0.1, current_id="cur", current_quality=0.6)
    assert better.accept and better.retire == "cur"
    worse = decide("vfmsp", 0.5, True, 1.0, "x", 0.1, current_id="cur", current_quality=0.6)
    assert not worse.accept


def test_random_search_uses_the_qdsp_rule():
    assert decide("random", 0.6, False, 0.0, "a", 0.5).retire == "a"


def test_unknown_algorithm_is_named():
    with pytest.raises(ValueError, match="unknown algorithm 'mapelites'"):
        decide("mapelites", 0.0, True, 0.0, None, None)


@dataclass
class Member:
    id: str
    quality: float | None


def test_score_children_prefers_good_members_with_few_children():
    w = score_children_weights([0.1, 0.9, 0.9], [0, 0, 5])
    assert w.sum() == pytest.approx(1.0)
    assert w[1] > w[0] and w[1] > w[2]
    assert score_children_weights([None, None], [0, 0]) == pytest.approx([0.5, 0.5])


def test_selectors_draw_distinct_members():
    members = [Member(str(i), i / 10) for i in range(10)]
    rng = np.random.default_rng(0)
    for name in ("uniform", "score_children"):
        chosen = get_selector(name)(members, {}, rng, 3)
        assert len({m.id for m in chosen}) == 3
        assert get_selector(name)([], {}, rng, 3) == []
    counts = np.zeros(10)
    for _ in range(400):
        for m in get_selector("score_children")(members, {}, rng, 1):
            counts[int(m.id)] += 1
    assert counts[9] > 3 * counts[0]
    with pytest.raises(ValueError, match="choose one of uniform, score_children"):
        get_selector("tournament")


def test_loop_config_rejects_bad_values_with_names():
    with pytest.raises(ValueError, match=r"algo .ga.*iterations must be >= 1"):
        LoopConfig(algo="ga", iterations=0)
    with pytest.raises(ValueError, match="unknown FMSP config keys: colour"):
        LoopConfig.from_dict({"colour": 1})
    assert LoopConfig.from_dict(LoopConfig(algo="nssp").to_dict()).algo == "nssp"
