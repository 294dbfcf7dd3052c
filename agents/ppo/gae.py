"""Generalised advantage estimation (Schulman et al. 2016) with a reverse `lax.scan`."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def compute_gae(
    rewards: jax.Array,
    values: jax.Array,
    dones: jax.Array,
    last_value: jax.Array,
    gamma: float | jax.Array,
    gae_lambda: float | jax.Array,
) -> tuple[jax.Array, jax.Array]:
    """Advantages and value targets for one rollout.

    Time leads; any batch axes follow.

    Args:
        rewards: (T, ...) reward for the action taken at step t.
        values: (T, ...) value estimate of the observation at step t.
        dones: (T, ...) True when the episode ended with step t (nothing is
            bootstrapped across it; the next observation belongs to a new episode).
        last_value: (...) value of the observation after the last step.
        gamma: discount.
        gae_lambda: GAE lambda.

    Returns:
        `(advantages, returns)`, both (T, ...), with `returns = advantages + values`:
        `delta_t = r_t + gamma (1 - d_t) V_{t+1} - V_t` and
        `A_t = delta_t + gamma lambda (1 - d_t) A_{t+1}`.
    """
    not_done = 1.0 - jnp.asarray(dones, jnp.float32)
    next_values = jnp.concatenate([values[1:], last_value[None]], axis=0)
    deltas = rewards + gamma * not_done * next_values - values

    def backward(carry: jax.Array, xs: tuple[jax.Array, jax.Array]) -> tuple[jax.Array, jax.Array]:
        delta, keep = xs
        adv = delta + gamma * gae_lambda * keep * carry
        return adv, adv

    _, advantages = jax.lax.scan(
        backward, jnp.zeros_like(last_value), (deltas, not_done), reverse=True
    )
    return advantages, advantages + values
