"""Score changing network parameters against a fixed opponent with one compiled function.

`rollout` compiles once per policy object; during training every snapshot is a
new policy. `AgentEvaluator` instead takes the parameters and observation
statistics as *arguments*, so evaluating snapshot after snapshot reuses one
compilation:

    evaluate = AgentEvaluator(env, params, "pursuer", EVADERS["lookahead"], agent, 512)
    scores = evaluate(agent.params, agent.obs_norm, key)      # (512,) pursuer scores
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np

from arenax.agents.ppo.export import ExportedAgent, to_policy
from arenax.policy import Policy
from arenax.rollout import init_memories, play_episode
from arenax.tournament import Z_95


class AgentEvaluator:
    """`evaluator(net_params, obs_norm, key) -> (N,)` per-episode returns of `role`.

    Args:
        env, params: the two-player game and its params.
        role: the agent's role; the opponent plays the other one.
        opponent: a fixed policy.
        template: an `ExportedAgent` giving the network config, action spec and shapes.
        num_episodes: N episodes per call (same keys for the same `key`).
    """

    def __init__(
        self,
        env: Any,
        params: Any,
        role: str,
        opponent: Policy,
        template: ExportedAgent,
        num_episodes: int,
    ):
        others = [a for a in env.agents if a != role]
        self.num_episodes = int(num_episodes)
        steps = int(params.horizon)

        def returns(net_params: Any, obs_norm: Any, key: jax.Array) -> jax.Array:
            agent = ExportedAgent(
                template.config,
                template.spec,
                template.obs_size,
                net_params,
                obs_norm,
                template.interface,
            )
            policies = {role: to_policy(agent, role=role), others[0]: opponent}
            ordered = {a: policies[a] for a in env.agents}

            def episode(k: jax.Array) -> jax.Array:
                k_mem, k_play = jax.random.split(k)
                memories = init_memories(ordered, k_mem)
                acts = {a: p.act for a, p in ordered.items()}
                out, _, _ = play_episode(env, params, acts, memories, k_play, steps, False)
                return out[role]

            return jax.vmap(episode)(jax.random.split(key, self.num_episodes))

        self._returns = jax.jit(returns)

    def __call__(self, net_params: Any, obs_norm: Any, key: jax.Array) -> np.ndarray:
        return np.asarray(self._returns(net_params, obs_norm, key))


def mean_ci95(values: np.ndarray) -> tuple[float, float]:
    """Mean and normal-approximation 95% half-width of per-episode scores."""
    values = np.asarray(values, dtype=float)
    half = Z_95 * values.std(ddof=1) / np.sqrt(len(values)) if len(values) > 1 else 0.0
    return float(values.mean()), float(half)
