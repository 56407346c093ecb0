"""Shared CLI helpers: one-line errors with a non-zero exit code, and progress output."""

from __future__ import annotations

import sys
from typing import NoReturn

import typer


class UserError(Exception):
    """An error caused by the user's input or environment; printed as one line,
    never a traceback."""


def fail(message: str, code: int = 2) -> NoReturn:
    """Print `error: <message>` as one line on stderr and exit with `code` (never returns)."""
    first_line = " ".join(str(message).split())
    typer.echo(f"error: {first_line}", err=True)
    raise typer.Exit(code)


def info(message: str) -> None:
    """Print a progress/status line on stderr so stdout stays machine-readable."""
    print(message, file=sys.stderr, flush=True)
