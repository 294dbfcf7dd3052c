"""The privileged (fully observed) MDP of a gap environment as tables, for inverse RL.

Bayesian IRL needs the expert's action values under a candidate reward. The gap
environments are small enough to enumerate: every privileged state gets an index,
and `TabularMDP` holds, per (state, action), the next state's index, whether the
episode ends, and the reward features of the step. Soft value iteration over
these tables gives the Boltzmann-rational expert's Q exactly.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct


@struct.dataclass
class TabularMDP:
    """Tables over S privileged states and A actions.

    Attributes:
        next_state: (S, A) int32 index of the state after the step.
        done: (S, A) bool, the step ends the episode.
        features: (S, A, K) reward features of the step.
        horizon: steps of value iteration that reach every state's end (static).
    """

    next_state: jax.Array
    done: jax.Array
    features: jax.Array
    horizon: int = struct.field(pytree_node=False)


def soft_q_values(mdp: TabularMDP, weights: jax.Array, rationality: float) -> jax.Array:
    """(S, A) action values of the Boltzmann-rational expert under the linear reward
    `features @ weights`: Q = r + V(next), V = logsumexp(rationality * Q) / rationality,
    iterated `horizon` times (the state graphs are acyclic and end within it)."""
    reward = mdp.features @ weights

    def backup(q, _):
        v = jax.nn.logsumexp(rationality * q, axis=-1) / rationality
        return reward + jnp.where(mdp.done, 0.0, v[mdp.next_state]), None

    q, _ = jax.lax.scan(backup, reward, None, length=mdp.horizon)
    return q
