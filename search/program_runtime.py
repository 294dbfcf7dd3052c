"""The restricted namespace a checked program runs in.

A program's module body runs with `__builtins__` cut down to
`SAFE_BUILTIN_NAMES` (`print` does nothing) and an import function that only
admits `IMPORTABLE_MODULES`. Modules reach the program as read-only views that
hide private and denied attributes and every module outside
`VISIBLE_MODULE_PREFIXES` (so `dynamics.jax.experimental` or `jax.config` are
out of reach even though the static checks already refuse those names).

This is defence in depth behind the static checks, not a security boundary on
its own: untrusted programs also run in sandbox worker processes with time and
memory limits and no network (`sandbox.py`).
"""

from __future__ import annotations

import builtins
import importlib
from types import ModuleType
from typing import Any

from arenax.search.program_rules import (
    DENIED_ATTRIBUTES,
    IMPORTABLE_MODULES,
    MODULE_ATTRIBUTE_ALLOW,
    SAFE_BUILTIN_NAMES,
    allowed_imports_text,
    module_is_visible,
)


class ModuleView:
    """A read-only view of a module exposing only what programs may use.

    Args:
        module: the real module.
        only: if given, the only attribute names visible (for packages on the
            way to an allowed module, e.g. `arenax.envs` shows just `car_tag`).
    """

    __slots__ = ("_module", "_only")

    def __init__(self, module: ModuleType, only: frozenset[str] | None = None) -> None:
        object.__setattr__(self, "_module", module)
        object.__setattr__(self, "_only", only)

    def __getattr__(self, name: str) -> Any:
        module = object.__getattribute__(self, "_module")
        only = object.__getattribute__(self, "_only")
        allow = MODULE_ATTRIBUTE_ALLOW.get(module.__name__)
        hidden = (
            name.startswith("_")
            or name in DENIED_ATTRIBUTES
            or (only is not None and name not in only)
            or (allow is not None and name not in allow)
        )
        if hidden or not hasattr(module, name):
            raise AttributeError(
                f"module {module.__name__!r} has no attribute {name!r} available to programs"
            )
        value = getattr(module, name)
        if isinstance(value, ModuleType):
            return module_view(value)
        return value

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("modules are read-only in programs")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("modules are read-only in programs")

    def __repr__(self) -> str:
        return f"<module {object.__getattribute__(self, '_module').__name__!r} (program view)>"


_VIEWS: dict[str, ModuleView] = {}


def module_view(module: ModuleType) -> ModuleView:
    """The (cached) view of `module`; AttributeError if programs may not reach it."""
    name = module.__name__
    view = _VIEWS.get(name)
    if view is not None:
        return view
    if module_is_visible(name):
        view = ModuleView(module)
    else:
        children = frozenset(
            m[len(name) + 1 :].split(".")[0] for m in IMPORTABLE_MODULES if m.startswith(name + ".")
        )
        if not children:
            raise AttributeError(f"module {name!r} is not available to programs")
        view = ModuleView(module, only=children)
    _VIEWS[name] = view
    return view


def restricted_import(
    name: str,
    globals: Any = None,
    locals: Any = None,
    fromlist: tuple[str, ...] | None = (),
    level: int = 0,
) -> ModuleView:
    """`__import__` for programs: only `IMPORTABLE_MODULES`, returned as module views."""
    del globals, locals
    fromlist = tuple(fromlist or ())
    if level != 0:
        raise ImportError("relative imports are not allowed in programs")
    if name in IMPORTABLE_MODULES:
        module = importlib.import_module(name)
        if fromlist:
            return module_view(module)
        return module_view(importlib.import_module(name.split(".")[0]))
    if fromlist and all(f"{name}.{item}" in IMPORTABLE_MODULES for item in fromlist):
        for item in fromlist:
            importlib.import_module(f"{name}.{item}")
        return module_view(importlib.import_module(name))
    raise ImportError(
        f"import of {name!r} is not allowed; programs may import only {allowed_imports_text()}"
    )


def _silent_print(*args: Any, **kwargs: Any) -> None:
    """Programs' `print`: does nothing (workers have no reader for it)."""


def safe_builtins() -> dict[str, Any]:
    """A fresh `__builtins__` dict for one program (CPython wants a real dict here)."""
    table: dict[str, Any] = {name: getattr(builtins, name) for name in SAFE_BUILTIN_NAMES}
    table["print"] = _silent_print
    table["__import__"] = restricted_import
    return table


def program_namespace(module_name: str) -> dict[str, Any]:
    """A fresh module namespace with the restricted builtins."""
    return {"__builtins__": safe_builtins(), "__name__": module_name, "__doc__": None}
