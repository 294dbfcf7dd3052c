"""Turn an exception raised by a program's code into a `ProgramError` an FM can act on.

The message names the program line where it happened (the innermost frame
in the program's own source) and, for the usual JAX tracing mistakes, what to
write instead.
"""

from __future__ import annotations

import traceback

import jax

from arenax.search.program_errors import (
    MemoryLimitError,
    ProgramError,
    TraceError,
)

TRACED_BRANCH_HINT = (
    "values computed from obs, memory or key are traced arrays inside jit, so Python "
    "`if`/`while`/`and`/`or`/`not`, `bool()`, `int()`, `float()` and indexing with them fail: "
    "choose between values with jnp.where(cond, a, b) (or jax.lax.select / jax.lax.cond), "
    "combine conditions with & | ~, and loop with jax.lax.fori_loop / jax.lax.scan"
)
RECURSION_HINT = (
    "the recursion never ends (or is too deep): recursion runs at trace time in Python; "
    "loop with jax.lax.fori_loop / jax.lax.scan instead"
)
MAX_DETAIL_CHARS = 400


def program_line(exc: BaseException, filename: str) -> int | None:
    """Line of the innermost traceback frame in the program's file, following causes."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        lines = [
            f.lineno for f in traceback.extract_tb(exc.__traceback__) if f.filename == filename
        ]
        if lines:
            return lines[-1]
        exc = exc.__cause__ or exc.__context__
    return None


def quote_line(source_lines: list[str], line: int | None) -> str:
    """` (`code`)` for the source line, or "" when unknown."""
    if line is None or not 1 <= line <= len(source_lines):
        return ""
    text = source_lines[line - 1].strip()
    if len(text) > 120:
        text = text[:117] + "..."
    return f" (`{text}`)" if text else ""


def first_paragraph(message: str) -> str:
    text = message.strip().split("\n\n")[0].replace("\n", " ")
    return text if len(text) <= MAX_DETAIL_CHARS else text[: MAX_DETAIL_CHARS - 3] + "..."


def is_out_of_memory(exc: BaseException) -> bool:
    """MemoryError, or XLA's RESOURCE_EXHAUSTED allocation failure."""
    if isinstance(exc, MemoryError):
        return True
    return "RuntimeError" in type(exc).__name__ and "RESOURCE_EXHAUSTED" in str(exc)


def program_error(exc: BaseException, filename: str, source: str, during: str) -> ProgramError:
    """The `ProgramError` for `exc`, raised by a program's code while `during` (e.g. "tracing act").

    Args:
        exc: the exception.
        filename: the file name the program's code was compiled under.
        source: the program's source (to quote the line).
        during: what was happening, for the message.
    """
    if isinstance(exc, ProgramError):
        return exc
    line = program_line(exc, filename)
    where = quote_line(source.splitlines(), line)
    name = type(exc).__name__
    if is_out_of_memory(exc):
        detail = first_paragraph(str(exc))
        return MemoryLimitError(
            f"ran out of memory while {during}{where}{': ' + detail if detail else ''}; "
            "use much smaller arrays and fewer samples, and no growing Python lists",
            line=line,
        )
    if isinstance(
        exc,
        jax.errors.ConcretizationTypeError
        | jax.errors.TracerArrayConversionError
        | jax.errors.TracerIntegerConversionError
        | jax.errors.NonConcreteBooleanIndexError,
    ):
        return TraceError(f"{name} while {during}{where}: {TRACED_BRANCH_HINT}", line=line)
    if isinstance(exc, RecursionError):
        return TraceError(f"RecursionError while {during}{where}: {RECURSION_HINT}", line=line)
    return TraceError(
        f"{name} while {during}{where}: {first_paragraph(str(exc)) or '(no message)'}",
        line=line,
    )
