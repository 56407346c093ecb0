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


@kpi_app.command("seeds")
def kpi_seeds_command(
    check: Annotated[
        bool, typer.Option("--check", help="Only compare; exit 1 when a seed is out of date.")
    ] = False,
) -> None:
    """Write the dbt seeds of the ISA-18.2 KPI definitions (pipelines/alarms/kpi.py)."""
    from pipelines.lake.seeds import SEEDS_DIR, write_kpi_seeds

    differing = write_kpi_seeds(SEEDS_DIR, check=check)
    names = ", ".join(p.name for p in differing)
    if check and differing:
        fail(f"out of date: {names} (run `hazchem kpi seeds`)", code=1)
    typer.echo(f"written: {names}" if differing else "KPI seeds are up to date")


def _send_action(action: str, tag: str, condition: str, actor: str, **fields: Any) -> None:
    """Validate and produce one operator action to `alarm.actions`; print its id."""
    from pipelines.alarms.actions import build_action
    from pipelines.ingest import IngestProducer
    from pipelines.plant import load_plant
    from pipelines.settings import get_settings

    settings = get_settings()
    try:
        plant = load_plant(settings.simulator.plant_file)
        record = build_action(plant.enterprise_code, tag, condition, action, actor, **fields)
        producer = IngestProducer(settings, source=f"cli:{actor}", known_tags=plant.tags.keys())
        verdict = producer.submit("alarm.actions", record=record)
        producer.flush(15)
    except (ValueError, RuntimeError) as exc:
        fail(str(exc))
    if not verdict.accepted:
        fail(f"action rejected ({verdict.reason_code}): {verdict.reason}")
    typer.echo(
        f"{record['action']} {tag} {record['condition']} sent as {record['action_id']}; "
        "the alarm job applies it and writes the result to `alarm.audit`"
    )


_TAG = Annotated[str, typer.Argument(help="Tag (位号), e.g. PI-R101-OUT.")]
_COND = Annotated[str, typer.Argument(help="Condition: LL, L, H, HH, ROC, STALE, FLATLINE, RANGE.")]
_ACTOR = Annotated[str, typer.Option("--actor", help="Who acts (operator id).")]
_EPISODE = Annotated[str | None, typer.Option("--episode", help="Episode id it applies to.")]


@app.command("ack")
def ack_command(
    tag: _TAG, condition: _COND, actor: _ACTOR, episode: _EPISODE = None,
    comment: Annotated[str | None, typer.Option(help="Comment.")] = None,
) -> None:  # fmt: skip
    """Acknowledge (确认) an alarm."""
    _send_action("ack", tag, condition, actor, episode_id=episode, comment=comment)


@app.command("comment")
def comment_command(
    tag: _TAG, condition: _COND, actor: _ACTOR,
    text: Annotated[str, typer.Option("--text", help="Comment text.")], episode: _EPISODE = None,
) -> None:  # fmt: skip
    """Comment (备注) on an alarm."""
    _send_action("comment", tag, condition, actor, episode_id=episode, comment=text)


@app.command("shelve")
def shelve_command(
    tag: _TAG, condition: _COND, actor: _ACTOR,
    duration: Annotated[
        float, typer.Option("--duration", help="Seconds (at most the policy max, 8 h).")
    ],
    reason: Annotated[str, typer.Option("--reason", help="Why it is shelved (搁置原因).")],
) -> None:  # fmt: skip
    """Shelve (搁置) an alarm for a duration; it unshelves itself when the time is up."""
    _send_action("shelve", tag, condition, actor, shelve_duration_s=duration, reason=reason)


@app.command("unshelve")
def unshelve_command(tag: _TAG, condition: _COND, actor: _ACTOR) -> None:
    """Unshelve (解除搁置) an alarm before its shelve expires."""
    _send_action("unshelve", tag, condition, actor)


@app.command("close")
def close_command(
    tag: _TAG, condition: _COND, actor: _ACTOR,
    cause: Annotated[str, typer.Option("--cause", help="Cause analysis (原因分析).")],
    measures: Annotated[str, typer.Option("--measures", help="Measures taken (整改措施).")],
    episode: _EPISODE = None,
) -> None:  # fmt: skip
    """Close (闭环) a returned alarm episode with its cause and the measures taken."""
    _send_action("close", tag, condition, actor, episode_id=episode, cause=cause, measures=measures)


@app.command("notify")
def notify_command(
    webhook: Annotated[
        str, typer.Option("--webhook", help="URL receiving a JSON POST per notification.")
    ],
    redrive: Annotated[
        bool,
        typer.Option(
            "--redrive",
            help="Deliver what <topic>.dlq holds (up to its end), then stop; run it once the"
            " webhook is back.",
        ),
    ] = False,
    retry_for: Annotated[
        float | None,
        typer.Option(
            min=0,
            help="Seconds a failing webhook is retried before dead-lettering"
            " (default: HAZCHEM_NOTIFIER__RETRY_FOR_S, shipped 1800).",
        ),
    ] = None,
    attempts: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="Most tries per notification, 0 = no cap"
            " (default: HAZCHEM_NOTIFIER__MAX_ATTEMPTS, shipped 0).",
        ),
    ] = None,
    idle_exit: Annotated[
        float | None, typer.Option(help="Stop after this many idle seconds.")
    ] = None,
    topic: Annotated[
        str,
        typer.Option(
            help="alarm.notifications, or case.notifications (opened/escalated warning cases)."
        ),
    ] = "alarm.notifications",
) -> None:
    """Deliver notifications to a webhook (retried while it is down; failures dead-lettered)."""
    from dataclasses import replace

    from pipelines.alarms.notify import (
        NotifierStopped,
        RetryPolicy,
        run_notifier,
        webhook_sender,
    )
    from pipelines.alarms.notify import redrive as redrive_dead_letters
    from pipelines.settings import get_settings

    if topic not in ("alarm.notifications", "case.notifications"):
        fail(f"--topic: alarm.notifications or case.notifications, not {topic!r}")
    settings = get_settings()
    policy = RetryPolicy.from_settings(settings.notifier)
    if retry_for is not None:
        policy = replace(policy, retry_for_s=retry_for)
    if attempts is not None:
        policy = replace(policy, max_attempts=attempts)
    send = webhook_sender(webhook, policy.timeout_s, settings.notifier.webhook_token)
    # alarms keep the group they always had, so no notification is delivered twice
    group = "hazchem-notifier" if topic == "alarm.notifications" else "hazchem-notifier-cases"
    try:
        if redrive:
            info(f"redriving {topic}.dlq to {webhook} (group {group}-redrive)")
            counts = redrive_dead_letters(
                settings, send, topic=topic, group=f"{group}-redrive", policy=policy, report=info
            )
        else:
            info(f"delivering {topic} to {webhook} (group {group})")
            counts = run_notifier(
                settings, send, topic=topic, group=group, policy=policy,
                max_idle_s=idle_exit, report=info,
            )  # fmt: skip
    except NotifierStopped as exc:
        typer.echo(orjson.dumps(exc.counts).decode())
        fail(str(exc), code=1)
    except KeyboardInterrupt:
        fail("interrupted: the notification in progress was not committed", code=130)
    typer.echo(orjson.dumps(counts).decode())
