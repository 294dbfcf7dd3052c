"""The PPO optimisation phase: epochs over a rollout, minibatches within each epoch.

Feed-forward agents shuffle all `T * N` transitions; recurrent agents shuffle
environments and keep each one's whole sequence (with the GRU state it started
from), so the network can be re-run over time exactly as during the rollout.

The optimiser is `clip_by_global_norm(max_grad_norm) -> adam -> scale(-lr)`,
written so that `max_grad_norm` and `lr` are traced hyper-parameters.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax
from flax import struct

from arenax.agents.ppo.config import PPOConfig, PPOHyperparams
from arenax.agents.ppo.losses import normalize_advantages, ppo_loss


@struct.dataclass
class Batch:
    """What a loss needs, leaves (T, N, ...) before shuffling.

    Attributes:
        obs: normalised observations. resets: episode-start flags. action: samples.
        log_prob: acting log-probs. value: acting values. advantages, returns: from GAE.
    """

    obs: jax.Array
    resets: jax.Array
    action: jax.Array
    log_prob: jax.Array
    value: jax.Array
    advantages: jax.Array
    returns: jax.Array


def make_optimizer(config: PPOConfig) -> optax.GradientTransformation:
    """Adam moments only (`optax.scale_by_adam`); clipping and the step size are applied
    in `apply_gradients` from traced hyper-parameters."""
    return optax.scale_by_adam(eps=config.adam_eps)


def apply_gradients(
    optimizer: optax.GradientTransformation,
    params: Any,
    opt_state: Any,
    grads: Any,
    lr: jax.Array,
    max_grad_norm: jax.Array,
) -> tuple[Any, Any, jax.Array]:
    """Clip `grads` to `max_grad_norm` global norm, Adam, step `-lr`. Returns
    `(params, opt_state, grad_norm)` with the norm before clipping."""
    grad_norm = optax.tree.norm(grads)
    scale = jnp.minimum(1.0, max_grad_norm / (grad_norm + 1e-6))
    grads = jax.tree_util.tree_map(lambda g: g * scale, grads)
    updates, opt_state = optimizer.update(grads, opt_state, params)
    params = jax.tree_util.tree_map(lambda p, u: p - lr * u, params, updates)
    return params, opt_state, grad_norm


ExtraLoss = Callable[[Any, Any], tuple[jax.Array, dict[str, jax.Array]]]


def make_update(
    config: PPOConfig,
    network: nn.Module,
    optimizer: optax.GradientTransformation,
    extra_loss: ExtraLoss | None = None,
) -> Callable[..., tuple[Any, Any, dict[str, jax.Array]]]:
    """`update(params, opt_state, batch, hidden0, hp, lr, key, context) -> (params,
    opt_state, metrics)`.

    `hidden0` is the GRU state (N, H) at the start of the rollout (`()` for
    feed-forward). `extra_loss(params, context) -> (loss, metrics)`, if given, is added
    to every minibatch's PPO loss (e.g. behaviour cloning on demonstrations for BC+RL;
    `context` carries what it needs from the train state, such as the observation
    statistics). Metrics are means over all epochs and minibatches.
    """
    m = config.num_minibatches

    def loss_fn(params: Any, mb: Batch, hidden0: Any, hp: PPOHyperparams, context: Any) -> Any:
        _, dist, value = network.apply(params, hidden0, mb.obs, mb.resets)
        log_prob = dist.log_prob(mb.action)
        adv = normalize_advantages(mb.advantages) if config.normalize_advantages else mb.advantages
        total, aux = ppo_loss(
            log_prob,
            mb.log_prob,
            adv,
            value,
            mb.value,
            mb.returns,
            dist.entropy(),
            hp.clip_eps,
            hp.vf_clip_eps,
            hp.vf_coef,
            hp.ent_coef,
        )
        if extra_loss is not None:
            extra, extra_metrics = extra_loss(params, context)
            total = total + extra
            aux = dict(aux, **extra_metrics)
        return total, dict(aux, total_loss=total)

    grad_fn = jax.grad(loss_fn, has_aux=True)

    def shuffle(batch: Batch, hidden0: Any, key: jax.Array) -> tuple[Batch, Any]:
        """Leaves (M, ...) minibatches."""
        if config.recurrent:
            n = config.num_envs
            perm = jax.random.permutation(key, n)

            def split_envs(x: jax.Array) -> jax.Array:  # (T, N, ...) -> (M, T, N/M, ...)
                x = jnp.take(x, perm, axis=1)
                x = x.reshape(x.shape[0], m, n // m, *x.shape[2:])
                return jnp.swapaxes(x, 0, 1)

            h = jnp.take(hidden0, perm, axis=0).reshape(m, n // m, -1)
            return jax.tree_util.tree_map(split_envs, batch), h
        size = config.batch_size
        perm = jax.random.permutation(key, size)

        def split_flat(x: jax.Array) -> jax.Array:  # (T, N, ...) -> (M, T*N/M, ...)
            x = jnp.take(x.reshape(size, *x.shape[2:]), perm, axis=0)
            return x.reshape(m, size // m, *x.shape[1:])

        return jax.tree_util.tree_map(split_flat, batch), jnp.zeros((m,))

    def update(
        params: Any,
        opt_state: Any,
        batch: Batch,
        hidden0: Any,
        hp: PPOHyperparams,
        lr: jax.Array,
        key: jax.Array,
        context: Any = None,
    ) -> tuple[Any, Any, dict[str, jax.Array]]:
        def minibatch_step(carry: tuple[Any, Any], xs: tuple[Batch, Any]) -> Any:
            params, opt_state = carry
            mb, h0 = xs
            h0 = h0 if config.recurrent else ()
            grads, aux = grad_fn(params, mb, h0, hp, context)
            params, opt_state, grad_norm = apply_gradients(
                optimizer, params, opt_state, grads, lr, hp.max_grad_norm
            )
            return (params, opt_state), dict(aux, grad_norm=grad_norm)

        def epoch(carry: tuple[Any, Any], k: jax.Array) -> Any:
            minibatches, h0s = shuffle(batch, hidden0, k)
            return jax.lax.scan(minibatch_step, carry, (minibatches, h0s))

        with jax.named_scope("ppo_update"):
            (params, opt_state), metrics = jax.lax.scan(
                epoch, (params, opt_state), jax.random.split(key, config.update_epochs)
            )
        return params, opt_state, jax.tree_util.tree_map(jnp.mean, metrics)

    return update
