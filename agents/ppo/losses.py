"""PPO loss terms as pure functions of arrays (testable by hand).

All take per-sample arrays of one shape and return scalar means.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def clipped_surrogate_loss(
    log_prob: jax.Array, old_log_prob: jax.Array, advantages: jax.Array, clip_eps: float | jax.Array
) -> jax.Array:
    """The PPO policy loss `-mean(min(r A, clip(r, 1 - eps, 1 + eps) A))`, `r = exp(logp - old)`."""
    ratio = jnp.exp(log_prob - old_log_prob)
    unclipped = ratio * advantages
    clipped = jnp.clip(ratio, 1.0 - clip_eps, 1.0 + clip_eps) * advantages
    return -jnp.mean(jnp.minimum(unclipped, clipped))


def value_loss(
    values: jax.Array,
    old_values: jax.Array,
    returns: jax.Array,
    clip_eps: float | jax.Array,
) -> jax.Array:
    """`0.5 * mean(max((v - R)^2, (v_clip - R)^2))` with `v_clip` within `clip_eps` of
    the rollout's prediction; with `clip_eps <= 0` the plain `0.5 * mean((v - R)^2)`."""
    plain = (values - returns) ** 2
    v_clipped = old_values + jnp.clip(values - old_values, -clip_eps, clip_eps)
    clipped = jnp.maximum(plain, (v_clipped - returns) ** 2)
    return 0.5 * jnp.mean(jnp.where(clip_eps > 0, clipped, plain))


def approx_kl(log_prob: jax.Array, old_log_prob: jax.Array) -> jax.Array:
    """Estimate of KL(old || new): `mean((r - 1) - log r)` (non-negative, low variance)."""
    log_ratio = log_prob - old_log_prob
    return jnp.mean(jnp.expm1(log_ratio) - log_ratio)


def clip_fraction(
    log_prob: jax.Array, old_log_prob: jax.Array, clip_eps: float | jax.Array
) -> jax.Array:
    """Fraction of samples whose ratio lies outside `[1 - eps, 1 + eps]`."""
    ratio = jnp.exp(log_prob - old_log_prob)
    return jnp.mean((jnp.abs(ratio - 1.0) > clip_eps).astype(jnp.float32))


def normalize_advantages(advantages: jax.Array, eps: float = 1e-8) -> jax.Array:
    """Zero mean, unit standard deviation."""
    return (advantages - advantages.mean()) / (advantages.std() + eps)


def ppo_loss(
    log_prob: jax.Array,
    old_log_prob: jax.Array,
    advantages: jax.Array,
    values: jax.Array,
    old_values: jax.Array,
    returns: jax.Array,
    entropy: jax.Array,
    clip_eps: float | jax.Array,
    vf_clip_eps: float | jax.Array,
    vf_coef: float | jax.Array,
    ent_coef: float | jax.Array,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """`policy + vf_coef * value - ent_coef * mean(entropy)` and its parts.

    Returns `(total, aux)` with aux keys policy_loss, value_loss, entropy,
    approx_kl, clip_fraction.
    """
    pg = clipped_surrogate_loss(log_prob, old_log_prob, advantages, clip_eps)
    vl = value_loss(values, old_values, returns, vf_clip_eps)
    ent = jnp.mean(entropy)
    total = pg + vf_coef * vl - ent_coef * ent
    aux = {
        "policy_loss": pg,
        "value_loss": vl,
        "entropy": ent,
        "approx_kl": jax.lax.stop_gradient(approx_kl(log_prob, old_log_prob)),
        "clip_fraction": jax.lax.stop_gradient(clip_fraction(log_prob, old_log_prob, clip_eps)),
    }
    return total, aux
