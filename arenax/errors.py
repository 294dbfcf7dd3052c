"""Turn expected user errors into a one-line message and exit status 2."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import typer

USER_ERRORS = (ValueError, FileNotFoundError, IsADirectoryError, PermissionError)


def friendly_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate a CLI command: a `ValueError` (or file error) prints `error: <message>`
    on stderr and exits with status 2 instead of a traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except USER_ERRORS as error:
            typer.echo(f"error: {error}", err=True)
            raise typer.Exit(code=2) from None

    return wrapper
