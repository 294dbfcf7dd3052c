"""Spaces: shapes, dtypes and bounds of observations and actions.

Spaces are plain Python objects (not pytrees); they describe arrays and can
sample or test membership inside `jit`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np


@dataclass(frozen=True)
class Box:
    """A real-valued array with elementwise bounds.

    Attributes:
        low: lower bound, broadcastable to `shape`.
        high: upper bound, broadcastable to `shape`.
        shape: array shape.
        dtype: array dtype.
    """

    low: Any
    high: Any
    shape: tuple[int, ...]
    dtype: Any = jnp.float32

    def sample(self, key: jax.Array) -> jax.Array:
        """Uniform sample; infinite bounds are replaced by +-1e3."""
        low = jnp.clip(jnp.broadcast_to(jnp.asarray(self.low, self.dtype), self.shape), -1e3, 1e3)
        high = jnp.clip(jnp.broadcast_to(jnp.asarray(self.high, self.dtype), self.shape), -1e3, 1e3)
        return jax.random.uniform(key, self.shape, self.dtype, low, high)

    def contains(self, x: jax.Array) -> jax.Array:
        """True if `x` has the right shape and lies within the bounds (a traced bool)."""
        x = jnp.asarray(x)
        if x.shape != self.shape:
            return jnp.asarray(False)
        return jnp.all((x >= self.low) & (x <= self.high))

    def clip(self, x: jax.Array) -> jax.Array:
        """Project `x` onto the box."""
        return jnp.clip(x, self.low, self.high)


@dataclass(frozen=True)
class Discrete:
    """An integer in `[0, n)`."""

    n: int
    shape: tuple[int, ...] = ()
    dtype: Any = jnp.int32

    def sample(self, key: jax.Array) -> jax.Array:
        return jax.random.randint(key, self.shape, 0, self.n, self.dtype)

    def contains(self, x: jax.Array) -> jax.Array:
        x = jnp.asarray(x)
        if x.shape != self.shape:
            return jnp.asarray(False)
        return jnp.all((x >= 0) & (x < self.n))


@dataclass(frozen=True)
class Dict:
    """A mapping from names to sub-spaces (for named observations)."""

    spaces: Mapping[str, Any] = field(default_factory=dict)

    def sample(self, key: jax.Array) -> dict[str, jax.Array]:
        keys = jax.random.split(key, max(len(self.spaces), 1))
        items = zip(self.spaces.items(), keys, strict=False)
        return {name: space.sample(k) for (name, space), k in items}

    def contains(self, x: Mapping[str, jax.Array]) -> jax.Array:
        if set(x) != set(self.spaces):
            return jnp.asarray(False)
        return jnp.all(jnp.stack([self.spaces[n].contains(x[n]) for n in self.spaces]))

    def __getitem__(self, name: str) -> Any:
        return self.spaces[name]


def flat_size(space: Box | Discrete | Dict) -> int:
    """Number of scalars in a flat view of `space`."""
    if isinstance(space, Dict):
        return sum(flat_size(s) for s in space.spaces.values())
    return int(np.prod(space.shape, dtype=np.int64))
