"""One role of a two-player game against PPO snapshots drawn from an opponent pool.

Like `SingleAgentView`, but the opponent is a PPO network whose parameters come
from an `OpponentPool` inside the env *params*, so a learner can refresh the pool
between updates without recompiling (`TrainState.env_params` is traced)::

    view = PoolView(env, "pursuer", evader_config, evader_spec)
    params = PoolViewParams(game=game_params, pool=evader_pool)
    obs, state = view.reset(key, params)        # samples the opponent's slot
    obs, state, reward, done, info = view.step(key, state, action, params)

`reset` draws one pool slot per episode (`OpponentPool.sample`) and keeps it, with
the opponent's GRU state when the opponent is recurrent, in the view state. `step`
gathers that slot's parameters and plays the distribution's mode on the snapshot's
frozen observation statistics: exactly what `to_policy` of that snapshot does.
The learner's observation is `flatten_observation` of its own (D,) observation.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from arenax.agents.ppo.action_spec import ActionSpec, to_env_action
from arenax.agents.ppo.config import PPOConfig
from arenax.agents.ppo.export import ExportedAgent
from arenax.agents.ppo.networks import build_network, initial_hidden
from arenax.agents.ppo.normalization import RunningNorm
from arenax.agents.selfplay.pool import OpponentPool
from arenax.envs.environment import Environment
from arenax.envs.single_agent import flatten_observation
from arenax.rollout import conform_action


@struct.dataclass
class PoolViewParams:
    """The view's params (traced).

    Attributes:
        game: the two-player game's params.
        pool: snapshots of the opponent role's policy.
    """

    game: Any
    pool: OpponentPool


@struct.dataclass
class PoolViewState:
    """Attributes:
    env_state: the game's state (same name as `SingleAgentState`'s, so potentials
        written for single-agent views, e.g. reward shaping, apply).
    opponent_obs: (D_opp,) the opponent's flat, unnormalised observation.
    slot: () int32 pool slot the opponent plays this episode.
    opponent_hidden: (gru_size,) the opponent's GRU state, or `()`.
    """

    env_state: Any
    opponent_obs: jax.Array
    slot: jax.Array
    opponent_hidden: Any


def opponent_action(
    network: Any,
    config: PPOConfig,
    spec: ActionSpec,
    params: Any,
    obs_norm: RunningNorm,
    flat_obs: jax.Array,
    hidden: Any,
) -> tuple[jax.Array, Any]:
    """A snapshot's deterministic action on one flat (D,) observation, as `to_policy` acts.

    Returns `(env_action (*spec.shape), hidden)`; `hidden` is (gru_size,) or `()`.
    """
    x = flat_obs.astype(jnp.float32)
    if config.normalize_obs:
        x = obs_norm.normalize(x, config.obs_clip)
    h = hidden[None] if config.recurrent else ()
    h, dist, _ = network.apply(params, h, x[None, None], jnp.zeros((1, 1), bool))
    action = to_env_action(spec, dist.mode()[0, 0])
    return action, (h[0] if config.recurrent else ())


class PoolView:
    """Play `role` of `env` against snapshots of the other role from a pool.

    Args:
        env: a two-player arenax environment.
        role: the learner's agent name (e.g. "pursuer").
        opponent_config: the PPO config the opponent's snapshots were trained with
            (network shape, observation normalisation).
        opponent_spec: the opponent's action space (`ActionSpec`).
        latest_prob: per episode, the chance of facing the newest snapshot rather
            than a uniformly drawn one (0: pure fictitious self-play).

    Raises:
        ValueError: unknown role, not a two-player game, or `latest_prob` outside [0, 1].
    """

    def __init__(
        self,
        env: Environment,
        role: str,
        opponent_config: PPOConfig,
        opponent_spec: ActionSpec,
        latest_prob: float = 0.0,
    ):
        if role not in env.agents:
            raise ValueError(f"unknown role {role!r}; {env.name} has {', '.join(env.agents)}")
        others = [a for a in env.agents if a != role]
        if len(others) != 1:
            raise ValueError(f"PoolView needs a two-player game, {env.name} has {env.agents}")
        if not 0.0 <= float(latest_prob) <= 1.0:
            raise ValueError(f"latest_prob must lie in [0, 1], got {latest_prob}")
        self.env = env
        self.role = role
        self.agents = (role,)
        self.opponent_role = others[0]
        self.opponent_config = opponent_config
        self.opponent_spec = opponent_spec
        self.latest_prob = float(latest_prob)
        self.opponent_network = build_network(opponent_config, opponent_spec)
        self.name = f"{env.name}:{role}:pool"

    @property
    def default_params(self) -> Any:
        raise ValueError("PoolView has no default params: pass PoolViewParams(game, pool)")

    def action_space(self, params: PoolViewParams) -> Any:
        return self.env.action_space(params.game)[self.role]

    def reset(self, key: jax.Array, params: PoolViewParams) -> tuple[jax.Array, PoolViewState]:
        k_env, k_slot = jax.random.split(key)
        obs, env_state = self.env.reset(k_env, params.game)
        state = PoolViewState(
            env_state=env_state,
            opponent_obs=flatten_observation(obs[self.opponent_role]),
            slot=params.pool.sample(k_slot, self.latest_prob),
            opponent_hidden=initial_hidden(self.opponent_config, ()),
        )
        return flatten_observation(obs[self.role]), state

    def step(
        self, key: jax.Array, state: PoolViewState, action: jax.Array, params: PoolViewParams
    ) -> tuple[jax.Array, PoolViewState, jax.Array, jax.Array, dict[str, Any]]:
        opp_params, opp_norm = params.pool.get(state.slot)
        opp_action, opp_hidden = opponent_action(
            self.opponent_network,
            self.opponent_config,
            self.opponent_spec,
            opp_params,
            opp_norm,
            state.opponent_obs,
            state.opponent_hidden,
        )
        spaces = self.env.action_space(params.game)
        actions = {
            self.role: conform_action(action, spaces[self.role]),
            self.opponent_role: conform_action(opp_action, spaces[self.opponent_role]),
        }
        obs, env_state, rewards, done, info = self.env.step(
            key, state.env_state, actions, params.game
        )
        next_state = PoolViewState(
            env_state=env_state,
            opponent_obs=flatten_observation(obs[self.opponent_role]),
            slot=state.slot,
            opponent_hidden=opp_hidden,
        )
        return flatten_observation(obs[self.role]), next_state, rewards[self.role], done, info

    def snapshot_agent(self, pool: OpponentPool, slot: int, obs_size: int) -> ExportedAgent:
        """Slot `slot` of `pool` as an `ExportedAgent` (for `to_policy`/`save_agent`)."""
        params, obs_norm = pool.get(slot)
        return ExportedAgent(self.opponent_config, self.opponent_spec, obs_size, params, obs_norm)
