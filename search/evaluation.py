"""`Evaluation`: what the sandbox reports about one candidate program."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from arenax.search.program_errors import ProgramError, error_for_kind
from arenax.tournament import Z_95


@dataclass(frozen=True, eq=False)
class Evaluation:
    """The outcome of checking, compiling and scoring one program.

    Attributes:
        program_id: the candidate's `Program.id`.
        ok: True if it passed every check and was scored.
        error_kind: the `ProgramError.kind` when not ok (e.g. "trace", "time_limit").
        error_message: the error's message (names the line and the fix) when not ok.
        returns: (num_opponents, num_episodes) the candidate's episode returns
            against each opponent; None when not ok.
        opponent_ids: ids of the opponents, in the order of `returns`' rows.
        behaviour: (D,) behaviour descriptor of the candidate's play; None when not ok.
        timings: seconds: check_s (static checks, loading and validation),
            compile_s and run_s (scoring), total_s (wall-clock in the parent,
            including queueing behind other jobs in `evaluate_many`), plus
            finer keys when known (load_s, validate_s, opponents_s, ipc_s).
        opponent_returns: (num_opponents, num_episodes) the opponents' returns.
    """

    program_id: str
    ok: bool
    error_kind: str | None = None
    error_message: str | None = None
    returns: np.ndarray | None = None
    opponent_ids: tuple[str, ...] = ()
    behaviour: np.ndarray | None = None
    timings: dict[str, float] = field(default_factory=dict)
    opponent_returns: np.ndarray | None = None

    @classmethod
    def failure(
        cls,
        program_id: str,
        error: ProgramError,
        opponent_ids: tuple[str, ...],
        timings: dict[str, float],
    ) -> Evaluation:
        """A failed evaluation carrying `error`'s kind and message."""
        full = {"check_s": 0.0, "compile_s": 0.0, "run_s": 0.0, "total_s": 0.0, **timings}
        return cls(
            program_id=program_id,
            ok=False,
            error_kind=error.kind,
            error_message=str(error),
            opponent_ids=opponent_ids,
            timings=full,
        )

    @property
    def error(self) -> ProgramError | None:
        """The failure as a `ProgramError` (None when ok)."""
        if self.ok:
            return None
        return error_for_kind(self.error_kind or "crash", self.error_message or "")

    @property
    def quality(self) -> float:
        """Mean return over all opponents and episodes (NaN when not ok)."""
        if self.returns is None or self.returns.size == 0:
            return float("nan")
        return float(np.mean(self.returns))

    @property
    def quality_ci95(self) -> float:
        """Half-width of the 95% confidence interval of `quality` (episodes as samples)."""
        if self.returns is None or self.returns.size < 2:
            return float("nan")
        return float(Z_95 * np.std(self.returns, ddof=1) / np.sqrt(self.returns.size))

    @property
    def per_opponent(self) -> np.ndarray:
        """(num_opponents,) mean return against each opponent (empty when not ok)."""
        if self.returns is None:
            return np.zeros((0,))
        return np.mean(self.returns, axis=1)
