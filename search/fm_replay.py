"""Recorded proposals: `RecordingProposer` writes them, `ReplayProposer` plays them back.

The file is JSONL, one answer per line, in the order they were given. A
recorded line (what `RecordingProposer` writes)::

    {"request": {"role": "pursuer", "mode": "improve", "seed": 3,
                 "parents": ["ab12..."], "archive": [...], "opponents": [...]},
     "proposal": {"source": "...", "name": "...", "description": "...", "raw": "...",
                  "usage": {"prompt_tokens": 812, "completion_tokens": 240, "cost_usd": 0.0}}}

or, when the proposer failed, `"error": {"kind": "no_code", "message": "...",
"raw": "...", "usage": {...}}` in place of "proposal", which replays as the
same `ProposerError`. Hand-written test files may be shorter: a line
`{"raw": "<an FM answer>"}` is parsed as an FM answer would be, and in a
"proposal" only "source" is required (the name and description are then
derived from it). "request" is optional; when present, its role must match
the replayed request's role, so a replay that drifted out of step with its
recording stops with a clear error instead of feeding programs to the wrong
role.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from arenax.search.code_extraction import answer_name, docstring_description, parse_answer
from arenax.search.fm_errors import KINDS, ProposerError
from arenax.search.proposal import Proposal, ProposalRequest, Proposer, Usage

MAX_RECORDED_ERROR_CHARS = 2000


def request_summary(request: ProposalRequest) -> dict[str, Any]:
    """What a recording keeps of a request: role, mode, seed, the ids shown, the error."""
    summary: dict[str, Any] = {
        "role": request.role,
        "mode": request.mode,
        "seed": request.seed,
        "parents": [p.id for p in request.parents],
        "archive": [p.id for p in request.archive],
        "opponents": [p.id for p in request.opponents],
    }
    if request.error is not None:
        summary["error"] = request.error[:MAX_RECORDED_ERROR_CHARS]
    return summary


def _usage_dict(usage: Usage) -> dict[str, Any]:
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "cost_usd": usage.cost_usd,
    }


def proposal_record(request: ProposalRequest, proposal: Proposal) -> dict[str, Any]:
    """The JSONL record of a successful proposal."""
    return {
        "request": request_summary(request),
        "proposal": {
            "source": proposal.source,
            "name": proposal.name,
            "description": proposal.description,
            "raw": proposal.raw,
            "usage": _usage_dict(proposal.usage),
        },
    }


def error_record(request: ProposalRequest, error: ProposerError) -> dict[str, Any]:
    """The JSONL record of a failed proposal."""
    return {
        "request": request_summary(request),
        "error": {
            "kind": error.kind,
            "message": error.args[0],
            "raw": error.raw,
            "usage": _usage_dict(error.usage),
        },
    }


class _Malformed(ValueError):
    """A record that cannot be read (the caller adds the file and line)."""


def _string(record: dict[str, Any], key: str, default: str | None = None) -> str:
    value = record.get(key, default)
    if not isinstance(value, str):
        raise _Malformed(f'"{key}" must be a string, got {type(value).__name__}')
    return value


def _usage(record: dict[str, Any]) -> Usage:
    raw = record.get("usage", {})
    if not isinstance(raw, dict):
        raise _Malformed('"usage" must be an object')
    try:
        return Usage(
            int(raw.get("prompt_tokens", 0)),
            int(raw.get("completion_tokens", 0)),
            float(raw.get("cost_usd", 0.0)),
        )
    except (TypeError, ValueError) as error:
        raise _Malformed(f'"usage" holds a non-number: {error}') from None


def _decode(line: str) -> dict[str, Any]:
    """One JSONL record, checked for one of the accepted shapes."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        raise _Malformed(f"not JSON ({error})") from None
    if not isinstance(record, dict):
        raise _Malformed("a record must be a JSON object")
    shapes = [key for key in ("proposal", "error", "raw") if key in record]
    if len(shapes) != 1:
        raise _Malformed('a record needs exactly one of "proposal", "error" or "raw"')
    if "request" in record and not isinstance(record["request"], dict):
        raise _Malformed('"request" must be an object')
    for key in ("proposal", "error"):
        if key in record and not isinstance(record[key], dict):
            raise _Malformed(f'"{key}" must be an object')
    if "proposal" in record:
        for key in ("name", "description", "raw"):
            _string(record["proposal"], key, "")
        _string(record["proposal"], "source")
        _usage(record["proposal"])
    if "error" in record:
        kind = _string(record["error"], "kind")
        if kind not in KINDS:
            raise _Malformed(f"unknown error kind {kind!r}")
        for key in ("message", "raw"):
            _string(record["error"], key, "")
        _usage(record["error"])
    if "raw" in record:
        _string(record, "raw")
    return record


class ReplayProposer:
    """Replays the answers recorded in a JSONL file, in order (deterministic tests and reruns).

    Args:
        path: the JSONL file (format in the module docstring). Every line is
            read and checked here, so a malformed file fails at once.

    Raises (from `propose`): `ProposerError` "replay_exhausted" when every
    answer has been used, "replay_mismatch" when a recorded role differs
    from the request's, the recorded error for an error record, and
    "no_code" for a raw answer without a program.
    """

    name = "replay"

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise ProposerError("replay_malformed", f"replay file {self.path} does not exist")
        self._records: list[dict[str, Any]] = []
        for number, line in enumerate(self.path.read_text().splitlines(), start=1):
            if not line.strip():
                continue
            try:
                self._records.append(_decode(line))
            except _Malformed as error:
                raise ProposerError(
                    "replay_malformed", f"{self.path}, line {number}: {error}"
                ) from None
        self._next = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._records)

    @property
    def remaining(self) -> int:
        """Answers not yet replayed."""
        return len(self._records) - self._next

    def propose(self, request: ProposalRequest) -> Proposal:
        """The next recorded answer (or recorded failure)."""
        with self._lock:
            if self._next >= len(self._records):
                raise ProposerError(
                    "replay_exhausted",
                    f"{self.path} holds {len(self._records)} answer(s) and all were replayed",
                )
            index, record = self._next, self._records[self._next]
            self._next += 1
        recorded_role = record.get("request", {}).get("role")
        if recorded_role is not None and recorded_role != request.role:
            raise ProposerError(
                "replay_mismatch",
                f"{self.path}, answer {index + 1}: recorded for role {recorded_role!r} but "
                f"replayed for {request.role!r}; the run no longer follows the recording",
            )
        if "raw" in record:
            source, name, description = parse_answer(record["raw"], request.role)
            return Proposal(source, name, description, raw=record["raw"])
        if "error" in record:
            error = record["error"]
            raise ProposerError(
                error["kind"],
                _string(error, "message", ""),
                raw=_string(error, "raw", ""),
                usage=_usage(error),
            )
        proposal = record["proposal"]
        source = proposal["source"]
        description = _string(proposal, "description", docstring_description(source))
        raw = _string(proposal, "raw", "")
        name = _string(proposal, "name", "") or answer_name(raw, description, request.role, source)
        return Proposal(source, name, description, usage=_usage(proposal), raw=raw)


class RecordingProposer:
    """Wraps a proposer; appends each answer (or failure) to JSONL that `ReplayProposer` reads.

    Each record is written as one line and flushed to disk (fsync) before
    `propose` returns, so a killed run keeps every answer it received.

    Args:
        inner: the proposer whose answers are recorded.
        path: the JSONL file; created with its folders, appended to if it exists.
    """

    def __init__(self, inner: Proposer, path: str | os.PathLike[str]) -> None:
        self.inner = inner
        self.name = inner.name
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    @property
    def chat(self) -> Callable[..., tuple[str, Usage]]:
        """The inner proposer's `chat` (for an FM judge), not recorded: only proposals are.

        Raises AttributeError when the inner proposer has none, so
        `getattr(recorder, "chat", None)` tells whether a chat endpoint exists.
        """
        return self.inner.chat  # type: ignore[attr-defined]

    def propose(self, request: ProposalRequest) -> Proposal:
        """`inner.propose(request)`, recorded; a `ProposerError` is recorded and re-raised."""
        try:
            proposal = self.inner.propose(request)
        except ProposerError as error:
            self._append(error_record(request, error))
            raise
        self._append(proposal_record(request, proposal))
        return proposal

    def _append(self, record: dict[str, Any]) -> None:
        line = json.dumps(record) + "\n"
        with self._lock, self.path.open("a", encoding="utf-8") as file:
            file.write(line)
            file.flush()
            os.fsync(file.fileno())
