"""Any single-agent arenax env as a `brax.envs.Env`, so brax's trainers (PPO, SAC, ...) run on it.

    env = make_brax_env("car_tag", role="pursuer", opponent="straight_flee")
    make_policy, params, metrics = brax.training.agents.ppo.train.train(
        environment=env, episode_length=env.episode_length, wrap_env_fn=wrap_for_training, ...)
    policy = to_arenax_policy(make_policy(params, deterministic=True), env)  # plays in rollout

Mapping (one unbatched env; brax's `VmapWrapper` adds the batch axis):

- `reset(rng)` / `step(state, action)` return a brax `State` with `obs` (D,) float32,
  `reward` () float32, `done` () float32 (1.0 = the episode ended), `pipeline_state` the
  arenax env state (so brax's auto-reset restores it with the observation) and
  `info["rng"]` the (2,) key for the next step: brax's `step` takes no key, the arenax
  one does (opponent policies may be stochastic).
- Actions: brax PPO's default tanh-Gaussian emits actions in [-1, 1]. `step` clips the
  (action_size,) action to [-1, 1] and maps it affinely onto the Box,
  `low + (a + 1) / 2 * (high - low)` (dimensions with an infinite bound pass through
  unscaled); Car Tag's pursuer steering box is [-1, 1] already, the evader's velocity
  box [-v, v]^2 is scaled by v (computed as centre + half-width * a, exact for [-1, 1]).
  Only Box action spaces are supported.
- Metrics: every scalar entry of the arenax `info` (Car Tag: "captured", "capture_time",
  "evader_score") becomes a float32 `state.metrics` entry that holds the info value on
  the step that ends the episode and 0 on the others. brax's `EpisodeWrapper` and
  `EvalWrapper` sum metrics over an episode, so the sum is the end-of-episode value:
  brax's eval logs `eval/episode_captured` = capture rate and `eval/episode_reward` =
  mean return (the pursuer's score).

Episodes and brax's training wrappers: arenax envs end episodes themselves at their
horizon (`done`), and their observations carry the time left (Car Tag's `time_left`),
so the horizon is a true terminal state and must not be bootstrapped. brax's
`EpisodeWrapper(episode_length)` additionally ends an episode after `episode_length`
steps and marks it `truncation = 1 - done` (bootstrapped by PPO). With
`episode_length == horizon` (`BraxEnv.episode_length`) the two coincide: the env's own
`done` arrives on that step, so truncation stays 0 and PPO sees exactly the arenax
episodes, terminal at the horizon as arenax PPO treats them. A shorter `episode_length`
cuts episodes early (bootstrapped, and their end-of-episode metrics read 0); a longer
one only wastes evaluation steps (brax's evaluator unrolls `episode_length` steps).

brax's own `AutoResetWrapper` (in `brax.envs.training.wrap`) restarts every env from
*its first* reset state, so training sees only `num_envs` distinct start positions
(brax's `num_resets_per_eval` re-draws them between evals). `wrap_for_training` is a
drop-in for `wrap_env_fn=` that starts each new episode from a fresh `reset` with a new
key instead, as arenax's `AutoReset` does.

Compatibility: brax 0.14's trainers call `jax.device_put_replicated`, which JAX 0.10
removed (google/brax#671). Building a `BraxEnv` calls `install_jax_compat()`, which
puts back an equivalent built on `jax.device_put` if (and only if) JAX lacks it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from brax.envs.base import Env, State, Wrapper
from brax.envs.wrappers.training import EpisodeWrapper, VmapWrapper

from arenax.envs import spaces
from arenax.envs.registry import make
from arenax.envs.single_agent import SingleAgentView, flatten_observation
from arenax.policy import Policy

BACKEND = "arenax"


def install_jax_compat() -> bool:
    """Give JAX a `device_put_replicated` again when it has none (JAX >= 0.10), so brax's
    PPO/SAC run. Idempotent; returns True if it installed the replacement.

    The replacement stacks each leaf `len(devices)` times along a new leading axis,
    sharded over `devices` along a mesh axis named "i": brax's pmap axis name, which its
    pmapped training epoch puts on its outputs, so the epoch's inputs look the same on
    every call and it compiles once.
    """
    try:
        jax.device_put_replicated  # noqa: B018
        return False
    except AttributeError:
        pass

    def device_put_replicated(x: Any, devices: Sequence[Any]) -> Any:
        devices = list(devices)
        mesh = jax.sharding.Mesh(np.array(devices), ("i",))
        sharding = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("i"))
        stack = lambda y: jnp.stack([jnp.asarray(y)] * len(devices))
        return jax.tree_util.tree_map(lambda y: jax.device_put(stack(y), sharding), x)

    jax.device_put_replicated = device_put_replicated
    return True


class BraxEnv(Env):
    """A gymnax-style single-agent arenax env behind brax's `Env` interface.

    Args:
        env: `reset(key, params) -> (obs (D,), state)`, `step(key, state, action,
            params) -> (obs, state, reward, done, info)`, `action_space(params)` a Box
            (e.g. `SingleAgentView`, `arenax.envs.toy.TargetReach()`).
        params: the env's params (closed over); defaults to `env.default_params`.

    Attributes:
        env, params: as given.
        episode_length: `params.horizon` when the params have one, else None; pass it
            as brax's `episode_length` (see the module docstring).
        low, high: (action_size,) float32 Box bounds used by `rescale_action`.
        metric_keys: the scalar `info` entries exposed in `state.metrics`.
    """

    def __init__(self, env: Any, params: Any | None = None):
        install_jax_compat()
        self.env = env
        self.params = env.default_params if params is None else params
        space = env.action_space(self.params)
        if not isinstance(space, spaces.Box):
            raise TypeError(f"BraxEnv needs a Box action space, {env!r} has {space!r}")
        self._shape = tuple(int(s) for s in space.shape)
        size = math.prod(self._shape)
        self.low = np.broadcast_to(np.asarray(space.low, np.float32), self._shape).reshape(size)
        self.high = np.broadcast_to(np.asarray(space.high, np.float32), self._shape).reshape(size)
        horizon = getattr(self.params, "horizon", None)
        self.episode_length = None if horizon is None else int(horizon)
        key = jax.random.PRNGKey(0)
        obs, state = jax.eval_shape(env.reset, key, self.params)
        self._obs_size = int(obs.shape[-1])
        action = jnp.zeros(self._shape, jnp.float32)
        info = jax.eval_shape(env.step, key, state, action, self.params)[4]
        self.metric_keys = tuple(
            k
            for k, v in info.items()
            if k != "reward" and getattr(v, "shape", None) == () and _numeric(v.dtype)
        )

    # --- brax.envs.Env ---
    def reset(self, rng: jax.Array) -> State:
        """A fresh episode from key `rng` (2,); obs (D,), reward/done () float32 zeros."""
        k_reset, k_next = jax.random.split(rng)
        obs, env_state = self.env.reset(k_reset, self.params)
        zero = jnp.zeros((), jnp.float32)
        return State(
            pipeline_state=env_state,
            obs=jnp.asarray(obs, jnp.float32),
            reward=zero,
            done=zero,
            metrics={k: zero for k in self.metric_keys},
            info={"rng": k_next},
        )

    def step(self, state: State, action: jax.Array) -> State:
        """One env step with brax action (action_size,) in [-1, 1] (rescaled to the Box)."""
        k_step, k_next = jax.random.split(state.info["rng"])
        obs, env_state, reward, done, info = self.env.step(
            k_step, state.pipeline_state, self.rescale_action(action), self.params
        )
        done = jnp.asarray(done, jnp.float32)
        # Entries that wrappers added (brax's EvalWrapper adds "reward") are carried over,
        # as brax's own envs do, so the state keeps its pytree structure.
        metrics = {**state.metrics}
        metrics.update({k: done * jnp.asarray(info[k], jnp.float32) for k in self.metric_keys})
        return state.replace(
            pipeline_state=env_state,
            obs=jnp.asarray(obs, jnp.float32),
            reward=jnp.asarray(reward, jnp.float32),
            done=done,
            metrics=metrics,
            info={**state.info, "rng": k_next},
        )

    @property
    def observation_size(self) -> int:
        return self._obs_size

    @property
    def action_size(self) -> int:
        return int(self.low.shape[0])

    @property
    def backend(self) -> str:
        return BACKEND

    # --- helpers ---
    def rescale_action(self, action: jax.Array) -> jax.Array:
        """(action_size,) brax action in [-1, 1] -> the env's Box action (its shape).

        Clipped to [-1, 1] first; dimensions with an infinite bound pass through unscaled.
        """
        a = jnp.clip(jnp.reshape(jnp.asarray(action, jnp.float32), (-1,)), -1.0, 1.0)
        finite = np.isfinite(self.low) & np.isfinite(self.high)
        low, high = np.where(finite, self.low, -1.0), np.where(finite, self.high, 1.0)
        center, half = 0.5 * (low + high), 0.5 * (high - low)
        return jnp.reshape(center + half * a, self._shape)

    def __repr__(self) -> str:
        return f"BraxEnv({getattr(self.env, 'name', self.env)!r})"


def _numeric(dtype: Any) -> bool:
    return bool(jnp.issubdtype(dtype, jnp.number) or jnp.issubdtype(dtype, jnp.bool_))


class FreshAutoResetWrapper(Wrapper):
    """brax's `AutoResetWrapper`, but a finished env restarts from a fresh `reset`.

    Keeps (..., 2) keys in `info["reset_rng"]`; on `done` the obs and pipeline state
    come from `env.reset(new key)` (one reset of every env per step, as arenax's
    `AutoReset` does). Like brax's, it zeroes `info["steps"]` after a done.
    """

    def reset(self, rng: jax.Array) -> State:
        state = self.env.reset(rng)
        state.info["reset_rng"] = _split(rng)[1]
        return state

    def step(self, state: State, action: jax.Array) -> State:
        info = dict(state.info)
        if "steps" in info:
            info["steps"] = jnp.where(state.done, jnp.zeros_like(info["steps"]), info["steps"])
        state = state.replace(done=jnp.zeros_like(state.done), info=info)
        state = self.env.step(state, action)
        k_reset, k_next = _split(state.info["reset_rng"])
        fresh = self.env.reset(k_reset)

        def where_done(new: jax.Array, old: jax.Array) -> jax.Array:
            done = jnp.reshape(state.done, state.done.shape + (1,) * (old.ndim - state.done.ndim))
            return jnp.where(done, new, old)

        pipeline_state = jax.tree_util.tree_map(
            where_done, fresh.pipeline_state, state.pipeline_state
        )
        obs = jax.tree_util.tree_map(where_done, fresh.obs, state.obs)
        info = {**state.info, "reset_rng": k_next}
        return state.replace(pipeline_state=pipeline_state, obs=obs, info=info)


def _split(rng: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Split (2,) or batched (..., 2) raw keys into two keys of the same shape."""
    flat = jnp.reshape(rng, (-1, 2))
    pairs = jax.vmap(jax.random.split)(flat)
    return jnp.reshape(pairs[:, 0], rng.shape), jnp.reshape(pairs[:, 1], rng.shape)


def wrap_for_training(
    env: Env,
    episode_length: int = 1000,
    action_repeat: int = 1,
    randomization_fn: Callable | None = None,
) -> Wrapper:
    """`brax.envs.training.wrap` (Vmap, Episode, AutoReset) with fresh random restarts.

    Pass as `wrap_env_fn=` to brax's trainers. `randomization_fn` (brax's domain
    randomisation of a physics `System`) does not apply to arenax envs.
    """
    if randomization_fn is not None:
        raise ValueError("domain randomisation needs a brax System; arenax envs have none")
    env = VmapWrapper(env)
    env = EpisodeWrapper(env, episode_length, action_repeat)
    return FreshAutoResetWrapper(env)


def make_brax_env(
    name_or_env: str | Any,
    role: str = "pursuer",
    opponent: Policy | str | None = None,
    params: Any | None = None,
    **overrides: Any,
) -> BraxEnv:
    """A `BraxEnv` from a registered env name (with param `overrides`) or an env object.

    A two-player env is seen from `role` against `opponent` (a `Policy`, or for Car Tag a
    hand-written strategy name; default "straight_flee" against a pursuer and
    "pure_pursuit" against an evader). A single-agent env is wrapped as it is.
    """
    env = name_or_env
    if isinstance(name_or_env, str):
        env, made = make(name_or_env, **overrides)
        params = made if params is None else params
    elif overrides:
        raise ValueError("param overrides need an env name; pass params= for an env object")
    if len(getattr(env, "agents", ())) > 1:
        if not isinstance(opponent, Policy):
            if env.name != "car_tag":
                raise ValueError(f"{env.name}: give the opponent as a Policy")
            from arenax.agents.car_tag import get_strategy

            other = "evader" if role == "pursuer" else "pursuer"
            default = "straight_flee" if other == "evader" else "pure_pursuit"
            opponent = get_strategy(other, opponent or default)
        env = SingleAgentView(env, role, opponent)
    return BraxEnv(env, params)


def to_arenax_policy(
    inference_fn: Callable[[jax.Array, jax.Array], tuple[jax.Array, Any]],
    env: BraxEnv,
    name: str = "brax_ppo",
    role: str | None = None,
) -> Policy:
    """A brax policy (e.g. `make_policy(params, deterministic=True)`) as an arenax `Policy`.

    `act(obs, memory, key)` flattens the named observation (`flatten_observation`, the
    same (D,) vector `BraxEnv` feeds brax; brax's observation normaliser lives inside
    its params), calls `inference_fn` on a batch of one and rescales the [-1, 1] action
    to the Box like `BraxEnv.step`. Stateless: memory is `()`.
    """

    def act(obs: Any, memory: Any, key: jax.Array) -> tuple[jax.Array, Any]:
        x = flatten_observation(obs).astype(jnp.float32)[None]
        action, _ = inference_fn(x, key)
        return env.rescale_action(action[0]), memory

    role = getattr(env.env, "role", "") if role is None else role
    return Policy(name=name, act=act, role=role, description="brax-trained policy")
