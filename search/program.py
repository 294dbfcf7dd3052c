"""Policy programs: Python source an FM (or a person) writes, checked, loaded and validated.

A program is one module's source for one role. It defines `act(obs, memory,
key) -> (action, memory)` and optionally `init(key) -> memory`, in jax.numpy /
jax.lax so it can be jitted and vmapped, and may use the helper API
(`HELPER_API`: `arenax.envs.car_tag.dynamics` and `dubins`). Its module
docstring's first paragraph is its description.

Pipeline (each step raises a typed `ProgramError` with a message an FM can act on):

1. `check_source(source)`: static checks, nothing runs (safe anywhere).
2. `load_policy(program)`: check, then run the module body with restricted
   builtins and imports; returns a `Policy`. Untrusted programs are loaded
   only inside sandbox workers (`sandbox.py`); hand-written ones anywhere.
3. `validate_policy(policy, env, params, role, key)`: trace, compile and test
   on valid observations (shapes, memory, finiteness, bounds).
"""

from __future__ import annotations

import ast
import hashlib
from dataclasses import dataclass
from functools import cached_property

from arenax.policy import Policy, no_memory
from arenax.search.helper_api import HELPER_API
from arenax.search.program_checks import check_source
from arenax.search.program_errors import (
    ERROR_KINDS,
    MissingActError,
    ProgramError,
    SyntaxProgramError,
    TooLargeError,
    error_for_kind,
)
from arenax.search.program_errors_map import program_error
from arenax.search.program_runtime import program_namespace
from arenax.search.program_validation import Validation, validate_policy

ROLES = ("pursuer", "evader")


@dataclass(frozen=True)
class Program:
    """A policy program's source and what it is called.

    Attributes:
        name: short snake_case name.
        role: the role it plays ("pursuer" or "evader").
        source: the module source.
        description: one or two sentences on the idea; empty means the
            docstring's first paragraph (see `summary`).
    """

    name: str
    role: str
    source: str
    description: str = ""

    def __post_init__(self) -> None:
        for field in ("name", "role", "source", "description"):
            if not isinstance(getattr(self, field), str):
                raise TypeError(f"Program.{field} must be a str")
        if self.role not in ROLES:
            raise ValueError(f"unknown role {self.role!r}; choose one of {', '.join(ROLES)}")

    @cached_property
    def id(self) -> str:
        """12 hex digits of the SHA-1 of the source: equal sources share an id."""
        return hashlib.sha1(self.source.encode("utf-8", "surrogatepass")).hexdigest()[:12]

    @property
    def summary(self) -> str:
        """The description, else the module docstring's first paragraph (if it parses)."""
        return self.description or docstring_summary(self.source)


def docstring_summary(source: str) -> str:
    """First paragraph of the module docstring of `source`, on one line ("" if none)."""
    try:
        doc = ast.get_docstring(ast.parse(source)) or ""
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return ""
    return " ".join(doc.split("\n\n")[0].split())


def program_filename(program: Program) -> str:
    """The file name a program's code runs under (tracebacks point at its lines)."""
    return f"<program {program.name} {program.id}>"


def load_policy(program: Program) -> Policy:
    """Check `program` and run its module body in a restricted namespace.

    Only for trusted source, or inside a sandbox worker: the module body runs
    in this process (restricted builtins and imports, but no time or memory limit).

    Raises:
        ProgramError: a static check failed, the module body raised (trace,
            memory_limit), or `act`/`init` are not usable functions (missing_act).
    """
    tree = check_source(program.source)
    filename = program_filename(program)
    try:
        code = compile(tree, filename, "exec", dont_inherit=True)
    except SyntaxError as err:
        raise SyntaxProgramError(f"{err.msg}; fix the syntax", line=err.lineno) from None
    except (RecursionError, MemoryError):
        raise TooLargeError("the program is nested too deeply to compile; flatten it") from None
    namespace = program_namespace(f"arenax_program_{program.id}")
    try:
        exec(code, namespace)
    except Exception as exc:
        raise program_error(exc, filename, program.source, "running the module body") from None
    act = namespace.get("act")
    init = namespace.get("init", no_memory)
    if not callable(act):
        raise MissingActError("`act` must be a function: `def act(obs, memory, key):`")
    if not callable(init):
        raise MissingActError("`init` must be a function: `def init(key):`")
    return Policy(
        name=program.name,
        act=act,
        init=init,
        role=program.role,
        description=program.summary,
        source=program.source,
    )


def strategy_programs(role: str) -> list[Program]:
    """The hand-written strategies of `role` as programs, from their own source (sorted by name)."""
    from arenax.agents.car_tag import EVADERS, PURSUERS

    table = {"pursuer": PURSUERS, "evader": EVADERS}.get(role)
    if table is None:
        raise ValueError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    return [
        Program(name=name, role=role, source=policy.source or "", description=policy.description)
        for name, policy in sorted(table.items())
    ]


__all__ = [
    "ERROR_KINDS",
    "HELPER_API",
    "Program",
    "ProgramError",
    "Validation",
    "check_source",
    "docstring_summary",
    "error_for_kind",
    "load_policy",
    "program_filename",
    "strategy_programs",
    "validate_policy",
]
