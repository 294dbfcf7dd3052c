"""Typed failures of a policy program, one class per `kind`.

Every way a program can fail (static checks, loading, tracing, testing,
sandbox limits) is a `ProgramError` subclass with a class attribute `kind`.
`str(err)` names the line (when there is one) and what to do instead, so the
message can go straight back to the FM that wrote the program for repair.
"""

from __future__ import annotations

from typing import ClassVar


class ProgramError(Exception):
    """A policy program failed a check, a limit or a run.

    Attributes:
        kind: short failure name (class attribute), e.g. "forbidden_import".
        message: what went wrong and what to do instead.
        line: 1-based source line it refers to, when known.
    """

    kind: ClassVar[str] = "error"

    def __init__(self, message: str, line: int | None = None) -> None:
        text = message if line is None else f"line {line}: {message}"
        super().__init__(text)
        self.message = text
        self.line = line


class SyntaxProgramError(ProgramError):
    """The source does not parse."""

    kind = "syntax"


class ForbiddenImportError(ProgramError):
    """An import outside the allow-list."""

    kind = "forbidden_import"


class ForbiddenNameError(ProgramError):
    """A forbidden or undefined name, a forbidden attribute, or a forbidden statement."""

    kind = "forbidden_name"


class DunderError(ProgramError):
    """A name or attribute starting with a double underscore."""

    kind = "dunder"


class TooLargeError(ProgramError):
    """Too many characters, lines or AST nodes, or nesting too deep."""

    kind = "too_large"


class MissingActError(ProgramError):
    """No usable `act(obs, memory, key)` (or a malformed `init(key)`)."""

    kind = "missing_act"


class TraceError(ProgramError):
    """Running or tracing the program's Python raised (e.g. `if` on a traced value)."""

    kind = "trace"


class ShapeError(ProgramError):
    """Wrong action shape or dtype, wrong return value, or memory that changes structure."""

    kind = "shape"


class NonFiniteError(ProgramError):
    """NaN or infinite actions on valid observations."""

    kind = "non_finite"


class BoundsError(ProgramError):
    """Actions outside the action space by more than the tolerance."""

    kind = "bounds"


class CompileTimeoutError(ProgramError):
    """Tracing and compiling the program took longer than the compile time limit."""

    kind = "compile_timeout"


class TimeLimitError(ProgramError):
    """The job ran past its wall-clock limit."""

    kind = "time_limit"


class MemoryLimitError(ProgramError):
    """The program needed more memory than the limit."""

    kind = "memory_limit"


class CrashError(ProgramError):
    """The worker process died (segfault, abort, exit) or failed internally."""

    kind = "crash"


ERROR_CLASSES: dict[str, type[ProgramError]] = {
    cls.kind: cls
    for cls in (
        SyntaxProgramError,
        ForbiddenImportError,
        ForbiddenNameError,
        DunderError,
        TooLargeError,
        MissingActError,
        TraceError,
        ShapeError,
        NonFiniteError,
        BoundsError,
        CompileTimeoutError,
        TimeLimitError,
        MemoryLimitError,
        CrashError,
    )
}
ERROR_KINDS: tuple[str, ...] = tuple(ERROR_CLASSES)


def error_for_kind(kind: str, message: str) -> ProgramError:
    """A `ProgramError` of `kind` carrying an already formatted `message`."""
    return ERROR_CLASSES.get(kind, CrashError)(message)
