"""A fixed-capacity pool of past policy snapshots (fictitious self-play), as one pytree.

Snapshots are stacked along a leading slot axis of size P (the capacity), so the
pool lives inside a traced train state: pushing is a pure, jittable write at a
ring pointer, and sampling is a random slot index that a policy later gathers
its parameters with.

    pool = OpponentPool.create(16, params, obs_norm)   # one snapshot, P = 16 slots
    pool = pool.push(new_params, new_obs_norm)          # pure; jit/vmap/scan friendly
    slot = pool.sample(key)                             # uniform over filled slots
    params, obs_norm = pool.get(slot)

Slots fill in order 0, 1, ..., P - 1, so the filled slots are always `0 .. size - 1`;
once full, each push overwrites the oldest snapshot (a ring buffer). Unfilled
slots hold copies of the first snapshot, so a gathered slot is always a valid
network even if it is never played.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from arenax.agents.ppo.normalization import RunningNorm


@struct.dataclass
class OpponentPool:
    """Stacked snapshots of one role's policy.

    Attributes:
        params: network parameters, every leaf (P, ...).
        obs_norm: the observation statistics frozen with each snapshot, leaves (P, ...)
            (mean/var (P, D), count (P,)).
        size: () int32 number of filled slots, 1..P.
        next: () int32 slot the next push writes (the ring pointer).
        pushes: () int32 snapshots pushed since `create` (the first one counts).
    """

    params: Any
    obs_norm: RunningNorm
    size: jax.Array
    next: jax.Array
    pushes: jax.Array

    @classmethod
    def create(cls, capacity: int, params: Any, obs_norm: RunningNorm) -> OpponentPool:
        """A pool of `capacity` slots holding one snapshot (`params`, `obs_norm`).

        Raises:
            ValueError: `capacity` < 1.
        """
        capacity = int(capacity)
        if capacity < 1:
            raise ValueError(f"OpponentPool capacity must be >= 1, got {capacity}")
        tile = lambda x: jnp.broadcast_to(jnp.asarray(x), (capacity, *jnp.shape(x)))
        return cls(
            params=jax.tree_util.tree_map(tile, params),
            obs_norm=jax.tree_util.tree_map(tile, obs_norm),
            size=jnp.ones((), jnp.int32),
            next=jnp.asarray(1 % capacity, jnp.int32),
            pushes=jnp.ones((), jnp.int32),
        )

    @property
    def capacity(self) -> int:
        """P, the number of slots (static: the leading axis of every leaf)."""
        return int(jax.tree_util.tree_leaves(self.obs_norm)[0].shape[0])

    @property
    def latest(self) -> jax.Array:
        """() int32 slot of the most recently pushed snapshot."""
        return (self.next - 1) % self.capacity

    def push(self, params: Any, obs_norm: RunningNorm) -> OpponentPool:
        """A pool with (`params`, `obs_norm`) written at the ring pointer (pure)."""
        slot = self.next
        write = lambda stack, x: stack.at[slot].set(jnp.asarray(x, stack.dtype))
        return OpponentPool(
            params=jax.tree_util.tree_map(write, self.params, params),
            obs_norm=jax.tree_util.tree_map(write, self.obs_norm, obs_norm),
            size=jnp.minimum(self.size + 1, self.capacity),
            next=(slot + 1) % self.capacity,
            pushes=self.pushes + 1,
        )

    def sample(self, key: jax.Array, latest_prob: float | jax.Array = 0.0) -> jax.Array:
        """() int32 slot: the latest snapshot with probability `latest_prob`, otherwise
        uniform over the filled slots (so the latest one can also come up that way)."""
        k_uniform, k_latest = jax.random.split(key)
        uniform = jax.random.randint(k_uniform, (), 0, self.size, jnp.int32)
        take_latest = jax.random.uniform(k_latest, ()) < latest_prob
        return jnp.where(take_latest, self.latest, uniform)

    def get(self, slot: jax.Array | int) -> tuple[Any, RunningNorm]:
        """(params, obs_norm) of one slot, leaves without the slot axis."""
        pick = lambda x: x[slot]
        return (
            jax.tree_util.tree_map(pick, self.params),
            jax.tree_util.tree_map(pick, self.obs_norm),
        )
