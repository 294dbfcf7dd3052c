"""Hand-written Car Tag strategies, one program file each.

Each strategy file is a self-contained program in the policy protocol
(`act(obs, memory, key)`, optionally `init(key)`), written in `jax.numpy` in
the same style as generated programs so its source can seed FMSP archives.
"""

from __future__ import annotations

import importlib
import pkgutil

from arenax.agents.car_tag import evaders as _evaders
from arenax.agents.car_tag import pursuers as _pursuers
from arenax.policy import Policy


def _load(package, role: str) -> dict[str, Policy]:
    names = sorted(m.name for m in pkgutil.iter_modules(package.__path__) if not m.ispkg)
    return {
        name: Policy.from_module(importlib.import_module(f"{package.__name__}.{name}"), role)
        for name in names
    }


PURSUERS: dict[str, Policy] = _load(_pursuers, "pursuer")
EVADERS: dict[str, Policy] = _load(_evaders, "evader")


def get_strategy(role: str, name: str) -> Policy:
    """The hand-written strategy `name` for `role`; ValueError lists valid names."""
    table = {"pursuer": PURSUERS, "evader": EVADERS}.get(role)
    if table is None:
        raise ValueError(f"unknown role {role!r}; choose pursuer or evader")
    if name not in table:
        raise ValueError(f"unknown {role} strategy {name!r}; choose one of {', '.join(table)}")
    return table[name]


__all__ = ["EVADERS", "PURSUERS", "get_strategy"]
