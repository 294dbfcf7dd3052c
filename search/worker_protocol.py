"""Messages between the sandbox and its workers: JSON objects, arrays as base64 bytes.

JSON rather than pickle in both directions, so a compromised worker cannot
run code in the parent by sending it a crafted pickle; arrays are decoded
only to plain numeric dtypes after their size is checked.
"""

from __future__ import annotations

import base64
import json
import math
from multiprocessing.connection import Connection
from typing import Any

import numpy as np

MAX_MESSAGE_BYTES = 64 << 20
ARRAY_DTYPES = frozenset({"bool", "int32", "int64", "uint32", "float32", "float64"})


def send(conn: Connection, message: dict[str, Any]) -> None:
    """Send one message (a JSON object)."""
    conn.send_bytes(json.dumps(message).encode())


def receive(conn: Connection) -> dict[str, Any]:
    """Receive one message. Raises EOFError when the other side is gone, ValueError if malformed."""
    data = conn.recv_bytes(MAX_MESSAGE_BYTES)
    message = json.loads(data)
    if not isinstance(message, dict) or not isinstance(message.get("op"), str):
        raise ValueError("malformed sandbox message")
    return message


def encode_array(array: Any) -> dict[str, Any]:
    """An array as {"dtype", "shape", "data": base64 of its bytes (C order)}."""
    array = np.ascontiguousarray(np.asarray(array))
    if array.dtype.name not in ARRAY_DTYPES:
        array = array.astype(np.float64)
    return {
        "dtype": array.dtype.name,
        "shape": list(array.shape),
        "data": base64.b64encode(array.tobytes()).decode("ascii"),
    }


def decode_array(payload: dict[str, Any]) -> np.ndarray:
    """The array of `encode_array`; ValueError unless dtype, shape and size agree."""
    dtype = payload.get("dtype")
    shape = payload.get("shape")
    if dtype not in ARRAY_DTYPES or not isinstance(shape, list):
        raise ValueError(f"bad array in sandbox message: dtype {dtype!r}")
    if not all(isinstance(d, int) and d >= 0 for d in shape):
        raise ValueError("bad array shape in sandbox message")
    raw = base64.b64decode(payload.get("data", ""), validate=True)
    if len(raw) != math.prod(shape) * np.dtype(dtype).itemsize:
        raise ValueError("array size does not match its shape in sandbox message")
    return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()


def program_message(program: Any) -> dict[str, str]:
    """A `Program` as a plain dict."""
    return {
        "name": program.name,
        "role": program.role,
        "source": program.source,
        "description": program.description,
    }


def plain_overrides(overrides: dict[str, Any] | None) -> dict[str, Any]:
    """Env overrides as JSON numbers (accepts Python, NumPy and JAX scalars)."""
    plain = {}
    for name, value in (overrides or {}).items():
        item = getattr(value, "item", None)
        value = item() if callable(item) else value
        if not isinstance(value, bool | int | float):
            raise TypeError(f"env override {name}={value!r} must be a number")
        plain[name] = value
    return plain
