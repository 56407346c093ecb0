"""`hazchem audit verify|export`: recompute the tamper-evident chains (pipelines/security/audit.py).

Exit 0 with one line per stream when every chain is intact; exit 1 naming the first broken record
(topic/partition/offset, table row or export line) when one was edited, deleted or inserted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pipelines.cli_support import UserError, fail
from pipelines.security.audit_check import (
    AUDITED_STREAMS,
    StreamCheck,
    check,
    export_lines,
    file_partitions,
    kafka_partitions,
    lake_partitions,
)
from pipelines.settings import get_settings

audit_app = typer.Typer(
    help="Tamper-evident audit and case streams (审计链): verify and export.", no_args_is_help=True
)
_STREAM = Annotated[
    list[str] | None,
    typer.Option(
        "--stream",
        help=f"Stream(s) to check (default: all of {', '.join(AUDITED_STREAMS)}).",
    ),
]


def _streams(chosen: list[str] | None) -> list[str]:
    """Return the streams asked for; UserError naming an unknown one."""
    names = list(chosen or AUDITED_STREAMS)
    unknown = [n for n in names if n not in AUDITED_STREAMS]
    if unknown:
        raise UserError(f"unknown stream '{unknown[0]}' (audited: {', '.join(AUDITED_STREAMS)})")
    return names


def verify_streams(
    streams: list[str],
    *,
    lake: bool = False,
    file: Path | None = None,
    topic_prefix: str = "",
    unchained_head: bool = False,
) -> list[StreamCheck]:
    """Return the verdict on each stream from Kafka (default; topics `topic_prefix` + stream),
    the lake or one export file."""
    settings = get_settings()
    out: list[StreamCheck] = []
    for stream in streams:
        if file is not None:
            partitions = file_partitions(file, stream)
            out.append(check(stream, file.name, partitions, unchained_head=unchained_head))
        elif lake:
            found = lake_partitions(settings, stream)
            if found is None:
                out.append(StreamCheck(stream, "lake", 0, 0, None, found=False))
            else:
                out.append(check(stream, "lake", *found, unchained_head=unchained_head))
        else:
            partitions = kafka_partitions(settings, topic_prefix + stream)
            if partitions is None:
                out.append(StreamCheck(stream, "kafka", 0, 0, None, found=False))
            else:
                out.append(check(stream, "kafka", partitions, unchained_head=unchained_head))
    return out


@audit_app.command("verify")
def verify_command(
    stream: _STREAM = None,
    lake: Annotated[
        bool, typer.Option("--lake", help="Check the lake's bronze Delta tables, not Kafka.")
    ] = False,
    file: Annotated[
        Path | None,
        typer.Option(
            "--file", help="Check a JSON-lines export of one --stream (one record a line)."
        ),
    ] = None,
    topic_prefix: Annotated[
        str, typer.Option("--topic-prefix", help="Prefix of the topics (a test or bench run).")
    ] = "",
    unchained_head: Annotated[
        bool,
        typer.Option(
            "--allow-unchained-head",
            help="Upgraded deployment: accept records written before chaining (schema v1) at "
            "the start of each partition.",
        ),
    ] = False,
) -> None:
    """Recompute the hash chains from the log start; exit 1 naming the first broken record."""
    try:
        streams = _streams(stream)
        if file is not None:
            if len(streams) != 1:
                raise UserError("--file holds one stream: name it with --stream")
            if not file.is_file():
                raise UserError(f"{file}: file not found")
        checks = verify_streams(
            streams, lake=lake, file=file, topic_prefix=topic_prefix, unchained_head=unchained_head
        )
    except UserError as exc:
        fail(str(exc))
    except Exception as exc:  # a broker or storage that cannot be read: one line, no traceback
        fail(f"cannot read the audited streams: {type(exc).__name__}: {exc}")
    for c in checks:
        typer.echo(c.line())
    broken = next((c for c in checks if c.brk is not None), None)
    if broken is not None:
        fail(broken.line(), code=1)
    if not any(c.found for c in checks):
        fail("no audited stream found to verify", code=2)


@audit_app.command("export")
def export_command(
    stream: Annotated[str, typer.Option("--stream", help="The stream to export.")],
    lake: Annotated[bool, typer.Option("--lake", help="Export from the lake, not Kafka.")] = False,
) -> None:
    """Print a stream's records as JSON lines in log order (the input of `verify --file`)."""
    try:
        (name,) = _streams([stream])
        settings = get_settings()
        found = lake_partitions(settings, name) if lake else kafka_partitions(settings, name)
    except UserError as exc:
        fail(str(exc))
    if found is None:
        fail(f"{stream}: not found in {'the lake' if lake else 'Kafka'}")
    partitions = found[0] if lake else found
    for line in export_lines(partitions):
        typer.echo(line)
