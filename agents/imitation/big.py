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
   Two things make that optimum reachable by PPO without moving it: the rewards are
   shaped by the privileged expert's soft value under the drawn reward (potential-
   based, so every policy's return shifts by the same constant; see
   `PosteriorRewardEnv`), and the policy starts from behaviour cloning of the
   demonstrations (`warm_start`, label-smoothed so that undemonstrated choices keep
   some probability). A few such learners run vmapped from different clones and
   the best by its own Bayes-adaptive return is kept (`train_big`).

Demonstrations may be noise-injected (`collect_state_actions(..., noise=...)`): the
expert, queried in states it would not itself enter, shows how it values them (it
works door 0's combination to the end once there), which is what lets the
posterior price an undemonstrated plan; the expert's own rollouts only say that the
plan is not better than what it did.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import struct

from arenax.agents.imitation.bc import BCConfig, train_bc_params
from arenax.agents.imitation.demonstrations import Demonstrations, noisy_executor
from arenax.agents.ppo.config import PPOConfig
from arenax.agents.ppo.train import PPOTrainer, TrainState, make_train
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
    shaping: shape the Bayes-adaptive rewards with the privileged expert's soft value
        under each episode's drawn reward (`PosteriorRewardEnv`; leaves the optimum
        unchanged, makes long undemonstrated sequences learnable).
    warm_start_steps: behaviour-cloning steps on the demonstrations that initialise
        the Bayes-adaptive policy (`warm_start`); 0 starts from random weights.
    warm_start_smoothing: label smoothing of that cloning, so that actions the expert
        never took keep some probability for the learner to try.
    restarts: Bayes-adaptive learners run from the clone (vmapped); the best by its
        own objective is kept (`train_big`).
    ppo: the Bayes-adaptive learner (recurrent by default).
    """

    rationality: float = 10.0
    outcome_prior_std: float = 1.0
    exploration_cost: float = 0.1
    exploration_prior_std: float = 0.02
    steps: int = 500
    learning_rate: float = 0.05
    elbo_samples: int = 16
    shaping: bool = True
    warm_start_steps: int = 600
    warm_start_smoothing: float = 0.1
    restarts: int = 4
    ppo: PPOConfig = dataclasses.field(
        default_factory=lambda: PPOConfig(
            num_envs=32,
            num_steps=16,
            total_timesteps=32 * 16 * 60,
            hidden_sizes=(32, 32),
            recurrent=True,
            gru_size=32,
            ent_coef=0.03,
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


def collect_state_actions(
    env: Any, params: Any, key: jax.Array, episodes: int, noise: float = 0.0
) -> StateActions:
    """The privileged expert's episodes as (state index, expert action) pairs; with
    `noise` > 0 the executed actions are noise-injected (see `collect_demonstrations`)
    while the labels stay the expert's. With the same key these are the episodes of
    `collect_demonstrations(env, params, key, episodes, params.horizon, noise=noise)`."""
    execute = noisy_executor(env, params, "agent", noise)

    def episode(k):
        _, state = env.reset(k, params)

        def step(state, step_key):
            action = env.expert_action(state, params)
            index = env.state_index(state, params)
            alive = ~state.done
            executed, step_key = execute(step_key, action)
            _, state, _, _, _ = env.step(step_key, state, {"agent": executed}, params)
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
    return fit_gaussian_posterior(
        lambda w: log_likelihood(w, mdp, demos, config.rationality),
        prior(env, config),
        config,
        key,
    )


def fit_gaussian_posterior(
    log_likelihood_fn: Callable[[jax.Array], jax.Array],
    start: RewardPosterior,
    config: BIGConfig,
    key: jax.Array,
) -> RewardPosterior:
    """Mean-field Gaussian q(w) maximising E_q[log_likelihood_fn(w) + log p(w)] + H[q]
    for the Gaussian prior `start` (`config.steps` Adam steps of size
    `config.learning_rate`, `config.elbo_samples` reparameterised samples each),
    starting from the prior."""
    precision = jnp.linalg.inv(start.cov)

    def log_joint(w):
        centred = w - start.mean
        log_prior = -0.5 * centred @ precision @ centred
        return log_prior + log_likelihood_fn(w)

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
    potential: jax.Array  # (S,) shaping potential per privileged state (zeros: none)


class PosteriorRewardEnv:
    """The Bayes-adaptive view of a one-agent gap env: each reset draws reward weights
    from `posterior` (the hidden context comes from the env's own reset); each step pays
    weights . phi(state, action). Observations are the env's own (the agent's, gap
    included); `info["task_reward"]` keeps the env's true reward for reporting.

    With `shaping_discount` set, each step also pays the potential-based shaping term
    discount * Phi(s') - Phi(s) (Ng, Harada & Russell 1999), Phi(s) the privileged
    expert's soft value of state s under the episode's drawn reward (Phi = 0 once the
    episode ends). Its discounted sum telescopes to -Phi(s_0), which depends on the
    hidden context and the draw but not on anything the agent does, so every policy's
    expected return moves by the same constant and the Bayes-optimal policies are
    unchanged; what changes is that a step which throws value away (a wrong digit of
    a combination) is charged at once instead of at the end of a long sequence.
    """

    def __init__(
        self,
        env: Any,
        posterior: RewardPosterior,
        shaping_discount: float | None = None,
        rationality: float = 10.0,
    ):
        self.env = env
        self.posterior = posterior
        self.shaping_discount = shaping_discount
        self.rationality = rationality
        self.agents = env.agents
        self.name = f"{env.name}:bamdp"

    @property
    def default_params(self) -> Any:
        return self.env.default_params

    def action_space(self, params: Any) -> Any:
        return self.env.action_space(params)

    def observation_space(self, params: Any) -> Any:
        return self.env.observation_space(params)

    def potential(self, weights: jax.Array, params: Any) -> jax.Array:
        """(S,) the shaping potential under reward `weights` (zeros without shaping)."""
        mdp = self.env.tabular(params)
        if self.shaping_discount is None:
            return jnp.zeros(mdp.next_state.shape[0])
        q = soft_q_values(mdp, weights, self.rationality)
        return jax.nn.logsumexp(self.rationality * q, axis=-1) / self.rationality

    def reset(self, key: jax.Array, params: Any):
        k_env, k_reward = jax.random.split(key)
        obs, inner = self.env.reset(k_env, params)
        weights = self.posterior.sample(k_reward)
        return obs, BAMDPState(inner, weights, self.potential(weights, params))

    def step(self, key: jax.Array, state: BAMDPState, actions: dict, params: Any):
        features = self.env.reward_features(state.inner, actions["agent"], params)
        obs, inner, rewards, done, info = self.env.step(key, state.inner, actions, params)
        discount = 1.0 if self.shaping_discount is None else self.shaping_discount
        before = state.potential[self.env.state_index(state.inner, params)]
        after = jnp.where(done, 0.0, state.potential[self.env.state_index(inner, params)])
        reward = features @ state.weights + discount * after - before
        reward = jnp.where(state.inner.done, 0.0, reward)
        info = dict(info, task_reward=rewards["agent"])
        return obs, state.replace(inner=inner), {"agent": reward}, done, info

    def __eq__(self, other: object) -> bool:
        return (
            type(self) is type(other)
            and self.env == other.env
            and (self.shaping_discount, self.rationality)
            == (other.shaping_discount, other.rationality)
        )

    def __hash__(self) -> int:
        return hash((type(self), type(self.env), self.shaping_discount, self.rationality))


def make_big_learner(
    env: Any,
    params: Any,
    posterior: RewardPosterior,
    config: BIGConfig,
    compiler_options: dict[str, Any] | None = None,
) -> PPOTrainer:
    """The recurrent PPO learner of the Bayes-adaptive problem under `posterior`."""
    shaping = config.ppo.gamma if config.shaping else None
    bamdp = PosteriorRewardEnv(env, posterior, shaping, config.rationality)
    return make_train(config.ppo, SoloView(bamdp), params, compiler_options)


def warm_start(
    trainer: PPOTrainer, demos: Demonstrations, config: BIGConfig, key: jax.Array
) -> TrainState:
    """A fresh train state for `trainer` whose policy is first behaviour-cloned on
    `demos` (`config.warm_start_steps` steps; the value head keeps its initial weights).

    The Bayes-adaptive learner then starts where imitation ends: it acts like the
    expert where the demonstrations speak (and, with noise-injected demonstrations,
    already knows how the expert finishes what it would never start), and the
    posterior reward tells it where to depart from them."""
    k_bc, k_init = jax.random.split(key)
    state = trainer.init(k_init)
    if config.warm_start_steps <= 0:
        return state
    ppo = config.ppo
    bc = BCConfig(
        hidden_sizes=ppo.hidden_sizes,
        recurrent=ppo.recurrent,
        gru_size=ppo.gru_size,
        steps=config.warm_start_steps,
        normalize_obs=ppo.normalize_obs,
        init_log_std=ppo.init_log_std,
        label_smoothing=config.warm_start_smoothing,
    )
    cloned = train_bc_params(trainer.network, bc, demos, k_bc)
    if ppo.normalize_obs:
        state = state.replace(env=state.env.replace(obs_norm=cloned.obs_norm))
    return state.replace(params=cloned.params)


def train_big(
    env: Any,
    params: Any,
    demos: Demonstrations,
    state_actions: StateActions,
    config: BIGConfig,
    key: jax.Array,
    compiler_options: dict[str, Any] | None = None,
) -> tuple[PPOTrainer, TrainState, RewardPosterior]:
    """BIG end to end: the reward posterior from `state_actions`, then the recurrent PPO
    learner of the Bayes-adaptive problem, warm-started by cloning `demos` (the same
    episodes as the agent saw them).

    `config.restarts` learners, each from its own clone (cloning and PPO keys differ),
    run in one vmapped batch; the one with the highest Bayes-adaptive return over the last tenth of
    training is kept (the learner's own objective: the true reward is never used).
    Returns the learner, the kept final state and the posterior."""
    k_fit, k_start = jax.random.split(key)
    posterior = fit_reward_posterior(env, params, state_actions, config, k_fit)
    trainer = make_big_learner(env, params, posterior, config, compiler_options)
    keys = jax.random.split(k_start, config.restarts)
    starts = jax.vmap(lambda k: warm_start(trainer, demos, config, k))(keys)
    updates = config.ppo.num_updates
    run = jax.jit(
        jax.vmap(lambda state: trainer.run_updates(state, updates)),
        compiler_options=compiler_options,
    )
    finals, metrics = run(starts)
    tail = max(1, updates // 10)
    objective = jnp.mean(metrics["episode_return"][:, -tail:], axis=1)  # (restarts,)
    best = int(jnp.argmax(objective))
    return trainer, jax.tree_util.tree_map(lambda x: x[best], finals), posterior
