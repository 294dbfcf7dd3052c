"""Self-play PPO for two-player games: both roles learn against pools of each other's past.

    trainer = make_selfplay(SelfPlayConfig(), env, game_params)
    state = trainer.init(key)                       # SelfPlayState
    state, metrics = trainer.train_chunk(state)     # `iterations_per_chunk` iterations, one jit
    agents = trainer.export(state)                  # role -> ExportedAgent (to_policy, save_agent)

Each role r has a PPO learner (`PPOTrainer`) on a `PoolView`: r against snapshots
of the other role drawn per episode from an `OpponentPool`. That pool lives in the
learner's `TrainState.env_params`, which is traced, so refreshing it is a pure
update inside the scanned iteration: no recompilation, and the whole run (both
learners, both pools, every key and counter) is one pytree of arrays, so `jit`,
`vmap` over seeds and orbax checkpoints (`agents/ppo/checkpoint.py`) all apply.

One iteration (see `SelfPlayConfig`): each role in the env's agent order runs
`updates_per_iteration` PPO updates against its pool; then, every `snapshot_every`
iterations, both current policies are pushed into the pools their opponents
sample from. Sampling uniformly over all kept snapshots (fictitious self-play)
rather than always facing the latest opponent keeps the two learners from
chasing each other round a cycle.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from arenax.agents.ppo.action_spec import ActionSpec
from arenax.agents.ppo.config import PPOConfig
from arenax.agents.ppo.export import ExportedAgent, export_agent
from arenax.agents.ppo.networks import build_network, init_params
from arenax.agents.ppo.normalization import RunningNorm
from arenax.agents.ppo.train import PPOTrainer, TrainState, make_train, raw_key
from arenax.agents.selfplay.config import SelfPlayConfig
from arenax.agents.selfplay.pool import OpponentPool
from arenax.agents.selfplay.view import PoolView, PoolViewParams
from arenax.envs.environment import Environment
from arenax.envs.shaping import PotentialShaping, car_tag_distance_potential
from arenax.envs.single_agent import flatten_observation

Metrics = dict[str, jax.Array]

# PPO metrics that are counters or schedules: an iteration reports their last value.
_LAST = ("update", "env_steps", "lr")


@struct.dataclass
class SelfPlayState:
    """Everything a self-play run needs to continue bit-exactly (every leaf an array).

    Attributes:
        learners: role -> that role's PPO `TrainState`. Its `env_params` is a
            `PoolViewParams` whose `pool` holds snapshots of the *other* role.
        iteration: () int32 iterations done so far.
    """

    learners: dict[str, TrainState]
    iteration: jax.Array


def _traced(tree: Any) -> bool:
    """Some leaf of `tree` is a tracer: we are inside `jit`/`vmap`/`eval_shape`, where a
    nested jit may not carry XLA compiler options, so the caller inlines instead."""
    return any(isinstance(x, jax.core.Tracer) for x in jax.tree_util.tree_leaves(tree))


def _reduce_updates(metrics: Metrics) -> Metrics:
    """Per-update metrics (leaves (U,)) -> one value per iteration: counters and the
    learning rate take the last update, episode counts add up, the rest are NaN-aware
    means (NaN when no episode finished in any update)."""
    out = {}
    for name, values in metrics.items():
        if name in _LAST:
            out[name] = values[-1]
        elif name == "num_episodes":
            out[name] = jnp.sum(values)
        else:
            out[name] = jnp.nanmean(values)
    return out


@dataclass(frozen=True, eq=False)
class SelfPlayTrainer:
    """A compiled-once self-play learner for one (config, env, game params).

    Attributes:
        config: the run's configuration.
        env: the two-player game.
        game_params: the game's params (copied into each learner's env params).
        roles: the two roles, in the order they train within an iteration.
        trainers: role -> the PPO learner of that role (on a `PoolView`).
        views: role -> the `PoolView` that learner plays in.
        obs_sizes: role -> flat observation size D.
        num_iterations: iterations in the whole budget.
        steps_per_iteration: env steps of one iteration, both roles counted.
        compiler_options: XLA options for the jitted `init` and `train_chunk`.
    """

    config: SelfPlayConfig
    env: Environment
    game_params: Any
    roles: tuple[str, str]
    trainers: dict[str, PPOTrainer]
    views: dict[str, PoolView]
    obs_sizes: dict[str, int]
    num_iterations: int
    steps_per_iteration: int
    compiler_options: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        jit = lambda f, **kw: jax.jit(f, compiler_options=self.compiler_options, **kw)
        object.__setattr__(self, "_jit_init", jit(self._init))
        object.__setattr__(
            self, "_jit_chunk", jit(self.run_iterations, static_argnames="num_iterations")
        )

    def other(self, role: str) -> str:
        """The opponent of `role`."""
        if role not in self.roles:
            raise ValueError(f"unknown role {role!r}; choose one of {', '.join(self.roles)}")
        return self.roles[1 - self.roles.index(role)]

    # --- pure functions ---
    def init(self, key: jax.Array) -> SelfPlayState:
        """Fresh learners for both roles; each pool holds the other role's initial policy.

        Jitted (eager calls compile once; inside `jit`/`vmap`/`eval_shape` it is inlined).
        """
        if _traced(key):
            return self._init(key)
        return self._jit_init(key)

    def init_pure(self, key: jax.Array) -> SelfPlayState:
        """`init` un-jitted (for tracing under one outer `jit`, e.g. `SeedBatch`)."""
        return self._init(key)

    def _init(self, key: jax.Array) -> SelfPlayState:
        keys = jax.random.split(raw_key(key), len(self.roles))
        # The template pools in each trainer's default env params have the right
        # shapes; a fresh pool holds one snapshot, so `reset` drew slot 0 in both.
        states = {r: self.trainers[r].init(k) for r, k in zip(self.roles, keys, strict=True)}
        learners = {}
        for role, state in states.items():
            opp = states[self.other(role)]
            pool = OpponentPool.create(self.config.pool_capacity, opp.params, opp.env.obs_norm)
            learners[role] = state.replace(env_params=state.env_params.replace(pool=pool))
        return SelfPlayState(learners=learners, iteration=jnp.zeros((), jnp.int32))

    def iteration_step(self, state: SelfPlayState) -> tuple[SelfPlayState, Metrics]:
        """One iteration (see module docstring). Metrics are scalars named
        "<role>/<PPO metric>" (e.g. "pursuer/info/captured"), "<role>/pool_size" (the
        snapshots of the other role that `role` trains against), "iteration" and
        "env_steps" (both roles' steps)."""
        upi = self.config.updates_per_iteration
        learners, metrics = dict(state.learners), {}
        for role in self.roles:
            learners[role], per_update = self.trainers[role].run_updates(learners[role], upi)
            for name, value in _reduce_updates(per_update).items():
                metrics[f"{role}/{name}"] = value
        iteration = state.iteration + 1
        push = iteration % self.config.snapshot_every == 0
        refreshed = {}
        for role in self.roles:
            learner, opp = learners[role], learners[self.other(role)]
            pool = learner.env_params.pool
            pushed = pool.push(opp.params, opp.env.obs_norm)
            pool = jax.tree_util.tree_map(lambda new, old: jnp.where(push, new, old), pushed, pool)
            refreshed[role] = learner.replace(env_params=learner.env_params.replace(pool=pool))
            metrics[f"{role}/pool_size"] = pool.size
        metrics["iteration"] = iteration
        metrics["env_steps"] = iteration * self.steps_per_iteration
        return SelfPlayState(learners=refreshed, iteration=iteration), metrics

    def run_iterations(
        self, state: SelfPlayState, num_iterations: int
    ) -> tuple[SelfPlayState, Metrics]:
        """`num_iterations` iterations in one `lax.scan`; metrics leaves (num_iterations,)."""
        return jax.lax.scan(lambda s, _: self.iteration_step(s), state, None, length=num_iterations)

    def run_updates(self, state: SelfPlayState, num_updates: int) -> tuple[SelfPlayState, Metrics]:
        """`run_iterations` under the host loop's name (`arenax.training_loop`)."""
        return self.run_iterations(state, num_updates)

    def train(self, key: jax.Array) -> tuple[SelfPlayState, Metrics]:
        """The whole budget (`num_iterations` iterations) from `key`; pure, vmappable."""
        return self.run_iterations(self.init(key), self.num_iterations)

    __call__ = train

    # --- jitted entry point for the host loop ---
    def train_chunk(
        self, state: SelfPlayState, num_iterations: int | None = None
    ) -> tuple[SelfPlayState, Metrics]:
        """`num_iterations` (default `config.iterations_per_chunk`) iterations in one jit.

        Compiled once per chunk length; vmapped states work too
        (`jax.vmap(trainer.train_chunk)(states)`).
        """
        n = self.config.iterations_per_chunk if num_iterations is None else int(num_iterations)
        if n < 1:
            raise ValueError(f"train_chunk: num_iterations must be >= 1, got {n}")
        if _traced(state):
            return self.run_iterations(state, n)
        return self._jit_chunk(state, num_iterations=n)

    # --- export ---
    def pool(self, state: SelfPlayState, role: str) -> OpponentPool:
        """The kept snapshots of `role` (the pool its opponent trains against)."""
        return state.learners[self.other(role)].env_params.pool

    def export(self, state: SelfPlayState, index: int | None = None) -> dict[str, ExportedAgent]:
        """role -> the current policy as an `ExportedAgent` (`to_policy`, `save_agent`).
        `index` picks one run out of a vmapped (seed-batched) state."""
        return {r: export_agent(self.trainers[r], state.learners[r], index) for r in self.roles}

    def snapshot(
        self, state: SelfPlayState, role: str, slot: int, index: int | None = None
    ) -> ExportedAgent:
        """Pool slot `slot` of `role`'s snapshots as an `ExportedAgent`."""
        if index is not None:
            state = jax.tree_util.tree_map(lambda x: x[index], state)
        view = self.views[self.other(role)]
        return view.snapshot_agent(self.pool(state, role), slot, self.obs_sizes[role])


def _template_pool(
    config: PPOConfig, spec: ActionSpec, obs_size: int, capacity: int
) -> OpponentPool:
    """A pool of the right shapes (zero parameters) for building a learner."""
    network = build_network(config, spec)
    shapes = jax.eval_shape(
        lambda k: init_params(network, config, k, obs_size), jax.random.PRNGKey(0)
    )
    params = jax.tree_util.tree_map(lambda s: jnp.zeros(s.shape, s.dtype), shapes)
    return OpponentPool.create(capacity, params, RunningNorm.create(obs_size))


def _learner_env(view: PoolView, role: str, shaping: float, wall_shaping: float = 0.0) -> Any:
    """The view, with Car Tag distance shaping of weight `shaping` when > 0 (the
    evader's potential also counts its wall-clearance shortfall, times `wall_shaping`)."""
    if shaping == 0.0:
        return view
    base = car_tag_distance_potential(role, wall_shaping if role == "evader" else 0.0)
    return PotentialShaping(view, lambda state, params: base(state, params.game), coef=shaping)


def make_selfplay(
    config: SelfPlayConfig,
    env: Environment,
    game_params: Any | None = None,
    compiler_options: dict[str, Any] | None = None,
) -> SelfPlayTrainer:
    """Build the self-play learner for a two-player game.

    Args:
        config: the self-play settings (PPO per role, pool, schedule).
        env: a two-player arenax environment (e.g. `make("car_tag")[0]`).
        game_params: the game's params (concrete); defaults to `env.default_params`.
        compiler_options: XLA options for the jitted `init` and `train_chunk` (e.g.
            `{"xla_backend_optimization_level": 0}` for tiny runs and tests).

    Raises:
        ValueError: not a two-player game, `role_ppo` names an unknown role, or
            shaping on a game other than car_tag.
    """
    game_params = env.default_params if game_params is None else game_params
    roles = tuple(env.agents)
    if len(roles) != 2:
        raise ValueError(f"self-play needs a two-player game, {env.name} has {roles}")
    unknown = sorted({r for r, _ in config.role_ppo} - set(roles))
    if unknown:
        raise ValueError(
            f"SelfPlayConfig.role_ppo: unknown role(s) {', '.join(unknown)}; "
            f"{env.name} has {', '.join(roles)}"
        )
    if config.shaping > 0.0 and env.name != "car_tag":
        raise ValueError(f"shaping is only defined for car_tag, not {env.name}")
    space = env.action_space(game_params)
    specs = {r: ActionSpec.from_space(space[r]) for r in roles}
    obs = jax.eval_shape(env.reset, jax.random.PRNGKey(0), game_params)[0]
    obs_sizes = {r: int(jax.eval_shape(flatten_observation, obs[r]).shape[-1]) for r in roles}
    upi = config.updates_per_iteration
    steps_per_iteration = sum(upi * config.ppo_for(r).batch_size for r in roles)
    num_iterations = max(1, config.total_timesteps // steps_per_iteration)
    # Each role's PPO budget is exactly its share, so lr annealing spans the whole run.
    ppo = {
        r: config.ppo_for(r).replace(
            total_timesteps=num_iterations * upi * config.ppo_for(r).batch_size,
            updates_per_chunk=upi,
        )
        for r in roles
    }
    views, trainers = {}, {}
    for i, role in enumerate(roles):
        other = roles[1 - i]
        views[role] = PoolView(env, role, ppo[other], specs[other], config.latest_prob)
        template = _template_pool(ppo[other], specs[other], obs_sizes[other], config.pool_capacity)
        trainers[role] = make_train(
            ppo[role],
            _learner_env(views[role], role, config.shaping, config.wall_shaping),
            PoolViewParams(game=game_params, pool=template),
            # Only the outermost jit may carry XLA options; the PPO learners run inlined.
            compiler_options=None,
        )
    return SelfPlayTrainer(
        config=config,
        env=env,
        game_params=game_params,
        roles=roles,
        trainers=trainers,
        views=views,
        obs_sizes=obs_sizes,
        num_iterations=num_iterations,
        steps_per_iteration=steps_per_iteration,
        compiler_options=compiler_options,
    )
