"""DAgger (Ross, Gordon & Bagnell 2011): behaviour cloning on the states the learner
itself visits, labelled by the queryable expert.

Iteration 0 clones the expert's own demonstrations. Each later iteration rolls out a
mixture (the expert acts with probability beta_i = beta_decay ** i, the current
policy otherwise), records the agent's observations with the privileged expert's
action at each state (`env.expert_action(state, params)`), adds them to the dataset
and refits BC on everything gathered. The dataset is one fixed-shape buffer
(iterations x episodes) whose unfilled episodes are masked, so every iteration
reuses one compiled rollout and one compiled fit.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from arenax.agents.imitation.bc import BCConfig, BCResult, train_bc_params
from arenax.agents.imitation.demonstrations import Demonstrations
from arenax.agents.ppo.action_spec import ActionSpec
from arenax.agents.ppo.networks import build_network, init_params, initial_hidden
from arenax.envs.environment import Environment


@dataclasses.dataclass(frozen=True)
class DAggerConfig:
    """Attributes:
    iterations: rounds of rollout + refit (the first clones the expert's own episodes).
    episodes: episodes gathered per iteration.
    horizon: steps per episode at most.
    beta_decay: the expert acts with probability beta_decay ** i in iteration i.
    bc: the behaviour-cloning fit run after each iteration.
    """

    iterations: int = 4
    episodes: int = 128
    horizon: int = 16
    beta_decay: float = 0.0
    bc: BCConfig = dataclasses.field(default_factory=BCConfig)


def train_dagger(
    env: Environment, env_params, config: DAggerConfig, key: jax.Array, agent: str = "agent"
):
    """Returns (network, BCResult of the last fit, per-iteration mean rollout returns)."""
    bc_config = config.bc
    net_config = bc_config.network_config()
    spec = ActionSpec.from_space(env.action_space(env_params)[agent])
    network = build_network(net_config, spec)
    k_init, key = jax.random.split(key)
    obs_size = jax.eval_shape(env.reset, k_init, env_params)[0][agent].shape[-1]
    params = init_params(network, net_config, k_init, obs_size)

    def episode(net_params, beta, k):
        obs, state = env.reset(k, env_params)

        def step(carry, step_key):
            obs, state, hidden, first = carry
            k_act, k_mix, k_env = jax.random.split(step_key, 3)
            label = env.expert_action(state, env_params)
            x = obs[agent][None, None]
            hidden, dist, _ = network.apply(net_params, hidden, x, jnp.full((1, 1), first))
            own = dist.sample(k_act)[0, 0]
            action = jnp.where(jax.random.bernoulli(k_mix, beta), label, own)
            alive = ~state.done
            next_obs, state, reward, _, _ = env.step(k_env, state, {agent: action}, env_params)
            return (next_obs, state, hidden, False), (obs[agent], label, reward[agent], alive)

        carry = (obs, state, initial_hidden(net_config, (1,)), True)
        _, out = jax.lax.scan(step, carry, jax.random.split(k, config.horizon))
        return out

    @jax.jit
    def gather(net_params, beta, k):
        keys = jax.random.split(k, config.episodes)
        return jax.vmap(episode, (None, None, 0))(net_params, beta, keys)

    total = config.iterations * config.episodes
    shapes = jax.eval_shape(gather, params, 1.0, key)
    buffer = Demonstrations(*(jnp.zeros((total, *s.shape[1:]), s.dtype) for s in shapes))
    returns = []
    result = None
    for i in range(config.iterations):
        key, k_gather, k_fit = jax.random.split(key, 3)
        obs, labels, rewards, mask = gather(params, config.beta_decay**i, k_gather)
        returns.append(float(np.mean(np.sum(np.asarray(rewards * mask), axis=1))))
        rows = slice(i * config.episodes, (i + 1) * config.episodes)
        buffer = Demonstrations(
            buffer.obs.at[rows].set(obs),
            buffer.actions.at[rows].set(labels),
            buffer.rewards.at[rows].set(rewards),
            buffer.mask.at[rows].set(mask),
        )
        result = train_bc_params(network, bc_config, buffer, k_fit)
        params = result.params
    return network, result, returns


__all__ = ["BCResult", "DAggerConfig", "train_dagger"]
