"""One training run of an imitation-gap method on a gap environment, scored by the
environment's true return: what `arenax gap train` and `benchmarks/gap_table.py` run.

Budgets are small defaults that finish in seconds on a CPU; `scale` multiplies the
data and training budgets (a GPU runs `scale` 10 in about the time the CPU runs 1).
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import jax
import numpy as np

from arenax.agents.imitation.bc import BCConfig, evaluate_policy, train_bc
from arenax.agents.imitation.bc_rl import make_bc_rl
from arenax.agents.imitation.big import (
    BIGConfig,
    collect_state_actions,
    train_big,
)
from arenax.agents.imitation.dagger import DAggerConfig, train_dagger
from arenax.agents.imitation.demonstrations import collect_demonstrations
from arenax.agents.ppo.action_spec import ActionSpec
from arenax.agents.ppo.config import PPOConfig
from arenax.envs import make
from arenax.envs.single_agent import SoloView

METHODS = ("bc", "dagger", "bc_rl", "big")
GAP_ENVS = ("tiger_door", "poisoned_doors")
EVAL_EPISODES = 1024
DEMO_NOISE = 0.3
FAST_COMPILE = {"xla_backend_optimization_level": 0}


def ppo_config(scale: float, recurrent: bool) -> PPOConfig:
    return PPOConfig(
        num_envs=32,
        num_steps=16,
        total_timesteps=int(32 * 16 * 80 * scale),
        hidden_sizes=(32, 32),
        recurrent=recurrent,
        gru_size=32,
        ent_coef=0.01,
        lr=3e-3,
    )


def run_method(
    env_name: str,
    method: str,
    gap: bool,
    seed: int,
    scale: float = 1.0,
    bc_coef: float = 0.1,
    demonstrations: int = 256,
    demo_noise: float = DEMO_NOISE,
) -> dict[str, Any]:
    """Train `method` on `env_name` (with or without the gap) and evaluate it.

    BC, BC+RL and BIG learn from the same `demonstrations` expert episodes, noise-injected
    with probability `demo_noise` (labels stay the expert's; see
    `collect_demonstrations`); DAgger queries the expert on its own rollouts.

    Returns the mean true return over EVAL_EPISODES episodes, the optimum, the wall
    clock, and method details (the reward posterior for BIG)."""
    if env_name not in GAP_ENVS:
        raise ValueError(
            f"unknown gap environment {env_name!r}; choose one of {', '.join(GAP_ENVS)}"
        )
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    env, params = make(env_name, gap=gap)
    key = jax.random.PRNGKey(seed)
    k_data, k_fit, k_eval = jax.random.split(key, 3)
    horizon = params.horizon
    episodes = max(1, int(demonstrations * scale))
    started = time.perf_counter()
    details: dict[str, Any] = {}
    obs_norm = None
    if method in ("bc", "dagger"):
        config = BCConfig(hidden_sizes=(32, 32), steps=int(300 * scale))
        if method == "bc":
            demos = collect_demonstrations(env, params, k_data, episodes, horizon, noise=demo_noise)
            spec = ActionSpec.from_space(env.action_space(params)["agent"])
            network, result = train_bc(demos, spec, config, k_fit)
        else:
            dagger = DAggerConfig(
                iterations=4, episodes=max(1, episodes // 2), horizon=horizon, bc=config
            )
            network, result, rollout_returns = train_dagger(env, params, dagger, k_fit)
            details["iteration_returns"] = rollout_returns
        net_params, net_config, obs_norm = result.params, config, result.obs_norm
        details["final_bc_loss"] = float(result.losses[-1])
    elif method == "bc_rl":
        demos = collect_demonstrations(env, params, k_data, episodes, horizon, noise=demo_noise)
        net_config = ppo_config(scale, recurrent=False)
        trainer = make_bc_rl(net_config, SoloView(env), demos, bc_coef, params, FAST_COMPILE)
        state, metrics = trainer.train(k_fit)
        network, net_params, obs_norm = trainer.network, state.params, state.obs_norm
        details["bc_coef"] = bc_coef
        details["final_bc_loss"] = float(np.asarray(metrics["bc_loss"])[-1])
    else:
        # More entropy than the other learners: the Bayes-adaptive policy must keep trying
        # the undemonstrated plan until cloning's digits and RL's make it pay.
        ppo = dataclasses.replace(ppo_config(scale, recurrent=True), ent_coef=0.03)
        config = BIGConfig(ppo=ppo)
        demos = collect_demonstrations(env, params, k_data, episodes, horizon, noise=demo_noise)
        state_actions = collect_state_actions(env, params, k_data, episodes, demo_noise)
        trainer, state, posterior = train_big(
            env, params, demos, state_actions, config, k_fit, FAST_COMPILE
        )
        network, net_params, obs_norm = trainer.network, state.params, state.obs_norm
        net_config = config.ppo
        details["posterior"] = {
            name: {"mean": float(m), "std": float(s)}
            for name, m, s in zip(env.FEATURES, posterior.mean, posterior.std, strict=True)
        }
    returns = evaluate_policy(
        env,
        params,
        network,
        net_config,
        net_params,
        k_eval,
        EVAL_EPISODES,
        horizon,
        obs_norm=obs_norm,
    )
    return {
        "env": env_name,
        "method": method,
        "gap": gap,
        "seed": seed,
        "return": float(np.mean(np.asarray(returns))),
        "optimal_return": params.optimal_return,
        "seconds": time.perf_counter() - started,
        "demo_noise": demo_noise if method != "dagger" else None,
        **details,
    }
