"""Behaviour descriptor: a fixed-length vector of how a Car Tag policy plays.

The descriptor is computed from the policy's own rollouts (every episode
against every opponent it was scored against) without copying trajectories
to the host: the jitted match step adds each active step's `step_statistics`
into a per-episode running sum, and `descriptor` turns those sums into
`BEHAVIOUR_FIELDS`, each scaled to [0, 1].

The definition is the same for both roles, always from the point of view of
the policy being described ("own" = the described policy, "opponent" = the
other player), so descriptors are comparable across programs of one role.
They depend on the opponents faced, so compare descriptors measured against
the same opponents.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from arenax.envs.car_tag import EVADER, PURSUER, CarTagParams, CarTagState
from arenax.envs.car_tag.dynamics import dot2, heading_vector, wrap_angle

BEHAVIOUR_MEANINGS: dict[str, str] = {
    "opp_distance": "mean distance to the opponent / arena diagonal",
    "closing": "mean rate of change of that distance, 0 = closing at both players' "
    "full speed, 0.5 = none, 1 = opening at full speed",
    "facing": "mean (1 + cos angle between own heading and the direction to the opponent) / 2; "
    "1 = heading straight at it, 0 = straight away",
    "turn_rate": "mean |heading change| per step / a role's scale, clipped at 1 (pursuer: "
    "its full lock; evader: a quarter turn, which few evaders exceed)",
    "turn_bias": "turning-direction bias: 0.5 + signed / (2 * absolute) heading change per "
    "episode; 0 = always right (clockwise), 1 = always left",
    "speed": "mean distance moved per step / the role's top speed * dt (walls slow it)",
    "centre_distance": "mean distance from the arena centre / half the arena diagonal",
    "wall_time": "fraction of steps within a fifth of the half-size of a wall",
    "capture_rate": "fraction of episodes that ended in a capture",
}
BEHAVIOUR_FIELDS: tuple[str, ...] = tuple(BEHAVIOUR_MEANINGS)
BEHAVIOUR_SIZE = len(BEHAVIOUR_FIELDS)

# Per-step quantities summed over an episode's active steps: the first seven are
# averaged into the fields of the same name, the last two make `turn_bias`.
_MEANS = ("opp_distance", "closing", "facing", "turn_rate", "speed", "centre_distance", "wall_time")
STATISTICS: tuple[str, ...] = (*_MEANS, "turn_signed", "turn_abs")
STATISTICS_SIZE = len(STATISTICS)
WALL_MARGIN = 0.2  # of the arena half-size


def _own_and_opponent(state: CarTagState, role: str) -> tuple[jax.Array, jax.Array, jax.Array]:
    """`(own_pos (2,), own_heading (), opp_pos (2,))` of `role` in `state`."""
    if role == PURSUER:
        return state.pursuer_pos, state.pursuer_heading, state.evader_pos
    if role == EVADER:
        return state.evader_pos, state.evader_heading, state.pursuer_pos
    raise ValueError(f"behaviour: unknown role {role!r}; choose pursuer or evader")


def step_statistics(
    state: CarTagState, next_state: CarTagState, params: CarTagParams, role: str
) -> jax.Array:
    """One episode's `STATISTICS` for the step `state -> next_state`, (S,) float32.

    Zero when the episode was already over at `state` (finished states are
    absorbing), so summing over all steps counts active steps only.
    """
    own, heading, opp = _own_and_opponent(state, role)
    own_next, heading_next, opp_next = _own_and_opponent(next_state, role)
    half = jnp.asarray(params.arena_half_size, jnp.float32)
    dt = jnp.asarray(params.dt, jnp.float32)
    top_speed = params.pursuer_speed if role == PURSUER else params.evader_speed
    top_turn = (
        params.pursuer_speed * dt / params.min_turn_radius if role == PURSUER else 0.25 * math.pi
    )

    rel = opp - own
    dist = jnp.sqrt(dot2(rel, rel))
    rel_next = opp_next - own_next
    dist_next = jnp.sqrt(dot2(rel_next, rel_next))
    range_rate = (dist_next - dist) / ((params.pursuer_speed + params.evader_speed) * dt)
    facing = dot2(heading_vector(heading), rel) / jnp.maximum(dist, 1e-6)
    turn = wrap_angle(heading_next - heading)
    moved = own_next - own
    wall_gap = jnp.min(half - jnp.abs(own))

    values = jnp.stack(
        [
            dist / (2.0 * math.sqrt(2.0) * half),
            0.5 + 0.5 * jnp.clip(range_rate, -1.0, 1.0),
            0.5 + 0.5 * facing,
            jnp.minimum(jnp.abs(turn) / top_turn, 1.0),
            jnp.minimum(jnp.sqrt(dot2(moved, moved)) / (top_speed * dt), 1.0),
            jnp.sqrt(dot2(own, own)) / (math.sqrt(2.0) * half),
            (wall_gap < WALL_MARGIN * half).astype(jnp.float32),
            turn,
            jnp.abs(turn),
        ]
    ).astype(jnp.float32)
    return jnp.where(state.done, 0.0, values)


def descriptor(sums: np.ndarray, counts: np.ndarray, captured: np.ndarray) -> np.ndarray:
    """The `BEHAVIOUR_FIELDS` vector, (D,) float32 in [0, 1].

    Args:
        sums: (E, S) per-episode sums of `step_statistics` over the episode.
        counts: (E,) number of active steps per episode.
        captured: (E,) bool, the episode ended in a capture.

    Per-episode means are averaged over episodes (every episode weighs the
    same, however long it lasted).
    """
    sums = np.asarray(sums, np.float64)
    counts = np.asarray(counts, np.float64)
    if sums.ndim != 2 or sums.shape[1] != STATISTICS_SIZE or counts.shape != sums.shape[:1]:
        raise ValueError(
            f"behaviour: expected sums (E, {STATISTICS_SIZE}) and counts (E,), "
            f"got {sums.shape} and {counts.shape}"
        )
    played = counts > 0
    if not played.any():
        raise ValueError("behaviour: no episode has an active step")
    sums, counts = sums[played], counts[played]
    means = sums[:, : len(_MEANS)] / counts[:, None]
    signed, absolute = sums[:, len(_MEANS)], sums[:, len(_MEANS) + 1]
    bias = np.where(absolute > 0.0, 0.5 + 0.5 * signed / np.maximum(absolute, 1e-12), 0.5)
    fields = dict(zip(_MEANS, means.mean(0), strict=True))
    fields["turn_bias"] = bias.mean()
    fields["capture_rate"] = np.asarray(captured, np.float64).mean()
    return np.clip(np.array([fields[f] for f in BEHAVIOUR_FIELDS], np.float32), 0.0, 1.0)
