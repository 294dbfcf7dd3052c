"""The append-only program archive: round trip, events, kill -9 safety, corruption."""

import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from arenax.search.archive import Archive, ArchiveCorruptError, ArchiveEntry, ArchiveError
from arenax.search.proposal import Usage


def make_entry(entry_id, status="accepted", quality=0.5, role="pursuer", **extra):
    return ArchiveEntry(
        id=entry_id,
        role=role,
        name=f"prog_{entry_id}",
        source=f"def act(obs, memory, key):\n    return obs, memory  # {entry_id}\n",
        status=status,
        quality=quality,
        **extra,
    )


def test_round_trip_keeps_every_field(tmp_path):
    path = tmp_path / "pursuer.jsonl"
    archive = Archive(path, "pursuer")
    entry = ArchiveEntry(
        id="abc123",
        parent_ids=("p1", "p2"),
        generation=3,
        role="pursuer",
        name="lead_pursuit",
        source="def act(obs, memory, key):\n    return obs, memory\n",
        description="Leads the target.",
        status="accepted",
        reason="novel (novelty 0.4)",
        quality=np.float32(0.75),
        quality_ci95=0.03,
        per_opponent={"e1": np.float64(0.5), "e2": 1.0},
        embedding=np.array([0.6, 0.8], dtype=np.float32),
        behaviour=[0.1, 0.2, 0.3],
        usage=Usage(prompt_tokens=10, completion_tokens=20, cost_usd=0.5),
        timings={"check_s": 0.01, "compile_s": 1.5},
    )
    archive.add(entry)
    archive.add(make_entry("rej", status="rejected", quality=None, reason="trace: bad"))

    reopened = Archive(path, "pursuer")
    got = reopened.get("abc123")
    assert got == entry
    assert got.parent_ids == ["p1", "p2"]
    assert got.embedding == pytest.approx([0.6, 0.8])
    assert got.usage == {"prompt_tokens": 10, "completion_tokens": 20, "cost_usd": 0.5}
    assert [e.id for e in reopened.entries()] == ["abc123", "rej"]
    assert [e.id for e in reopened.members()] == ["abc123"]
    assert [e.id for e in reopened] == ["abc123"]
    assert len(reopened) == 1
    assert reopened.get("rej").reason == "trace: bad"
    assert "rej" in reopened and "nope" not in reopened


def test_status_and_quality_events_replay(tmp_path):
    path = tmp_path / "evader.jsonl"
    archive = Archive(path, "evader")
    for name, q in [("a", 0.2), ("b", 0.4), ("c", 0.9)]:
        archive.add(make_entry(name, quality=q, role="evader"))
    assert archive.qd_score() == pytest.approx(1.5)

    retired = archive.set_status("a", "retired", "replaced by c")
    assert retired.status == "retired" and retired.reason == "replaced by c"
    archive.set_quality("b", 0.1, quality_ci95=0.02, per_opponent={"p": 0.1})
    assert archive.qd_score() == pytest.approx(1.0)

    reopened = Archive(path, "evader")
    assert [e.id for e in reopened.members()] == ["b", "c"]
    assert [e.id for e in reopened.entries()] == ["a", "b", "c"]
    assert reopened.get("a").status == "retired"
    assert reopened.get("b").quality == pytest.approx(0.1)
    assert reopened.get("b").quality_ci95 == pytest.approx(0.02)
    assert reopened.get("b").per_opponent == {"p": pytest.approx(0.1)}
    assert reopened.qd_score() == pytest.approx(1.0)

    with pytest.raises(KeyError, match="nope"):
        reopened.set_status("nope", "retired", "x")
    with pytest.raises(ValueError, match="status"):
        reopened.set_status("b", "deleted", "x")


def test_an_id_is_re_added_only_when_not_a_member(tmp_path):
    archive = Archive(tmp_path / "p.jsonl", "pursuer")
    archive.add(make_entry("x"))
    with pytest.raises(ArchiveError, match="already a member"):
        archive.add(make_entry("x", status="rejected"))
    assert archive.get("x").status == "accepted"
    archive.add(make_entry("y"))
    archive.set_status("x", "retired", "replaced by y")
    archive.add(make_entry("x", quality=0.8))
    assert [e.id for e in archive.members()] == ["y", "x"]
    assert [e.id for e in Archive(tmp_path / "p.jsonl", "pursuer").members()] == ["y", "x"]


def test_role_mismatch_is_an_error(tmp_path):
    path = tmp_path / "a.jsonl"
    archive = Archive(path, "pursuer")
    with pytest.raises(ArchiveError, match="plays 'evader'"):
        archive.add(make_entry("e", role="evader"))
    with pytest.raises(ArchiveError, match="'pursuer' archive, opened as 'evader'"):
        Archive(path, "evader")


def test_torn_last_line_is_dropped_with_a_warning_and_appends_continue(tmp_path, caplog):
    path = tmp_path / "p.jsonl"
    archive = Archive(path, "pursuer")
    archive.add(make_entry("a"))
    archive.add(make_entry("b"))
    full = path.read_bytes()
    # Simulate a kill in the middle of writing the third record.
    archive.add(make_entry("c"))
    third = path.read_bytes()[len(full) :]
    path.write_bytes(full + third[: len(third) // 2])

    with caplog.at_level(logging.WARNING, logger="arenax.search.archive"):
        reopened = Archive(path, "pursuer")
    assert "torn last line" in caplog.text
    assert [e.id for e in reopened.entries()] == ["a", "b"]
    assert path.read_bytes() == full
    reopened.add(make_entry("c"))
    assert [e.id for e in Archive(path, "pursuer").entries()] == ["a", "b", "c"]


def test_corrupt_middle_line_names_file_and_line(tmp_path):
    path = tmp_path / "p.jsonl"
    archive = Archive(path, "pursuer")
    for name in "abc":
        archive.add(make_entry(name))
    lines = path.read_text().splitlines(keepends=True)
    lines[2] = lines[2][:40] + "\n"
    path.write_text("".join(lines))
    with pytest.raises(ArchiveCorruptError, match=r"p\.jsonl, line 3"):
        Archive(path, "pursuer")


def test_event_for_unknown_id_is_corruption(tmp_path):
    path = tmp_path / "p.jsonl"
    Archive(path, "pursuer").add(make_entry("a"))
    with open(path, "a") as f:
        f.write(json.dumps({"type": "status", "id": "zz", "status": "retired", "reason": ""}))
        f.write("\n")
    with pytest.raises(ArchiveCorruptError, match=r"line 3.*zz"):
        Archive(path, "pursuer")


def test_snapshot_json_lists_members(tmp_path):
    archive = Archive(tmp_path / "p.jsonl", "pursuer")
    archive.add(make_entry("a", quality=0.3, embedding=[1.0, 0.0]))
    archive.add(make_entry("b", status="rejected"))
    snapshot = json.loads(archive.to_json(tmp_path / "snap.json").read_text())
    assert snapshot["role"] == "pursuer"
    assert snapshot["size"] == 1 and snapshot["entries_total"] == 2
    assert snapshot["qd_score"] == pytest.approx(0.3)
    assert [m["id"] for m in snapshot["members"]] == ["a"]
    assert "embedding" not in snapshot["members"][0]


def test_bad_entries_are_rejected_with_clear_errors():
    with pytest.raises(ValueError, match="status 'maybe'"):
        make_entry("a", status="maybe")
    with pytest.raises(ValueError, match="embedding"):
        make_entry("a", embedding=["x"])
    with pytest.raises(ValueError, match="unknown ArchiveEntry fields: colour"):
        ArchiveEntry.from_dict({**make_entry("a").to_dict(), "colour": 1})


CHILD = textwrap.dedent(
    """
    import sys
    from arenax.search.archive import Archive, ArchiveEntry

    path, run = sys.argv[1], sys.argv[2]
    archive = Archive(path, "evader")
    i = 0
    while True:
        entry_id = f"{run}-{i}"
        archive.add(ArchiveEntry(
            id=entry_id, role="evader", name="n", source="x" * 2000, status="accepted",
            quality=0.5, embedding=[0.1 * k for k in range(512)],
        ))
        print("add", entry_id, flush=True)
        if i % 4 == 3:
            archive.set_status(entry_id, "retired", "replaced")
            print("retire", entry_id, flush=True)
        i += 1
    """
)


def test_kill_minus_9_loses_no_returned_append(tmp_path):
    """A child appends in a loop and prints each id once add() returned; SIGKILL it at
    random moments; every printed append must survive, and appending goes on."""
    path = tmp_path / "evader.jsonl"
    rng = np.random.default_rng(0)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    for run in range(5):
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(path), f"r{run}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        wanted = int(rng.integers(3, 40))
        printed = []
        while len(printed) < wanted:
            line = child.stdout.readline()
            assert line, f"child exited early: {child.stderr.read()}"
            printed.append(line.split())
        time.sleep(float(rng.uniform(0.0, 0.01)))
        child.send_signal(signal.SIGKILL)
        rest, _ = child.communicate(timeout=10)
        assert child.returncode == -signal.SIGKILL
        # A line the kill cut short is dropped: that entry counts as the one in flight.
        printed += [line.split() for line in rest.split("\n")[:-1]]

        archive = Archive(path, "evader")
        added = [entry_id for op, entry_id in printed if op == "add"]
        stored = [e.id for e in archive.entries() if e.id.startswith(f"r{run}-")]
        # Everything whose add returned is there, plus at most the one in flight.
        assert stored[: len(added)] == added
        assert len(stored) - len(added) <= 1
        for op, entry_id in printed:
            if op == "retire":
                assert archive.get(entry_id).status == "retired"
        archive.add(
            ArchiveEntry(id=f"parent-{run}", role="evader", name="p", source="s", status="accepted")
        )
    final = Archive(path, "evader")
    assert all(f"parent-{run}" in final for run in range(5))
    assert len({e.id for e in final.entries()}) == len(final.entries())
