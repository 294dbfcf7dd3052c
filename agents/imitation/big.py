"""BIG-style Bayesian inverse RL for the imitation gap (after Vuorio, Fellows, Lu,
Grislain & Whiteson 2024): a posterior over rewards from the demonstrations and a
prior on the cost of exploration, then a Bayes-optimal policy under that posterior.

1. Reward model: linear in the environment's reward features of a step,
   r_w(s, a) = w . phi(s, a) (`env.reward_features`, on the privileged state).
2. Likelihood: the expert is Boltzmann-rational in the fully observed MDP,
   p(a | s, w) = softmax_a(rationality * Q_w(s, a)), with Q_w from exact soft value
   iteration over the environment's enumerated privileged MDP (`env.tabular`).
3. Prior: independent Gaussians; outcome features N(0, outcome_prior_std^2),
   exploration features (`env.EXPLORATION_FEATURES`: pressing a button, working a
   combination) N(-exploration_cost, exploration_prior_std^2) - the prior belief
   that undemonstrated information gathering is cheap but not free.
4. Posterior: variational, a mean-field Gaussian fitted by maximising the ELBO
   with optax (Adam, reparameterised samples). Not a Laplace approximation: a
   near-deterministic expert only tells the *order* of rewards, so the likelihood
   saturates and the MAP sits at the smallest scale that explains the data, while
   the posterior's mass (and mean) lies well inside the feasible region; a
   Gaussian fitted to the whole posterior captures that. Demonstrated preferences
   concentrate; features the expert's choices say nothing about keep their prior
   width.
5. Bayes-optimal policy: the Bayes-adaptive problem in which every episode draws a
   reward from the posterior (and the hidden context from its prior, by the env's
   reset) and the agent sees only its own restricted observation; a recurrent PPO
   agent (`agents/ppo`, GRU) is trained on it, so it learns when gathering
   information is worth its cost. Because the draw does not change what the agent
   sees, the optimum is the policy that is best for the posterior-mean reward.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import struct

from arenax.agents.ppo.config import PPOConfig
from arenax.agents.ppo.train import PPOTrainer, make_train
from arenax.envs.gap.tabular import soft_q_values
from arenax.envs.single_agent import SoloView


@dataclasses.dataclass(frozen=True)
class BIGConfig:
    """Attributes:
    rationality: the expert's Boltzmann inverse temperature.
    outcome_prior_std: prior std of the weights of non-exploration features.
    exploration_cost: prior mean cost (minus the weight) of exploration features.
    exploration_prior_std: prior std of those weights.
    steps, learning_rate, elbo_samples: the variational fit (Adam steps, step size,
        reparameterised samples per ELBO estimate).
    ppo: the Bayes-adaptive learner (recurrent by default).
    """

    rationality: float = 10.0
    outcome_prior_std: float = 1.0
    exploration_cost: float = 0.1
    exploration_prior_std: float = 0.05
    steps: int = 500
    learning_rate: float = 0.05
    elbo_samples: int = 16
    ppo: PPOConfig = dataclasses.field(
        default_factory=lambda: PPOConfig(
            num_envs=32,
            num_steps=16,
            total_timesteps=32 * 16 * 60,
            hidden_sizes=(32, 32),
            recurrent=True,
            gru_size=32,
            ent_coef=0.01,
            lr=3e-3,
        )
    )


@struct.dataclass
class RewardPosterior:
    """A Gaussian over reward weights (K,): mean (K,), covariance (K, K)."""

    mean: jax.Array
    cov: jax.Array

    @property
    def std(self) -> jax.Array:
        return jnp.sqrt(jnp.diag(self.cov))

    def sample(self, key: jax.Array) -> jax.Array:
        return jax.random.multivariate_normal(key, self.mean, self.cov)


def prior(env: Any, config: BIGConfig) -> RewardPosterior:
    """The prior over the env's reward weights (see the module docstring)."""
    exploring = jnp.array([name in env.EXPLORATION_FEATURES for name in env.FEATURES])
    mean = jnp.where(exploring, -config.exploration_cost, 0.0)
    std = jnp.where(exploring, config.exploration_prior_std, config.outcome_prior_std)
    return RewardPosterior(mean, jnp.diag(std**2))


@struct.dataclass
class StateActions:
    """Expert steps as privileged state indices: fields (E, T)."""

    state: jax.Array
    action: jax.Array
    mask: jax.Array


def collect_state_actions(env: Any, params: Any, key: jax.Array, episodes: int) -> StateActions:
    """The privileged expert's episodes as (state index, action) pairs."""

    def episode(k):
        _, state = env.reset(k, params)

        def step(state, step_key):
            action = env.expert_action(state, params)
            index = env.state_index(state, params)
            alive = ~state.done
            _, state, _, _, _ = env.step(step_key, state, {"agent": action}, params)
            return state, (index, action, alive)

        _, out = jax.lax.scan(step, state, jax.random.split(k, params.horizon))
        return out

    index, action, mask = jax.jit(jax.vmap(episode))(jax.random.split(key, episodes))
    return StateActions(index.astype(jnp.int32), action.astype(jnp.int32), mask)


def log_likelihood(weights, mdp, demos: StateActions, rationality: float) -> jax.Array:
    """Sum over demonstrated steps of log p(a | s, w) for the Boltzmann-rational expert."""
    q = soft_q_values(mdp, weights, rationality)
    log_pi = jax.nn.log_softmax(rationality * q, axis=-1)
    chosen = log_pi[demos.state, demos.action]
    return jnp.sum(jnp.where(demos.mask, chosen, 0.0))


def fit_reward_posterior(
    env: Any, params: Any, demos: StateActions, config: BIGConfig, key: jax.Array
) -> RewardPosterior:
    """Mean-field Gaussian q(w) = N(mu, diag sigma^2) maximising the ELBO
    E_q[log p(demos | w) + log p(w)] + H[q], by Adam on reparameterised samples."""
    mdp = env.tabular(params)
    start = prior(env, config)
    precision = jnp.linalg.inv(start.cov)

    def log_joint(w):
        centred = w - start.mean
        log_prior = -0.5 * centred @ precision @ centred
        return log_prior + log_likelihood(w, mdp, demos, config.rationality)

    def negative_elbo(q, k):
        mean, log_std = q
        noise = jax.random.normal(k, (config.elbo_samples, mean.shape[0]))
        samples = mean + jnp.exp(log_std) * noise
        return -(jnp.mean(jax.vmap(log_joint)(samples)) + jnp.sum(log_std))

    optimiser = optax.adam(config.learning_rate)

    @jax.jit
    def fit(q, k):
        def step(carry, step_key):
            q, opt_state = carry
            grad = jax.grad(negative_elbo)(q, step_key)
            updates, opt_state = optimiser.update(grad, opt_state, q)
            return (optax.apply_updates(q, updates), opt_state), None

        keys = jax.random.split(k, config.steps)
        (q, _), _ = jax.lax.scan(step, (q, optimiser.init(q)), keys)
        return q

    mean, log_std = fit((start.mean, jnp.log(start.std)), key)
    return RewardPosterior(mean, jnp.diag(jnp.exp(2.0 * log_std)))


@struct.dataclass
class BAMDPState:
    inner: Any
    weights: jax.Array  # (K,) this episode's reward draw


class PosteriorRewardEnv:
    """The Bayes-adaptive view of a one-agent gap env: each reset draws reward weights
    from `posterior` (the hidden context comes from the env's own reset); each step pays
    weights . phi(state, action). Observations are the env's own (the agent's, gap
    included); `info["task_reward"]` keeps the env's true reward for reporting."""

    def __init__(self, env: Any, posterior: RewardPosterior):
        self.env = env
        self.posterior = posterior
        self.agents = env.agents
        self.name = f"{env.name}:bamdp"

    @property
    def default_params(self) -> Any:
        return self.env.default_params

    def action_space(self, params: Any) -> Any:
        return self.env.action_space(params)

    def observation_space(self, params: Any) -> Any:
        return self.env.observation_space(params)

    def reset(self, key: jax.Array, params: Any):
        k_env, k_reward = jax.random.split(key)
        obs, inner = self.env.reset(k_env, params)
        return obs, BAMDPState(inner, self.posterior.sample(k_reward))

    def step(self, key: jax.Array, state: BAMDPState, actions: dict, params: Any):
        features = self.env.reward_features(state.inner, actions["agent"], params)
        obs, inner, rewards, done, info = self.env.step(key, state.inner, actions, params)
        reward = jnp.where(state.inner.done, 0.0, features @ state.weights)
        info = dict(info, task_reward=rewards["agent"])
        return obs, BAMDPState(inner, state.weights), {"agent": reward}, done, info

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.env == other.env

    def __hash__(self) -> int:
        return hash((type(self), type(self.env)))


def make_big_learner(
    env: Any,
    params: Any,
    posterior: RewardPosterior,
    config: BIGConfig,
    compiler_options: dict[str, Any] | None = None,
) -> PPOTrainer:
    """The recurrent PPO learner of the Bayes-adaptive problem under `posterior`."""
    return make_train(
        config.ppo, SoloView(PosteriorRewardEnv(env, posterior)), params, compiler_options
    )
