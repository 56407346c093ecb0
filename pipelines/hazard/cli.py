"""`hazchem hazard …`: GB 18218-2018 major hazard source commands (重大危险源辨识与分级)."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from pipelines.cli_support import fail
from pipelines.hazard.gb18218 import HazardInputError, grade_unit

app = typer.Typer(
    help="GB 18218-2018 major hazard source identification and grading (重大危险源辨识与分级).",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def main() -> None:
    """GB 18218-2018 major hazard source identification and grading (重大危险源辨识与分级)."""


def _read_unit(path: str) -> object:
    """Return the parsed JSON of `path` (`-` reads stdin); fail with one line otherwise."""
    try:
        if path == "-":
            text = sys.stdin.read()
        else:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror or exc}")
    except UnicodeDecodeError as exc:
        fail(f"cannot read {path}: not UTF-8 text ({exc.reason})")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        fail(f"invalid JSON in {path}: {exc.msg} at line {exc.lineno} column {exc.colno}")


@app.command()
def grade(
    unit_json: Annotated[
        str,
        typer.Argument(
            metavar="UNIT_JSON",
            help="Unit JSON file ({unit_id, unit_type, residents_within_500m, substances}); "
            "'-' reads stdin.",
            show_default=False,
        ),
    ],
) -> None:
    """Print S, major-hazard verdict, R and level (一级..四级) of one unit as JSON on stdout."""
    unit = _read_unit(unit_json)
    try:
        result = grade_unit(unit)  # type: ignore[arg-type]  # grade_unit checks the shape
    except HazardInputError as exc:
        fail(str(exc))
    typer.echo(json.dumps(result, ensure_ascii=False, indent=2))
