"""Evaluating a whole population in one batched rollout: vmap over members x episodes,
`lax.scan` over time.

Every member plays the same `E` episodes (common random numbers): episode `e`
resets with `keys[e]` and its step `t` uses `step_keys(keys[e], T)[t]`. Actions
are the distribution's mode, i.e. exactly what the exported policy plays.
Episodes run for a fixed `num_steps`; rewards, lengths and statistics stop
counting once an episode is `done`.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
from flax import struct

from arenax.agents.es import genome as genome_lib
from arenax.agents.ppo.action_spec import ActionSpec, to_env_action
from arenax.agents.ppo.config import PPOConfig
from arenax.agents.ppo.networks import initial_hidden
from arenax.agents.ppo.normalization import RunningNorm


@struct.dataclass
class ObsMoments:
    """Mean and variance of the observations seen while episodes were running.

    Attributes:
        count: () number of observations (alive member-episode steps).
        mean: (D,) their mean.
        var: (D,) their population variance.
    """

    count: jax.Array
    mean: jax.Array
    var: jax.Array

    def merge_into(self, norm: RunningNorm) -> RunningNorm:
        """`norm` updated with these moments (parallel-variance merge; no-op when empty)."""
        total = norm.count + self.count
        delta = self.mean - norm.mean
        mean = norm.mean + delta * self.count / total
        m2 = norm.var * norm.count + self.var * self.count
        m2 = m2 + delta**2 * norm.count * self.count / total
        return RunningNorm(mean=mean, var=m2 / total, count=total)


@struct.dataclass
class PopulationEval:
    """Outcome of `evaluate_population` for P members.

    Attributes:
        fitness: (P,) mean undiscounted episode return.
        metrics: name -> (P,) means over the episodes: "episode_length", and
            "info/<key>" for every scalar entry of the env's `info` dict at the
            episode's last step (Car Tag: "info/captured" is the capture rate).
        obs_moments: statistics of the observations every member acted on, or None
            when `config.normalize_obs` is off.
        env_steps: () int32 alive env steps (before `done`) over all members and episodes.
    """

    fitness: jax.Array
    metrics: dict[str, jax.Array]
    obs_moments: ObsMoments | None
    env_steps: jax.Array


def step_keys(key: jax.Array, num_steps: int) -> jax.Array:
    """(num_steps, 2) step keys of the episode that resets with `key`."""
    return jax.random.split(jax.random.fold_in(key, 1), num_steps)


def evaluate_population(
    network: nn.Module,
    config: PPOConfig,
    spec: ActionSpec,
    env: Any,
    env_params: Any,
    base_params: Any,
    genomes: genome_lib.Genome,
    obs_norm: RunningNorm,
    keys: jax.Array,
    num_steps: int,
) -> PopulationEval:
    """Play every member on the same episodes; one scan of `num_steps` batched steps.

    Args:
        network: the actor-critic (`build_network(config, spec)`).
        config: network settings (`recurrent`, `normalize_obs`, `obs_clip`, ...).
        spec: the action space.
        env: a single-agent env (not auto-resetting), flat (D,) observations.
        env_params: its params.
        base_params: full network parameters shared by all members (the frozen part).
        genomes: flat dict of evolved leaves, each `(P, ...)` (see `genome.py`).
        obs_norm: frozen observation statistics (used when `config.normalize_obs`).
        keys: (E, 2) episode keys, shared by all members.
        num_steps: T, scan length.

    Returns:
        A `PopulationEval` with (P,) fitness and metrics.
    """
    num_members = jax.tree_util.tree_leaves(genomes)[0].shape[0]
    num_episodes = keys.shape[0]
    obs0, state0 = jax.vmap(env.reset, in_axes=(0, None))(keys, env_params)  # (E, D)
    tile = lambda x: jnp.broadcast_to(x, (num_members, *x.shape))
    obs, state = jax.tree_util.tree_map(tile, (obs0, state0))  # (P, E, ...)
    keys_t = jnp.swapaxes(jax.vmap(step_keys, in_axes=(0, None))(keys, num_steps), 0, 1)

    def act(genome: genome_lib.Genome, hidden: Any, obs: jax.Array, first: jax.Array):
        """One member on its E episodes: obs (E, D) -> action (E, *shape)."""
        x = obs_norm.normalize(obs, config.obs_clip) if config.normalize_obs else obs
        params = genome_lib.merge(base_params, genome)
        resets = jnp.broadcast_to(first, (1, num_episodes))
        hidden, dist, _ = network.apply(params, hidden, x[None], resets)  # value: dead code
        return hidden, to_env_action(spec, dist.mode()[0])

    env_step = jax.vmap(jax.vmap(env.step, in_axes=(0, 0, 0, None)), in_axes=(None, 0, 0, None))
    batch = (num_members, num_episodes)
    action_like = jnp.zeros((*batch, *spec.shape), jnp.int32 if spec.discrete else jnp.float32)
    info_like = jax.eval_shape(env_step, keys_t[0], state, action_like, env_params)[4]
    info_keys = sorted(k for k, v in info_like.items() if v.shape == batch)  # scalar entries
    d = obs0.shape[-1]
    shift = obs_norm.mean  # moments are accumulated around it for float32 accuracy

    def body(carry: tuple, inputs: tuple[jax.Array, jax.Array]) -> tuple[tuple, None]:
        obs, state, hidden, alive, ret, length, info, s0, s1, s2 = carry
        t, k = inputs
        hidden, action = jax.vmap(act, in_axes=(0, 0, 0, None))(genomes, hidden, obs, t == 0)
        next_obs, state, reward, done, step_info = env_step(k, state, action, env_params)
        w = alive.astype(jnp.float32)
        ret = ret + w * reward
        length = length + w
        info = {k: jnp.where(alive, step_info[k].astype(jnp.float32), info[k]) for k in info_keys}
        if config.normalize_obs:
            dev = obs - shift
            s0 = s0 + jnp.sum(w)
            s1 = s1 + jnp.einsum("pe,ped->d", w, dev)
            s2 = s2 + jnp.einsum("pe,ped->d", w, dev**2)
        alive = alive & ~done
        return (next_obs, state, hidden, alive, ret, length, info, s0, s1, s2), None

    carry = (
        obs,
        state,
        initial_hidden(config, batch),
        jnp.ones(batch, bool),
        jnp.zeros(batch, jnp.float32),
        jnp.zeros(batch, jnp.float32),
        {k: jnp.zeros(batch, jnp.float32) for k in info_keys},
        jnp.zeros((), jnp.float32),
        jnp.zeros((d,), jnp.float32),
        jnp.zeros((d,), jnp.float32),
    )
    carry, _ = jax.lax.scan(body, carry, (jnp.arange(num_steps), keys_t))
    _, _, _, _, ret, length, info, s0, s1, s2 = carry

    moments = None
    if config.normalize_obs:
        n = jnp.maximum(s0, 1.0)
        mean_dev = s1 / n
        moments = ObsMoments(
            count=s0, mean=shift + mean_dev, var=jnp.maximum(s2 / n - mean_dev**2, 0.0)
        )
    metrics = {"episode_length": length.mean(axis=1)}
    metrics.update({f"info/{k}": v.mean(axis=1) for k, v in info.items()})
    return PopulationEval(
        fitness=ret.mean(axis=1),
        metrics=metrics,
        obs_moments=moments,
        env_steps=jnp.sum(length).astype(jnp.int32),
    )
