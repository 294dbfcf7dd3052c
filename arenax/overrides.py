"""Parse `KEY=VALUE` parameter overrides from the command line."""

from __future__ import annotations


def parse_overrides(items: list[str] | None) -> dict[str, float | int]:
    """`["horizon=200", "capture_radius=0.4"]` -> `{"horizon": 200, "capture_radius": 0.4}`.

    Raises:
        ValueError: an item without `=`, an empty key, or a non-numeric value.
    """
    overrides: dict[str, float | int] = {}
    for item in items or []:
        key, sep, raw = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise ValueError(f"bad override {item!r}: expected KEY=VALUE, e.g. horizon=200")
        try:
            value: float | int = int(raw)
        except ValueError:
            try:
                value = float(raw)
            except ValueError:
                raise ValueError(f"bad override {item!r}: {raw!r} is not a number") from None
        overrides[key] = value
    return overrides
