"""The policy protocol shared by learned, hand-written and generated policies.

A policy is two pure functions::

    init(key) -> memory                       # any pytree; () when stateless
    act(obs, memory, key) -> (action, memory)

`obs` is one agent's observation (for Car Tag a `CarTagObs`), unbatched:
rollouts `vmap` policies over episodes.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import jax

Memory = Any
ActFn = Callable[[Any, Memory, jax.Array], tuple[jax.Array, Memory]]
InitFn = Callable[[jax.Array], Memory]


def no_memory(key: jax.Array) -> tuple[()]:
    """`init` for stateless policies: the empty pytree."""
    del key
    return ()


@dataclass(frozen=True, eq=False)
class Policy:
    """A named policy for one role.

    Attributes:
        name: short identifier used in tables and on the command line.
        act: `act(obs, memory, key) -> (action, memory)`.
        init: `init(key) -> memory`.
        role: the role it plays ("pursuer", "evader", ...).
        description: one or two sentences on the idea.
        source: Python source of the program that defines it, when it has one
            (hand-written and generated policies), so it can be read or re-loaded.
    """

    name: str
    act: ActFn
    init: InitFn = no_memory
    role: str = ""
    description: str = ""
    source: str | None = field(default=None, repr=False)

    @classmethod
    def from_module(cls, module: ModuleType, role: str, name: str | None = None) -> Policy:
        """A policy from a program module that defines `act` and optionally `init`.

        The module docstring's first paragraph becomes the description and the
        module's source is kept.
        """
        act = getattr(module, "act", None)
        if not callable(act):
            raise ValueError(f"{module.__name__} defines no act(obs, memory, key)")
        init = getattr(module, "init", no_memory)
        doc = inspect.getdoc(module) or ""
        return cls(
            name=name or module.__name__.rsplit(".", 1)[-1],
            act=act,
            init=init,
            role=role,
            description=doc.split("\n\n")[0].replace("\n", " "),
            source=inspect.getsource(module),
        )
