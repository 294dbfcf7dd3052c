"""Save and load scenario sets as `.npz`, so train/validation/test splits are fixed files.

A file holds a batch of `SimulatorState`s (leading axis: scenarios), one array per
leaf, named by its path (e.g. `log_trajectory/x`), plus a format version.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from flax import serialization, traverse_util

from arenax.envs.igdrive.datatypes import SimulatorState

FORMAT_VERSION = 1


class ScenarioFileError(ValueError):
    """A scenario file that cannot be read as a batch of scenarios."""


def save_scenarios(path: str | os.PathLike[str], states: SimulatorState) -> Path:
    """Write a batch of scenarios (leading axis on every leaf) to `path` (.npz)."""
    flat = traverse_util.flatten_dict(serialization.to_state_dict(states), sep="/")
    arrays = {key: np.asarray(value) for key, value in flat.items()}
    sizes = {a.shape[0] if a.ndim else None for a in arrays.values()}
    if len(sizes) != 1 or None in sizes:
        raise ValueError(f"save_scenarios needs a batch: leading sizes {sorted(map(str, sizes))}")
    path = Path(path)
    with path.open("wb") as f:
        np.savez_compressed(f, __format_version__=np.int32(FORMAT_VERSION), **arrays)
    return path


def scenario_file_shape(path: str | os.PathLike[str]) -> tuple[int, int, int]:
    """(scenes, objects, timesteps) stored in a scenario file."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            shape = data["log_trajectory/x"].shape
    except (OSError, ValueError, KeyError) as err:
        raise ScenarioFileError(f"{path}: not a scenario file ({err})") from None
    if len(shape) != 3:
        raise ScenarioFileError(f"{path}: log_trajectory/x has shape {shape}, expected 3 axes")
    return shape


def load_scenarios(path: str | os.PathLike[str], template: SimulatorState) -> SimulatorState:
    """Read a batch saved by `save_scenarios`.

    Args:
        template: one scenario (no batch axis) with the expected shapes and dtypes,
            e.g. `jax.eval_shape(generate, key, config)`.

    Raises:
        ScenarioFileError: not an npz, another format version, missing or unexpected
            fields, or a field whose shape or dtype differs from the template's.
    """
    path = Path(path)
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise ScenarioFileError(f"{path}: not a scenario file ({err})") from None
    with data:
        version = int(data["__format_version__"]) if "__format_version__" in data else None
        if version != FORMAT_VERSION:
            raise ScenarioFileError(f"{path}: format version {version}, expected {FORMAT_VERSION}")
        expected = traverse_util.flatten_dict(serialization.to_state_dict(template), sep="/")
        present = set(data.files) - {"__format_version__"}
        missing, extra = sorted(set(expected) - present), sorted(present - set(expected))
        if missing or extra:
            raise ScenarioFileError(f"{path}: missing fields {missing}, unexpected fields {extra}")
        arrays, count = {}, None
        for key, leaf in expected.items():
            array = data[key]
            if array.shape[1:] != tuple(leaf.shape) or array.dtype != leaf.dtype:
                raise ScenarioFileError(
                    f"{path}: {key} has shape {array.shape[1:]} and dtype {array.dtype} per "
                    f"scenario; this config expects {tuple(leaf.shape)} and {leaf.dtype}"
                )
            if count is not None and array.shape[0] != count:
                raise ScenarioFileError(
                    f"{path}: {key} holds {array.shape[0]} scenarios, not {count}"
                )
            count = array.shape[0]
            arrays[key] = array
    state_dict = traverse_util.unflatten_dict(arrays, sep="/")
    return serialization.from_state_dict(template, state_dict)
