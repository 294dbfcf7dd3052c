"""Parse `KEY=VALUE` parameter overrides from the command line."""

from __future__ import annotations

import dataclasses
from typing import Any


def parse_overrides(
    items: list[str] | None,
    what: str = "override",
    usage: str = "KEY=VALUE, e.g. horizon=200",
) -> dict[str, float | int]:
    """`["horizon=200", "capture_radius=0.4"]` -> `{"horizon": 200, "capture_radius": 0.4}`.

    `what` and `usage` name the option and its form in error messages.

    Raises:
        ValueError: an item without `=`, an empty key, or a non-numeric value.
    """
    overrides: dict[str, float | int] = {}
    for item in items or []:
        key, sep, raw = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise ValueError(f"bad {what} {item!r}: expected {usage}")
        try:
            value: float | int = int(raw)
        except ValueError:
            try:
                value = float(raw)
            except ValueError:
                raise ValueError(f"bad {what} {item!r}: {raw!r} is not a number") from None
        overrides[key] = value
    return overrides


def parse_typed_overrides(defaults: object, items: list[str] | None, what: str) -> dict[str, Any]:
    """`KEY=VALUE` items typed after the fields of the dataclass instance `defaults`.

    Booleans accept true/false/1/0/yes/no, tuples of ints a comma list (`64,64`),
    strings are kept as written. `what` names the config in error messages.

    Raises:
        ValueError: malformed item, unknown field (the message lists valid ones),
            or a value that does not parse as the field's type.
    """
    fields = {f.name: getattr(defaults, f.name) for f in dataclasses.fields(defaults)}
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, raw = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise ValueError(f"bad {what} override {item!r}: expected KEY=VALUE, e.g. lr=1e-3")
        if key not in fields:
            raise ValueError(f"{what}: unknown field {key!r}; valid: {', '.join(sorted(fields))}")
        out[key] = _typed(fields[key], raw.strip(), f"{what} override {item!r}")
    return out


def _typed(default: Any, raw: str, context: str) -> Any:
    try:
        if isinstance(default, bool):
            lowered = raw.lower()
            if lowered not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError
            return lowered in ("true", "1", "yes")
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
        if isinstance(default, tuple):
            items = [x.strip() for x in raw.split(",") if x.strip()]
            if default and not isinstance(default[0], str):
                return tuple(int(x) for x in items)
            return tuple(items)  # names, e.g. seed_names=pure_pursuit,jink
    except ValueError:
        kind = type(default).__name__
        raise ValueError(f"bad {context}: {raw!r} is not a valid {kind}") from None
    return raw
