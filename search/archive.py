"""A role's archive of programs: an append-only JSONL log that survives `kill -9`.

The file is a sequence of records, one JSON object per line:

- ``{"type": "archive", "role": ..., "format": 1, "created_at": ...}``: the header,
  always the first line (written atomically when the file is created);
- ``{"type": "entry", ...ArchiveEntry fields}``: a program joined the log, with the
  status the loop gave it (accepted or rejected);
- ``{"type": "status", "id", "status", "reason", "at"}``: a later status change
  (e.g. a member retired because a better neighbour replaced it);
- ``{"type": "quality", "id", "quality", "quality_ci95", "per_opponent", "at"}``: a
  re-scoring (e.g. against a grown opponent archive).

The current state is the replay of the log. Each append is written in one `write`,
flushed and `os.fsync`ed before `add`/`set_status`/`set_quality` return, so an append
that returned is on disk whatever happens next. A record counts only once its
newline is on disk: a process killed mid-append leaves a torn last line without a
newline, which reopening detects, logs as a warning and truncates away. A line that
does not parse anywhere else is corruption and raises `ArchiveCorruptError` naming
the file and the line.

Ids are the programs' ids (sha1 of the source). An id may be added again only while
its current entry is not a member (rejected or retired): the new entry supersedes the
old one (the log keeps both records) and moves to the end of the insertion order.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import math
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from arenax.search.proposal import Usage

logger = logging.getLogger(__name__)

STATUSES = ("accepted", "rejected", "retired")
FORMAT_VERSION = 1


class ArchiveError(Exception):
    """An archive operation that cannot be done (unknown id, duplicate member, wrong role)."""


class ArchiveCorruptError(ArchiveError):
    """The archive file holds a record that cannot be read (not a torn last line)."""


def utc_now() -> str:
    """The current time as an ISO-8601 UTC timestamp."""
    return dt.datetime.now(dt.UTC).isoformat()


def _float_list(values: Any, what: str) -> list[float] | None:
    if values is None:
        return None
    try:
        return [float(v) for v in values]
    except (TypeError, ValueError) as err:
        raise ValueError(f"{what} must be a sequence of numbers, got {values!r:.80}") from err


def _optional_float(value: Any, what: str) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{what} must be a number or None, got {value!r:.80}") from err


@dataclass(frozen=True)
class ArchiveEntry:
    """One program in a role's archive (accepted, rejected or retired).

    Attributes:
        id: the program's id (`Program.id`, sha1 of the source, 12 hex chars).
        parent_ids: ids of the programs it was written from (empty for seeds).
        generation: the loop iteration that produced it (0: hand-written seed).
        role: "pursuer" or "evader".
        name: short name.
        source: the program's Python source.
        description: the proposer's one- or two-sentence description.
        status: "accepted", "rejected" or "retired".
        reason: why it has that status (a `ProgramError` kind and message, "not
            novel ...", "replaced by <id>", "hand-written seed", ...).
        quality: mean score against the opponents' archive, or None if unscored.
        quality_ci95: half-width of the 95% confidence interval of `quality`.
        per_opponent: opponent id -> mean score against that opponent.
        embedding: the code embedding (d,) used for novelty, or None.
        behaviour: the behaviour descriptor (D,) from rollouts, or None.
        created_at: ISO timestamp of the entry.
        usage: {"prompt_tokens", "completion_tokens", "cost_usd"} spent writing it.
        timings: seconds per phase (check_s, compile_s, run_s, total_s, ...).

    `embedding`, `behaviour` and `per_opponent` are converted to plain floats, and
    `usage` may be given as a `Usage`, so numpy values can be passed directly.
    """

    id: str
    role: str
    name: str
    source: str = field(repr=False)
    status: str
    parent_ids: Sequence[str] = ()
    generation: int = 0
    description: str = ""
    reason: str = ""
    quality: float | None = None
    quality_ci95: float | None = None
    per_opponent: Mapping[str, float] | None = None
    embedding: Sequence[float] | None = field(default=None, repr=False)
    behaviour: Sequence[float] | None = None
    created_at: str = field(default_factory=utc_now)
    usage: Mapping[str, float] = field(default_factory=lambda: dataclasses.asdict(Usage()))
    timings: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id:
            raise ValueError(f"ArchiveEntry.id must be a non-empty string, got {self.id!r}")
        if self.status not in STATUSES:
            raise ValueError(
                f"ArchiveEntry {self.id}: status {self.status!r} is not one of "
                f"{', '.join(STATUSES)}"
            )
        if not isinstance(self.role, str) or not self.role:
            raise ValueError(f"ArchiveEntry {self.id}: role must be a non-empty string")
        usage = self.usage
        if isinstance(usage, Usage):
            usage = dataclasses.asdict(usage)
        per_opponent = self.per_opponent
        if per_opponent is not None:
            per_opponent = {str(k): float(v) for k, v in per_opponent.items()}
        normalised = {
            "parent_ids": [str(p) for p in self.parent_ids],
            "generation": int(self.generation),
            "quality": _optional_float(self.quality, f"ArchiveEntry {self.id}: quality"),
            "quality_ci95": _optional_float(
                self.quality_ci95, f"ArchiveEntry {self.id}: quality_ci95"
            ),
            "per_opponent": per_opponent,
            "embedding": _float_list(self.embedding, f"ArchiveEntry {self.id}: embedding"),
            "behaviour": _float_list(self.behaviour, f"ArchiveEntry {self.id}: behaviour"),
            "usage": dict(usage),
            "timings": {str(k): float(v) for k, v in self.timings.items()},
        }
        for name, value in normalised.items():
            object.__setattr__(self, name, value)

    def __hash__(self) -> int:
        # The list and dict fields are unhashable; equal entries share id and status.
        return hash((self.id, self.status))

    @property
    def is_member(self) -> bool:
        """Whether the entry is in the archive proper (accepted and not retired)."""
        return self.status == "accepted"

    def to_dict(self) -> dict[str, Any]:
        """The entry as a JSON-ready dict (field name -> value)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ArchiveEntry:
        """An entry from `to_dict` output; unknown or missing fields raise ValueError."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"unknown ArchiveEntry fields: {', '.join(unknown)}")
        required = {
            f.name
            for f in dataclasses.fields(cls)
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        }
        missing = sorted(required - set(data))
        if missing:
            raise ValueError(f"ArchiveEntry record misses fields: {', '.join(missing)}")
        return cls(**data)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Archive:
    """One role's archive, backed by an append-only JSONL file.

    Args:
        path: the JSONL file; created (with its header) if missing.
        role: the role every entry plays; reopening a file written for another role
            raises `ArchiveError`.

    `len(archive)` and `iter(archive)` are over the members (accepted, not retired),
    in insertion order; `entries()` gives every entry with its current status.
    """

    def __init__(self, path: Path | str, role: str):
        if not role:
            raise ValueError("Archive role must be a non-empty string")
        self.path = Path(path)
        self.role = role
        self._entries: dict[str, ArchiveEntry] = {}
        self._torn_at: int | None = None
        if self.path.exists():
            self._load()
        else:
            self._create()

    # ---- file ----------------------------------------------------------------------

    def _create(self) -> None:
        """Write the header to a temporary file, fsync it, then rename it into place."""
        directory = self.path.parent
        if not directory.is_dir():
            raise ArchiveError(f"archive folder {directory} does not exist")
        header = {
            "type": "archive",
            "role": self.role,
            "format": FORMAT_VERSION,
            "created_at": utc_now(),
        }
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(json.dumps(header) + "\n")
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _fsync_dir(directory)

    def _append(self, record: dict[str, Any]) -> None:
        if self._torn_at is not None:
            self._truncate_torn_tail()
        line = json.dumps(record, separators=(",", ":")) + "\n"
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())

    def _truncate_torn_tail(self) -> None:
        assert self._torn_at is not None
        with open(self.path, "r+b") as f:
            f.truncate(self._torn_at)
            f.flush()
            os.fsync(f.fileno())
        self._torn_at = None

    def _load(self) -> None:
        data = self.path.read_bytes()
        end = data.rfind(b"\n") + 1
        if end < len(data):
            logger.warning(
                "archive %s: dropping a torn last line (%d bytes without a newline, from an "
                "append interrupted before it returned): %r",
                self.path,
                len(data) - end,
                data[end : end + 120],
            )
            self._torn_at = end
            try:
                self._truncate_torn_tail()
            except OSError as err:
                # Read-only use (e.g. a report) still works; the next append retries.
                logger.warning("archive %s: cannot truncate the torn line yet: %s", self.path, err)
        lines = data[:end].split(b"\n")[:-1]
        if not lines:
            raise ArchiveCorruptError(
                f"{self.path}: empty archive file (no header line); delete it to start afresh"
            )
        for number, raw in enumerate(lines, start=1):
            if number > 1 and not raw.strip():
                continue
            try:
                record = json.loads(raw)
                if not isinstance(record, dict):
                    raise ValueError(f"a JSON {type(record).__name__}, not an object")
            except ValueError as err:
                raise ArchiveCorruptError(
                    f"{self.path}, line {number}: not a JSON record ({err}): {raw[:120]!r}"
                ) from err
            if number == 1:
                self._check_header(record)
                continue
            try:
                self._apply(record)
            except (ArchiveError, ValueError, KeyError, TypeError) as err:
                raise ArchiveCorruptError(
                    f"{self.path}, line {number}: cannot replay archive record ({err}): "
                    f"{raw[:120]!r}"
                ) from err

    def _check_header(self, record: dict[str, Any]) -> None:
        if record.get("type") != "archive":
            raise ArchiveCorruptError(
                f"{self.path}, line 1: not an archive header: {str(record)[:120]}"
            )
        if record.get("role") != self.role:
            raise ArchiveError(
                f"{self.path} is the {record.get('role')!r} archive, opened as {self.role!r}"
            )
        if record.get("format") != FORMAT_VERSION:
            raise ArchiveError(
                f"{self.path}: archive format {record.get('format')!r}, this arenax reads "
                f"format {FORMAT_VERSION}"
            )

    def _apply(self, record: dict[str, Any]) -> None:
        """Replay one record (already validated when it was appended)."""
        kind = record.get("type")
        if kind == "entry":
            body = {k: v for k, v in record.items() if k != "type"}
            self._insert(ArchiveEntry.from_dict(body))
        elif kind == "status":
            self._update(record["id"], status=record["status"], reason=record["reason"])
        elif kind == "quality":
            self._update(
                record["id"],
                quality=record["quality"],
                quality_ci95=record["quality_ci95"],
                per_opponent=record.get("per_opponent"),
            )
        else:
            raise ValueError(f"unknown record type {kind!r}")

    # ---- in-memory state -----------------------------------------------------------

    def _insert(self, entry: ArchiveEntry) -> None:
        if entry.role != self.role:
            raise ArchiveError(
                f"entry {entry.id} plays {entry.role!r}; this archive ({self.path}) is for "
                f"{self.role!r}"
            )
        current = self._entries.get(entry.id)
        if current is not None and current.is_member:
            raise ArchiveError(
                f"{entry.id} ({current.name}) is already a member of the {self.role} archive; "
                "an id can be added again only after it was rejected or retired"
            )
        self._entries.pop(entry.id, None)
        self._entries[entry.id] = entry

    def _update(self, entry_id: str, **changes: Any) -> ArchiveEntry:
        entry = self.get(entry_id)
        updated = dataclasses.replace(entry, **changes)
        self._entries[entry_id] = updated
        return updated

    # ---- public API ----------------------------------------------------------------

    def add(self, entry: ArchiveEntry) -> None:
        """Append `entry` (durable when this returns).

        Raises ArchiveError if the entry's role is not the archive's, or if its id is
        a current member.
        """
        before = dict(self._entries)
        self._insert(entry)
        try:
            self._append({"type": "entry", **entry.to_dict()})
        except BaseException:
            self._entries = before
            raise

    def set_status(self, entry_id: str, status: str, reason: str) -> ArchiveEntry:
        """Change an entry's status (e.g. retire a replaced member); returns the new entry."""
        if status not in STATUSES:
            raise ValueError(f"status {status!r} is not one of {', '.join(STATUSES)}")
        self.get(entry_id)
        record = {"type": "status", "id": entry_id, "status": status, "reason": str(reason)}
        self._append({**record, "at": utc_now()})
        return self._update(entry_id, status=status, reason=str(reason))

    def set_quality(
        self,
        entry_id: str,
        quality: float,
        quality_ci95: float | None = None,
        per_opponent: Mapping[str, float] | None = None,
    ) -> ArchiveEntry:
        """Record a re-scoring of an entry (e.g. against a grown opponent archive)."""
        self.get(entry_id)
        quality = float(quality)
        if math.isnan(quality):
            raise ValueError(f"set_quality({entry_id}): quality is NaN")
        ci = None if quality_ci95 is None else float(quality_ci95)
        opponents = (
            None if per_opponent is None else {str(k): float(v) for k, v in per_opponent.items()}
        )
        record = {
            "type": "quality",
            "id": entry_id,
            "quality": quality,
            "quality_ci95": ci,
            "per_opponent": opponents,
            "at": utc_now(),
        }
        self._append(record)
        return self._update(entry_id, quality=quality, quality_ci95=ci, per_opponent=opponents)

    def get(self, entry_id: str) -> ArchiveEntry:
        """The entry with this id, with its current status; KeyError naming it if unknown."""
        try:
            return self._entries[entry_id]
        except KeyError:
            message = f"no entry {entry_id!r} in the {self.role} archive {self.path}"
            raise KeyError(message) from None

    def __contains__(self, entry_id: object) -> bool:
        """Whether an entry with this id was ever added (any status)."""
        return entry_id in self._entries

    def entries(self) -> list[ArchiveEntry]:
        """Every entry (accepted, rejected, retired) with its current status, in insertion order."""
        return list(self._entries.values())

    def members(self) -> list[ArchiveEntry]:
        """The archive proper: accepted entries not retired, in insertion order."""
        return [e for e in self._entries.values() if e.is_member]

    def __len__(self) -> int:
        return sum(1 for e in self._entries.values() if e.is_member)

    def __iter__(self) -> Iterator[ArchiveEntry]:
        return iter(self.members())

    def qd_score(self) -> float:
        """Sum of the members' qualities (unscored members count 0)."""
        return float(sum(e.quality for e in self.members() if e.quality is not None))

    def to_json(self, path: Path | str, include_embeddings: bool = False) -> Path:
        """Write a human-readable snapshot of the members (indented JSON) and return its path.

        Embeddings are left out unless `include_embeddings` (they are long and unreadable).
        """
        members = []
        for entry in self.members():
            record = entry.to_dict()
            if not include_embeddings:
                record.pop("embedding")
            members.append(record)
        snapshot = {
            "role": self.role,
            "size": len(members),
            "qd_score": self.qd_score(),
            "entries_total": len(self._entries),
            "source_file": str(self.path),
            "members": members,
        }
        path = Path(path)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps(snapshot, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, path)
        return path

    def __repr__(self) -> str:
        return (
            f"Archive(role={self.role!r}, members={len(self)}, entries={len(self._entries)}, "
            f"path={str(self.path)!r})"
        )
