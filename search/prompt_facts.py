"""Facts about Car Tag for the prompts, read from the environment's own source files.

The observation fields, the action spaces, the default parameters and the
helper API (`dynamics`, `dubins`) are described in the prompts exactly as
their docstrings state them, so the prompts cannot drift from the code. The
files are parsed with `ast`, never imported: building a prompt needs no JAX.
`envs/` sits next to `search/` both in the repository and once installed
(`arenax/envs`, `arenax/search`).
"""

from __future__ import annotations

import ast
import functools
import re
from pathlib import Path

CAR_TAG_DIR = Path(__file__).resolve().parent.parent / "envs" / "car_tag"
HELPER_MODULES = ("dynamics", "dubins")


def _parse(name: str) -> ast.Module:
    path = CAR_TAG_DIR / f"{name}.py"
    if not path.is_file():
        raise FileNotFoundError(
            f"Car Tag source {path} not found; the prompts are built from it "
            "(is arenax installed with its envs package?)"
        )
    return ast.parse(path.read_text(), filename=str(path))


def _class(module: ast.Module, name: str) -> ast.ClassDef:
    for node in module.body:
        if isinstance(node, ast.ClassDef) and node.name == name:
            return node
    raise LookupError(f"class {name} not found in the Car Tag sources")


def docstring_section(doc: str, header: str) -> dict[str, str]:
    """Entries `name: text` of a Google-style docstring section ("Attributes:", "Actions:").

    Continuation lines (indented deeper than the entries) are joined to their
    entry with single spaces. Returns {} when the section is missing.
    """
    lines = doc.split("\n")
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() == f"{header}:")
    except StopIteration:
        return {}
    entries: dict[str, str] = {}
    indent: int | None = None
    current = ""
    for line in lines[start + 1 :]:
        if not line.strip():
            continue
        depth = len(line) - len(line.lstrip())
        if indent is None:
            indent = depth
        if depth < indent:
            break
        found = re.match(r"\s*([\w, ]+):\s*(.*)", line) if depth == indent else None
        if found:
            current = found.group(1)
            entries[current] = found.group(2).strip()
        elif current:
            entries[current] += " " + line.strip()
    return entries


@functools.cache
def observation_fields() -> dict[str, str]:
    """`CarTagObs` field -> "(shape) meaning", from its docstring, in declaration order."""
    doc = ast.get_docstring(_class(_parse("observation"), "CarTagObs")) or ""
    fields = docstring_section(doc, "Attributes")
    if not fields:
        raise LookupError("CarTagObs's docstring lists no Attributes")
    return fields


@functools.cache
def action_specs() -> dict[str, str]:
    """Role -> its action's shape and meaning, from the `CarTag` class docstring."""
    doc = ast.get_docstring(_class(_parse("env"), "CarTag")) or ""
    specs = docstring_section(doc, "Actions")
    if set(specs) != {"pursuer", "evader"}:
        raise LookupError(f"CarTag's docstring should describe both roles' Actions, got {specs}")
    return specs


@functools.cache
def parameter_defaults() -> dict[str, tuple[str, str]]:
    """`CarTagParams` field -> (default value as written, meaning), in declaration order."""
    params = _class(_parse("params"), "CarTagParams")
    meaning = docstring_section(ast.get_docstring(params) or "", "Attributes")
    defaults: dict[str, tuple[str, str]] = {}
    for node in params.body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value:
            name = node.target.id
            defaults[name] = (ast.unparse(node.value), meaning.get(name, ""))
    return defaults


def _function_doc(module_name: str, node: ast.FunctionDef) -> str:
    """`module.name(args) -> returns` and its docstring, indented."""
    signature = f"{module_name}.{node.name}({ast.unparse(node.args)})"
    if node.returns is not None:
        signature += f" -> {ast.unparse(node.returns)}"
    doc = ast.get_docstring(node) or ""
    body = "\n".join(f"    {line}" if line else "" for line in doc.split("\n"))
    return f"{signature}\n{body}" if doc else signature


@functools.cache
def helper_api_reference() -> str:
    """Every public function of the helper modules, with signature and full docstring."""
    parts = []
    for module_name in HELPER_MODULES:
        module = _parse(module_name)
        summary = (ast.get_docstring(module) or "").split("\n\n")[0].replace("\n", " ")
        functions = [
            _function_doc(module_name, node)
            for node in module.body
            if isinstance(node, ast.FunctionDef) and not node.name.startswith("_")
        ]
        parts.append(f"### `{module_name}`: {summary}\n\n" + "\n\n".join(functions))
    return "\n\n".join(parts)
