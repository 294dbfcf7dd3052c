"""Save and restore a whole PPO `TrainState` with orbax-checkpoint.

The train state holds everything a run needs (params, Adam moments,
hyper-parameters, observation statistics, env states, GRU state, episode
counters, PRNG key, update counter), so a run restored after chunk k continues
bit-exactly like an uninterrupted one.

    save_checkpoint("runs/x/ckpt_10", state, config=config)
    state = restore_checkpoint("runs/x/ckpt_10", like=trainer.init(key))

`like` gives the tree structure, shapes and dtypes: a concrete state or
`jax.eval_shape(trainer.init, key)`. For numbered checkpoints with retention use
`CheckpointManager` (a thin wrapper over `orbax.checkpoint.CheckpointManager`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp

from arenax.agents.ppo.config import PPOConfig


def _abstract(like: Any) -> Any:
    """Shape/dtype targets for every leaf of `like` (orbax then restores host numpy arrays)."""
    return jax.tree_util.tree_map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype), like)


def _to_device(tree: Any) -> Any:
    """Host arrays -> uncommitted device arrays, like those `init` makes, so a jitted
    `train_chunk` reuses its compilation (committed arguments would force a new one)."""
    return jax.tree_util.tree_map(lambda x: jnp.asarray(np.asarray(x)), tree)


def save_checkpoint(
    directory: str | Path, state: Any, config: PPOConfig | None = None, force: bool = False
) -> Path:
    """Write `state` to `directory` (absolute or relative; must not exist unless `force`).

    Blocks until the write is complete. `config`, when given, is stored in the
    checkpoint's metadata (read it back with `load_checkpoint_config`).
    """
    path = Path(directory).absolute()
    metadata = {"ppo_config": config.to_dict()} if config is not None else None
    with ocp.StandardCheckpointer() as checkpointer:
        checkpointer.save(path, state, force=force, custom_metadata=metadata)
        checkpointer.wait_until_finished()
    return path


def restore_checkpoint(directory: str | Path, like: Any) -> Any:
    """Read a state saved by `save_checkpoint`, with the structure of `like`."""
    path = Path(directory).absolute()
    with ocp.StandardCheckpointer() as checkpointer:
        return _to_device(checkpointer.restore(path, _abstract(like)))


def load_checkpoint_config(directory: str | Path) -> PPOConfig | None:
    """The `PPOConfig` stored with a checkpoint, or None when it was saved without one."""
    path = Path(directory).absolute()
    with ocp.StandardCheckpointer() as checkpointer:
        custom = checkpointer.metadata(path).custom_metadata or {}
    data = custom.get("ppo_config")
    return None if data is None else PPOConfig.from_dict(data)


class CheckpointManager:
    """Numbered checkpoints `directory/<step>` keeping the newest `max_to_keep`.

    Usage::

        with CheckpointManager("runs/x/checkpoints") as ckpts:
            ckpts.save(int(state.update), state)
            state = ckpts.restore(like)            # latest step
    """

    def __init__(self, directory: str | Path, max_to_keep: int | None = 3):
        options = ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True)
        self.directory = Path(directory).absolute()
        self._manager = ocp.CheckpointManager(self.directory, options=options)

    def save(self, step: int, state: Any) -> None:
        """Save `state` as `step` and wait for the write."""
        self._manager.save(step, args=ocp.args.StandardSave(state))
        self._manager.wait_until_finished()

    def latest_step(self) -> int | None:
        return self._manager.latest_step()

    def all_steps(self) -> list[int]:
        return list(self._manager.all_steps())

    def restore(self, like: Any, step: int | None = None) -> Any:
        """The state saved as `step` (default: the latest)."""
        step = self.latest_step() if step is None else step
        if step is None:
            raise FileNotFoundError(f"no checkpoints in {self.directory}")
        restored = self._manager.restore(step, args=ocp.args.StandardRestore(_abstract(like)))
        return _to_device(restored)

    def close(self) -> None:
        self._manager.close()

    def __enter__(self) -> CheckpointManager:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
