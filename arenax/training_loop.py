"""The host loop around jitted training chunks: progress bar, metrics log, checkpoints, resume.

Any learner with `init(key) -> state` and `train_chunk(state, n) -> (state, metrics)`
(n iterations in one jit; metrics leaves (n,) with an iteration counter and
`env_steps`) runs here: PPO, ES, self-play. Python only runs between chunks,
so the accelerator is busy for a whole chunk at a time.

    learner = SeedBatch(trainer, num_seeds=4)      # K seeds in one vmapped program
    state = learner.init(key)
    state = run_chunks(learner, state, plan, log, checkpoints)

A run restored from its latest checkpoint continues bit-exactly: the state holds
every PRNG key and counter, and the metrics log is truncated to the checkpoint.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import jax
import numpy as np
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from arenax.metrics_log import MetricsLog, metric_rows


class ChunkedLearner(Protocol):
    """What the host loop drives (PPOTrainer, the ES and self-play trainers).

    `init(key)` and `train_chunk(state, n)` are jitted entry points; `init_pure` and
    `run_updates(state, n)` are their un-jitted pure forms, which `SeedBatch` traces
    under one top-level `jit` with the learner's `compiler_options`.
    """

    compiler_options: dict[str, Any] | None

    def init(self, key: jax.Array) -> Any: ...

    def init_pure(self, key: jax.Array) -> Any: ...

    def train_chunk(self, state: Any, num_updates: int | None = None) -> tuple[Any, Any]: ...

    def run_updates(self, state: Any, num_updates: int) -> tuple[Any, Any]: ...


class SeedBatch:
    """K independent seeds of one learner as a single vmapped program.

    `init(key)` splits `key` into K seeds; `train_chunk(states, n)` advances all K
    in one jit (metrics leaves (K, n)). With `num_seeds=None` it is the learner
    itself (metrics leaves (n,)).
    """

    def __init__(self, learner: ChunkedLearner, num_seeds: int | None = None):
        if num_seeds is not None and num_seeds < 1:
            raise ValueError(f"num_seeds must be >= 1, got {num_seeds}")
        self.learner = learner
        self.num_seeds = num_seeds
        options = getattr(learner, "compiler_options", None)
        self._init = jax.jit(jax.vmap(learner.init_pure), compiler_options=options)
        self._chunk = jax.jit(
            jax.vmap(learner.run_updates, in_axes=(0, None)),
            static_argnums=1,
            compiler_options=options,
        )

    def init(self, key: jax.Array) -> Any:
        if self.num_seeds is None:
            return self.learner.init(key)
        return self._init(jax.random.split(key, self.num_seeds))

    def abstract_state(self, key: jax.Array) -> Any:
        """Shapes and dtypes of `init(key)` without running it (a checkpoint restore target)."""
        if self.num_seeds is None:
            return jax.eval_shape(self.learner.init_pure, key)
        keys = jax.random.split(key, self.num_seeds)
        return jax.eval_shape(jax.vmap(self.learner.init_pure), keys)

    def train_chunk(self, state: Any, num_updates: int) -> tuple[Any, Any]:
        if self.num_seeds is None:
            return self.learner.train_chunk(state, num_updates)
        return self._chunk(state, num_updates)


@dataclass(frozen=True)
class ChunkPlan:
    """How far to train and how often to report.

    Attributes:
        total: iterations (PPO updates, ES generations) of the whole run.
        per_chunk: iterations per jitted chunk.
        steps_per_iteration: env steps one iteration consumes (all seeds counted once).
        index_key: name of the iteration counter in the metrics ("update", "generation").
        checkpoint_every: save a checkpoint every this many chunks (and at the end).
        show: progress-bar fields, label -> metric name (mean over seeds and the chunk).
    """

    total: int
    per_chunk: int
    steps_per_iteration: int
    index_key: str = "update"
    checkpoint_every: int = 10
    show: Mapping[str, str] = field(default_factory=dict)

    def chunk_sizes(self, start: int) -> list[int]:
        """The sizes of the chunks that take the run from iteration `start` to `total`."""
        left = max(0, self.total - start)
        sizes = [self.per_chunk] * (left // self.per_chunk)
        return sizes + ([left % self.per_chunk] if left % self.per_chunk else [])


def _summary(metrics: Mapping[str, Any], show: Mapping[str, str]) -> str:
    parts = []
    for label, key in show.items():
        values = np.asarray(metrics.get(key, np.nan), dtype=float)
        value = np.nanmean(values) if np.isfinite(values).any() else math.nan
        parts.append(f"{label} {value:.3f}")
    return "  ".join(parts)


def run_chunks(
    learner: ChunkedLearner,
    state: Any,
    plan: ChunkPlan,
    log: MetricsLog | None = None,
    checkpoints: Any | None = None,
    start: int = 0,
    num_seeds: int | None = None,
    quiet: bool = False,
    on_chunk: Callable[[Any, Any, int], None] | None = None,
    before_chunk: Callable[[Any, int], Any] | None = None,
) -> Any:
    """Train from iteration `start` to `plan.total`; returns the final state.

    Args:
        learner: `train_chunk(state, n)` advances n iterations.
        state: the state at iteration `start`.
        plan: sizes, reporting and checkpoint cadence.
        log: where each chunk's metrics go (rows per iteration and seed).
        checkpoints: an object with `save(step, state)` (e.g. PPO's CheckpointManager).
        start: iterations already done (a resumed run).
        num_seeds: K when the state is seed-batched (metrics leaves (K, n)).
        quiet: no progress bar.
        on_chunk: called as `on_chunk(state, metrics, done)` after each chunk.
        before_chunk: `before_chunk(state, done) -> state` runs before each chunk
            (e.g. a curriculum moving the env params, `arenax.param_anneal`).
    """
    sizes = plan.chunk_sizes(start)
    done = start
    total_steps = plan.total * plan.steps_per_iteration
    columns = (
        TextColumn("[bold]train"),
        BarColumn(),
        TextColumn("{task.completed:,.0f}/{task.total:,.0f} steps"),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TextColumn("{task.fields[summary]}"),
    )
    t0 = time.perf_counter()
    with Progress(*columns, disable=quiet, transient=False) as progress:
        task = progress.add_task(
            "train",
            total=total_steps,
            completed=done * plan.steps_per_iteration,
            rate="compiling...",
            summary="",
        )
        for index, size in enumerate(sizes, start=1):
            if before_chunk is not None:
                state = before_chunk(state, done)
            state, metrics = learner.train_chunk(state, size)
            metrics = jax.device_get(metrics)
            done += size
            if log is not None:
                log.write(metric_rows(metrics, plan.index_key, num_seeds))
            if checkpoints is not None and (
                index % plan.checkpoint_every == 0 or index == len(sizes)
            ):
                checkpoints.save(done, state)
            if on_chunk is not None:
                on_chunk(state, metrics, done)
            elapsed = time.perf_counter() - t0
            rate = (done - start) * plan.steps_per_iteration / max(elapsed, 1e-9)
            progress.update(
                task,
                completed=done * plan.steps_per_iteration,
                rate=f"{rate:,.0f} steps/s",
                summary=_summary(metrics, plan.show),
            )
    return state
