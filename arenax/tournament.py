"""Round-robin tournaments between two roles: the full score matrix with intervals.

Compile cost grows with the number of candidates, not the number of pairs:
for each row policy one function is compiled that plays it against every
column policy. Columns are dispatched with `lax.switch` on an index that is
*not* batched (it is the loop variable of a `lax.map` outside the episode
`vmap`), so only the selected branch runs; a batched index would make XLA
compute every branch. Each column policy keeps its own memory slot, so
policies with different memory pytrees share one carry.

All cells use the same episode keys (common random numbers), so differences
between cells come from the policies, not from the start positions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from arenax.envs.environment import Environment
from arenax.policy import Policy
from arenax.rollout import conform_action, play_episode

Z_95 = 1.959964


@dataclass(frozen=True)
class TournamentResult:
    """Scores of every row policy against every column policy.

    Attributes:
        row_names, col_names: policy names.
        row_role, col_role: the roles they play (e.g. "pursuer", "evader").
        returns: (R, C, N) the row role's per-episode return in each match.
        col_returns: (R, C, N) the column role's per-episode return.
    """

    row_names: tuple[str, ...]
    col_names: tuple[str, ...]
    row_role: str
    col_role: str
    returns: np.ndarray
    col_returns: np.ndarray

    @property
    def mean(self) -> np.ndarray:
        """(R, C) mean return of the row role."""
        return self.returns.mean(-1)

    @property
    def ci95(self) -> np.ndarray:
        """(R, C) half-width of the normal-approximation 95% interval of `mean`."""
        n = self.returns.shape[-1]
        if n <= 1:
            return np.zeros(self.mean.shape)
        return Z_95 * self.returns.std(-1, ddof=1) / np.sqrt(n)

    @property
    def col_mean(self) -> np.ndarray:
        """(R, C) mean return of the column role."""
        return self.col_returns.mean(-1)

    @property
    def col_ci95(self) -> np.ndarray:
        n = self.col_returns.shape[-1]
        if n <= 1:
            return np.zeros(self.col_mean.shape)
        return Z_95 * self.col_returns.std(-1, ddof=1) / np.sqrt(n)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return {
            "row_role": self.row_role,
            "col_role": self.col_role,
            "rows": list(self.row_names),
            "cols": list(self.col_names),
            "episodes": int(self.returns.shape[-1]),
            f"{self.row_role}_mean": self.mean.round(4).tolist(),
            f"{self.row_role}_ci95": self.ci95.round(4).tolist(),
            f"{self.col_role}_mean": self.col_mean.round(4).tolist(),
            f"{self.col_role}_ci95": self.col_ci95.round(4).tolist(),
        }


def _switch_act(policies: Sequence[Policy], action_space: Any) -> Callable:
    """`act(obs, memories, key, index)` running `policies[index]` on its own memory slot."""

    def branch(j: int) -> Callable:
        def run(obs, memories, key):
            action, memory = policies[j].act(obs, memories[j], key)
            action = conform_action(action, action_space)
            return action, (*memories[:j], memory, *memories[j + 1 :])

        return run

    branches = [branch(j) for j in range(len(policies))]
    return lambda obs, memories, key, index: jax.lax.switch(index, branches, obs, memories, key)


def compile_row_vs_columns(
    env: Environment,
    row_role: str,
    row: Policy,
    col_role: str,
    cols: Sequence[Policy],
    num_steps: int,
) -> Callable[[jax.Array, Any], tuple[jax.Array, jax.Array]]:
    """A jitted `f(keys (N, 2), params) -> (row_returns (C, N), col_returns (C, N))`."""
    col_act = _switch_act(cols, env.action_space(env.default_params)[col_role])

    def episode(key: jax.Array, params: Any, index: jax.Array):
        # Same key use as `rollout`, so a cell reproduces the direct rollout of its pair.
        k_mem, k_play = jax.random.split(key)
        agent_keys = dict(zip(env.agents, jax.random.split(k_mem, len(env.agents)), strict=True))
        memories = {
            row_role: row.init(agent_keys[row_role]),
            col_role: tuple(p.init(agent_keys[col_role]) for p in cols),
        }

        acts = {row_role: row.act, col_role: lambda o, m, k: col_act(o, m, k, index)}
        returns, _, _ = play_episode(env, params, acts, memories, k_play, num_steps, False)
        return returns[row_role], returns[col_role]

    def all_columns(keys: jax.Array, params: Any):
        per_column = lambda index: jax.vmap(episode, in_axes=(0, None, None))(keys, params, index)
        return jax.lax.map(per_column, jnp.arange(len(cols)))

    return jax.jit(all_columns)


def tournament(
    env: Environment,
    params: Any,
    rows: Sequence[Policy],
    cols: Sequence[Policy],
    key: jax.Array,
    num_episodes: int,
    row_role: str = "pursuer",
    col_role: str = "evader",
    num_steps: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> TournamentResult:
    """Every row policy against every column policy for `num_episodes` episodes.

    Args:
        rows, cols: policies playing `row_role` and `col_role`.
        progress: called as `progress(done_rows, total_rows)` after each row.

    Returns:
        A `TournamentResult` with per-episode returns of both roles.
    """
    if not rows or not cols:
        raise ValueError("tournament needs at least one policy per role")
    if num_episodes < 1:
        raise ValueError(f"tournament: num_episodes must be >= 1, got {num_episodes}")
    if {row_role, col_role} != set(env.agents):
        raise ValueError(f"tournament roles {row_role}/{col_role} do not match {env.agents}")
    steps = int(params.horizon) if num_steps is None else int(num_steps)
    keys = jax.random.split(key, num_episodes)
    row_returns, col_returns = [], []
    for i, row in enumerate(rows):
        fn = compile_row_vs_columns(env, row_role, row, col_role, cols, steps)
        r, c = fn(keys, params)
        row_returns.append(np.asarray(r))
        col_returns.append(np.asarray(c))
        if progress is not None:
            progress(i + 1, len(rows))
    return TournamentResult(
        row_names=tuple(p.name for p in rows),
        col_names=tuple(p.name for p in cols),
        row_role=row_role,
        col_role=col_role,
        returns=np.stack(row_returns),
        col_returns=np.stack(col_returns),
    )
