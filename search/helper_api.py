"""`HELPER_API`: prompt text on what a policy program may use.

Generated from the rules table (`program_rules.py`) and the docstrings of the
helper modules `arenax.envs.car_tag.dynamics` and `arenax.envs.car_tag.dubins`,
so the prompt always matches what the checks accept and what the helpers do.
"""

from __future__ import annotations

import inspect
import textwrap
from types import ModuleType

from arenax.envs.car_tag import dubins, dynamics
from arenax.search.program_rules import (
    MAX_SOURCE_CHARS,
    MODULE_ATTRIBUTE_ALLOW,
    SAFE_BUILTIN_NAMES,
    allowed_imports_text,
)


def function_docs(module: ModuleType, alias: str) -> str:
    """Each public function of `module` (source order): signature, then its docstring."""
    functions = [
        f
        for name, f in inspect.getmembers(module, inspect.isfunction)
        if f.__module__ == module.__name__ and not name.startswith("_")
    ]
    functions.sort(key=lambda f: f.__code__.co_firstlineno)
    blocks = []
    for f in functions:
        signature = str(inspect.signature(f)).replace("'", "")
        doc = inspect.getdoc(f) or "(no docstring; see its name and arguments)"
        blocks.append(f"{alias}.{f.__name__}{signature}\n{textwrap.indent(doc, '    ')}")
    return "\n\n".join(blocks)


def module_summary(module: ModuleType) -> str:
    return (inspect.getdoc(module) or "").split("\n\n")[0].replace("\n", " ")


def helper_api_text() -> str:
    """The full helper API text (see `HELPER_API`)."""
    builtins = ", ".join(n for n in SAFE_BUILTIN_NAMES if n.islower() and n != "print")
    functools_names = ", ".join(sorted(MODULE_ATTRIBUTE_ALLOW["functools"]))
    return f"""\
# What a policy program may use

Imports: only {allowed_imports_text()} (from functools: {functools_names}).
Usual forms: `import jax`, `import jax.numpy as jnp`, `from jax import lax`,
`from arenax.envs.car_tag import dynamics, dubins`.
Builtins: {builtins}; `print` does nothing.
Not allowed: other imports, names or attributes starting with `__` or `_`,
exec/eval/compile/open/getattr/setattr/globals/vars/type, `global`, `nonlocal`,
`while` loops (use jax.lax.fori_loop / scan / while_loop), classes, `yield`,
assigning to attributes, file access, host callbacks, jax.config/debug/experimental.
Size: at most {MAX_SOURCE_CHARS} characters.

## dynamics: {module_summary(dynamics)}

{function_docs(dynamics, "dynamics")}

## dubins: {module_summary(dubins)}

{function_docs(dubins, "dubins")}
"""


HELPER_API: str = helper_api_text()
