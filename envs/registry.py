"""Environment registry: `make(name, **overrides) -> (env, params)`."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from arenax.envs.car_tag import CarTag
from arenax.envs.car_tag.params import validate_params as validate_car_tag
from arenax.envs.environment import Environment


def _igdrive() -> Environment:
    from arenax.envs.igdrive.env import IGDrive  # imported on use

    return IGDrive()


def _tiger_door() -> Environment:
    from arenax.envs.gap import TigerDoor

    return TigerDoor()


def _poisoned_doors() -> Environment:
    from arenax.envs.gap import PoisonedDoors

    return PoisonedDoors()


def _validated_on_construction(params: Any) -> Any:
    return params  # IGDrive and gap params check themselves in __post_init__


# name -> (environment factory, params validator)
_REGISTRY: dict[str, tuple[Callable[[], Environment], Callable[[Any], Any]]] = {
    "car_tag": (CarTag, validate_car_tag),
    "igdrive": (_igdrive, _validated_on_construction),
    "poisoned_doors": (_poisoned_doors, _validated_on_construction),
    "tiger_door": (_tiger_door, _validated_on_construction),
}


def registered() -> tuple[str, ...]:
    """Names accepted by `make`."""
    return tuple(sorted(_REGISTRY))


def register(name: str, factory: Callable[[], Environment], validate: Callable[[Any], Any]) -> None:
    """Add an environment under `name` (later issues register IGDrivSim and the gap envs)."""
    _REGISTRY[name] = (factory, validate)


def make(name: str, **overrides: Any) -> tuple[Environment, Any]:
    """Build an environment and its default params with `overrides` applied.

    Raises:
        ValueError: unknown environment, unknown parameter, or an invalid value;
            the message names the problem.
    """
    if name not in _REGISTRY:
        raise ValueError(f"unknown environment {name!r}; choose one of {', '.join(registered())}")
    factory, validate = _REGISTRY[name]
    env = factory()
    params = env.default_params
    fields = {f.name for f in dataclasses.fields(params)}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise ValueError(
            f"{name}: unknown parameter(s) {', '.join(unknown)}; valid: {', '.join(sorted(fields))}"
        )
    params = params.replace(**overrides)
    return env, validate(params)
