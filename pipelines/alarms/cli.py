"""`hazchem alarms replay` and `hazchem kpi alarms`: thin wrappers over replay and alarm_kpis."""

from __future__ import annotations

import sys
from datetime import UTC
from pathlib import Path
from typing import IO, Annotated, Any

import orjson
import typer

from pipelines.alarms.config import load_tag_configs
from pipelines.alarms.kpi import alarm_kpis, normalize_event
from pipelines.alarms.replay import (
    BadReadingRow,
    format_timestamp,
    parse_timestamp,
    read_readings,
    replay,
)
from pipelines.cli_support import fail, info

app = typer.Typer(help="Alarm engine (报警引擎): replay readings through the alarm rules.")
kpi_app = typer.Typer(help="Key performance indicators (绩效指标).")

_SHOWN_BAD_ROWS = 10  # with --skip-bad, the first reasons are printed, then only the count


@app.callback()
def _alarms() -> None:
    """Alarm engine (报警引擎): replay readings through the alarm rules."""


@kpi_app.callback()
def _kpi() -> None:
    """Key performance indicators (绩效指标)."""


def _time_option(text: str | None, name: str) -> int | None:
    """Return ms since epoch of an ISO-8601 option value, or fail with one line."""
    if text is None:
        return None
    try:
        return parse_timestamp(text)[0]
    except ValueError as exc:
        fail(f"{name}: {exc}")


@app.command("replay")
def replay_command(
    tags: Annotated[Path, typer.Option("--tags", help="TAGS.yaml with a top-level `tags:` list.")],
    readings: Annotated[
        Path, typer.Option("--readings", help="CSV with header ts,tag,value, or .parquet.")
    ],
    out: Annotated[
        Path | None, typer.Option("--out", help="Write JSONL here instead of stdout.")
    ] = None,
    skip_bad: Annotated[
        bool, typer.Option("--skip-bad", help="Skip bad rows (count on stderr) instead of failing.")
    ] = False,
    end: Annotated[
        str | None,
        typer.Option("--end", help="Also evaluate STALE at this ISO-8601 time after the readings."),
    ] = None,
) -> None:
    """Replay readings through the alarm rules; print one JSON transition per line."""
    end_ms = _time_option(end, "--end")
    try:
        configs = load_tag_configs(tags)
    except FileNotFoundError:
        fail(f"{tags}: file not found")
    except (ValueError, OSError) as exc:
        fail(str(exc))

    skipped: list[str] = []
    try:
        rows, offset = read_readings(
            readings, known_tags=configs, on_bad=skipped.append if skip_bad else None
        )
    except FileNotFoundError:
        fail(f"{readings}: file not found")
    except (BadReadingRow, ValueError, OSError) as exc:
        fail(str(exc))
    if skip_bad:
        for message in skipped[:_SHOWN_BAD_ROWS]:
            info(f"skipped {message}")
        info(f"skipped {len(skipped)} bad row{'' if len(skipped) == 1 else 's'}")

    transitions = replay(configs, rows, end_ms=end_ms)
    tz = offset if offset is not None else UTC
    lines = [
        orjson.dumps(
            {
                "tag": t.tag,
                "condition": t.condition,
                "event": t.event,
                "ts": format_timestamp(t.ts_ms, tz),
                "value": t.value,
                "priority": t.priority,
            }
        ).decode()
        + "\n"
        for t in transitions
    ]
    if out is None:
        _write(sys.stdout, lines)
    else:
        try:
            with out.open("w", encoding="utf-8") as handle:
                _write(handle, lines)
        except OSError as exc:
            fail(f"{out}: cannot write ({exc.strerror or type(exc).__name__})")
    info(f"replayed {len(rows)} readings of {len(configs)} tags: {len(transitions)} transitions")


def _write(handle: IO[str], lines: list[str]) -> None:
    """Write lines in chunks."""
    for i in range(0, len(lines), 10_000):
        handle.write("".join(lines[i : i + 10_000]))
    handle.flush()


@kpi_app.command("alarms")
def kpi_alarms_command(
    events: Annotated[
        Path, typer.Option("--events", help="Alarm transitions, JSONL (replay output).")
    ],
    start: Annotated[str, typer.Option("--start", help="Period start T0, ISO-8601 with offset.")],
    end: Annotated[
        str, typer.Option("--end", help="Period end T1 (exclusive), ISO-8601 with offset.")
    ],
) -> None:
    """Print ISA-18.2 alarm KPIs over [T0, T1) as JSON, in 10-minute windows aligned at T0."""
    start_ms = _time_option(start, "--start")
    end_ms = _time_option(end, "--end")
    assert start_ms is not None and end_ms is not None
    if end_ms <= start_ms:
        fail("--end must be after --start")
    parsed: list[dict[str, Any]] = []
    try:
        with events.open("rb") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    ev = normalize_event(orjson.loads(line))
                except orjson.JSONDecodeError:
                    fail(f"{events.name} line {number}: not valid JSON")
                except ValueError as exc:
                    fail(f"{events.name} line {number}: {exc}")
                parsed.append(ev._asdict())
    except FileNotFoundError:
        fail(f"{events}: file not found")
    except OSError as exc:
        fail(f"{events}: cannot read ({exc.strerror or type(exc).__name__})")
    result = alarm_kpis(parsed, start_ms, end_ms)
    typer.echo(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())
