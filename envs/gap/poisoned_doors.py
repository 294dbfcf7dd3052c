"""PoisonedDoors (after ADVISOR, Weihs et al. 2021): imitation fails, exploration pays.

Four doors. One of doors 1, 2, 3 (uniformly, hidden) is good: opening it earns +2,
opening either other one -2, and the episode ends. Door 0 is never poisoned: it
opens with a fixed combination of `len(combination)` digits (0-3) for +1; the
first wrong digit ends the episode with nothing. Actions are 0-3: in the first
step they choose a door, while entering the combination they are digits.

The expert sees the good door and opens it: return 2. With the gap (`gap=True`)
the agent never sees which door is good, so

- the Bayes-optimal return is +1 (door 0 and the combination);
- copying the expert (doors 1-3 uniformly, from what the agent sees) earns
  (2 - 2 - 2) / 3 = -2/3 in expectation; ADVISOR reports -0.59 for pure imitation
  and 1.00 for its method;
- without the gap the agent sees the good door and the optimum is 2.

Observation (6 + L): the good door one-hot over doors 1-3 if visible (zeros if
not), whether the combination is being entered, the fraction of it entered, and
that fraction's one-hot position over L + 1 slots (so a feed-forward policy can
know which digit comes next).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from arenax.envs.gap.base import GapEnvironment
from arenax.envs.gap.tabular import TabularMDP
from arenax.envs.spaces import Box, Discrete

DEFAULT_COMBINATION = (1, 3, 0, 2, 2, 1, 0, 3, 1, 2)


@struct.dataclass
class PoisonedDoorsParams:
    """Attributes:
    gap: whether the good door is hidden from the agent.
    combination: door 0's digits (each 0-3).
    good_reward, poison_reward, combination_reward: the three outcomes.
    """

    gap: bool = struct.field(pytree_node=False, default=True)
    combination: tuple[int, ...] = struct.field(pytree_node=False, default=DEFAULT_COMBINATION)
    good_reward: float = 2.0
    poison_reward: float = -2.0
    combination_reward: float = 1.0

    def __post_init__(self) -> None:
        if not self.combination or any(d not in (0, 1, 2, 3) for d in self.combination):
            raise ValueError(
                f"combination must be a non-empty tuple of digits 0-3, got {self.combination}"
            )

    @property
    def horizon(self) -> int:
        return 1 + len(self.combination)

    @property
    def optimal_return(self) -> float:
        return float(self.combination_reward) if self.gap else float(self.good_reward)

    @property
    def imitation_return(self) -> float:
        """Expected return of picking doors 1-3 uniformly (the expert's choices seen
        without the good door)."""
        return (float(self.good_reward) + 2.0 * float(self.poison_reward)) / 3.0


@struct.dataclass
class PoisonedDoorsState:
    good: jax.Array  # int32 in {1, 2, 3}
    entering: jax.Array  # bool: door 0 chosen, combination in progress
    digits: jax.Array  # int32: correct digits entered so far
    done: jax.Array


class PoisonedDoors(GapEnvironment):
    """See the module docstring. Agent: "agent"."""

    name = "poisoned_doors"

    @property
    def default_params(self) -> PoisonedDoorsParams:
        return PoisonedDoorsParams()

    def observe(self, state: PoisonedDoorsState, params: PoisonedDoorsParams, privileged=False):
        visible = privileged | (not params.gap)
        good = jax.nn.one_hot(state.good - 1, 3) * visible
        length = len(params.combination)
        progress = jnp.array([state.entering, state.digits / length], jnp.float32)
        position = jax.nn.one_hot(state.digits, length + 1) * state.entering
        return jnp.concatenate([good, progress, position]).astype(jnp.float32)

    def reset(self, key: jax.Array, params: PoisonedDoorsParams):
        good = jax.random.randint(key, (), 1, 4)
        state = PoisonedDoorsState(good, jnp.bool_(False), jnp.int32(0), jnp.bool_(False))
        return {"agent": self.observe(state, params)}, state

    def step(self, key: jax.Array, state: PoisonedDoorsState, actions, params: PoisonedDoorsParams):
        action = jnp.asarray(actions["agent"], jnp.int32)
        combination = jnp.asarray(params.combination, jnp.int32)
        length = len(params.combination)
        # Choosing a door.
        door_reward = jnp.where(action == state.good, params.good_reward, params.poison_reward)
        chose_zero = action == 0
        # Entering a digit.
        right_digit = action == combination[jnp.minimum(state.digits, length - 1)]
        digits = state.digits + right_digit.astype(jnp.int32)
        unlocked = right_digit & (digits == length)
        reward = jnp.where(
            state.entering,
            jnp.where(unlocked, params.combination_reward, 0.0),
            jnp.where(chose_zero, 0.0, door_reward),
        )
        done = jnp.where(state.entering, ~right_digit | unlocked, ~chose_zero)
        stepped = PoisonedDoorsState(
            state.good,
            state.entering | chose_zero,
            jnp.where(state.entering, digits, 0),
            done,
        )
        return self.finish_step(state, stepped, reward, params)

    def expert_action(self, state: PoisonedDoorsState, params: PoisonedDoorsParams) -> jax.Array:
        """The privileged expert: open the good door (and, should it ever be entering the
        combination, enter it correctly)."""
        combination = jnp.asarray(params.combination, jnp.int32)
        digit = combination[jnp.minimum(state.digits, len(params.combination) - 1)]
        return jnp.where(state.entering, digit, state.good).astype(jnp.int32)

    # --- for inverse RL ---
    FEATURES = ("opened_good", "opened_poisoned", "unlocked_door_0", "combination_step")
    EXPLORATION_FEATURES = ("combination_step",)

    def reward_features(
        self, state: PoisonedDoorsState, action: jax.Array, params: PoisonedDoorsParams
    ) -> jax.Array:
        """(4,) features of taking `action` in `state`: which door opened, whether door 0
        unlocked, and whether the step was spent on door 0's combination (choosing door
        0 or entering a digit)."""
        action = jnp.asarray(action, jnp.int32)
        combination = jnp.asarray(params.combination, jnp.int32)
        length = len(params.combination)
        right = action == combination[jnp.minimum(state.digits, length - 1)]
        choosing = ~state.entering
        return jnp.stack(
            [
                choosing & (action == state.good),
                choosing & (action != 0) & (action != state.good),
                state.entering & right & (state.digits + 1 == length),
                state.entering | (action == 0),
            ]
        ).astype(jnp.float32)

    def state_index(self, state: PoisonedDoorsState, params: PoisonedDoorsParams) -> jax.Array:
        length = len(params.combination)
        return ((state.good - 1) * 2 + state.entering.astype(jnp.int32)) * (
            length + 1
        ) + state.digits

    def tabular(self, params: PoisonedDoorsParams) -> TabularMDP:
        """The expert's MDP over (good door, entering, digits entered)."""
        length = len(params.combination)
        good, entering, digits = jnp.meshgrid(
            jnp.arange(1, 4), jnp.arange(2), jnp.arange(length + 1), indexing="ij"
        )
        states = PoisonedDoorsState(
            good.ravel(), entering.ravel().astype(bool), digits.ravel(), jnp.zeros(good.size, bool)
        )
        combination = jnp.asarray(params.combination, jnp.int32)
        actions = jnp.arange(4)

        def row(state):
            feats = jax.vmap(lambda a: self.reward_features(state, a, params))(actions)
            right = actions == combination[jnp.minimum(state.digits, length - 1)]
            advanced = PoisonedDoorsState(
                state.good, jnp.bool_(True), jnp.minimum(state.digits + 1, length), state.done
            )
            opened_zero = PoisonedDoorsState(state.good, jnp.bool_(True), jnp.int32(0), state.done)
            next_state = jnp.where(
                state.entering,
                self.state_index(advanced, params),
                self.state_index(opened_zero, params),
            )
            next_state = jnp.broadcast_to(next_state, actions.shape)
            done = jnp.where(state.entering, ~right | (state.digits + 1 >= length), actions != 0)
            return next_state, done, feats

        next_state, done, feats = jax.vmap(row)(states)
        return TabularMDP(next_state.astype(jnp.int32), done, feats, horizon=length + 2)

    def optimal_action(self, obs: jax.Array, params: PoisonedDoorsParams) -> jax.Array:
        """A Bayes-optimal policy from the agent's own observation: the good door when it
        is visible; otherwise door 0, then the combination."""
        combination = jnp.asarray((*params.combination, 0), jnp.int32)
        seen = obs[:3].sum() > 0
        entering = obs[3] > 0.5
        position = jnp.argmax(obs[5:])
        return jnp.where(
            entering, combination[position], jnp.where(seen, 1 + jnp.argmax(obs[:3]), 0)
        ).astype(jnp.int32)

    def observation_space(self, params: PoisonedDoorsParams):
        return {"agent": Box(0.0, 1.0, (6 + len(params.combination),))}

    def action_space(self, params: PoisonedDoorsParams):
        return {"agent": Discrete(4)}
