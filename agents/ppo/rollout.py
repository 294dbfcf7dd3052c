"""Collecting a PPO rollout: `num_steps` vectorised env steps in one `lax.scan`.

The acting policy samples from the network's distribution on observations
normalised with the running statistics, which are updated with every new
observation batch (so stored observations are exactly what the network saw).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
from flax import struct

from arenax.agents.ppo.action_spec import ActionSpec, to_env_action
from arenax.agents.ppo.config import PPOConfig
from arenax.agents.ppo.normalization import RunningNorm


@struct.dataclass
class Transition:
    """One step of every environment; a rollout stacks them to leaves (T, num_envs, ...).

    Attributes:
        obs: (N, D) normalised observation the action was chosen on.
        resets: (N,) bool, `obs` is the first observation of an episode.
        action: (N, A) float distribution sample (continuous) or (N,) int32 (discrete).
        log_prob: (N,) log-probability of `action` under the acting policy.
        value: (N,) critic value of `obs`.
        reward: (N,) reward of the step.
        done: (N,) bool, the episode ended with this step.
        episode_return: (N,) undiscounted return of the episode so far (incl. this step).
        episode_length: (N,) int32 steps of the episode so far (incl. this step).
        info: scalar-per-env entries of the env's `info` (float32 (N,)), e.g. "captured".
    """

    obs: jax.Array
    resets: jax.Array
    action: jax.Array
    log_prob: jax.Array
    value: jax.Array
    reward: jax.Array
    done: jax.Array
    episode_return: jax.Array
    episode_length: jax.Array
    info: dict[str, jax.Array]


@struct.dataclass
class EnvCarry:
    """The acting side of the train state: what a rollout advances.

    Attributes:
        env_state: AutoReset-wrapped env states, leaves (N, ...).
        obs: (N, D) latest raw (unnormalised) observation.
        resets: (N,) bool, `obs` starts an episode.
        hidden: (N, gru_size) GRU state, or `()`.
        episode_return: (N,) running return of the current episodes.
        episode_length: (N,) int32 running length of the current episodes.
        obs_norm: the running observation statistics.
    """

    env_state: Any
    obs: jax.Array
    resets: jax.Array
    hidden: Any
    episode_return: jax.Array
    episode_length: jax.Array
    obs_norm: RunningNorm


def scalar_info(info: dict[str, Any], num_envs: int) -> dict[str, jax.Array]:
    """The entries of a batched `info` with one number per env, as float32 (N,)."""
    return {
        k: jnp.asarray(v, jnp.float32)
        for k, v in info.items()
        if isinstance(v, jax.Array | float | int) and jnp.shape(v) == (num_envs,)
    }


def make_collect(
    config: PPOConfig,
    network: nn.Module,
    spec: ActionSpec,
    env: Any,
) -> Callable[[Any, EnvCarry, jax.Array, Any], tuple[EnvCarry, Transition]]:
    """`collect(params, carry, key, env_params) -> (carry, transitions)`: one rollout of
    `num_steps`.

    `env` must auto-reset (wrap it in `AutoReset`). `env_params` is traced, so a learner
    can change it between rollouts (an opponent pool, domain randomisation) without
    recompiling. Transitions have leaves (T, N, ...).
    """
    num_envs = config.num_envs
    step_env = jax.vmap(env.step, in_axes=(0, 0, 0, None))

    def normalize(norm: RunningNorm, obs: jax.Array) -> jax.Array:
        return norm.normalize(obs, config.obs_clip) if config.normalize_obs else obs

    def one_step(
        params: Any, env_params: Any, carry: EnvCarry, key: jax.Array
    ) -> tuple[EnvCarry, Transition]:
        k_act, k_env = jax.random.split(key)
        obs = normalize(carry.obs_norm, carry.obs)
        hidden, dist, value = network.apply(params, carry.hidden, obs[None], carry.resets[None])
        action = dist.sample(k_act)
        log_prob = dist.log_prob(action)[0]
        action, value = action[0], value[0]
        next_obs, env_state, reward, done, info = step_env(
            jax.random.split(k_env, num_envs),
            carry.env_state,
            to_env_action(spec, action),
            env_params,
        )
        reward = jnp.asarray(reward, jnp.float32)
        done = jnp.asarray(done, bool)
        episode_return = carry.episode_return + reward
        episode_length = carry.episode_length + 1
        updating = config.normalize_obs and not config.freeze_obs_norm
        norm = carry.obs_norm.update(next_obs) if updating else carry.obs_norm
        transition = Transition(
            obs=obs,
            resets=carry.resets,
            action=action,
            log_prob=log_prob,
            value=value,
            reward=reward,
            done=done,
            episode_return=episode_return,
            episode_length=episode_length,
            info=scalar_info(info, num_envs),
        )
        carry = EnvCarry(
            env_state=env_state,
            obs=next_obs,
            resets=done,
            hidden=hidden,
            episode_return=jnp.where(done, 0.0, episode_return),
            episode_length=jnp.where(done, 0, episode_length),
            obs_norm=norm,
        )
        return carry, transition

    def collect(
        params: Any, carry: EnvCarry, key: jax.Array, env_params: Any
    ) -> tuple[EnvCarry, Transition]:
        step = lambda c, k: one_step(params, env_params, c, k)
        with jax.named_scope("ppo_rollout"):
            return jax.lax.scan(step, carry, jax.random.split(key, config.num_steps))

    return collect
