"""Run folders: `runs/<timestamp>/` with the config and every output of a job."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any


def new_run_dir(out: Path | None = None, base: Path = Path("runs")) -> Path:
    """Create and return `out`, or `base/<YYYY-mm-dd_HH-MM-SS>` (suffixed if taken)."""
    if out is None:
        stamp = dt.datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
        out = base / stamp
        suffix = 1
        while out.exists():
            out = base / f"{stamp}_{suffix}"
            suffix += 1
    out.mkdir(parents=True, exist_ok=True)
    return out


def write_json(path: Path, data: Any) -> Path:
    """Write `data` as indented JSON; returns `path`."""
    path.write_text(json.dumps(data, indent=2, default=_jsonable) + "\n")
    return path


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
