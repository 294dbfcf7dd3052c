"""The run's event log: one JSON object per line, flushed and fsync'ed per append.

Events record what the loop did (proposals, evaluations, decisions, iteration
ends) so a run can be audited and resumed. A torn last line (the process was
killed mid-write) is skipped when reading.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from arenax.search.archive import utc_now


class EventLog:
    """Append-only JSONL at `path`."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        _truncate_torn_tail(self.path)
        self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 (kept open)

    def write(self, kind: str, **fields: Any) -> None:
        """Append `{"event": kind, "at": <UTC ISO time>, **fields}` durably."""
        record = {"event": kind, "at": utc_now(), **fields}
        self._file.write(json.dumps(record, default=_jsonable) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()


def read_events(path: Path) -> list[dict[str, Any]]:
    """Every complete event in `path` ([] if missing); a torn final line is skipped."""
    path = Path(path)
    if not path.exists():
        return []
    events = []
    lines = path.read_text(encoding="utf-8").split("\n")
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError as err:
            if number == len(lines):  # unterminated last line: killed mid-write
                break
            raise ValueError(f"{path}:{number}: corrupt event line ({err})") from err
    return events


def _truncate_torn_tail(path: Path) -> None:
    """Cut an unterminated last line (a write killed midway) so appends start clean."""
    if not path.exists():
        return
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        with open(path, "r+b") as f:
            f.truncate(data.rfind(b"\n") + 1)
            f.flush()
            os.fsync(f.fileno())


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
