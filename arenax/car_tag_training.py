"""Car Tag pieces every trainer shares: opponents, the learner's view, evaluation, figures.

- `resolve_policy(role, spec)`: a hand-written strategy name or a saved agent folder.
- `learner_env(env, role, opponent, shaping, interface)`: the single-agent view a learner trains in.
- `evaluate_against(...)`: a tournament of trained policies against the training
  opponent and every hand-written strategy of the other role (95% intervals).
- `plot_score_curve(...)`: the learning curve of the *true* game score from `metrics.jsonl`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jax
import numpy as np

from arenax.envs.environment import Environment
from arenax.envs.shaping import PotentialShaping, car_tag_distance_potential
from arenax.envs.single_agent import SingleAgentView
from arenax.metrics_log import read_metrics
from arenax.plots import plot_learning_curve
from arenax.policy import Policy
from arenax.tournament import TournamentResult, tournament

ROLES = ("pursuer", "evader")


def other_role(role: str) -> str:
    """The opponent's role; ValueError for anything but pursuer/evader."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; choose pursuer or evader")
    return ROLES[1 - ROLES.index(role)]


def resolve_policy(role: str, spec: str) -> Policy:
    """The policy named by `spec` for `role`: a hand-written strategy name, or the folder
    of a saved agent (`agent.json` + `params.msgpack`, e.g. `runs/x/agents/seed_0`).

    Raises:
        ValueError: neither a strategy nor an agent folder (the message lists strategies).
    """
    from arenax.agents.car_tag import EVADERS, PURSUERS
    from arenax.agents.ppo import load_policy

    table = PURSUERS if role == "pursuer" else EVADERS
    if spec in table:
        return table[spec]
    path = Path(spec)
    if (path / "agent.json").is_file():
        policy = load_policy(path)
        if policy.role and policy.role != role:
            raise ValueError(f"{spec} holds a {policy.role} agent, but a {role} is needed here")
        return policy
    if path.exists():
        raise ValueError(f"{spec} is not a saved agent folder (no agent.json in it)")
    raise ValueError(
        f"unknown {role} {spec!r}: give a hand-written strategy ({', '.join(table)}) "
        "or the folder of a saved agent"
    )


def learner_env(
    env: Environment,
    role: str,
    opponent: Policy,
    shaping: float = 0.0,
    interface: str = "flat",
    gamma: float = 1.0,
    wall_weight: float = 0.0,
) -> SingleAgentView | PotentialShaping:
    """`role` against `opponent`, with distance shaping of weight `shaping` (0: none),
    seen and played through the learner `interface` (`arenax.envs.interfaces`).

    `gamma` discounts the bonus, `coef * (gamma * phi(s') - phi(s))`. Equal to the
    learner's discount (PPO: `PPOConfig.gamma`) it leaves the optimal policy
    unchanged. The default 1 with PPO's 0.99 does not: the bonus then pays about
    (1 - 0.99) * phi per step on top, a reward for closeness for the pursuer (which
    PPO needs: with the policy-invariant bonus the pursuer did not catch the
    look-ahead evader once in 5 minutes) and for distance for the evader, larger
    than its survival reward, which holds it at fleeing (`benchmarks/train_cartag.py`
    trains the pursuer with 1 and the evader with 0.99).

    `wall_weight` adds the evader's shortfall of wall clearance to the potential
    (`car_tag_distance_potential`): the evader then learns to dodge in the open
    instead of fleeing into a wall."""
    view = SingleAgentView(env, role, opponent, interface)
    if shaping == 0.0:
        return view
    potential = car_tag_distance_potential(role, wall_weight)
    return PotentialShaping(view, potential, coef=shaping, gamma=gamma)


def role_score(role: str, evader_score: Any) -> np.ndarray:
    """A role's game score from the evader's (the game is zero-sum, scores in [0, 1])."""
    evader_score = np.asarray(evader_score, dtype=float)
    return evader_score if role == "evader" else 1.0 - evader_score


def evaluate_against(
    env: Environment,
    params: Any,
    role: str,
    policies: Sequence[Policy],
    opponent: Policy | None,
    key: jax.Array,
    episodes: int,
) -> TournamentResult:
    """Score each trained policy (rows, playing `role`) against `opponent` (first column,
    unless it is hand-written) and every hand-written strategy of the other role."""
    from arenax.agents.car_tag import EVADERS, PURSUERS

    hand_written = list((EVADERS if role == "pursuer" else PURSUERS).values())
    columns = list(hand_written)
    if opponent is not None and opponent.name not in {p.name for p in hand_written}:
        columns.insert(0, opponent)
    return tournament(
        env,
        params,
        list(policies),
        columns,
        key,
        episodes,
        row_role=role,
        col_role=other_role(role),
    )


def plot_score_curve(
    metrics_path: Path, role: str, out: Path, title: str, prefix: str = ""
) -> Path | None:
    """Learning curve of `role`'s mean game score per update (one line per seed), from
    the `info/evader_score` rows of `metrics_path`; None when no episode finished yet."""
    rows = [
        r for r in read_metrics(metrics_path) if r.get(f"{prefix}info/evader_score") is not None
    ]
    if not rows:
        return None
    seeds = sorted({r["seed"] for r in rows})
    xs, ys = [], []
    for seed in seeds:
        mine = [r for r in rows if r["seed"] == seed]
        xs.append(np.array([r["env_steps"] for r in mine], dtype=float))
        ys.append(role_score(role, [r[f"{prefix}info/evader_score"] for r in mine]))
    length = min(len(y) for y in ys)
    return plot_learning_curve(
        np.stack([x[:length] for x in xs]),
        np.stack([_smooth(y[:length]) for y in ys]),
        out,
        ylabel=f"{role} score (training episodes)",
        title=title,
        labels=[f"seed {s}" for s in seeds] if len(seeds) > 1 else None,
        xlabel="env steps",
    )


def _smooth(y: np.ndarray, window: int = 5) -> np.ndarray:
    """Trailing moving average (the first points average what exists so far)."""
    c = np.cumsum(np.insert(y, 0, 0.0))
    n = np.minimum(np.arange(1, len(y) + 1), window)
    return (c[1:] - c[np.arange(1, len(y) + 1) - n]) / n
