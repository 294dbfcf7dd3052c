"""PPO training as pure functions (PureJaxRL style): init, K updates per jit, or the whole budget.

    trainer = make_train(config, env, env_params)
    state = trainer.init(key)                     # TrainState
    state, metrics = trainer.train_chunk(state)   # `updates_per_chunk` updates, one jit
    state, metrics = trainer(key)                 # the whole budget: init + num_updates updates

`trainer(key)` / `trainer.train(key, hparams)` is a pure function: `jax.jit`
and `jax.vmap` it over seeds (and over stacked `PPOHyperparams`). One update
is a rollout (`lax.scan` over `num_steps`), GAE, then `update_epochs` epochs of
`num_minibatches` minibatches (nested `lax.scan`s); K updates are a `lax.scan`
over updates.

`env` is a single-agent env (e.g. `SingleAgentView`, or `arenax.envs.toy`),
wrapped in `AutoReset` here. Episodes that end on the horizon are treated as
terminal (no bootstrap), which is exact when the observation carries the time
left, as Car Tag's and the toy's do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from arenax.agents.ppo.action_spec import ActionSpec
from arenax.agents.ppo.config import PPOConfig, PPOHyperparams
from arenax.agents.ppo.gae import compute_gae
from arenax.agents.ppo.networks import build_network, init_params, initial_hidden
from arenax.agents.ppo.normalization import RunningNorm
from arenax.agents.ppo.rollout import EnvCarry, Transition, make_collect
from arenax.agents.ppo.update import Batch, ExtraLoss, make_optimizer, make_update
from arenax.envs.wrappers import AutoReset

Metrics = dict[str, jax.Array]


@struct.dataclass
class TrainState:
    """Everything a PPO run needs to continue bit-exactly (every leaf an array).

    Attributes:
        params: network parameters (flax variables dict).
        opt_state: Adam moments and count.
        hparams: the dynamic hyper-parameters in force.
        env: the acting side (`EnvCarry`): env states (N, ...), last raw obs (N, D),
            reset flags (N,), GRU state (N, H) or `()`, running episode
            return/length (N,), observation statistics.
        env_params: the env's params as arrays (traced, so a learner may replace them
            between chunks, e.g. a self-play opponent pool, without recompiling).
        key: (2,) uint32 PRNG key for the next update.
        update: () int32 updates done so far.
    """

    params: Any
    opt_state: Any
    hparams: PPOHyperparams
    env: EnvCarry
    env_params: Any
    key: jax.Array
    update: jax.Array

    @property
    def obs_norm(self) -> RunningNorm:
        return self.env.obs_norm


def raw_key(key: jax.Array) -> jax.Array:
    """A (2,) uint32 key from a typed (`jax.random.key`) or raw (`PRNGKey`) key."""
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        return jax.random.key_data(key)
    return key


def as_arrays(tree: Any) -> Any:
    """Every leaf as a strongly typed JAX array (Python numbers become 0-d float32/int32
    arrays), so the tree can live in a train state, be traced and be checkpointed; an
    orbax-restored state then has the same types and reuses the compiled chunk."""
    return jax.tree_util.tree_map(lambda x: jnp.array(x, dtype=jnp.asarray(x).dtype), tree)


def _mean_where(x: jax.Array, mask: jax.Array, count: jax.Array) -> jax.Array:
    """Mean of `x` over `mask`, NaN when the mask is empty."""
    total = jnp.sum(jnp.where(mask, x, 0.0))
    return jnp.where(count > 0, total / jnp.maximum(count, 1.0), jnp.nan)


def rollout_metrics(traj: Transition) -> Metrics:
    """Per-rollout statistics of finished episodes (NaN when none finished).

    episode_return / episode_length: means over episodes that ended in the
    rollout; num_episodes: how many; reward_mean: mean per-step reward;
    info/<key>: mean of the env's info entry on episode-ending steps (Car Tag:
    info/captured is the capture rate).
    """
    done = traj.done
    count = jnp.sum(done.astype(jnp.float32))
    out = {
        "episode_return": _mean_where(traj.episode_return, done, count),
        "episode_length": _mean_where(traj.episode_length.astype(jnp.float32), done, count),
        "num_episodes": count,
        "reward_mean": jnp.mean(traj.reward),
    }
    for k, v in traj.info.items():
        out[f"info/{k}"] = _mean_where(v, done, count)
    return out


@dataclass(frozen=True, eq=False)
class PPOTrainer:
    """A compiled-once PPO learner for one (config, env, env_params); see module docstring.

    Attributes:
        config: the run's configuration.
        env: the auto-resetting single-agent env.
        env_params: the env's default params (copied into each `TrainState` at `init`).
        spec: the action space summary.
        obs_size: flat observation size D.
        network: the flax actor-critic.
        compiler_options: XLA options for `train_chunk`'s jit (None: defaults). E.g.
            `{"xla_backend_optimization_level": 0}` roughly halves compile time on CPU
            at the cost of slower steps: right for tiny smoke runs and tests.
        extra_loss: an extra loss term added to PPO's (see `make_train`), or None.
        chunk_as_loop: run `train_chunk`'s updates as a Python loop over one jitted
            update instead of one `lax.scan` (same results). For envs with large states:
            XLA's CPU backend runs IGDrivSim's updates (its states carry whole scenes)
            6-7x slower inside the scan than one at a time; Car Tag's are as fast either
            way.
    """

    config: PPOConfig
    env: Any
    env_params: Any
    spec: ActionSpec
    obs_size: int
    network: Any
    compiler_options: dict[str, Any] | None = None
    extra_loss: ExtraLoss | None = None
    chunk_as_loop: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "_optimizer", make_optimizer(self.config))
        object.__setattr__(
            self,
            "_collect",
            make_collect(self.config, self.network, self.spec, self.env),
        )
        object.__setattr__(
            self,
            "_update",
            make_update(self.config, self.network, self._optimizer, self.extra_loss),
        )
        object.__setattr__(
            self, "_jit_init", jax.jit(self._init, compiler_options=self.compiler_options)
        )
        object.__setattr__(
            self,
            "_jit_chunk",
            jax.jit(
                self.run_updates,
                static_argnames="num_updates",
                compiler_options=self.compiler_options,
            ),
        )
        object.__setattr__(
            self,
            "_jit_update",
            jax.jit(self.update_step, compiler_options=self.compiler_options),
        )

    # --- pure functions ---
    def init(
        self,
        key: jax.Array,
        hparams: PPOHyperparams | None = None,
        env_params: Any | None = None,
    ) -> TrainState:
        """A fresh train state: initial params, Adam state, `num_envs` reset envs.

        Jitted (eager calls compile once; inside `jit`/`vmap` it is inlined).
        `hparams` defaults to `config.hyperparams()`, `env_params` to the trainer's.
        """
        hparams = self.config.hyperparams() if hparams is None else hparams
        env_params = self.env_params if env_params is None else env_params
        return self._jit_init(key, hparams, as_arrays(env_params))

    def init_pure(self, key: jax.Array) -> TrainState:
        """`init(key)` without its own `jit`: for callers that trace it inside their own
        top-level `jit` (e.g. `jax.vmap` over seeds with `compiler_options`)."""
        return self._init(key, self.config.hyperparams(), as_arrays(self.env_params))

    def _init(self, key: jax.Array, hparams: PPOHyperparams, env_params: Any) -> TrainState:
        config = self.config
        k_net, k_env, k_run = jax.random.split(raw_key(key), 3)
        params = init_params(self.network, config, k_net, self.obs_size)
        reset = jax.vmap(self.env.reset, in_axes=(0, None))
        obs, env_state = reset(jax.random.split(k_env, config.num_envs), env_params)
        norm = RunningNorm.create(self.obs_size)
        if config.normalize_obs:
            norm = norm.update(obs)
        carry = EnvCarry(
            env_state=env_state,
            obs=obs,
            resets=jnp.ones((config.num_envs,), bool),
            hidden=initial_hidden(config, (config.num_envs,)),
            episode_return=jnp.zeros((config.num_envs,), jnp.float32),
            episode_length=jnp.zeros((config.num_envs,), jnp.int32),
            obs_norm=norm,
        )
        return TrainState(
            params=params,
            opt_state=self._optimizer.init(params),
            hparams=hparams,
            env=carry,
            env_params=env_params,
            key=k_run,
            update=jnp.zeros((), jnp.int32),
        )

    def learning_rate(self, state: TrainState) -> jax.Array:
        """The step size of the next update (linear anneal to 0 over `num_updates`)."""
        if not self.config.anneal_lr:
            return state.hparams.lr
        frac = 1.0 - state.update.astype(jnp.float32) / self.config.num_updates
        return state.hparams.lr * jnp.clip(frac, 0.0, 1.0)

    def update_step(self, state: TrainState) -> tuple[TrainState, Metrics]:
        """One PPO update: rollout, GAE, epochs x minibatches. Returns per-update metrics."""
        config, hp = self.config, state.hparams
        key, k_roll, k_upd = jax.random.split(state.key, 3)
        hidden0 = state.env.hidden
        carry, traj = self._collect(state.params, state.env, k_roll, state.env_params)
        obs = carry.obs
        if config.normalize_obs:
            obs = carry.obs_norm.normalize(obs, config.obs_clip)
        _, _, last_value = self.network.apply(
            state.params, carry.hidden, obs[None], carry.resets[None]
        )
        advantages, returns = compute_gae(
            traj.reward, traj.value, traj.done, last_value[0], hp.gamma, hp.gae_lambda
        )
        batch = Batch(
            obs=traj.obs,
            resets=traj.resets,
            action=traj.action,
            log_prob=traj.log_prob,
            value=traj.value,
            advantages=advantages,
            returns=returns,
        )
        lr = self.learning_rate(state)
        params, opt_state, loss_metrics = self._update(
            state.params, state.opt_state, batch, hidden0, hp, lr, k_upd, state.env.obs_norm
        )
        residual = jnp.var(returns - traj.value)
        metrics = {
            **rollout_metrics(traj),
            **loss_metrics,
            "explained_variance": 1.0 - residual / (jnp.var(returns) + 1e-8),
            "lr": lr,
            "update": state.update + 1,
            "env_steps": (state.update + 1) * config.batch_size,
        }
        new_state = TrainState(
            params=params,
            opt_state=opt_state,
            hparams=hp,
            env=carry,
            env_params=state.env_params,
            key=key,
            update=state.update + 1,
        )
        return new_state, metrics

    def run_updates(self, state: TrainState, num_updates: int) -> tuple[TrainState, Metrics]:
        """`num_updates` updates in one `lax.scan`; metrics leaves (num_updates,)."""
        return jax.lax.scan(lambda s, _: self.update_step(s), state, None, length=num_updates)

    def train(
        self, key: jax.Array, hparams: PPOHyperparams | None = None
    ) -> tuple[TrainState, Metrics]:
        """The whole budget (`config.num_updates` updates) from `key`; pure, vmappable."""
        return self.run_updates(self.init(key, hparams), self.config.num_updates)

    __call__ = train

    # --- jitted entry points for the host loop ---
    def train_chunk(
        self, state: TrainState, num_updates: int | None = None
    ) -> tuple[TrainState, Metrics]:
        """`num_updates` (default `config.updates_per_chunk`) updates in one jit.

        Compiled once per chunk length (once in all with `chunk_as_loop`); vmapped
        states work too (`jax.vmap(trainer.train_chunk)(states)`).
        """
        n = self.config.updates_per_chunk if num_updates is None else int(num_updates)
        if not self.chunk_as_loop:
            return self._jit_chunk(state, num_updates=n)
        history = []
        for _ in range(n):
            state, metrics = self._jit_update(state)
            history.append(metrics)
        return state, jax.tree_util.tree_map(lambda *m: jnp.stack(m), *history)


def make_train(
    config: PPOConfig,
    env: Any,
    env_params: Any | None = None,
    compiler_options: dict[str, Any] | None = None,
    extra_loss: ExtraLoss | None = None,
    chunk_as_loop: bool = False,
) -> PPOTrainer:
    """Build the PPO learner for a single-agent env.

    Args:
        config: static settings and default hyper-parameters.
        env: a single-agent env with `reset/step/action_space` and flat (D,) float
            observations (not yet auto-resetting; `AutoReset` is applied here).
        env_params: the env's params; defaults to `env.default_params`.
        compiler_options: XLA options for the jitted `train_chunk` (see `PPOTrainer`).
        extra_loss: `(params, obs_norm) -> (loss, metrics)` added to the PPO loss of every
            minibatch (BC+RL's behaviour-cloning term; see `update.make_update`).
        chunk_as_loop: `train_chunk` loops over one jitted update (see `PPOTrainer`).

    Returns:
        A `PPOTrainer`: `.init(key)`, `.train_chunk(state)`, `.train(key)` (also
        `trainer(key)`), `.update_step(state)`, `.run_updates(state, n)`.
    """
    env_params = env.default_params if env_params is None else env_params
    spec = ActionSpec.from_space(env.action_space(env_params))
    if config.continuous == "tanh" and not spec.discrete and not spec.bounded:
        raise ValueError("continuous='tanh' needs a Box action space with finite bounds")
    # Shape-only trace: no eager reset (the observation size is the last axis of `reset`'s obs).
    obs_shape = jax.eval_shape(env.reset, jax.random.PRNGKey(0), env_params)[0].shape
    obs_size = int(obs_shape[-1])
    return PPOTrainer(
        config=config,
        env=AutoReset(env),
        env_params=env_params,
        spec=spec,
        obs_size=obs_size,
        network=build_network(config, spec),
        compiler_options=compiler_options,
        extra_loss=extra_loss,
        chunk_as_loop=chunk_as_loop,
    )
