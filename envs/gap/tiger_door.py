"""TigerDoor: a one-agent task with an information gap and a known optimum.

Two doors; a hidden coin flip `treasure` (0: left, 1: right) decides which hides
the treasure (+1) and which the tiger (-1). Opening a door ends the episode. The
agent may instead press a button, which costs `button_cost` and reveals the
treasure's side for the rest of the episode; an episode that reaches the horizon
without opening a door earns nothing more.

The expert sees `treasure` and opens the right door at once: return 1. With the
gap (`gap=True`) the agent sees the treasure's side only after pressing the
button, so

- the Bayes-optimal return is `1 - button_cost` (press, then open the right door);
- copying the expert (it never presses; its doors are 50/50 from what the agent
  sees) earns 0 in expectation;
- without the gap the agent sees what the expert sees and the optimum is 1.

Observation (3,): treasure one-hot if visible (zeros if not), and the fraction of
the horizon used. Actions: 0 open left, 1 open right, 2 press the button.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from arenax.envs.gap.base import GapEnvironment
from arenax.envs.gap.tabular import TabularMDP
from arenax.envs.spaces import Box, Discrete

OPEN_LEFT, OPEN_RIGHT, PRESS = 0, 1, 2


@struct.dataclass
class TigerDoorParams:
    """Attributes:
    gap: whether the agent must press the button to see the treasure's side.
    horizon: steps before the episode ends without a door opened.
    button_cost: paid at each press.
    """

    gap: bool = struct.field(pytree_node=False, default=True)
    horizon: int = struct.field(pytree_node=False, default=4)
    button_cost: float = 0.1

    def __post_init__(self) -> None:
        if self.horizon < 2:
            raise ValueError(f"horizon must be at least 2 (press, then open), got {self.horizon}")

    @property
    def optimal_return(self) -> float:
        """The Bayes-optimal agent's expected return (see the module docstring)."""
        return 1.0 - float(self.button_cost) if self.gap else 1.0


@struct.dataclass
class TigerDoorState:
    treasure: jax.Array  # int32, 0 left / 1 right
    revealed: jax.Array  # bool
    t: jax.Array  # int32
    done: jax.Array  # bool


class TigerDoor(GapEnvironment):
    """See the module docstring. Agent: "agent"."""

    name = "tiger_door"

    @property
    def default_params(self) -> TigerDoorParams:
        return TigerDoorParams()

    def observe(self, state: TigerDoorState, params: TigerDoorParams, privileged: bool = False):
        visible = privileged | (not params.gap) | state.revealed
        side = jax.nn.one_hot(state.treasure, 2) * visible
        return jnp.concatenate([side, jnp.array([state.t / params.horizon])]).astype(jnp.float32)

    def reset(self, key: jax.Array, params: TigerDoorParams):
        treasure = jax.random.bernoulli(key).astype(jnp.int32)
        state = TigerDoorState(treasure, jnp.bool_(False), jnp.int32(0), jnp.bool_(False))
        return {"agent": self.observe(state, params)}, state

    def step(self, key: jax.Array, state: TigerDoorState, actions, params: TigerDoorParams):
        action = jnp.asarray(actions["agent"], jnp.int32)
        opened = action != PRESS
        reward = jnp.where(
            opened, jnp.where(action == state.treasure, 1.0, -1.0), -params.button_cost
        )
        t = state.t + 1
        stepped = TigerDoorState(
            state.treasure, state.revealed | (action == PRESS), t, opened | (t >= params.horizon)
        )
        return self.finish_step(state, stepped, reward, params)

    def expert_action(self, state: TigerDoorState, params: TigerDoorParams) -> jax.Array:
        """The privileged expert: open the treasure's door."""
        return state.treasure

    # --- for inverse RL ---
    FEATURES = ("opened_treasure", "opened_tiger", "pressed_button")
    EXPLORATION_FEATURES = ("pressed_button",)

    def reward_features(
        self, state: TigerDoorState, action: jax.Array, params: TigerDoorParams
    ) -> jax.Array:
        """(3,) features of taking `action` in `state` (the true reward is
        (1, -1, -button_cost) . features)."""
        action = jnp.asarray(action, jnp.int32)
        opened = action != PRESS
        return jnp.stack(
            [opened & (action == state.treasure), opened & (action != state.treasure), ~opened]
        ).astype(jnp.float32)

    def state_index(self, state: TigerDoorState, params: TigerDoorParams) -> jax.Array:
        return (state.treasure * 2 + state.revealed.astype(jnp.int32)) * (
            params.horizon + 1
        ) + state.t

    def tabular(self, params: TigerDoorParams) -> TabularMDP:
        """The expert's MDP over (treasure, revealed, t)."""
        h = params.horizon
        treasure, revealed, t = jnp.meshgrid(
            jnp.arange(2), jnp.arange(2), jnp.arange(h + 1), indexing="ij"
        )
        states = TigerDoorState(
            treasure.ravel(), revealed.ravel().astype(bool), t.ravel(), jnp.zeros(t.size, bool)
        )
        actions = jnp.arange(3)

        def row(state):
            feats = jax.vmap(lambda a: self.reward_features(state, a, params))(actions)
            after = TigerDoorState(
                state.treasure, jnp.bool_(True), jnp.minimum(state.t + 1, h), state.done
            )
            pressed_next = self.state_index(after, params)
            next_state = jnp.where(actions == PRESS, pressed_next, self.state_index(state, params))
            done = (actions != PRESS) | (state.t + 1 >= h)
            return next_state, done, feats

        next_state, done, feats = jax.vmap(row)(states)
        return TabularMDP(next_state.astype(jnp.int32), done, feats, horizon=h + 1)

    def optimal_action(self, obs: jax.Array, params: TigerDoorParams) -> jax.Array:
        """A Bayes-optimal policy from the agent's own observation: open the door it can
        see the treasure behind, else press the button."""
        seen = obs[:2].sum() > 0
        return jnp.where(seen, jnp.argmax(obs[:2]), PRESS).astype(jnp.int32)

    def observation_space(self, params: TigerDoorParams):
        return {"agent": Box(0.0, 1.0, (3,))}

    def action_space(self, params: TigerDoorParams):
        return {"agent": Discrete(3)}
