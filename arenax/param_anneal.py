"""A curriculum over environment parameters: start easier, end at the game's own values.

`ParamAnneal({"capture_radius": 0.6}, fraction=0.5)` plays the first half of
training with a capture radius that shrinks linearly from 0.6 m to the game's
value (0.2 m by default) and the second half at the game's value. A PPO learner
keeps its env params in its train state as traced arrays, so the host loop can
move them between jitted chunks without recompiling:

    state = anneal.apply(state, params, progress)   # progress in [0, 1]

Why: the Car Tag pursuer's reward for a capture is sparse, and against the
look-ahead evader a policy that only follows it closely never catches it; with a
larger radius early on the first captures come by chance, and the pursuer then
learns to convert closeness into captures (`benchmarks/train_cartag.py`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import jax.numpy as jnp
import numpy as np

from arenax.overrides import parse_overrides


@dataclass(frozen=True)
class ParamAnneal:
    """Linear anneal of some env parameters from `starts` to the game's values.

    Attributes:
        starts: parameter name -> value at the start of training. Each name must
            be a scalar field of the env's params dataclass.
        fraction: share of training (in (0, 1]) over which the values move to the
            game's; afterwards they stay there.
    """

    starts: Mapping[str, float] = field(default_factory=dict)
    fraction: float = 0.5

    def __post_init__(self) -> None:
        if not 0.0 < self.fraction <= 1.0:
            raise ValueError(f"anneal fraction must be in (0, 1], got {self.fraction}")
        for name, value in self.starts.items():
            if not np.isfinite(value):
                raise ValueError(f"anneal start of {name!r} must be a finite number, got {value}")

    def __bool__(self) -> bool:
        return bool(self.starts)

    def check(self, params: Any) -> None:
        """Raise ValueError naming any start that is not a scalar field of `params`."""
        fields = {f.name for f in dataclasses.fields(params)}
        for name in self.starts:
            if name not in fields:
                raise ValueError(
                    f"cannot anneal {name!r}: not a parameter of this game; "
                    f"valid: {', '.join(sorted(fields))}"
                )
            if np.ndim(getattr(params, name)) != 0:
                raise ValueError(f"cannot anneal {name!r}: only scalar parameters anneal")

    def value(self, name: str, final: float, progress: float) -> float:
        """The value of `name` at `progress` (0: start of training, 1: end)."""
        remaining = max(0.0, 1.0 - progress / self.fraction)
        return float(final) + (self.starts[name] - float(final)) * remaining

    def params_at(self, current: Any, final: Any, progress: float) -> Any:
        """`current` (the params in a train state, possibly seed-batched) with every
        annealed field set to its value at `progress`; `final` holds the game's
        values. Shapes and dtypes of `current` are kept, so nothing recompiles."""
        self.check(final)
        changes = {
            name: jnp.full_like(
                getattr(current, name), self.value(name, getattr(final, name), progress)
            )
            for name in self.starts
        }
        return current.replace(**changes)

    def apply(self, state: Any, final: Any, progress: float) -> Any:
        """A learner state with an `env_params` field (PPO's `TrainState`), annealed."""
        if not self.starts:
            return state
        return state.replace(env_params=self.params_at(state.env_params, final, progress))

    def to_dict(self) -> dict[str, Any]:
        return {"starts": dict(self.starts), "fraction": self.fraction}


def parse_anneal(items: list[str] | None) -> dict[str, float]:
    """`["capture_radius=0.6"]` -> `{"capture_radius": 0.6}` (the CLI's `--anneal`).

    Raises:
        ValueError: an item without `=`, an empty name, or a value that is not a number.
    """
    starts = parse_overrides(items, "--anneal", "NAME=START, e.g. capture_radius=0.6")
    return {name: float(value) for name, value in starts.items()}
