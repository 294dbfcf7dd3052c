"""Demonstrations: what the agent would have seen, paired with what the privileged
expert did.

An expert acts on the full state (`env.expert_action(state, params)`); the dataset
stores the *agent's* observation at each step, because that is what a learner must
act from. Episodes are padded to a fixed horizon; `mask` marks real steps.
"""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from arenax.envs.environment import Environment
from arenax.envs.single_agent import flatten_observation
from arenax.envs.spaces import Discrete


@struct.dataclass
class Demonstrations:
    """Fields (E, T, ...) for E episodes padded to T steps.

    Attributes:
        obs: (E, T, D) the agent's observations.
        actions: (E, T) or (E, T, A) the expert's actions.
        rewards: (E, T) rewards received.
        mask: (E, T) True on steps that happened (before the episode ended).
    """

    obs: jax.Array
    actions: jax.Array
    rewards: jax.Array
    mask: jax.Array

    @property
    def returns(self) -> jax.Array:
        """(E,) each episode's return."""
        return jnp.sum(self.rewards * self.mask, axis=1)


def collect_demonstrations(
    env: Environment,
    params,
    key: jax.Array,
    num_episodes: int,
    horizon: int,
    agent: str = "agent",
    noise: float = 0.0,
) -> Demonstrations:
    """Roll out the environment's privileged expert for `num_episodes` episodes of at most
    `horizon` steps (one jitted, vmapped scan).

    With `noise` > 0 the demonstrations are noise-injected (DART, Laskey et al. 2017):
    at each step the executed action is uniformly random with probability `noise`,
    while the label is always the expert's action at the visited state, so the data
    covers states the expert itself never enters (discrete actions only)."""
    execute = noisy_executor(env, params, agent, noise)

    def episode(k):
        obs, state = env.reset(k, params)

        def step(carry, step_key):
            obs, state = carry
            action = env.expert_action(state, params)
            alive = ~state.done
            executed, step_key = execute(step_key, action)
            obs_next, state, reward, _, _ = env.step(step_key, state, {agent: executed}, params)
            return (obs_next, state), (
                flatten_observation(obs[agent]),
                action,
                reward[agent],
                alive,
            )

        _, out = jax.lax.scan(step, (obs, state), jax.random.split(k, horizon))
        return out

    obs, actions, rewards, mask = jax.jit(jax.vmap(episode))(jax.random.split(key, num_episodes))
    return Demonstrations(obs, actions, rewards, mask)


def noisy_executor(env: Environment, params, agent: str, noise: float):
    """`(step_key, expert_action) -> (executed action, key left for env.step)`: the
    expert's action, replaced by a uniformly random one with probability `noise`. With
    `noise` 0 the action and the key pass through untouched, so noise-free collection
    draws the same random stream as without noise injection."""
    if not 0.0 <= noise <= 1.0:
        raise ValueError(f"demonstration noise must be a probability in [0, 1], got {noise}")
    if noise == 0.0:
        return lambda key, action: (action, key)
    space = env.action_space(params)[agent]
    if not isinstance(space, Discrete):
        raise ValueError(
            f"noise-injected demonstrations need discrete actions; {agent!r} acts in {space}"
        )

    def execute(key: jax.Array, action: jax.Array) -> tuple[jax.Array, jax.Array]:
        k_noise, k_step = jax.random.split(key)
        k_flip, k_action = jax.random.split(k_noise)
        random_action = jax.random.randint(k_action, (), 0, space.n)
        flip = jax.random.bernoulli(k_flip, noise)
        return jnp.where(flip, random_action, action).astype(jnp.asarray(action).dtype), k_step

    return execute


def save_demonstrations(path: str | Path, demos: Demonstrations) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **{k: np.asarray(v) for k, v in vars(demos).items()})
    return path


def load_demonstrations(path: str | Path) -> Demonstrations:
    """Raises ValueError naming the problem for a missing, unreadable or incomplete file."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such demonstrations file")
    try:
        with np.load(path) as data:
            fields = {k: data[k] for k in data.files}
    except Exception as error:  # any unreadable file gets the same message
        raise ValueError(f"{path}: not a demonstrations file ({error})") from error
    missing = sorted({"obs", "actions", "rewards", "mask"} - set(fields))
    if missing:
        raise ValueError(f"{path}: missing field(s) {', '.join(missing)}")
    if fields["obs"].shape[:2] != fields["mask"].shape:
        raise ValueError(
            f"{path}: obs has shape {fields['obs'].shape}, mask {fields['mask'].shape}; "
            "their first two axes (episodes, steps) must agree"
        )
    return Demonstrations(
        **{k: jnp.asarray(fields[k]) for k in ("obs", "actions", "rewards", "mask")}
    )
