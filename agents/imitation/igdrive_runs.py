"""Imitation-gap runs on IGDrivSim: BC and BC+RL under each perception setting, scored
with the shared episode metrics on a fixed test split of procedural scenes.

- Scenes: training demonstrations come from the scenes of PRNG seed 1000 (a fixed
  split), evaluation from seed 2000; BC+RL's RL part meets freshly drawn scenes.
- Expert: the log's own bicycle actions (`IGDrive.expert_action`), observed by the
  agent through the restricted sensor: that pairing is the imitation gap.
- Other vehicles are reactive (`others="idm"`): they keep their logged paths but
  brake for the SDC, so an overlap is the SDC's doing (under log replay a slow SDC
  is rear-ended by followers that cannot react). The SDC starts after the 1 s
  warm-up.
- Metrics (`metrics.sdc_episode_metrics`): overlap, off-road, red-light and
  kinematic-infeasibility episode rates, ADE/FDE (m) and route progress.
- BIG is not run here: its likelihood needs the expert's exact soft Q over an
  enumerated privileged MDP (`envs/gap/tabular.py`), which driving scenes lack;
  an approximate soft-Q (a critic fitted on the privileged state) would be needed.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from arenax.agents.imitation.bc import BCConfig, train_bc
from arenax.agents.imitation.bc_rl import make_bc_rl
from arenax.agents.imitation.demonstrations import Demonstrations, collect_demonstrations
from arenax.agents.ppo.action_spec import ActionSpec
from arenax.envs.igdrive.env import IGDrive, IGDriveParams
from arenax.envs.igdrive.metrics import sdc_episode_metrics
from arenax.envs.single_agent import SoloView, flatten_observation

SETTINGS = {
    "full": "full",
    "range": "range:radius=20",
    "cone": "cone:radius=30,angle=120",
    "noise": "noise:std=1.0",
    "drop": "drop:p=0.3",
    "occlusion": "occlusion",
}
METHODS = ("expert", "bc", "bc_rl")
TRAIN_SEED, TEST_SEED = 1000, 2000
ENV = IGDrive()
FAST_COMPILE = {"xla_backend_optimization_level": 0}
BC_RL_DEMOS = 32  # demonstration episodes in BC+RL's behaviour-cloning term


def driving_params(perception: str) -> IGDriveParams:
    """The table's environment: default scenes, reactive traffic, 64 map points in the
    observation."""
    return IGDriveParams(perception=perception, num_obs_points=64, others="idm")


def horizon(params: IGDriveParams) -> int:
    return params.scenario.num_timesteps - 1 - params.warmup_steps


def driving_demos(params: IGDriveParams, episodes: int) -> Demonstrations:
    """The expert's episodes on the training split, seen through `params.perception`."""
    return collect_demonstrations(
        ENV, params, jax.random.PRNGKey(TRAIN_SEED), episodes, horizon(params), agent="sdc"
    )


Actor = Callable[[jax.Array, Any], jax.Array]  # (flat observation, env state) -> action


def drive(params: IGDriveParams, act: Actor, key: jax.Array):
    """One episode of scene `key` with the SDC driven by `act`: the final simulator state."""
    obs, state = ENV.reset(key, params)

    def step(carry, step_key):
        obs, state = carry
        action = params.model.clip(act(flatten_observation(obs["sdc"]), state))
        obs, state, _, _, _ = ENV.step(step_key, state, {"sdc": action}, params)
        return (obs, state), None

    (_, final), _ = jax.lax.scan(step, (obs, state), jax.random.split(key, horizon(params)))
    return final.sim


def split_keys(episodes: int) -> jax.Array:
    """The test split: the first `episodes` keys split from seed TEST_SEED."""
    return jax.random.split(jax.random.PRNGKey(TEST_SEED), episodes)


def evaluate_driver(params: IGDriveParams, act: Actor, episodes: int) -> dict[str, float]:
    """Mean episode metrics of `act` over the `episodes`-scene test split."""

    def episode(key):
        sim = drive(params, act, key)
        return sdc_episode_metrics(sim, params.warmup_steps, params.scenario.lane_width)

    metrics = jax.jit(jax.vmap(episode))(split_keys(episodes))
    return {name: float(np.mean(np.asarray(value, np.float32))) for name, value in metrics.items()}


def drive_test_scene(params: IGDriveParams, act: Actor, index: int = 0, episodes: int = 128):
    """The final simulator state of scene `index` of the `episodes`-scene test split,
    driven by `act` (for rendering)."""
    key = split_keys(episodes)[index]
    return jax.device_get(jax.jit(lambda k: drive(params, act, k))(key))


def network_actor(network, params, obs_norm, clip: float = 10.0) -> Actor:
    """The deterministic (mean) action of a trained policy network."""

    def act(obs: jax.Array, state: Any) -> jax.Array:
        x = obs if obs_norm is None else obs_norm.normalize(obs, clip)
        _, dist, _ = network.apply(params, (), x[None, None], jnp.ones((1, 1), bool))
        return dist.mode()[0, 0]

    return act


def train_driver(
    method: str,
    setting: str,
    seed: int = 0,
    scale: float = 1.0,
    demonstrations: int = 256,
    bc_coef: float = 1.0,
) -> tuple[IGDriveParams, Actor, dict[str, Any]]:
    """Train `method` under perception `setting`: (env params, actor, details)."""
    if method == "big":
        raise ValueError(
            "BIG is not available on IGDrivSim: its likelihood needs the expert's exact "
            "soft Q over an enumerated privileged MDP (see agents/imitation/igdrive_runs.py)"
        )
    if setting not in SETTINGS:
        raise ValueError(
            f"unknown perception setting {setting!r}; choose one of {', '.join(SETTINGS)}"
        )
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    params = driving_params(SETTINGS[setting])
    started = time.perf_counter()
    details: dict[str, Any] = {}
    if method == "expert":
        act: Actor = lambda obs, state: ENV.expert_action(state, params)
    else:
        demos = driving_demos(params, max(1, int(demonstrations * scale)))
        key = jax.random.PRNGKey(seed)
        bc_config = BCConfig(
            hidden_sizes=(128, 128),
            steps=int(1500 * scale),
            learning_rate=1e-3,
            normalize_obs=True,
            batch_episodes=16,
            init_log_std=-2.0,
        )
        spec = ActionSpec.from_space(ENV.action_space(params)["sdc"])
        network, result = train_bc(demos, spec, bc_config, key)
        details["final_bc_loss"] = float(result.losses[-1])
        act = network_actor(network, result.params, result.obs_norm)
        if method == "bc_rl":
            # BC+RL fine-tunes the BC policy: PPO on the penalty rewards plus the BC term.
            config = dataclasses.replace(
                bc_config.network_config(),
                num_envs=32,
                num_steps=32,
                total_timesteps=int(32 * 32 * 120 * scale),
                lr=1e-4,
                ent_coef=0.0,
                num_minibatches=4,
                update_epochs=4,
            )
            # The BC term runs on every minibatch: a fixed subset of the demonstrations.
            subset = jax.tree_util.tree_map(lambda a: a[:BC_RL_DEMOS], demos)
            trainer = make_bc_rl(config, SoloView(ENV), subset, bc_coef, params, FAST_COMPILE)
            state = trainer.init(jax.random.fold_in(key, 1))
            state = state.replace(
                params=result.params, env=state.env.replace(obs_norm=result.obs_norm)
            )
            state, metrics = trainer.train_chunk(state, config.num_updates)
            act = network_actor(trainer.network, state.params, state.obs_norm, config.obs_clip)
            details["final_bc_loss"] = float(np.asarray(metrics["bc_loss"])[-1])
            details["bc_coef"] = bc_coef
            details["rl_steps"] = config.num_updates * config.batch_size
    details["train_seconds"] = time.perf_counter() - started
    return params, act, details


def run_driver(
    method: str,
    setting: str,
    seed: int = 0,
    scale: float = 1.0,
    demonstrations: int = 256,
    test_episodes: int = 128,
    bc_coef: float = 1.0,
) -> dict[str, Any]:
    """Train `method` under perception `setting` and evaluate it on the test split."""
    params, act, details = train_driver(method, setting, seed, scale, demonstrations, bc_coef)
    result = evaluate_driver(params, act, test_episodes)
    return {
        "method": method,
        "setting": setting,
        "perception": SETTINGS[setting],
        "seed": seed,
        **result,
        **details,
    }
