"""Record one Car Tag match and draw it (trajectory PNG and GIF)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import numpy as np

from arenax.envs.car_tag.env import EVADER, PURSUER
from arenax.envs.car_tag.render import animate_episode, plot_episode
from arenax.envs.environment import Environment
from arenax.policy import Policy
from arenax.rollout import rollout


def record_representative_episode(
    env: Environment,
    params: Any,
    pursuer: Policy,
    evader: Policy,
    key: jax.Array,
    num_candidates: int = 8,
) -> tuple[Any, float]:
    """Play `num_candidates` episodes and return the states (T + 1, ...) of the one
    whose evader score is the median, with that score."""
    result = rollout(
        env, params, {PURSUER: pursuer, EVADER: evader}, key, num_candidates, record=True
    )
    scores = np.asarray(result.returns[EVADER])
    index = int(np.argsort(scores)[len(scores) // 2])
    states = jax.tree_util.tree_map(lambda x: np.asarray(x[index]), result.states)
    return states, float(scores[index])


def render_match(
    env: Environment,
    params: Any,
    pursuer: Policy,
    evader: Policy,
    key: jax.Array,
    out_dir: Path,
    gif: bool = True,
) -> list[Path]:
    """Write `<pursuer>_vs_<evader>.png` (and `.gif`) of a representative episode."""
    states, _ = record_representative_episode(env, params, pursuer, evader, key)
    stem = f"{pursuer.name}_vs_{evader.name}"
    names = (pursuer.name, evader.name)
    title = f"{pursuer.name} (pursuer) vs {evader.name} (evader)"
    paths = [plot_episode(states, params, out_dir / f"{stem}.png", title=title, names=names)]
    if gif:
        paths.append(
            animate_episode(states, params, out_dir / f"{stem}.gif", title=title, names=names)
        )
    return paths
