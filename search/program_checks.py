"""Static checks of policy program source, before anything runs.

`check_source(source)` parses the source and walks its syntax tree against
the rules in `program_rules.py`: size limits, an allow-list of imports, no
names or attributes with double underscores, no private or denied attributes,
only defined names and safe builtins, no `while`, `global`, `nonlocal`,
classes, generators-with-yield or async code, no attribute assignment, and an
`act(obs, memory, key)` at module level. It runs nothing, so it is safe on
untrusted source in any process.

All problems found are reported at once, sorted by line: the error raised has
the kind of the first one and lists up to `MAX_REPORTED` of them.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from arenax.search.program_errors import (
    DunderError,
    ForbiddenImportError,
    ForbiddenNameError,
    MissingActError,
    ProgramError,
    SyntaxProgramError,
    TooLargeError,
)
from arenax.search.program_rules import (
    ATTRIBUTE_HINT,
    DENIED_ATTRIBUTES,
    FORBIDDEN_NAME_HINTS,
    IMPORTABLE_MODULES,
    MAX_AST_NODES,
    MAX_NESTING,
    MAX_SOURCE_CHARS,
    MAX_SOURCE_LINES,
    SAFE_BUILTIN_NAMES,
    allowed_imports_text,
)

MAX_REPORTED = 5
IMPORT_HINT = f"programs may import only {allowed_imports_text()}"
UNDEFINED_HINTS = {
    "np": "import jax.numpy as jnp and use jnp",
    "numpy": "import jax.numpy as jnp and use jnp",
    "jnp": "add `import jax.numpy as jnp`",
    "lax": "add `from jax import lax`",
    "jax": "add `import jax`",
    "math": "add `import math`",
    "dynamics": "add `from arenax.envs.car_tag import dynamics`",
    "dubins": "add `from arenax.envs.car_tag import dubins`",
}
# Statements refused anywhere, with what to write instead.
FORBIDDEN_STATEMENTS: dict[type, str] = {
    ast.While: "`while` loops are not allowed: loop with `for i in range(n)` over a fixed n, "
    "or jax.lax.fori_loop / jax.lax.scan / jax.lax.while_loop on traced values",
    ast.Global: "`global` is not allowed: keep state in the memory pytree that act returns",
    ast.Nonlocal: "`nonlocal` is not allowed: pass values in and return them",
    ast.ClassDef: "classes are not allowed: use functions, and dicts or tuples for memory",
    ast.AsyncFunctionDef: "async code is not allowed: use plain functions",
    ast.Await: "async code is not allowed: use plain functions",
    ast.AsyncFor: "async code is not allowed: use plain loops",
    ast.AsyncWith: "async code is not allowed",
    ast.Yield: "generators are not allowed: return values (use jax.lax.scan for sequences)",
    ast.YieldFrom: "generators are not allowed: return values (use jax.lax.scan for sequences)",
}


@dataclass(frozen=True)
class Problem:
    """One rule broken at one line."""

    cls: type[ProgramError]
    line: int
    message: str


def check_source(source: str) -> ast.Module:
    """Check policy program `source` statically and return its syntax tree.

    Raises:
        ProgramError: a subclass per problem kind (syntax, too_large,
            forbidden_import, forbidden_name, dunder, missing_act); the
            message names the line(s) and what to write instead.
    """
    if not isinstance(source, str):
        raise SyntaxProgramError(f"a program is Python source text, got {type(source).__name__}")
    check_text_size(source)
    tree = parse(source)
    check_tree_size(tree)
    problems = RuleChecker().problems_in(tree)
    problems += undefined_names(tree)
    problems += act_problems(tree)
    if problems:
        raise combined_error(problems)
    check_compiles(tree)
    return tree


def check_text_size(source: str) -> None:
    """Character and line limits (checked before parsing)."""
    if len(source) > MAX_SOURCE_CHARS:
        raise TooLargeError(
            f"the program has {len(source)} characters; the limit is {MAX_SOURCE_CHARS}: "
            "shorten it (fewer, simpler plans; no long constant tables)"
        )
    lines = source.count("\n") + 1
    if lines > MAX_SOURCE_LINES:
        raise TooLargeError(
            f"the program has {lines} lines; the limit is {MAX_SOURCE_LINES}: shorten it"
        )


def parse(source: str) -> ast.Module:
    """`ast.parse`, with parser failures as `SyntaxProgramError` / `TooLargeError`."""
    try:
        return ast.parse(source, filename="<program>", type_comments=False)
    except SyntaxError as err:
        where = f" (column {err.offset})" if err.offset else ""
        text = f": `{err.text.strip()}`" if err.text and err.text.strip() else ""
        raise SyntaxProgramError(
            f"Python syntax error, {err.msg}{where}{text}; fix the syntax", line=err.lineno
        ) from None
    except (RecursionError, MemoryError):
        raise TooLargeError("the program is nested too deeply to parse; flatten it") from None
    except ValueError as err:  # e.g. null bytes
        raise SyntaxProgramError(f"the source cannot be parsed: {err}") from None


def check_compiles(tree: ast.Module) -> None:
    """Compiler-only errors (`return` outside a function, ...); compiling runs nothing."""
    try:
        compile(tree, "<program>", "exec", dont_inherit=True)
    except SyntaxError as err:
        raise SyntaxProgramError(f"{err.msg}; fix the syntax", line=err.lineno) from None
    except (RecursionError, MemoryError):
        raise TooLargeError("the program is nested too deeply to compile; flatten it") from None


def check_tree_size(tree: ast.Module) -> None:
    """AST node count and nesting depth limits."""
    count, deepest, stack = 0, (0, 1), [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        count += 1
        if depth > deepest[0]:
            deepest = (depth, getattr(node, "lineno", deepest[1]))
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    if count > MAX_AST_NODES:
        raise TooLargeError(
            f"the program has {count} syntax nodes; the limit is {MAX_AST_NODES}: shorten it"
        )
    if deepest[0] > MAX_NESTING:
        raise TooLargeError(
            f"expressions or blocks are nested {deepest[0]} deep; the limit is {MAX_NESTING}: "
            "split them into helper functions or intermediate variables",
            line=deepest[1],
        )


def combined_error(problems: list[Problem]) -> ProgramError:
    """The first problem (by line) as an error, listing the next few too."""
    problems = sorted(problems, key=lambda p: p.line)
    first = problems[0]
    message = first.message
    others = [f"line {p.line}: {p.message}" for p in problems[1:MAX_REPORTED]]
    if others:
        message += "\nAlso:\n" + "\n".join(others)
    if len(problems) > MAX_REPORTED:
        message += f"\n(and {len(problems) - MAX_REPORTED} more)"
    return first.cls(message, line=first.line)


def is_dunder(name: str | None) -> bool:
    return bool(name) and name.startswith("__")


class RuleChecker(ast.NodeVisitor):
    """Collects `Problem`s for imports, statements, identifiers and attributes."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def problems_in(self, tree: ast.AST) -> list[Problem]:
        self.visit(tree)
        return self.problems

    def add(self, cls: type[ProgramError], node: ast.AST, message: str) -> None:
        self.problems.append(Problem(cls, getattr(node, "lineno", 1), message))

    def generic_visit(self, node: ast.AST) -> None:
        hint = FORBIDDEN_STATEMENTS.get(type(node))
        if hint is not None:
            self.add(ForbiddenNameError, node, hint)
        self.check_identifiers(node)
        super().generic_visit(node)

    def check_identifiers(self, node: ast.AST) -> None:
        """Dunder identifiers in definitions, arguments, keywords and patterns."""
        names: list[str | None] = []
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.append(node.name)
        elif isinstance(node, ast.arg | ast.keyword):
            names.append(node.arg)
        elif isinstance(node, ast.ExceptHandler | ast.MatchAs | ast.MatchStar):
            names.append(node.name)
        elif isinstance(node, ast.MatchMapping):
            names.append(node.rest)
        elif isinstance(node, ast.MatchClass):
            names.extend(node.kwd_attrs)
        for name in names:
            if is_dunder(name):
                self.add(DunderError, node, dunder_message(name))

    def visit_Name(self, node: ast.Name) -> None:
        if is_dunder(node.id):
            self.add(DunderError, node, dunder_message(node.id))

    def visit_Attribute(self, node: ast.Attribute) -> None:
        name = node.attr
        if is_dunder(name):
            self.add(DunderError, node, dunder_message(name))
        elif name.startswith("_"):
            self.add(
                ForbiddenNameError,
                node,
                f"private attribute `.{name}`: use only public names of the allowed modules",
            )
        elif name in DENIED_ATTRIBUTES:
            self.add(
                ForbiddenNameError,
                node,
                f"attribute `.{name}`: " + ATTRIBUTE_HINT.format(name=name),
            )
        if isinstance(node.ctx, ast.Store | ast.Del):
            self.add(
                ForbiddenNameError,
                node,
                f"assigning or deleting attribute `.{name}` is not allowed: programs cannot "
                "modify objects or modules; use local variables and return new values",
            )
        self.generic_visit(node)

    def visit_Subscript(self, node: ast.Subscript) -> None:
        if isinstance(node.ctx, ast.Store | ast.Del):
            base = node.value
            while isinstance(base, ast.Subscript):
                base = base.value
            if isinstance(base, ast.Attribute):
                self.add(
                    ForbiddenNameError,
                    node,
                    "item assignment into an attribute (`x.y[...] = ...`) is not allowed: build a "
                    "new value (arrays: `a.at[i].set(v)`; dicts: `{**d, 'k': v}`)",
                )
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.name not in IMPORTABLE_MODULES:
                self.add(
                    ForbiddenImportError,
                    node,
                    f"`import {alias.name}` is not allowed; {IMPORT_HINT}",
                )
            if is_dunder(alias.asname):
                self.add(DunderError, node, dunder_message(alias.asname))

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        if node.level:
            self.add(ForbiddenImportError, node, f"relative imports are not allowed; {IMPORT_HINT}")
            return
        if module == "__future__":
            self.add(
                ForbiddenImportError, node, "`from __future__ import ...` is not needed: remove it"
            )
            return
        names = [a.name for a in node.names]
        if "*" in names:
            self.add(
                ForbiddenImportError,
                node,
                f"`from {module} import *` is not allowed: import the module and use its name "
                "(e.g. `import jax.numpy as jnp`)",
            )
            return
        if module not in IMPORTABLE_MODULES and not all(
            f"{module}.{n}" in IMPORTABLE_MODULES for n in names
        ):
            self.add(
                ForbiddenImportError,
                node,
                f"`from {module} import {', '.join(names)}` is not allowed; {IMPORT_HINT}",
            )
            return
        for alias in node.names:
            for name in (alias.name, alias.asname):
                if is_dunder(name):
                    self.add(DunderError, node, dunder_message(name))
                elif name and name.startswith("_") and name == alias.name:
                    self.add(ForbiddenNameError, node, f"private name `{name}` cannot be imported")
                elif name in DENIED_ATTRIBUTES and name == alias.name:
                    self.add(
                        ForbiddenNameError, node, f"`{name}`: " + ATTRIBUTE_HINT.format(name=name)
                    )


def dunder_message(name: str) -> str:
    if name == "__name__":
        return "`__name__` is not allowed: remove any `if __name__ == ...` block"
    return (
        f"`{name}`: names and attributes starting with a double underscore are not allowed; "
        "use the public API (jax.numpy, jax.lax, obs fields)"
    )


def bound_names(tree: ast.Module) -> set[str]:
    """Every name the program binds anywhere (scopes are not told apart)."""
    bound: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            bound.add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.alias):
            bound.add(node.asname or node.name.split(".")[0])
        elif isinstance(node, ast.ExceptHandler | ast.MatchAs | ast.MatchStar) and node.name:
            bound.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            bound.add(node.rest)
    return bound


def undefined_names(tree: ast.Module) -> list[Problem]:
    """Names read but never bound and not safe builtins (e.g. `open`, `np`, `os`)."""
    bound = bound_names(tree)
    problems, seen = [], set()
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)):
            continue
        name = node.id
        if name in bound or name in SAFE_BUILTIN_NAMES or is_dunder(name) or name in seen:
            continue
        seen.add(name)
        hint = FORBIDDEN_NAME_HINTS.get(name)
        if hint is not None:
            message = f"`{name}` is not available to programs: {hint}"
        else:
            message = f"name `{name}` is not defined: " + UNDEFINED_HINTS.get(
                name,
                "define it, or use one of the allowed builtins ("
                + ", ".join(n for n in SAFE_BUILTIN_NAMES if n.islower())
                + ") or an imported module",
            )
        problems.append(Problem(ForbiddenNameError, node.lineno, message))
    return problems


def act_problems(tree: ast.Module) -> list[Problem]:
    """`act` must be bound at module level; `act`/`init` defs must take 3 / 1 arguments."""
    top: dict[str, ast.AST] = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            top[node.name] = node
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name):
                    top[target.id] = node
    if "act" not in top:
        return [
            Problem(
                MissingActError,
                1,
                "no `act` at module level: define `def act(obs, memory, key):` returning "
                "`(action, memory)` (and optionally `def init(key):` returning the first memory)",
            )
        ]
    problems = []
    for name, arity, signature in (("act", 3, "act(obs, memory, key)"), ("init", 1, "init(key)")):
        node = top.get(name)
        if isinstance(node, ast.FunctionDef) and not accepts_positional(node.args, arity):
            problems.append(
                Problem(
                    MissingActError,
                    node.lineno,
                    f"`{name}` must take exactly {arity} positional argument(s): "
                    f"`def {signature}:`",
                )
            )
    return problems


def accepts_positional(args: ast.arguments, count: int) -> bool:
    """True if a def with `args` can be called with `count` positional arguments."""
    positional = len(args.posonlyargs) + len(args.args)
    required = positional - len(args.defaults)
    kw_required = sum(d is None for d in args.kw_defaults)
    fits = required <= count and (positional >= count or args.vararg is not None)
    return fits and kw_required == 0
