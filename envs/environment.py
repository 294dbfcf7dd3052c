"""The multi-agent environment interface shared by every arenax environment.

An environment object is stateless: everything that changes lives in a
`State` pytree and every constant in a `Params` pytree, both `flax.struct`
dataclasses. Both are arguments, so `jit`, `vmap` (over keys and params) and
`lax.scan` compose freely::

    obs, state = env.reset(key, params)
    obs, state, rewards, done, info = env.step(key, state, actions, params)

`obs`, `actions` and `rewards` are dicts keyed by agent name (`env.agents`).
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

import jax

StateT = TypeVar("StateT")
ParamsT = TypeVar("ParamsT")

Obs = dict[str, Any]
Actions = dict[str, jax.Array]
Rewards = dict[str, jax.Array]
Info = dict[str, Any]


class Environment(Generic[StateT, ParamsT]):
    """Base class: subclasses implement `reset`, `step`, spaces and `default_params`."""

    name: str = "environment"
    agents: tuple[str, ...] = ()

    @property
    def default_params(self) -> ParamsT:
        raise NotImplementedError

    def reset(self, key: jax.Array, params: ParamsT) -> tuple[Obs, StateT]:
        """Sample an initial state. Returns `(obs, state)`."""
        raise NotImplementedError

    def step(
        self, key: jax.Array, state: StateT, actions: Actions, params: ParamsT
    ) -> tuple[Obs, StateT, Rewards, jax.Array, Info]:
        """Advance one step. Returns `(obs, state, rewards, done, info)`.

        Stepping a finished state is a no-op that returns zero rewards and
        `done=True`, so fixed-length scans over episodes are safe.
        """
        raise NotImplementedError

    def observe(self, state: StateT, params: ParamsT) -> Obs:
        """Optional: every agent's observation of `state` (what `reset`/`step` return).

        Environments whose observations are a function of the state and params
        implement it; wrappers then recompute an observation instead of carrying it
        (see `SingleAgentView`). `supports_observe(env)` tells whether one does.
        """
        raise NotImplementedError

    def observation_space(self, params: ParamsT) -> dict[str, Any]:
        """Per agent: the space of its (named) observation."""
        raise NotImplementedError

    def action_space(self, params: ParamsT) -> dict[str, Any]:
        """Per agent: the space of its action."""
        raise NotImplementedError

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and vars(self) == vars(other)

    def __hash__(self) -> int:
        # Equal environments share compiled rollouts (caches key on the env); hashing by
        # type alone keeps equal objects' hashes equal whatever their attributes hold.
        return hash(type(self))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(agents={self.agents})"


def supports_observe(env: Any) -> bool:
    """Whether `env` overrides `Environment.observe` (observations recomputable from state)."""
    method = getattr(type(env), "observe", None)
    return callable(method) and method is not Environment.observe
