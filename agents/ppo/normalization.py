"""Running mean/variance of observations, a pytree updated inside the jitted loop.

The statistics travel in the train state and in exported policies, which
normalise with the frozen values.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct


@struct.dataclass
class RunningNorm:
    """Per-feature running statistics (parallel Welford / Chan et al. merge).

    Attributes:
        mean: (D,) running mean.
        var: (D,) running population variance.
        count: () number of samples merged so far (starts at a tiny epsilon).
    """

    mean: jax.Array
    var: jax.Array
    count: jax.Array

    @classmethod
    def create(cls, size: int) -> RunningNorm:
        """Empty statistics for `size` features (mean 0, variance 1)."""
        return cls(
            mean=jnp.zeros((size,), jnp.float32),
            var=jnp.ones((size,), jnp.float32),
            count=jnp.asarray(1e-4, jnp.float32),
        )

    def update(self, batch: jax.Array) -> RunningNorm:
        """Merge a batch `(..., D)` of observations (every leading axis is samples)."""
        batch = jnp.reshape(batch, (-1, self.mean.shape[-1])).astype(jnp.float32)
        b_count = jnp.asarray(batch.shape[0], jnp.float32)
        b_mean = batch.mean(axis=0)
        b_var = batch.var(axis=0)
        total = self.count + b_count
        delta = b_mean - self.mean
        mean = self.mean + delta * b_count / total
        m2 = self.var * self.count + b_var * b_count + delta**2 * self.count * b_count / total
        return RunningNorm(mean=mean, var=m2 / total, count=total)

    def normalize(self, obs: jax.Array, clip: float = 10.0) -> jax.Array:
        """`clip((obs - mean) / sqrt(var + 1e-8), -clip, clip)`, any leading axes."""
        z = (obs - self.mean) / jnp.sqrt(self.var + 1e-8)
        return jnp.clip(z, -clip, clip)
