"""Behaviour cloning: maximise the likelihood of the expert's actions under the
agent's own observations.

The network is the PPO actor-critic (`agents/ppo/networks.py`, feed-forward or GRU;
discrete or continuous heads); BC trains its policy head by full-batch Adam on
the negative log-likelihood of the demonstrated actions, averaged over real
(unmasked) steps. Episodes are fed time-major, `(T, E, D)`, with a reset at t = 0,
so the GRU sees each episode from its start.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import struct

from arenax.agents.imitation.demonstrations import Demonstrations
from arenax.agents.ppo.action_spec import ActionSpec
from arenax.agents.ppo.config import PPOConfig
from arenax.agents.ppo.distributions import Categorical
from arenax.agents.ppo.networks import build_network, init_params, initial_hidden
from arenax.agents.ppo.normalization import RunningNorm
from arenax.envs.environment import Environment
from arenax.envs.single_agent import flatten_observation


@dataclasses.dataclass(frozen=True)
class BCConfig:
    """Attributes:
    hidden_sizes: MLP widths (the PPO network's).
    recurrent: use the GRU network (for partially observed tasks).
    gru_size: GRU width when recurrent.
    learning_rate: Adam step size.
    steps: full-batch gradient steps.
    normalize_obs: standardise observations by the demonstrations' statistics (kept
        in the result as `obs_norm`; evaluation must apply them too).
    batch_episodes: episodes per gradient step, drawn at random (None: all of them,
        full-batch).
    init_log_std: initial log-std of a continuous policy (in units of the action box's
        half-width), as in PPO.
    label_smoothing: weight of a uniform target mixed into the expert's (discrete
        actions; see `sequence_nll`).
    """

    hidden_sizes: tuple[int, ...] = (64, 64)
    recurrent: bool = False
    gru_size: int = 64
    learning_rate: float = 3e-3
    steps: int = 300
    normalize_obs: bool = False
    batch_episodes: int | None = None
    init_log_std: float = 0.0
    label_smoothing: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1), got {self.label_smoothing}")

    def network_config(self) -> PPOConfig:
        return dataclasses.replace(
            PPOConfig(),
            hidden_sizes=self.hidden_sizes,
            recurrent=self.recurrent,
            gru_size=self.gru_size,
            init_log_std=self.init_log_std,
        )


@struct.dataclass
class BCResult:
    """The trained parameters, the loss after each step (steps,), and the observation
    statistics the policy expects (None: raw observations)."""

    params: Any
    losses: jax.Array
    obs_norm: RunningNorm | None = None


def _time_major(x: jax.Array) -> jax.Array:
    return jnp.swapaxes(x, 0, 1)


def sequence_nll(
    network: nn.Module,
    hidden0: Any,
    params,
    demos: Demonstrations,
    obs_map=None,
    label_smoothing: float = 0.0,
) -> jax.Array:
    """Mean negative log-likelihood of the expert's actions over real steps, the episodes
    run time-major through `network` from `hidden0` ((E, H) or `()`); `obs_map` (e.g.
    the learner's observation normalisation) is applied to the observations first.

    With `label_smoothing` eps > 0 (discrete actions only) the target is the expert's
    action with probability 1 - eps and a uniform action with eps, so the clone keeps
    every action's probability at least about eps / n: a policy that RL fine-tunes
    can still try what the expert never did."""
    obs = _time_major(demos.obs)
    obs = obs if obs_map is None else obs_map(obs)
    actions = _time_major(demos.actions)
    mask = _time_major(demos.mask).astype(jnp.float32)
    resets = jnp.zeros(mask.shape, bool).at[0].set(True)
    _, dist, _ = network.apply(params, hidden0, obs, resets)
    log_prob = dist.log_prob(actions)
    if label_smoothing > 0.0:
        if not isinstance(dist, Categorical):
            raise ValueError("label smoothing needs discrete actions")
        uniform = jnp.mean(dist.log_probs, axis=-1)
        log_prob = (1.0 - label_smoothing) * log_prob + label_smoothing * uniform
    return -jnp.sum(log_prob * mask) / jnp.maximum(jnp.sum(mask), 1.0)


def nll_loss(
    network: nn.Module, config: BCConfig, params, demos: Demonstrations, obs_norm=None
) -> jax.Array:
    """BC's loss: `sequence_nll` from a zero GRU state (observations standardised by
    `obs_norm` when given)."""
    hidden = initial_hidden(config.network_config(), (demos.obs.shape[0],))
    obs_map = None if obs_norm is None else (lambda x: obs_norm.normalize(x, 10.0))
    return sequence_nll(network, hidden, params, demos, obs_map, config.label_smoothing)


def demonstration_statistics(demos: Demonstrations) -> RunningNorm:
    """Mean and variance of the observations of real (unmasked) steps."""
    real = np.asarray(demos.obs)[np.asarray(demos.mask)]
    return RunningNorm.create(real.shape[-1]).update(jnp.asarray(real))


def train_bc(
    demos: Demonstrations, spec: ActionSpec, config: BCConfig, key: jax.Array
) -> tuple[nn.Module, BCResult]:
    """Fit the policy to the demonstrations; returns the network and its parameters."""
    network = build_network(config.network_config(), spec)
    return network, train_bc_params(network, config, demos, key)


def train_bc_params(
    network: nn.Module, config: BCConfig, demos: Demonstrations, key: jax.Array
) -> BCResult:
    """BC from freshly initialised parameters of `network` (compiled once per shapes)."""
    params = init_params(network, config.network_config(), key, demos.obs.shape[-1])
    obs_norm = demonstration_statistics(demos) if config.normalize_obs else None
    return _fit(network, config, params, demos, obs_norm, key)


@functools.partial(jax.jit, static_argnums=(0, 1))
def _fit(
    network: nn.Module, config: BCConfig, params, demos: Demonstrations, obs_norm, key
) -> BCResult:
    optimiser = optax.adam(config.learning_rate)
    episodes = demos.obs.shape[0]
    batch = config.batch_episodes

    def loss_fn(p, k):
        if batch is None or batch >= episodes:
            return nll_loss(network, config, p, demos, obs_norm)
        rows = jax.random.choice(k, episodes, (batch,), replace=False)
        subset = jax.tree_util.tree_map(lambda a: a[rows], demos)
        return nll_loss(network, config, p, subset, obs_norm)

    def step(carry, k):
        params, opt_state = carry
        loss, grads = jax.value_and_grad(loss_fn)(params, k)
        updates, opt_state = optimiser.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), loss

    (params, _), losses = jax.lax.scan(
        step, (params, optimiser.init(params)), jax.random.split(key, config.steps)
    )
    return BCResult(params, losses, obs_norm)


def evaluate_policy(
    env: Environment,
    env_params,
    network: nn.Module,
    config: BCConfig | PPOConfig,
    params,
    key: jax.Array,
    num_episodes: int,
    horizon: int,
    agent: str = "agent",
    obs_norm: RunningNorm | None = None,
) -> jax.Array:
    """(num_episodes,) returns of the policy sampling its actions, one jitted scan.

    `config` is the BC config or the PPO config the network was built from; `obs_norm`
    the running statistics a PPO learner normalised its observations with (None: raw)."""
    net_config = config.network_config() if isinstance(config, BCConfig) else config

    def episode(k):
        obs, state = env.reset(k, env_params)
        hidden = initial_hidden(net_config, (1,))

        def step(carry, step_key):
            obs, state, hidden, first, total = carry
            k_act, k_env = jax.random.split(step_key)
            x = flatten_observation(obs[agent])
            if obs_norm is not None:
                x = obs_norm.normalize(x, net_config.obs_clip)
            hidden, dist, _ = network.apply(params, hidden, x[None, None], jnp.full((1, 1), first))
            action = dist.sample(k_act)[0, 0]
            obs, state, reward, _, _ = env.step(k_env, state, {agent: action}, env_params)
            return (obs, state, hidden, False, total + reward[agent]), None

        carry = (obs, state, hidden, True, 0.0)
        (_, _, _, _, total), _ = jax.lax.scan(step, carry, jax.random.split(k, horizon))
        return total

    return jax.jit(jax.vmap(episode))(jax.random.split(key, num_episodes))
