"""BC+RL: PPO on the environment's (penalty) rewards plus a behaviour-cloning term.

IGDrivSim's recipe: imitation keeps the policy close to the expert, and RL on
penalty rewards (collisions, off-road, red lights) corrects what imitation alone
gets wrong. The loss of every PPO minibatch is

    PPO loss + bc_coef * mean NLL of the expert's actions on the demonstrations,

with the demonstrations' observations normalised by the learner's own running
statistics. Both weights are config: PPO's terms through `PPOConfig`, the BC term
through `bc_coef`. The network, rollout and update are PPO's (`agents/ppo`).
"""

from __future__ import annotations

from typing import Any

import jax

from arenax.agents.imitation.bc import sequence_nll
from arenax.agents.imitation.demonstrations import Demonstrations
from arenax.agents.ppo.action_spec import ActionSpec
from arenax.agents.ppo.config import PPOConfig
from arenax.agents.ppo.networks import build_network, initial_hidden
from arenax.agents.ppo.train import PPOTrainer, make_train


def make_bc_rl(
    config: PPOConfig,
    env: Any,
    demos: Demonstrations,
    bc_coef: float,
    env_params: Any | None = None,
    compiler_options: dict[str, Any] | None = None,
    chunk_as_loop: bool = False,
) -> PPOTrainer:
    """A PPO trainer (`make_train`) whose loss also clones `demos` with weight `bc_coef`.

    `env` is a single-agent env (e.g. `SoloView`); `demos` hold that env's observations.
    `compiler_options` and `chunk_as_loop` are `make_train`'s.
    """
    if bc_coef < 0:
        raise ValueError(f"bc_coef must be >= 0, got {bc_coef}")
    params = env.default_params if env_params is None else env_params
    network = build_network(config, ActionSpec.from_space(env.action_space(params)))
    hidden0 = initial_hidden(config, (demos.obs.shape[0],))

    def bc_term(net_params: Any, obs_norm: Any) -> tuple[jax.Array, dict[str, jax.Array]]:
        def normalise(obs: jax.Array) -> jax.Array:
            if not config.normalize_obs:
                return obs
            return obs_norm.normalize(obs, config.obs_clip)

        nll = sequence_nll(network, hidden0, net_params, demos, normalise)
        return bc_coef * nll, {"bc_loss": nll}

    return make_train(
        config, env, env_params, compiler_options, extra_loss=bc_term, chunk_as_loop=chunk_as_loop
    )
