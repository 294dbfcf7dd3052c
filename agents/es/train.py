"""Neuroevolution of PPO's actor with evosax, as pure functions (init, K generations per jit).

    trainer = make_es(ESConfig(), env, env_params)
    state = trainer.init(key)                      # ESState
    state, metrics = trainer.train_chunk(state)    # `generations_per_chunk` generations, one jit
    state, metrics = trainer(key)                  # init + `num_generations` generations
    agent = trainer.export_agent(state)            # ExportedAgent: save_agent / to_policy

One generation: `ask` P genomes, play them (and, with `eval_center`, the current
mean) on the same `episodes_per_member` episodes in ONE batched rollout
(`evaluate_population`), `tell` the strategy `-mean return` (evosax minimises),
then merge the population's observation statistics into the running
normaliser (when `network.normalize_obs`). `trainer(key)` is pure: `jax.jit`
and `jax.vmap` it over seeds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import jax
import jax.numpy as jnp
from flax import struct
from jax import flatten_util

from arenax.agents.es import genome as genome_lib
from arenax.agents.es.config import ESConfig
from arenax.agents.es.evaluate import evaluate_population
from arenax.agents.es.strategies import make_strategy
from arenax.agents.ppo.action_spec import ActionSpec
from arenax.agents.ppo.export import ExportedAgent, to_policy
from arenax.agents.ppo.networks import build_network, init_params
from arenax.agents.ppo.normalization import RunningNorm
from arenax.agents.ppo.train import raw_key
from arenax.envs.interfaces import interface_name
from arenax.policy import Policy

Metrics = dict[str, jax.Array]
Which = Literal["center", "best"]


@struct.dataclass
class ESState:
    """Everything an ES run needs to continue bit-exactly (every leaf an array).

    Attributes:
        strategy: the evosax algorithm state (mean, step sizes, best member so far, ...).
        base_params: full network parameters from initialisation; the evolved
            leaves (see `genome.py`) are overridden by the strategy's solutions.
        obs_norm: running observation statistics the next generation acts with.
        best_obs_norm: the statistics in force when the best member so far was found.
        key: (2,) uint32 PRNG key for the next generation.
        generation: () int32 generations done.
        env_steps: () float32 alive env steps played so far (all members and episodes);
            float because an int32 would overflow after 2^31 steps (about an hour of
            Car Tag on 2 CPU cores); exact up to 2^24, then to float32 precision.
    """

    strategy: Any
    base_params: Any
    obs_norm: RunningNorm
    best_obs_norm: RunningNorm
    key: jax.Array
    generation: jax.Array
    env_steps: jax.Array


@dataclass(frozen=True, eq=False)
class ESTrainer:
    """A compiled-once ES learner for one (config, env, env_params); see module docstring.

    Attributes:
        config: the run's configuration.
        env: the single-agent env (not auto-resetting).
        env_params: the env's params (closed over).
        spec: the action space summary.
        obs_size: flat observation size D.
        network: the flax actor-critic (`build_network(config.network, spec)`).
        num_steps: scan length of one episode.
        compiler_options: XLA options for `train_chunk`'s jit (None: defaults), e.g.
            `{"xla_backend_optimization_level": 0}` for fast-compiling tiny runs.
    """

    config: ESConfig
    env: Any
    env_params: Any
    spec: ActionSpec
    obs_size: int
    network: Any
    num_steps: int
    compiler_options: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        shapes = jax.eval_shape(
            lambda k: init_params(self.network, self.config.network, k, self.obs_size),
            jax.random.PRNGKey(0),
        )
        zeros = lambda s: jnp.zeros(s.shape, s.dtype)
        template = genome_lib.extract(jax.tree_util.tree_map(zeros, shapes))
        algo, algo_params = make_strategy(self.config, template)
        _, unravel = flatten_util.ravel_pytree(template)
        object.__setattr__(self, "_algo", algo)
        object.__setattr__(self, "_algo_params", algo_params)
        object.__setattr__(self, "_unravel", unravel)
        # No compiler options on init: it is cheap, and a nested jit may not carry them.
        object.__setattr__(self, "_jit_init", jax.jit(self._init))
        object.__setattr__(
            self,
            "_jit_chunk",
            jax.jit(
                self.run_generations,
                static_argnames="num_generations",
                compiler_options=self.compiler_options,
            ),
        )

    @property
    def num_dims(self) -> int:
        """Number of evolved parameters (the search-space dimension)."""
        return int(self._algo.num_dims)

    # --- pure functions ---
    def init(self, key: jax.Array) -> ESState:
        """A fresh state: initial network (its actor is the search mean), strategy state.

        Jitted (inside `jit`/`vmap` it is inlined).
        """
        return self._jit_init(key)

    def init_pure(self, key: jax.Array) -> ESState:
        """`init` without its own `jit`, for tracing inside a caller's top-level `jit`."""
        return self._init(key)

    def run_updates(self, state: ESState, num_updates: int) -> tuple[ESState, Metrics]:
        """`run_generations` under the host loop's name (`arenax.training_loop`)."""
        return self.run_generations(state, num_updates)

    def _init(self, key: jax.Array) -> ESState:
        k_net, k_es, k_run = jax.random.split(raw_key(key), 3)
        params = init_params(self.network, self.config.network, k_net, self.obs_size)
        strategy = self._algo.init(k_es, genome_lib.extract(params), self._algo_params)
        norm = RunningNorm.create(self.obs_size)
        return ESState(
            strategy=strategy,
            base_params=params,
            obs_norm=norm,
            best_obs_norm=norm,
            key=k_run,
            generation=jnp.zeros((), jnp.int32),
            env_steps=jnp.zeros((), jnp.float32),
        )

    def generation_step(self, state: ESState) -> tuple[ESState, Metrics]:
        """One generation: ask, one batched rollout, tell, normaliser update.

        Metrics (scalars): fitness_max / fitness_mean / fitness_min of the
        population (mean episode return), center_fitness (the mean solution
        before this generation's update; NaN without `eval_center`), best_fitness
        (best member so far), sigma (mean search step size), episode_length and
        info/<key> (population means), center/info/<key>, generation, env_steps.
        """
        config, algo, algo_params = self.config, self._algo, self._algo_params
        key, k_ask, k_eval, k_tell = jax.random.split(state.key, 4)
        population, strategy = algo.ask(k_ask, state.strategy, algo_params)
        members = population
        if config.eval_center:
            center = algo.get_mean(strategy)
            members = jax.tree_util.tree_map(
                lambda pop, c: jnp.concatenate([pop, c[None]]), population, center
            )
        ev = evaluate_population(
            self.network,
            config.network,
            self.spec,
            self.env,
            self.env_params,
            state.base_params,
            members,
            state.obs_norm,
            jax.random.split(k_eval, config.episodes_per_member),
            self.num_steps,
        )
        p = config.population_size
        fitness = ev.fitness[:p]
        strategy, _ = algo.tell(k_tell, population, -fitness, strategy, algo_params)
        improved = strategy.best_fitness < state.strategy.best_fitness
        best_norm = jax.tree_util.tree_map(
            lambda new, old: jnp.where(improved, new, old), state.obs_norm, state.best_obs_norm
        )
        norm = state.obs_norm
        if config.network.normalize_obs:
            norm = ev.obs_moments.merge_into(norm)
        env_steps = state.env_steps + ev.env_steps.astype(jnp.float32)
        generation = state.generation + 1
        nan = jnp.full((), jnp.nan, jnp.float32)
        metrics = {
            "fitness_max": fitness.max(),
            "fitness_mean": fitness.mean(),
            "fitness_min": fitness.min(),
            "center_fitness": ev.fitness[p] if config.eval_center else nan,
            "best_fitness": -strategy.best_fitness,
            "sigma": jnp.mean(strategy.std),
            "generation": generation,
            "env_steps": env_steps,
        }
        for name, value in ev.metrics.items():
            metrics[name] = value[:p].mean()
            if name.startswith("info/"):
                metrics[f"center/{name}"] = value[p] if config.eval_center else nan
        new_state = ESState(
            strategy=strategy,
            base_params=state.base_params,
            obs_norm=norm,
            best_obs_norm=best_norm,
            key=key,
            generation=generation,
            env_steps=env_steps,
        )
        return new_state, metrics

    def run_generations(self, state: ESState, num_generations: int) -> tuple[ESState, Metrics]:
        """`num_generations` generations in one `lax.scan`; metrics leaves (num_generations,)."""
        return jax.lax.scan(
            lambda s, _: self.generation_step(s), state, None, length=num_generations
        )

    def train(self, key: jax.Array) -> tuple[ESState, Metrics]:
        """`config.num_generations` generations from `key`; pure, vmappable over keys."""
        return self.run_generations(self.init(key), self.config.num_generations)

    __call__ = train

    # --- jitted entry point for the host loop ---
    def train_chunk(
        self, state: ESState, num_generations: int | None = None
    ) -> tuple[ESState, Metrics]:
        """`num_generations` (default `config.generations_per_chunk`) generations in one jit.

        Compiled once per chunk length; works on vmapped states under `jax.vmap`.
        """
        n = self.config.generations_per_chunk if num_generations is None else int(num_generations)
        return self._jit_chunk(state, num_generations=n)

    # --- solutions ---
    def mean_params(self, state: ESState) -> Any:
        """Full network parameters of the search distribution's mean (the centre)."""
        return genome_lib.merge(state.base_params, self._algo.get_mean(state.strategy))

    def best_params(self, state: ESState) -> Any:
        """Full network parameters of the best member evaluated so far (on its own
        generation's episodes, so an optimistic pick; NaN before the first generation)."""
        best = self._unravel(state.strategy.best_solution)
        return genome_lib.merge(state.base_params, best)

    def export_agent(
        self, state: ESState, which: Which = "center", index: int | None = None
    ) -> ExportedAgent:
        """The acting part of `state` in PPO's export format.

        Args:
            which: "center" (the mean solution, with the latest statistics; the robust
                choice) or "best" (the best member so far, with the statistics it was
                evaluated with).
            index: picks one run out of a vmapped (seed-batched) state.
        """
        if index is not None:
            state = jax.tree_util.tree_map(lambda x: x[index], state)
        if which == "center":
            params, norm = self.mean_params(state), state.obs_norm
        elif which == "best":
            if not bool(jnp.isfinite(state.strategy.best_fitness)):
                raise ValueError("export_agent(which='best'): no generation has been run yet")
            params, norm = self.best_params(state), state.best_obs_norm
        else:
            raise ValueError(f"which must be 'center' or 'best', got {which!r}")
        interface = interface_name(self.env)
        return ExportedAgent(self.config.network, self.spec, self.obs_size, params, norm, interface)

    def export_policy(
        self,
        state: ESState,
        which: Which = "center",
        name: str = "es",
        role: str = "",
        index: int | None = None,
    ) -> Policy:
        """`to_policy(export_agent(...))`, deterministic; `role` defaults to the env's."""
        role = role or getattr(self.env, "role", "")
        description = f"{self.config.strategy}-evolved actor ({which} solution, mode actions)."
        return to_policy(self.export_agent(state, which, index), name, role, False, description)


def make_es(
    config: ESConfig,
    env: Any,
    env_params: Any | None = None,
    compiler_options: dict[str, Any] | None = None,
) -> ESTrainer:
    """Build the ES learner for a single-agent env.

    Args:
        config: the run's settings.
        env: a single-agent env with `reset/step/action_space` and flat (D,) float
            observations (e.g. `SingleAgentView`, `arenax.envs.toy.TargetReach`).
        env_params: the env's params; defaults to `env.default_params`.
        compiler_options: XLA options for the jitted `train_chunk` (see `ESTrainer`).

    Raises:
        ValueError: `config.num_steps` is None and the params have no `horizon`, or
            `continuous='tanh'` with an unbounded Box.
    """
    env_params = env.default_params if env_params is None else env_params
    spec = ActionSpec.from_space(env.action_space(env_params))
    if config.network.continuous == "tanh" and not spec.discrete and not spec.bounded:
        raise ValueError("network.continuous='tanh' needs a Box action space with finite bounds")
    if config.num_steps is not None:
        num_steps = int(config.num_steps)
    elif hasattr(env_params, "horizon"):
        num_steps = int(env_params.horizon)
    else:
        raise ValueError(
            "ESConfig.num_steps is None but the env params have no `horizon`; set num_steps"
        )
    obs_shape = jax.eval_shape(env.reset, jax.random.PRNGKey(0), env_params)[0].shape
    return ESTrainer(
        config=config,
        env=env,
        env_params=env_params,
        spec=spec,
        obs_size=int(obs_shape[-1]),
        network=build_network(config.network, spec),
        num_steps=num_steps,
        compiler_options=compiler_options,
    )
