"""Action distributions: categorical, diagonal Gaussian and tanh-squashed Gaussian.

Each is a `flax.struct` pytree (so networks can return one through `jit`/`vmap`)
with `sample(key)`, `log_prob(x)`, `entropy()` and `mode()`. Batch dimensions
lead; continuous distributions have one trailing event axis `(..., A)` over
which log-probs and entropies are summed.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from flax import struct

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


@struct.dataclass
class Categorical:
    """A categorical over `n` actions.

    Attributes:
        logits: (..., n) unnormalised log-probabilities.
    """

    logits: jax.Array

    @property
    def log_probs(self) -> jax.Array:
        """(..., n) normalised log-probabilities."""
        return jax.nn.log_softmax(self.logits, axis=-1)

    def sample(self, key: jax.Array) -> jax.Array:
        """(...) int32 action indices."""
        return jax.random.categorical(key, self.logits, axis=-1).astype(jnp.int32)

    def log_prob(self, action: jax.Array) -> jax.Array:
        """(...) log-probability of integer `action` (...)."""
        action = jnp.asarray(action, jnp.int32)
        return jnp.take_along_axis(self.log_probs, action[..., None], axis=-1)[..., 0]

    def entropy(self) -> jax.Array:
        """(...) exact entropy `-sum p log p`."""
        logp = self.log_probs
        return -jnp.sum(jnp.exp(logp) * logp, axis=-1)

    def mode(self) -> jax.Array:
        """(...) the most likely action."""
        return jnp.argmax(self.logits, axis=-1).astype(jnp.int32)


@struct.dataclass
class DiagGaussian:
    """A Gaussian with diagonal covariance.

    Attributes:
        mean: (..., A) means.
        log_std: (..., A) or broadcastable log standard deviations.
    """

    mean: jax.Array
    log_std: jax.Array

    @property
    def std(self) -> jax.Array:
        return jnp.exp(self.log_std)

    def sample(self, key: jax.Array) -> jax.Array:
        """(..., A) a reparameterised sample `mean + std * eps`."""
        eps = jax.random.normal(key, jnp.shape(self.mean), jnp.result_type(self.mean))
        return self.mean + self.std * eps

    def log_prob(self, x: jax.Array) -> jax.Array:
        """(...) log-density of `x` (..., A), summed over the event axis."""
        z = (x - self.mean) / self.std
        return jnp.sum(-0.5 * z**2 - self.log_std - _HALF_LOG_2PI, axis=-1)

    def entropy(self) -> jax.Array:
        """(...) closed form `sum(log_std + 0.5 * log(2 pi e))`."""
        log_std = jnp.broadcast_to(self.log_std, jnp.shape(self.mean))
        return jnp.sum(log_std + 0.5 + _HALF_LOG_2PI, axis=-1)

    def mode(self) -> jax.Array:
        """(..., A) the mean."""
        return self.mean


def log_one_minus_tanh_sq(z: jax.Array) -> jax.Array:
    """`log(1 - tanh(z)^2)` computed stably as `2 * (log 2 - z - softplus(-2 z))`."""
    return 2.0 * (math.log(2.0) - z - jax.nn.softplus(-2.0 * z))


@struct.dataclass
class TanhGaussian:
    """`a = low + (tanh(z) + 1) / 2 * (high - low)` with `z ~ N(mean, exp(log_std))`.

    Samples lie strictly inside the box `[low, high]` (up to float rounding).

    Attributes:
        mean: (..., A) pre-squash means.
        log_std: (..., A) or broadcastable pre-squash log standard deviations.
        low: (A,) lower bounds (finite).
        high: (A,) upper bounds (finite).
    """

    mean: jax.Array
    log_std: jax.Array
    low: jax.Array
    high: jax.Array
    # Squashed values are clipped this far inside (-1, 1) before `atanh` in `log_prob`.
    eps: float = struct.field(pytree_node=False, default=1e-6)

    @property
    def base(self) -> DiagGaussian:
        """The Gaussian over the pre-squash variable `z`."""
        return DiagGaussian(self.mean, self.log_std)

    @property
    def _center(self) -> jax.Array:
        return 0.5 * (self.high + self.low)

    @property
    def _half(self) -> jax.Array:
        return 0.5 * (self.high - self.low)

    def _squash(self, z: jax.Array) -> jax.Array:
        return self._center + self._half * jnp.tanh(z)

    def sample(self, key: jax.Array) -> jax.Array:
        """(..., A) a sample in the box."""
        return self._squash(self.base.sample(key))

    def log_prob_pre_squash(self, z: jax.Array) -> jax.Array:
        """(...) log-density of the action `squash(z)` given the pre-squash `z` (exact)."""
        jac = log_one_minus_tanh_sq(z) + jnp.log(self._half)
        return self.base.log_prob(z) - jnp.sum(jac, axis=-1)

    def log_prob(self, action: jax.Array) -> jax.Array:
        """(...) log-density of `action` (..., A) in the box.

        `log N(z) - sum log(1 - tanh(z)^2) - sum log(half_width)` with
        `z = atanh(y)`, `y` the action rescaled to (-1, 1) and clipped `eps` inside.
        """
        y = jnp.clip((action - self._center) / self._half, -1.0 + self.eps, 1.0 - self.eps)
        return self.log_prob_pre_squash(jnp.arctanh(y))

    def entropy(self) -> jax.Array:
        """(...) entropy of the *unsquashed* scaled Gaussian, an upper bound on the true one.

        The tanh-squashed entropy has no closed form; PPO uses this bound as its
        entropy bonus. `entropy_estimate` gives an unbiased Monte-Carlo value.
        """
        half = jnp.broadcast_to(self._half, jnp.shape(self.mean))
        return self.base.entropy() + jnp.sum(jnp.log(half), axis=-1)

    def entropy_estimate(self, key: jax.Array, num_samples: int = 64) -> jax.Array:
        """(...) Monte-Carlo estimate of the true entropy, `-E[log p(a)]`."""
        eps = jax.random.normal(key, (num_samples, *jnp.shape(self.mean)))
        z = self.mean + jnp.exp(self.log_std) * eps
        return -jnp.mean(self.log_prob_pre_squash(z), axis=0)

    def mode(self) -> jax.Array:
        """(..., A) `squash(mean)`: the deterministic action (the median of each coordinate)."""
        return self._squash(self.mean)


Distribution = Categorical | DiagGaussian | TanhGaussian
