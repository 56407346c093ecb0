"""`hazchem risk …` (four-color risk replay and model) and `hazchem cases …` (warning cases)."""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime
from typing import Annotated, Any

import orjson
import typer

from pipelines.cli_support import fail, info

risk_app = typer.Typer(help="Four-color risk (四色风险): model and replay.", no_args_is_help=True)
cases_app = typer.Typer(
    help="Warning cases (预警处置闭环): list, show, acknowledge, handle, verify, close.",
    no_args_is_help=True,
)


@risk_app.callback()
def _risk() -> None:
    """Four-color risk (四色风险): model and replay."""


@cases_app.callback()
def _cases() -> None:
    """Warning cases (预警处置闭环): list, show, acknowledge, handle, verify, close."""


def _parse_time(text: str, name: str) -> int:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        fail(f"{name}: not an ISO-8601 time with offset: {text!r}")
    if value.tzinfo is None:
        fail(f"{name}: give a UTC offset, e.g. {text}+08:00")
    return int(value.timestamp() * 1000)


def _load():  # noqa: ANN202
    from pipelines.plant import load_plant
    from pipelines.risk.engine import risk_plant
    from pipelines.risk.model import RiskModelError, load_model
    from pipelines.settings import get_settings

    settings = get_settings()
    try:
        return (
            settings,
            risk_plant(load_plant(settings.simulator.plant_file)),
            load_model(settings.risk.model_file),
        )
    except (RiskModelError, ValueError) as exc:
        fail(str(exc))


@risk_app.command("model")
def model_command() -> None:
    """Print the resolved risk model (bands, weights, hold time, case deadlines) as JSON."""
    import dataclasses

    _settings, _plant, model = _load()
    data = dataclasses.asdict(model)
    data["control_room_areas"] = sorted(data["control_room_areas"])
    typer.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode())


@risk_app.command("replay")
def replay_command(
    day: Annotated[
        str | None, typer.Option(help="Plant day (UTC+8) to replay, e.g. 2026-11-28.")
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            help="Start state here (ISO time; default: the day's start minus --warmup-h)."
        ),
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="End (ISO time; default: the day's end).")
    ] = None,
    warmup_h: Annotated[
        float, typer.Option(help="Hours of inputs before the day that build the state.")
    ] = 24.0,
    source: Annotated[
        str, typer.Option(help="Where inputs come from: lake (bronze) or kafka.")
    ] = "lake",
    object_code: Annotated[str | None, typer.Option("--object", help="Only this object.")] = None,
    with_cases: Annotated[bool, typer.Option("--cases", help="Also print case events.")] = False,
    out: Annotated[
        str | None, typer.Option(help="Write JSON lines here instead of stdout.")
    ] = None,
) -> None:
    """Replay the risk model over recorded inputs; print the color timeline as JSON lines.

    Each line: {event_time, object_type, object_code, previous_level, level, score, causes}.
    Given the inputs the streaming risk job read since it started (--since = its start), the
    timeline equals the streamed `risk.levels`.
    """
    from pipelines.risk.replay import kafka_inputs, lake_inputs, plant_day_bounds, replay, timeline

    settings, plant, model = _load()
    if day is None and (since is None or until is None):
        fail("give --day, or both --since and --until")
    if day is not None:
        try:
            start_ms, end_ms = plant_day_bounds(date.fromisoformat(day))
        except ValueError:
            fail(f"--day: not a date (YYYY-MM-DD): {day!r}")
    if since is not None:
        start_ms = _parse_time(since, "--since")
    if until is not None:
        end_ms = _parse_time(until, "--until")
    state_from = start_ms if since is not None else start_ms - int(warmup_h * 3_600_000)
    if source not in ("lake", "kafka"):
        fail(f"--source: lake or kafka, not {source!r}")
    try:
        if source == "lake":
            inputs = list(lake_inputs(settings, state_from, end_ms))
        else:
            inputs = list(kafka_inputs(settings, state_from, end_ms))
    except Exception as exc:  # noqa: BLE001 - a missing lake or broker is one line
        fail(f"cannot read the {source} inputs: {type(exc).__name__}: {exc}")
    info(f"replaying {len(inputs)} inputs from the {source}")
    routed = replay(inputs, plant, model, end_ms)
    rows: list[dict[str, Any]] = timeline(routed, start_ms)
    if object_code:
        rows = [r for r in rows if r["object_code"] == object_code]
    lines = [
        {**r, "event_time": _iso(r.pop("event_time_ms"))} for r in rows
    ]  # fmt: skip
    if with_cases:
        lines += [
            {**r.record, "event_time": _iso(r.record["event_time_ms"])}
            for r in routed
            if r.topic == "cases" and r.record["event_time_ms"] >= start_ms
        ]
    text = "".join(orjson.dumps(line).decode() + "\n" for line in lines)
    if out:
        with open(out, "w", encoding="utf-8") as handle:
            handle.write(text)
        info(f"wrote {len(lines)} lines to {out}")
    else:
        sys.stdout.write(text)


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).astimezone().isoformat(timespec="milliseconds")


# -- cases --------------------------------------------------------------------------------------


@cases_app.command("list")
def list_command(
    status: Annotated[
        str | None, typer.Option(help="Only cases in this status (or 'active').")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines.")] = False,
) -> None:
    """List warning cases, newest first: id, subject, level, status, assignee, overdue steps."""
    from pipelines.risk.service import current_cases
    from pipelines.settings import get_settings

    try:
        cases = list(current_cases(get_settings()).values())
    except Exception as exc:  # noqa: BLE001
        fail(f"cannot read cases from Kafka: {type(exc).__name__}: {exc}")
    if status == "active":
        cases = [c for c in cases if c["status"] != "closed"]
    elif status:
        cases = [c for c in cases if c["status"] == status]
    cases.sort(key=lambda c: c["opened_ms"], reverse=True)
    for c in cases:
        if as_json:
            typer.echo(orjson.dumps(c).decode())
        else:
            typer.echo(
                f"{c['case_id']:<34} {c['subject_code']:<24} {c['level'] or '-':<7}"
                f" {c['status']:<13} {c['assignee']:<6} opened {_iso(c['opened_ms'])}"
                + (f"  overdue: {', '.join(c['overdue_steps'])}" if c["overdue_steps"] else "")
            )
    if not as_json:
        info(f"{len(cases)} case(s)")


@cases_app.command("show")
def show_command(case_id: Annotated[str, typer.Argument(help="Case id.")]) -> None:
    """Print one case with its full audit trail (every event: who, when, what, why) as JSON."""
    from pipelines.risk.service import case_history, current_cases
    from pipelines.settings import get_settings

    settings = get_settings()
    case = current_cases(settings).get(case_id)
    if case is None:
        fail(f"no case {case_id!r} (see `hazchem cases list`)")
    case = {**case, "history": case_history(settings, case_id)}
    typer.echo(orjson.dumps(case, option=orjson.OPT_INDENT_2).decode())


def _act(case_id: str, action: str, actor: str, **fields: Any) -> None:
    from pipelines.risk.service import build_case_action, current_cases, send_case_action
    from pipelines.settings import get_settings

    settings = get_settings()
    if case_id not in current_cases(settings):
        fail(f"no case {case_id!r} (see `hazchem cases list`)")
    record = build_case_action(case_id, action, actor, **fields)
    try:
        send_case_action(settings, record, source=f"cli:{actor}")
    except (ValueError, RuntimeError) as exc:
        fail(str(exc))
    typer.echo(
        f"{action} {case_id} sent as {record['action_id']}; the risk job applies it and records "
        "the result on `cases` (see `hazchem cases show`)"
    )


_CASE = Annotated[str, typer.Argument(help="Case id, e.g. CASE-HS-01-1764300000000.")]
_ACTOR = Annotated[str, typer.Option("--actor", help="Who acts (person id).")]
_COMMENT = Annotated[str | None, typer.Option(help="Comment.")]


@cases_app.command("ack")
def ack_command(case_id: _CASE, actor: _ACTOR, comment: _COMMENT = None) -> None:
    """Acknowledge a case (确认): stops the acknowledge deadline's escalation."""
    _act(case_id, "ack", actor, comment=comment)


@cases_app.command("handle")
def handle_command(
    case_id: _CASE,
    actor: _ACTOR,
    cause: Annotated[str, typer.Option(help="Cause analysis (原因分析).")],
    measures: Annotated[str, typer.Option(help="Measures taken (整改措施).")],
    attachment: Annotated[
        list[str] | None, typer.Option(help="Attachment URI (repeatable).")
    ] = None,
    comment: _COMMENT = None,
) -> None:
    """Record how an acknowledged case was handled: cause, measures, attachments (处置)."""
    _act(case_id, "handle", actor, cause=cause, measures=measures, attachments=attachment,
         comment=comment)  # fmt: skip


@cases_app.command("verify")
def verify_command(case_id: _CASE, actor: _ACTOR, comment: _COMMENT = None) -> None:
    """Verify the handling of a case (验证); the verifier must not be the handler."""
    _act(case_id, "verify", actor, comment=comment)


@cases_app.command("close")
def close_command(case_id: _CASE, actor: _ACTOR, comment: _COMMENT = None) -> None:
    """Close a verified case (闭环)."""
    _act(case_id, "close", actor, comment=comment)


@cases_app.command("comment")
def comment_command(case_id: _CASE, actor: _ACTOR, comment: Annotated[str, typer.Option()]) -> None:
    """Add a comment to a case's audit trail."""
    _act(case_id, "comment", actor, comment=comment)
