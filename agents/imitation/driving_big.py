"""BIG on IGDrivSim: a reward posterior from the privileged expert's driving, with the
expert's Q approximated by short simulated manoeuvres, then a Bayes-adaptive driver.

The tabular BIG (`big.py`) needs the expert's exact soft Q over an enumerated MDP;
driving scenes have none. Here:

1. Reward model: linear in per-step driving features phi (`FEATURES`): overlap,
   off-road and red-light events (0/1), the headway shortfall in [0, 1], and
   speeding and slowing (m/s above and below the SDC's logged speed,
   `info["speed_vs_log"]`), r_w = w . phi.
2. Likelihood: at states of the expert's own episodes (every `stride` steps), the
   expert chose its own driving (candidate 0) over alternative manoeuvres: its
   current action plus an acceleration or curvature offset, held open-loop for
   `hold` steps (`offsets`). Each candidate is simulated for `horizon` steps, the
   expert driving after the hold, and psi_k is the discounted sum of phi along it
   (successor features of the expert's continuation: Q_w(s, k) ~ w . psi_k
   estimates the expert's own Q under w, the expert standing in for the optimal
   continuation; under full perception the other vehicles are reactive but
   deterministic, so one sample is exact for that continuation). The expert is
   Boltzmann-rational over the candidates:
   p(expert's | s, w) = softmax_k(rationality * w . psi_k) at k = 0.
3. Prior: independent Gaussians; outcome features N(0, outcome_prior_std^2), the
   exploration feature `slowing` (driving below the logged speed, which is how a
   driver with a restricted sensor buys time to see) N(-exploration_cost,
   exploration_prior_std^2): information gathering is believed cheap, not free.
   The expert keeps to its logged speed, so the demonstrations only bound its cost.
4. Posterior: the variational mean-field Gaussian of `big.fit_gaussian_posterior`.
   It does not depend on the agent's perception (the expert sees everything), so
   one posterior serves every perception setting.
5. Policy: the Bayes-adaptive problem in which every episode pays w . phi for a w
   drawn from the posterior at reset (`DrivingPosteriorReward`) and the agent sees
   only its restricted sensor. Its learner is IGDrivSim's BC+RL with the penalty
   rewards replaced by the posterior's (`igdrive_runs.train_driver`): the BC policy
   fine-tuned by PPO with the behaviour-cloning term kept in the loss, a
   feed-forward network as for BC (the draw is invisible, so the optimum is the
   policy best for the posterior-mean reward and needs no memory of it).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from arenax.agents.imitation.big import BIGConfig, RewardPosterior, fit_gaussian_posterior
from arenax.envs.wrappers import Wrapper

FEATURES = ("overlap", "offroad", "red_light", "headway_shortfall", "speeding", "slowing")
EXPLORATION_FEATURES = ("slowing",)


@dataclasses.dataclass(frozen=True)
class DrivingBIGConfig:
    """Attributes:
    offsets: (K - 1) manoeuvres compared with the expert's driving, each an
        (acceleration m/s^2, curvature 1/m) offset added to the expert's action at
        the branching state and held open-loop during the hold.
    hold: steps a manoeuvre is held before the expert drives on.
    horizon: steps each candidate is simulated (hold included).
    stride: steps between the expert states where candidates are compared.
    discount: discount of the successor features.
    fit: the prior and the variational fit (`BIGConfig`'s rationality, prior and
        optimiser fields; its policy fields are unused here).
    """

    offsets: tuple[tuple[float, float], ...] = ((3.0, 0.0), (-3.0, 0.0), (0.0, 0.03), (0.0, -0.03))
    hold: int = 10
    horizon: int = 30
    stride: int = 8
    discount: float = 0.95
    fit: BIGConfig = dataclasses.field(
        default_factory=lambda: BIGConfig(
            rationality=1.0,
            outcome_prior_std=1.0,
            exploration_cost=0.1,
            exploration_prior_std=0.05,
            steps=500,
            learning_rate=0.05,
        )
    )


def step_features(info: dict[str, jax.Array]) -> jax.Array:
    """(F,) the step's reward features (`FEATURES`) from `IGDrive.step`'s info."""
    speed = info["speed_vs_log"]
    return jnp.stack(
        [
            info["overlap"].astype(jnp.float32),
            info["offroad"].astype(jnp.float32),
            info["red_light"].astype(jnp.float32),
            info["headway_shortfall"],
            jnp.maximum(speed, 0.0),
            jnp.maximum(-speed, 0.0),
        ]
    )


def driving_prior(config: DrivingBIGConfig) -> RewardPosterior:
    """The prior over the feature weights (see the module docstring, 3)."""
    exploring = jnp.array([name in EXPLORATION_FEATURES for name in FEATURES])
    fit = config.fit
    mean = jnp.where(exploring, -fit.exploration_cost, 0.0)
    std = jnp.where(exploring, fit.exploration_prior_std, fit.outcome_prior_std)
    return RewardPosterior(mean, jnp.diag(std**2))


def candidate_offsets(config: DrivingBIGConfig) -> jax.Array:
    """(K, 2) action offsets; row 0 stands for the expert's own driving (no manoeuvre)."""
    return jnp.asarray(((0.0, 0.0), *config.offsets), jnp.float32)


def plan_features(
    env: Any, params: Any, state: Any, key: jax.Array, config: DrivingBIGConfig
) -> jax.Array:
    """(K, F) discounted feature sums of each candidate from `state`: row 0 the expert
    driving on, row k its action at `state` plus offset k held for `config.hold` steps,
    then the expert."""

    start_action = env.expert_action(state, params)
    offsets = candidate_offsets(config)
    manoeuvre = jnp.arange(offsets.shape[0]) > 0

    def candidate(offset: jax.Array, is_manoeuvre: jax.Array) -> jax.Array:
        def step(carry, t):
            sim_state, k = carry
            k, k_step = jax.random.split(k)
            # Held open-loop: the expert, queried each step, would steer back to its log.
            held = params.model.clip(start_action + offset)
            action = jnp.where(
                is_manoeuvre & (t < config.hold), held, env.expert_action(sim_state, params)
            )
            _, sim_state, _, _, info = env.step(k_step, sim_state, {"sdc": action}, params)
            return (sim_state, k), config.discount**t * step_features(info)

        _, phi = jax.lax.scan(step, (state, key), jnp.arange(config.horizon))
        return jnp.sum(phi, axis=0)

    return jax.vmap(candidate)(offsets, manoeuvre)


@struct.dataclass
class PlanFeatures:
    """Candidate manoeuvres at expert states: psi (E, B, K, F), alive (E, B)."""

    psi: jax.Array
    alive: jax.Array


def collect_plan_features(
    env: Any, params: Any, key: jax.Array, episodes: int, steps: int, config: DrivingBIGConfig
) -> PlanFeatures:
    """Candidates at every `config.stride`-th state of `episodes` expert episodes of
    `steps` steps (from `env.reset`, so after its warm-up)."""
    branches = max(1, steps // config.stride)

    def episode(k: jax.Array) -> tuple[jax.Array, jax.Array]:
        k_reset, k_run = jax.random.split(k)
        _, state = env.reset(k_reset, params)

        def branch(carry, _):
            state, k = carry
            k, k_plan, k_drive = jax.random.split(k, 3)
            psi = plan_features(env, params, state, k_plan, config)
            alive = ~state.done

            def drive(s, k_step):
                action = env.expert_action(s, params)
                _, s, _, _, _ = env.step(k_step, s, {"sdc": action}, params)
                return s, None

            state, _ = jax.lax.scan(drive, state, jax.random.split(k_drive, config.stride))
            return (state, k), (psi, alive)

        _, out = jax.lax.scan(branch, (state, k_run), None, length=branches)
        return out

    psi, alive = jax.jit(jax.vmap(episode))(jax.random.split(key, episodes))
    return PlanFeatures(psi, alive)


def plan_log_likelihood(weights: jax.Array, plans: PlanFeatures, rationality: float) -> jax.Array:
    """Sum over the expert states of log p(expert's action | s, w): a softmax over the
    candidates' approximate Q values w . psi, the expert's being candidate 0."""
    log_pi = jax.nn.log_softmax(rationality * (plans.psi @ weights), axis=-1)
    return jnp.sum(jnp.where(plans.alive, log_pi[..., 0], 0.0))


def fit_driving_posterior(
    plans: PlanFeatures, config: DrivingBIGConfig, key: jax.Array
) -> RewardPosterior:
    """The variational posterior over the weights of `FEATURES` given `plans`."""
    return fit_gaussian_posterior(
        lambda w: plan_log_likelihood(w, plans, config.fit.rationality),
        driving_prior(config),
        config.fit,
        key,
    )


@struct.dataclass
class DrivingBAMDPState:
    inner: Any
    weights: jax.Array  # (F,) this episode's reward draw


class DrivingPosteriorReward(Wrapper):
    """The Bayes-adaptive view of IGDrive: each reset draws feature weights from
    `posterior`; each step pays weights . `step_features(info)` (0 once done).
    Observations are IGDrive's own (the restricted sensor); `info["task_reward"]`
    keeps IGDrive's penalty reward."""

    def __init__(self, env: Any, posterior: RewardPosterior):
        super().__init__(env)
        self.posterior = posterior
        self.name = f"{env.name}:bamdp"

    def reset(self, key: jax.Array, params: Any):
        k_env, k_reward = jax.random.split(key)
        obs, inner = self.env.reset(k_env, params)
        return obs, DrivingBAMDPState(inner, self.posterior.sample(k_reward))

    def step(self, key: jax.Array, state: DrivingBAMDPState, actions: dict, params: Any):
        obs, inner, rewards, done, info = self.env.step(key, state.inner, actions, params)
        reward = jnp.where(state.inner.done, 0.0, step_features(info) @ state.weights)
        info = dict(info, task_reward=rewards["sdc"])
        return obs, state.replace(inner=inner), {"sdc": reward}, done, info

    def _key(self) -> tuple:
        return (
            tuple(np.asarray(self.posterior.mean).tolist()),
            tuple(np.asarray(self.posterior.cov).ravel().tolist()),
        )

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.env == other.env and self._key() == other._key()

    def __hash__(self) -> int:
        return hash((type(self), type(self.env), self._key()))
