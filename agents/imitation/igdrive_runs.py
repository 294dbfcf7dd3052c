"""Imitation-gap runs on IGDrivSim: BC, BC+RL and BIG under each perception setting,
scored with the shared episode metrics on a fixed test split of procedural scenes.

- Scenes: training demonstrations (and BIG's expert states) come from the scenes of
  PRNG seed 1000 (a fixed split), evaluation from seed 2000; the RL part of BC+RL
  and BIG meets freshly drawn scenes.
- Expert: the log's own bicycle actions (`IGDrive.expert_action`), observed by the
  agent through the restricted sensor: that pairing is the imitation gap.
- Other vehicles are reactive (`others="idm"`): they keep their logged paths but
  brake for the SDC, so an overlap is the SDC's doing (under log replay a slow SDC
  is rear-ended by followers that cannot react). The SDC starts after the 1 s
  warm-up.
- Metrics (`metrics.sdc_episode_metrics`): overlap, off-road, red-light and
  kinematic-infeasibility episode rates, ADE/FDE (m) and route progress.
- BIG (`driving_big.py`): the expert's exact soft Q over an enumerated MDP, which
  driving scenes lack, is replaced by successor features of simulated manoeuvres;
  its posterior (shared by every perception setting) prices the events, speeding
  and slowing, and the BC policy is fine-tuned as in BC+RL on rewards drawn from it.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from arenax.agents.imitation.bc import BCConfig, train_bc
from arenax.agents.imitation.bc_rl import make_bc_rl
from arenax.agents.imitation.big import RewardPosterior
from arenax.agents.imitation.demonstrations import Demonstrations, collect_demonstrations
from arenax.agents.imitation.driving_big import (
    FEATURES,
    DrivingBIGConfig,
    DrivingPosteriorReward,
    PlanFeatures,
    collect_plan_features,
    fit_driving_posterior,
)
from arenax.agents.ppo.action_spec import ActionSpec
from arenax.agents.ppo.export import ExportedAgent, export_agent, load_agent, save_agent
from arenax.agents.ppo.networks import build_network
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
METHODS = ("expert", "bc", "bc_rl", "big")
TRAIN_SEED, TEST_SEED = 1000, 2000
ENV = IGDrive()
BC_RL_DEMOS = 32  # demonstration episodes in BC+RL's behaviour-cloning term
# BC+RL's penalty per overlapping step (off-road and red light stay at 1): collisions are
# rare and short, so at weight 1 their signal drowns in the others' within the RL budget.
BC_RL_OVERLAP_WEIGHT = 10.0
# ... and per step of tailgating, times the headway shortfall in [0, 1] (IGDriveParams):
# a dense precursor of collisions (BC falls short on 8% of its steps under noise, with
# 10x the shortfall in the episodes that collide; the expert on 0.2%).
BC_RL_HEADWAY_WEIGHT = 3.0
BC_RL_UPDATES = 480  # PPO updates of 32 x 32 steps (492k steps) at scale 1
# Weight of the BC term in BC+RL's and BIG's fine-tuning. The cloned policy's action
# std is small, and the NLL's pull on the mean grows as 1/std^2 while PPO's grows as
# 1/std, so at weight 1 imitation pinned the policy: under the 20 m range its
# collisions stayed at BC's (6.8% vs 6.6% of test scenes,
# benchmarks/results/igdrive_table_bc_coef_1.json) while the BC loss kept falling. At
# 0.1 they fall to 2.5% for 18% less route progress (benchmarks/results/
# igdrive_table.json); at 0.01 (a one-off run, no results file) to 1.0% for 50% less:
# it mostly stops. `benchmarks/igdrive_table.py --bc-coef W` reruns a weight.
BC_RL_BC_COEF = 0.1


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


def episode_metrics(params: IGDriveParams, act: Actor, episodes: int) -> dict[str, np.ndarray]:
    """Per-episode metrics of `act` on the `episodes`-scene test split: name -> float32
    array (episodes,), episode i being scene i of the split for every driver (so two
    drivers' arrays pair up scene by scene)."""

    def episode(key):
        sim = drive(params, act, key)
        return sdc_episode_metrics(sim, params.warmup_steps, params.scenario.lane_width)

    metrics = jax.jit(jax.vmap(episode))(split_keys(episodes))
    return {name: np.asarray(value, np.float32) for name, value in metrics.items()}


def evaluate_driver(params: IGDriveParams, act: Actor, episodes: int) -> dict[str, float]:
    """Mean episode metrics of `act` over the `episodes`-scene test split."""
    metrics = episode_metrics(params, act, episodes)
    return {name: float(np.mean(value)) for name, value in metrics.items()}


def drive_test_scene(params: IGDriveParams, act: Actor, index: int = 0, episodes: int = 128):
    """The final simulator state of scene `index` of the `episodes`-scene test split,
    driven by `act` (for rendering)."""
    key = split_keys(episodes)[index]
    return jax.device_get(jax.jit(lambda k: drive(params, act, k))(key))


def driver_actor(agent: ExportedAgent | None, params: IGDriveParams) -> Actor:
    """The privileged expert when `agent` is None, else the agent's deterministic (mean)
    action from its normalised observation."""
    if agent is None:
        return lambda obs, state: ENV.expert_action(state, params)
    network = build_network(agent.config, agent.spec)
    clip = agent.config.obs_clip

    def act(obs: jax.Array, state: Any) -> jax.Array:
        x = agent.obs_norm.normalize(obs, clip) if agent.config.normalize_obs else obs
        _, dist, _ = network.apply(agent.params, (), x[None, None], jnp.ones((1, 1), bool))
        return dist.mode()[0, 0]

    return act


BIG_PLAN_EPISODES = 64  # expert episodes whose states BIG's likelihood compares manoeuvres at


@functools.cache
def driving_plans(scale: float) -> PlanFeatures:
    """BIG's candidate manoeuvres at states of the privileged expert's training-split
    episodes (perception plays no part: the expert sees everything)."""
    config = DrivingBIGConfig()
    params = driving_params("full")
    episodes = max(1, int(BIG_PLAN_EPISODES * scale))
    key = jax.random.PRNGKey(TRAIN_SEED)
    return collect_plan_features(ENV, params, key, episodes, horizon(params), config)


@functools.cache
def driving_posterior(seed: int, scale: float) -> RewardPosterior:
    """BIG's reward posterior for training seed `seed`; every perception setting
    shares it."""
    key = jax.random.fold_in(jax.random.PRNGKey(seed), 2)
    return fit_driving_posterior(driving_plans(scale), DrivingBIGConfig(), key)


def fine_tune(
    agent: ExportedAgent,
    view: Any,
    env_params: IGDriveParams,
    demos: Demonstrations,
    bc_coef: float,
    scale: float,
    key: jax.Array,
) -> tuple[ExportedAgent, dict[str, Any]]:
    """The BC `agent` fine-tuned by PPO on `view`'s rewards plus the BC term on a fixed
    subset of `demos` (BC+RL's recipe; BIG's with the posterior's rewards)."""
    config = dataclasses.replace(
        agent.config,
        num_envs=32,
        num_steps=32,
        total_timesteps=int(32 * 32 * BC_RL_UPDATES * scale),
        lr=1e-4,
        ent_coef=0.0,
        num_minibatches=4,
        update_epochs=4,
        # Keep BC's observation statistics: letting them drift with the RL rollouts
        # moved the cloned policy (full perception: off-road 0.031 -> 0.078, overlap
        # 0.059 -> 0.070 after 492k steps; frozen: 0.039, 0.057).
        freeze_obs_norm=True,
    )
    subset = jax.tree_util.tree_map(lambda a: a[:BC_RL_DEMOS], demos)
    # One jitted update at a time: inside a scan of updates XLA's CPU backend runs these
    # (scene-carrying) updates ~6x slower; fully optimised, since they run long.
    trainer = make_bc_rl(config, view, subset, bc_coef, env_params, chunk_as_loop=True)
    state = trainer.init(key)
    state = state.replace(params=agent.params, env=state.env.replace(obs_norm=agent.obs_norm))
    state, metrics = trainer.train_chunk(state, config.num_updates)
    details = {
        "final_bc_loss": float(np.asarray(metrics["bc_loss"])[-1]),
        "bc_coef": bc_coef,
        "rl_steps": config.num_updates * config.batch_size,
    }
    return export_agent(trainer, state), details


def train_driver(
    method: str,
    setting: str,
    seed: int = 0,
    scale: float = 1.0,
    demonstrations: int = 256,
    bc_coef: float = BC_RL_BC_COEF,
) -> tuple[IGDriveParams, ExportedAgent | None, dict[str, Any]]:
    """Train `method` under perception `setting`: (env params, the trained agent (None
    for the expert), details). `driver_actor(agent, params)` drives with it."""
    if setting not in SETTINGS:
        raise ValueError(
            f"unknown perception setting {setting!r}; choose one of {', '.join(SETTINGS)}"
        )
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    params = driving_params(SETTINGS[setting])
    started = time.perf_counter()
    details: dict[str, Any] = {}
    agent: ExportedAgent | None = None
    if method != "expert":
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
        _, result = train_bc(demos, spec, bc_config, key)
        details["final_bc_loss"] = float(result.losses[-1])
        agent = ExportedAgent(
            bc_config.network_config(), spec, demos.obs.shape[-1], result.params, result.obs_norm
        )
        k_tune = jax.random.fold_in(key, 1)
        if method == "bc_rl":
            rl_params = params.replace(
                overlap_weight=BC_RL_OVERLAP_WEIGHT, headway_weight=BC_RL_HEADWAY_WEIGHT
            )
            agent, tuned = fine_tune(agent, SoloView(ENV), rl_params, demos, bc_coef, scale, k_tune)
            details.update(
                tuned, overlap_weight=BC_RL_OVERLAP_WEIGHT, headway_weight=BC_RL_HEADWAY_WEIGHT
            )
        elif method == "big":
            fitted = time.perf_counter()
            posterior = driving_posterior(seed, scale)
            details["posterior"] = {
                name: {"mean": float(m), "std": float(sd)}
                for name, m, sd in zip(FEATURES, posterior.mean, posterior.std, strict=True)
            }
            details["posterior_seconds"] = time.perf_counter() - fitted
            view = SoloView(DrivingPosteriorReward(ENV, posterior))
            agent, tuned = fine_tune(agent, view, params, demos, bc_coef, scale, k_tune)
            details.update(tuned)
    details["train_seconds"] = time.perf_counter() - started
    return params, agent, details


def run_driver(
    method: str,
    setting: str,
    seed: int = 0,
    scale: float = 1.0,
    demonstrations: int = 256,
    test_episodes: int = 128,
    bc_coef: float = BC_RL_BC_COEF,
) -> dict[str, Any]:
    """Train `method` under perception `setting` and evaluate it on the test split: the
    mean metrics, details of training, and `overlap_per_episode` (0/1 per test scene,
    for paired comparisons between methods)."""
    params, agent, details = train_driver(method, setting, seed, scale, demonstrations, bc_coef)
    per_episode = episode_metrics(params, driver_actor(agent, params), test_episodes)
    return {
        "method": method,
        "setting": setting,
        "perception": SETTINGS[setting],
        "seed": seed,
        **{name: float(np.mean(value)) for name, value in per_episode.items()},
        "overlap_per_episode": per_episode["overlap"].astype(int).tolist(),
        **details,
    }


DRIVER_JSON = "driver.json"


def save_driver(path: str | Path, agent: ExportedAgent, record: dict[str, Any]) -> Path:
    """Write a trained driver to directory `path`: the agent (`save_agent`'s
    `agent.json` and `params.msgpack`) and `driver.json` (method, setting and perception
    it was trained under, seed)."""
    path = save_agent(path, agent, name=str(record["method"]), role="sdc")
    keys = ("method", "setting", "perception", "seed")
    meta = {"format": "arenax.igdrive.driver", **{k: record[k] for k in keys}}
    (path / DRIVER_JSON).write_text(json.dumps(meta, indent=1) + "\n")
    return path


def load_driver(path: str | Path) -> tuple[ExportedAgent, dict[str, Any]]:
    """Read a directory written by `save_driver`: (agent, its `driver.json`).

    Raises:
        FileNotFoundError: `path` is not a driver checkpoint.
        ValueError: the files are damaged or do not describe an IGDrivSim driver.
    """
    path = Path(path)
    meta_file = path / DRIVER_JSON
    if not meta_file.is_file():
        raise FileNotFoundError(
            f"{path} is not an IGDrivSim driver checkpoint: missing {DRIVER_JSON} "
            "(`arenax igdrive train` writes one under OUT/driver)"
        )
    try:
        meta = json.loads(meta_file.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{meta_file} is not valid JSON: {err}") from err
    if meta.get("format") != "arenax.igdrive.driver":
        raise ValueError(f"{meta_file} does not describe an IGDrivSim driver")
    agent, _ = load_agent(path)
    return agent, meta


def perception_spec(mask: str) -> str:
    """A table setting's name (`SETTINGS`) or a perception string, as a perception
    string (validated: a ValueError names the problem)."""
    spec = SETTINGS.get(mask, mask)
    driving_params(spec)
    return spec


def check_observation_size(agent: ExportedAgent, params: IGDriveParams) -> None:
    """Raise a ValueError if `agent` was trained on observations of another size."""
    first = jax.eval_shape(
        lambda k: flatten_observation(ENV.reset(k, params)[0]["sdc"]), jax.random.PRNGKey(0)
    )
    size = int(np.prod(first.shape))
    if size != agent.obs_size:
        raise ValueError(
            f"the driver observes {agent.obs_size} numbers but perception "
            f"{params.perception!r} gives {size}: evaluate it with the scene settings it "
            "was trained on"
        )
