"""Learner interfaces: how a neural policy reads a game's named observation and how its
output becomes the game's action.

The default, `flat`, feeds the network `flatten_observation(obs)` and passes its
output through unchanged. A game can offer others (registered by name here) that
add derived features or act in a frame attached to the situation, e.g. Car Tag's
`car_tag_evader_car_frame`: the evader moves in the car's heading frame, so
"step across the car's path" is one constant action wherever the car is.

An interface is part of a trained agent: `SingleAgentView(..., interface=name)`
trains through it, and the exported agent records its name so that its policy
(`arenax.agents.ppo.export.to_policy`) applies the same mapping at play time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp


def flatten_observation(obs: Any) -> jax.Array:
    """Flat float32 view of an observation: `obs.to_array()` when it has one, else
    the concatenation of its raveled leaves."""
    if hasattr(obs, "to_array"):
        return obs.to_array()
    leaves = jax.tree_util.tree_leaves(obs)
    return jnp.concatenate([jnp.ravel(x).astype(jnp.float32) for x in leaves])


def pass_action(action: jax.Array, obs: Any) -> jax.Array:
    """`to_env_action` of interfaces whose network outputs the game's own action."""
    del obs
    return action


@dataclass(frozen=True)
class Interface:
    """A named pair of mappings between a game and a network.

    Attributes:
        name: registry name (stored with trained agents).
        features: named observation -> (D,) float32 network input.
        to_env_action: (network action, named observation) -> the game's action.
        description: one line for CLI help and docs.
        uses_observation_for_action: `to_env_action` reads the observation (the view
            must then be able to recompute the learner's observation from the state).
        role: the only agent it fits (e.g. "evader"), or None for any.
    """

    name: str
    features: Callable[[Any], jax.Array]
    to_env_action: Callable[[jax.Array, Any], jax.Array]
    description: str
    uses_observation_for_action: bool = True
    role: str | None = None

    def check_role(self, role: str) -> None:
        """ValueError unless the interface fits agent `role`."""
        if self.role is not None and self.role != role:
            raise ValueError(f"interface {self.name!r} is for the {self.role}, not the {role}")


FLAT = Interface(
    name="flat",
    features=flatten_observation,
    to_env_action=pass_action,
    description="the flattened observation in, the game's own action out",
    uses_observation_for_action=False,
)


def interface_name(env: Any) -> str:
    """Name of the interface a (possibly wrapped) single-agent view trains through."""
    return getattr(env, "interface", FLAT).name


def interfaces() -> dict[str, Interface]:
    """Every registered interface by name."""
    from arenax.envs.car_tag.evader_frame import EVADER_CAR_FRAME
    from arenax.envs.car_tag.pursuer_frame import PURSUER_CAR_FRAME

    return {i.name: i for i in (FLAT, EVADER_CAR_FRAME, PURSUER_CAR_FRAME)}


def get_interface(interface: str | Interface) -> Interface:
    """The interface named `interface` (an `Interface` is returned as is).

    Raises:
        ValueError: an unknown name (the message lists the known ones).
    """
    if isinstance(interface, Interface):
        return interface
    known = interfaces()
    if interface not in known:
        raise ValueError(f"unknown learner interface {interface!r}; choose {', '.join(known)}")
    return known[interface]
