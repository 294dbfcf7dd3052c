"""Shared pieces of the offline generator's renderers: constants, module layout, genome line.

A rendered program is laid out like the hand-written strategies: a docstring
whose first paragraph describes the strategy, the imports it uses, its numbers
as named module constants, helper functions, `init` when it keeps memory,
`act`, and last a `# genome: {...}` comment holding the genome as JSON on one
line, which `parse_genome` reads back so a program can be mutated later.
"""

from __future__ import annotations

import json
import re
import textwrap
from dataclasses import dataclass, field
from typing import Any

from arenax.search.offline_genome import Genome, validate

GENOME_PREFIX = "# genome: "
_GENOME_LINE = re.compile(r"^# genome: (\{.*\})\s*$", re.MULTILINE)
_DOC_WIDTH = 96


def literal(value: Any) -> str:
    """Python literal of a constant: a number, or a tuple of numbers."""
    if isinstance(value, tuple):
        inner = ", ".join(literal(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"constants are numbers or tuples of numbers, got {value!r}")
    return repr(float(value)) if isinstance(value, float) else str(value)


def number(value: float) -> str:
    """A number for prose: up to 3 significant digits, no trailing zeros."""
    return f"{value:.3g}"


@dataclass
class Module:
    """A program under construction.

    Attributes:
        constants: (name, value, comment) module constants, in order.
        functions: function sources (each a complete `def`), in order.
        sentences: phrases of the strategy's description, joined into the summary.
        details: sentences for the docstring's second paragraph.
    """

    constants: list[tuple[str, Any, str]] = field(default_factory=list)
    functions: list[str] = field(default_factory=list)
    sentences: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)

    def const(self, name: str, value: Any, comment: str = "") -> str:
        """Declare a module constant and return its name (for use in code)."""
        if all(name != n for n, _, _ in self.constants):
            self.constants.append((name, value, comment))
        return name

    def add(self, source: str) -> None:
        """Add a function (or several) written as an indented block; dedented here."""
        self.functions.append(textwrap.dedent(source).strip("\n"))


def _imports(body: str) -> list[str]:
    lines = []
    if re.search(r"\bmath\.", body):
        lines.append("import math\n")
    if re.search(r"\bjax\.(lax|vmap|random|tree_util)\b", body):
        lines.append("import jax")
    lines.append("import jax.numpy as jnp")
    helpers = [name for name in ("dubins", "dynamics") if re.search(rf"\b{name}\.", body)]
    if helpers:
        lines.append(f"\nfrom arenax.envs.car_tag import {', '.join(helpers)}")
    return lines


def fill(text: str) -> str:
    """`text` wrapped for a docstring (never broken at hyphens)."""
    return textwrap.fill(text, _DOC_WIDTH, break_on_hyphens=False)


def dict_literal(items: list[str], indent: int) -> str:
    """A dict display of "key": value items, on one line when it fits in 100 columns."""
    line = "{" + ", ".join(items) + "}"
    if indent + len(line) <= 90:
        return line
    pad = " " * (indent + 4)
    return "{\n" + "".join(f"{pad}{item},\n" for item in items) + " " * indent + "}"


def summary_of(module: Module) -> str:
    """The description: the module's sentences joined, first letter capitalised."""
    text = " ".join(module.sentences).strip()
    return text[:1].upper() + text[1:]


def assemble(module: Module, genome: Genome) -> str:
    """The program's source: docstring, imports, constants, functions, genome line."""
    doc = fill(summary_of(module))
    details = " ".join(module.details).strip()
    origin = (
        "Written by arenax's offline program generator (no foundation model): it composed "
        "the strategy blocks listed in the genome on the last line and drew their numbers "
        "at random or by mutation."
    )
    paragraphs = [doc, *([fill(details)] if details else []), fill(origin)]
    docstring = '"""' + "\n\n".join(paragraphs) + '\n"""'
    body = "\n\n\n".join(module.functions)
    constants = "\n".join(_constant(*item) for item in module.constants)
    parts = [docstring, "\n".join(_imports(body))]
    if constants:
        parts.append(constants)
    text = "\n\n".join(parts) + "\n\n\n" + body + "\n\n\n"
    return text + GENOME_PREFIX + json.dumps(genome, sort_keys=True, separators=(",", ":")) + "\n"


def _constant(name: str, value: Any, comment: str) -> str:
    line = f"{name} = {literal(value)}"
    if not comment:
        return line
    if len(line) + len(comment) + 4 <= 100:
        return f"{line}  # {comment}"
    return f"# {comment}\n{line}"


def parse_genome(source: str) -> Genome | None:
    """The genome embedded in a generated program's source, or None when there is none
    (a hand-written or FM-written program) or it is malformed."""
    matches = _GENOME_LINE.findall(source)
    if not matches:
        return None
    try:
        return validate(json.loads(matches[-1]))  # the last genome line counts
    except (ValueError, TypeError):
        return None
