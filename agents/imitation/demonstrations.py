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
    env: Environment, params, key: jax.Array, num_episodes: int, horizon: int, agent: str = "agent"
) -> Demonstrations:
    """Roll out the environment's privileged expert for `num_episodes` episodes of at most
    `horizon` steps (one jitted, vmapped scan)."""

    def episode(k):
        obs, state = env.reset(k, params)

        def step(carry, step_key):
            obs, state = carry
            action = env.expert_action(state, params)
            alive = ~state.done
            obs_next, state, reward, _, _ = env.step(step_key, state, {agent: action}, params)
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
