"""The bridge between an env's action space and a policy's distribution.

`ActionSpec` is a hashable, JSON-serialisable summary of a `Box` or `Discrete`
space. It says how many outputs the actor head has, how those outputs become a
distribution (`make_distribution`), and how a sample becomes the action the env
receives (`to_env_action`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from arenax.agents.ppo.distributions import Categorical, DiagGaussian, Distribution, TanhGaussian
from arenax.envs import spaces


@dataclass(frozen=True)
class ActionSpec:
    """An action space, flattened.

    Attributes:
        discrete: True for `Discrete(n)`, False for a `Box`.
        n: number of discrete actions (discrete only).
        shape: the env's action shape (a Box's shape, `()` for Discrete).
        low: flat lower bounds, one per action dimension (Box only).
        high: flat upper bounds (Box only).
    """

    discrete: bool
    shape: tuple[int, ...]
    n: int = 0
    low: tuple[float, ...] = ()
    high: tuple[float, ...] = ()

    @classmethod
    def from_space(cls, space: Any) -> ActionSpec:
        """From a `spaces.Box` or `spaces.Discrete` (concrete bounds)."""
        if isinstance(space, spaces.Discrete):
            if space.shape != ():
                raise ValueError(f"only scalar Discrete action spaces are supported, got {space}")
            return cls(discrete=True, shape=(), n=int(space.n))
        if isinstance(space, spaces.Box):
            shape = tuple(int(s) for s in space.shape)
            low = np.broadcast_to(np.asarray(space.low, np.float64), shape).ravel()
            high = np.broadcast_to(np.asarray(space.high, np.float64), shape).ravel()
            return cls(
                discrete=False,
                shape=shape,
                low=tuple(float(x) for x in low),
                high=tuple(float(x) for x in high),
            )
        raise TypeError(f"unsupported action space {space!r} (need Box or Discrete)")

    @property
    def dim(self) -> int:
        """Flat action size (continuous) or 1 (discrete)."""
        return 1 if self.discrete else math.prod(self.shape)

    @property
    def num_outputs(self) -> int:
        """Actor-head width: `n` logits, or `dim` means."""
        return self.n if self.discrete else self.dim

    @property
    def bounded(self) -> bool:
        """Every Box bound is finite."""
        return bool(np.all(np.isfinite(self.low)) and np.all(np.isfinite(self.high)))

    def center_half(self) -> tuple[np.ndarray, np.ndarray]:
        """(dim,) centre and half-width of the box; 0 and 1 where a bound is infinite."""
        low, high = np.asarray(self.low, np.float32), np.asarray(self.high, np.float32)
        finite = np.isfinite(low) & np.isfinite(high)
        center = np.where(finite, 0.5 * (low + high), 0.0).astype(np.float32)
        half = np.where(finite, 0.5 * (high - low), 1.0).astype(np.float32)
        return center, np.maximum(half, 1e-6)

    def to_dict(self) -> dict[str, Any]:
        return {
            "discrete": self.discrete,
            "shape": list(self.shape),
            "n": self.n,
            "low": list(self.low),
            "high": list(self.high),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ActionSpec:
        return cls(
            discrete=bool(data["discrete"]),
            shape=tuple(int(s) for s in data["shape"]),
            n=int(data.get("n", 0)),
            low=tuple(float(x) for x in data.get("low", ())),
            high=tuple(float(x) for x in data.get("high", ())),
        )


def make_distribution(
    spec: ActionSpec, kind: str, head: jax.Array, log_std: jax.Array | None
) -> Distribution:
    """The action distribution from an actor head's output.

    Args:
        spec: the action space.
        kind: "clipped" or "tanh" (ignored for discrete actions).
        head: (..., num_outputs) logits, or means in units of the box half-width
            around its centre.
        log_std: (dim,) state-independent log-std in the same units (continuous only).
    """
    if spec.discrete:
        return Categorical(head)
    center, half = spec.center_half()
    if kind == "tanh":
        if not spec.bounded:
            raise ValueError("the tanh-squashed Gaussian needs finite Box bounds")
        return TanhGaussian(
            head, log_std, jnp.asarray(spec.low, jnp.float32), jnp.asarray(spec.high, jnp.float32)
        )
    return DiagGaussian(center + half * head, log_std + jnp.log(half))


def to_env_action(spec: ActionSpec, action: jax.Array) -> jax.Array:
    """A distribution sample (..., dim) or (...) -> the env's action (..., *shape).

    Box actions are clipped to the bounds (a no-op for tanh samples); discrete
    actions pass through as int32.
    """
    if spec.discrete:
        return jnp.asarray(action, jnp.int32)
    low = jnp.asarray(spec.low, jnp.float32)
    high = jnp.asarray(spec.high, jnp.float32)
    clipped = jnp.clip(action, low, high)
    return clipped.reshape(*clipped.shape[:-1], *spec.shape)
