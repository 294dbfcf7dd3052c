"""Training metrics on disk: one JSON object per line (`metrics.jsonl`), optionally TensorBoard.

A row is one update (or generation) of one seed::

    {"update": 12, "seed": 0, "env_steps": 49152, "episode_return": 0.41, ...}

NaN (e.g. "no episode finished in this update") is written as `null`, so every
line is standard JSON. `MetricsLog.truncate(after=u)` drops rows past update
`u`, which is how a resumed run keeps a log identical to an uninterrupted one.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np


def _clean(value: Any) -> Any:
    value = float(value) if np.ndim(value) == 0 else np.asarray(value).tolist()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def metric_rows(
    metrics: Mapping[str, Any], index_key: str = "update", num_seeds: int | None = None
) -> list[dict[str, Any]]:
    """Rows from a chunk's metrics: leaves (n,) for one seed, (K, n) for K seeds.

    Every row has `seed` and `index_key` (taken from the metrics, which must hold it).
    """
    arrays = {k: np.asarray(v) for k, v in metrics.items()}
    if index_key not in arrays:
        raise ValueError(f"metrics lack {index_key!r}; have {', '.join(sorted(arrays))}")
    if num_seeds is None:
        arrays = {k: v[None] for k, v in arrays.items()}
    seeds, length = arrays[index_key].shape[:2]
    rows = []
    for i in range(length):
        for s in range(seeds):
            row = {index_key: int(arrays[index_key][s, i]), "seed": s}
            row.update({k: _clean(v[s, i]) for k, v in arrays.items() if k != index_key})
            rows.append(row)
    return rows


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    """All rows of a `metrics.jsonl` (an absent file reads as no rows)."""
    path = Path(path)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


class MetricsLog:
    """Append-only JSONL metrics, mirrored to TensorBoard when `tensorboard_dir` is set.

    Args:
        path: the JSONL file (created with its folder).
        index_key: the step counter of a row ("update" for PPO, "generation" for ES).
        tensorboard_dir: write TensorBoard event files here too (needs `tensorboardX`).
    """

    def __init__(
        self, path: str | Path, index_key: str = "update", tensorboard_dir: str | Path | None = None
    ):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.index_key = index_key
        self._writer = None
        if tensorboard_dir is not None:
            try:
                from tensorboardX import SummaryWriter
            except ImportError as err:  # pragma: no cover - tensorboardX ships with brax
                raise ValueError("--tensorboard needs the tensorboardX package") from err
            self._writer = SummaryWriter(str(tensorboard_dir))

    def write(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """Append rows and flush them to disk."""
        rows = list(rows)
        with self.path.open("a") as f:
            for row in rows:
                f.write(json.dumps(row) + "\n")
            f.flush()
        if self._writer is not None:
            for row in rows:
                step = int(row.get("env_steps") or row[self.index_key])
                seed = row.get("seed", 0)
                for k, v in row.items():
                    if k not in (self.index_key, "seed") and isinstance(v, int | float):
                        self._writer.add_scalar(f"seed_{seed}/{k}", v, step)
            self._writer.flush()

    def truncate(self, after: int) -> None:
        """Drop rows whose index is greater than `after` (resuming from a checkpoint)."""
        kept = [r for r in read_metrics(self.path) if r[self.index_key] <= after]
        self.path.write_text("".join(json.dumps(r) + "\n" for r in kept))

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
