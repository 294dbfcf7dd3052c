"""Trace and test a loaded policy before it is scored.

`validate_policy` traces `init` and two chained `act` steps under one `jit`,
vmapped over a batch of observations that draw every bounded field of the
role's observation space uniformly (the unbounded fields, the game's
constants, come from the params). Tracing checks
the return value, the action's shape and dtype, and that the memory keeps its
structure, shapes and dtypes across steps; running checks that actions are
finite and inside the action space.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from arenax.policy import Policy
from arenax.search.program_errors import (
    BoundsError,
    CompileTimeoutError,
    NonFiniteError,
    ShapeError,
)
from arenax.search.program_errors_map import program_error

NUM_OBSERVATIONS = 32
# The validation program runs once, on a few observations: an unoptimised XLA backend
# compiles it about 30% faster (look-ahead programs: 1.8-3.1 s -> 1.2-2.2 s).
VALIDATION_COMPILER_OPTIONS = {"xla_backend_optimization_level": 0}
BOUNDS_RTOL = 1e-3  # of the box's width (at least 1), an allowed overshoot
MAX_DESCRIBE_CHARS = 240


@dataclass(frozen=True)
class Validation:
    """What validating a policy measured.

    Attributes:
        action_shape: the shape `act` returns (reshaped to the space's shape by rollouts).
        memory: the memory pytree's leaves as "dtype[shape]" strings.
        trace_s: seconds tracing init/act in Python.
        compile_s: seconds lowering and compiling with XLA.
        run_s: seconds running on the test observations.
    """

    action_shape: tuple[int, ...]
    memory: str
    trace_s: float
    compile_s: float
    run_s: float


def describe(tree: Any) -> str:
    """Short text of a pytree's leaves as dtype[shape]."""

    def leaf(x: Any) -> str:
        if hasattr(x, "shape") and hasattr(x, "dtype"):
            return f"{x.dtype}{list(x.shape)}"
        return type(x).__name__

    text = str(jax.tree_util.tree_map(leaf, tree))
    return text if len(text) <= MAX_DESCRIBE_CHARS else text[: MAX_DESCRIBE_CHARS - 3] + "..."


def key_seed(key: jax.Array) -> list[int]:
    """The words of a PRNG key (typed or raw), to seed a NumPy generator."""
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        key = jax.random.key_data(key)
    return [int(x) for x in np.asarray(key).ravel()]


def sample_observations(env: Any, params: Any, role: str, seed: Any, num: int) -> Any:
    """A batch (leading axis `num`) of valid observations for `role`, drawn on the host.

    Every field with finite bounds is uniform in its box; every unbounded field
    (for Car Tag the game's constants) is the params field of the same name, or
    else its value at a reset. No compilation: this runs once per validation.

    Args:
        seed: anything `numpy.random.default_rng` accepts.
    """
    template = jax.eval_shape(lambda k: env.reset(k, params)[0][role], jax.random.key(0))
    space = env.observation_space(params)[role]
    rng = np.random.default_rng(seed)
    spaces = getattr(space, "spaces", None)
    if spaces is None:
        low, high = np.asarray(space.low, np.float64), np.asarray(space.high, np.float64)
        return rng.uniform(low, high, (num, *space.shape)).astype(template.dtype)
    fields: dict[str, np.ndarray] = {}
    reset_obs = None
    for name, sub in spaces.items():
        leaf = template[name] if isinstance(template, dict) else getattr(template, name)
        shape = (num, *leaf.shape)
        low = np.broadcast_to(np.asarray(sub.low, np.float64), leaf.shape)
        high = np.broadcast_to(np.asarray(sub.high, np.float64), leaf.shape)
        if np.all(np.isfinite(low)) and np.all(np.isfinite(high)):
            value = rng.uniform(low, high, shape)
        elif hasattr(params, name):
            value = np.broadcast_to(np.asarray(getattr(params, name), np.float64), shape)
        else:
            if reset_obs is None:
                reset_obs = env.reset(jax.random.key(0), params)[0][role]
            one = reset_obs[name] if isinstance(reset_obs, dict) else getattr(reset_obs, name)
            value = np.broadcast_to(np.asarray(one), shape)
        fields[name] = np.asarray(value, leaf.dtype)
    if isinstance(template, dict):
        return fields
    return dataclasses.replace(template, **fields)


def check_memory(before: Any, after: Any) -> None:
    """Raise ShapeError unless `after` has `before`'s tree structure, shapes and dtypes."""
    s0, s1 = jax.tree_util.tree_structure(before), jax.tree_util.tree_structure(after)
    fix = (
        "act must return memory with the same structure, shapes and dtypes as init(key) "
        "returns (e.g. init: `return {'t': jnp.zeros(())}`, act: `return action, {'t': t}`); "
        "stateless programs return the memory they were given"
    )
    if s0 != s1:
        raise ShapeError(
            f"the memory changed structure: init gave {describe(before)}, "
            f"act returned {describe(after)}; {fix}"
        )
    for a, b in zip(
        jax.tree_util.tree_leaves(before), jax.tree_util.tree_leaves(after), strict=True
    ):
        try:
            a, b = jnp.asarray(a), jnp.asarray(b)
        except TypeError:
            raise ShapeError(
                f"memory leaves must be arrays or numbers, got {describe(before)} -> "
                f"{describe(after)}; {fix}"
            ) from None
        if a.shape != b.shape or a.dtype != b.dtype:
            raise ShapeError(
                f"a memory leaf changed from {a.dtype}{list(a.shape)} to {b.dtype}{list(b.shape)} "
                f"(init gave {describe(before)}, act returned {describe(after)}); {fix}"
            )


def checked_action(out: Any, space: Any, role: str) -> tuple[tuple[int, ...], jax.Array]:
    """`act`'s action: its own shape, and the action reshaped to the space as float32.

    Raises ShapeError if `out` is not an `(action, memory)` pair or the action
    cannot be read as an array of the space's size.
    """
    if not (isinstance(out, tuple | list) and len(out) == 2):
        raise ShapeError(
            f"act must return a pair `(action, memory)`; it returned {describe(out)} "
            "(write `return action, memory`)"
        )
    action = out[0]
    try:
        action = jnp.asarray(action)
    except TypeError:
        raise ShapeError(f"the action must be an array, got {describe(action)}") from None
    shape = tuple(space.shape)
    if action.size != math.prod(shape) or action.ndim > max(len(shape), 1):
        raise ShapeError(
            f"the {role}'s action must have shape {shape} ({action_text(space)}); act returned "
            f"shape {tuple(action.shape)}"
        )
    if not (
        jnp.issubdtype(action.dtype, jnp.floating) or jnp.issubdtype(action.dtype, jnp.integer)
    ):
        raise ShapeError(f"the action must be a real float array, got dtype {action.dtype}")
    return tuple(action.shape), jnp.reshape(action, shape).astype(jnp.float32)


def action_text(space: Any) -> str:
    low, high = np.asarray(space.low, float), np.asarray(space.high, float)
    if low.size == 1 and high.size == 1:
        return f"each entry in [{low.item():g}, {high.item():g}]"
    return f"entries between {low.tolist()} and {high.tolist()}"


def observation_text(obs: Any, index: int, step: int) -> str:
    """Observation `[index, step]` of a test batch as `field=value` text."""
    parts = []
    for path, leaf in jax.tree_util.tree_flatten_with_path(obs)[0]:
        name = jax.tree_util.keystr(path).lstrip(".")
        value = np.round(np.asarray(leaf[index, step], float), 3)
        parts.append(f"{name}={value.tolist()}")
    text = ", ".join(parts)
    return text if len(text) <= MAX_DESCRIBE_CHARS else text[: MAX_DESCRIBE_CHARS - 3] + "..."


def validate_policy(
    policy: Policy,
    env: Any,
    params: Any,
    role: str,
    key: jax.Array,
    compile_time_limit_s: float | None = None,
    num_observations: int = NUM_OBSERVATIONS,
    on_phase: Callable[[str], None] | None = None,
) -> Validation:
    """Trace, compile and test `policy` as `role`; raise a `ProgramError` if it fails.

    Args:
        policy: a loaded policy (`load_policy`), or any `Policy`.
        env, params: the environment and its params.
        role: the agent `policy` plays.
        key: PRNG key for the test observations and the policy's keys.
        compile_time_limit_s: if tracing plus compiling took longer, raise
            CompileTimeoutError (measured afterwards; a sandbox worker enforces it
            while it runs by killing the worker).
        num_observations: test episodes of two steps each (2 * num_observations draws).
        on_phase: called with "trace", "compile" and "test" as each phase starts.

    Raises:
        ProgramError: trace, shape, non_finite, bounds, compile_timeout or
            memory_limit, with the program line where known.
    """
    if role not in env.agents:
        raise ValueError(f"unknown role {role!r}; the environment's roles are {env.agents}")
    phase = on_phase or (lambda name: None)
    space = env.action_space(params)[role]
    code = getattr(policy.act, "__code__", None)
    filename = code.co_filename if code is not None else "<act>"
    source = policy.source or ""
    seed = key_seed(key)
    obs = sample_observations(env, params, role, seed, 2 * num_observations)
    # Two consecutive steps per test episode: leaves (num_observations, 2, ...).
    obs = jax.tree_util.tree_map(lambda x: x.reshape(num_observations, 2, *x.shape[1:]), obs)
    # Keys for init and the two steps, split once outside the traced function.
    keys = jax.random.split(key, (num_observations, 3))
    shapes: dict[str, Any] = {}

    def two_steps(k: jax.Array, steps_obs: Any) -> jax.Array:
        memory = policy.init(k[0])
        shapes["memory"] = describe(memory)

        def step(m: Any, inputs: tuple[Any, jax.Array]) -> tuple[Any, jax.Array]:
            step_obs, step_key = inputs
            out = policy.act(step_obs, m, step_key)
            shapes["action"], action = checked_action(out, space, role)
            check_memory(m, out[1])
            return out[1], action

        # One traced copy of act (a scan body), so it compiles once.
        return jax.lax.scan(step, memory, (steps_obs, k[1:]))[1]

    started = time.perf_counter()
    try:
        phase("trace")
        traced = jax.jit(jax.vmap(two_steps)).trace(keys, obs)
        trace_s = time.perf_counter() - started
        phase("compile")
        compiled = traced.lower().compile(VALIDATION_COMPILER_OPTIONS)
    except Exception as exc:
        raise program_error(exc, filename, source, "tracing init/act") from None
    compile_s = time.perf_counter() - started - trace_s
    if compile_time_limit_s is not None and trace_s + compile_s > compile_time_limit_s:
        raise CompileTimeoutError(
            f"tracing and compiling act took {trace_s + compile_s:.1f} s; the limit is "
            f"{compile_time_limit_s:g} s: simplify it (fewer unrolled Python loops, smaller "
            "lax.scan bodies, fewer plans)"
        )
    phase("test")
    started = time.perf_counter()
    try:
        actions = np.asarray(compiled(keys, obs))  # (n, 2 steps, *action shape)
    except Exception as exc:
        raise program_error(exc, filename, source, "running act") from None
    run_s = time.perf_counter() - started
    check_actions(actions, space, role, obs)
    return Validation(shapes["action"], shapes["memory"], trace_s, compile_s, run_s)


def check_actions(actions: np.ndarray, space: Any, role: str, obs: Any) -> None:
    """NonFiniteError / BoundsError for bad test actions (n, 2, *shape); obs leaves (n, 2, ...)."""
    n = actions.shape[0]
    flat = actions.reshape(n, 2, -1)
    bad = ~np.isfinite(flat).all(-1)  # (n, 2)
    if bad.any():
        i, step = map(int, np.argwhere(bad)[0])
        raise NonFiniteError(
            f"act returned NaN or infinite actions on {int(bad.any(-1).sum())} of {n} valid test "
            f"observations (e.g. {flat[i, step].tolist()} at {observation_text(obs, i, step)}); "
            "guard divisions (x / (d + 1e-6)), square roots (jnp.sqrt(jnp.maximum(x, 0))) and "
            "normalisations of zero vectors"
        )
    low = np.broadcast_to(np.asarray(space.low, np.float64), space.shape).reshape(-1)
    high = np.broadcast_to(np.asarray(space.high, np.float64), space.shape).reshape(-1)
    tol = BOUNDS_RTOL * np.maximum(high - low, 1.0)
    excess = np.maximum(low - flat, flat - high)  # (n, 2, size)
    outside = (excess > tol).any(-1)
    if outside.any():
        i, step = map(int, np.argwhere(outside)[0])
        raise BoundsError(
            f"act returned actions outside the {role}'s action space ({action_text(space)}) on "
            f"{int(outside.any(-1).sum())} of {n} test observations, e.g. {flat[i, step].tolist()} "
            f"(worst overshoot {float(excess.max()):.3g}); keep them inside, e.g. with "
            "jnp.clip(action, low, high) or by scaling a unit direction by the speed"
        )
