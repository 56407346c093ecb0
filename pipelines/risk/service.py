"""Warning cases for people: read the current cases, build and send validated case actions.

Shared by `hazchem cases ...` and the HTTP endpoints (`/v1/cases`). Cases are read from the
compacted `cases.current` topic (the latest snapshot per case) and their history from `cases`;
actions go through the validated ingest path onto `case.actions`, and the risk job applies them
in event-time order and audits the result on `cases` (applied, or `action_rejected` with why).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import orjson

from pipelines.risk.cases import CASE_ACTION_KINDS, CASES, CASES_CURRENT
from pipelines.settings import Settings

CASE_ACTIONS = "case.actions"


def current_cases(settings: Settings, prefix: str = "") -> dict[str, dict[str, Any]]:
    """Return case id -> latest case_current.v1 snapshot (the newest seq wins)."""
    from pipelines.kafka_stats import read_since

    cases: dict[str, dict[str, Any]] = {}
    for _ts, value in read_since(
        settings, prefix + CASES_CURRENT, 0, timeout_s=15.0, principal="api"
    ):
        if value is None:
            continue
        snap = orjson.loads(value)
        cases[snap["case_id"]] = snap
    return cases


def case_history(settings: Settings, case_id: str, prefix: str = "") -> list[dict[str, Any]]:
    """Return the case's events from `cases`, in seq order (its audit trail)."""
    from pipelines.kafka_stats import read_since

    events = [
        orjson.loads(v)
        for _ts, v in read_since(settings, prefix + CASES, 0, 15.0, principal="api")
        if v
    ]
    mine = {e["seq"]: e for e in events if e["case_id"] == case_id}  # duplicates collapse
    return [mine[s] for s in sorted(mine)]


def build_case_action(
    case_id: str,
    action: str,
    actor: str,
    *,
    comment: str | None = None,
    cause: str | None = None,
    measures: str | None = None,
    attachments: list[str] | None = None,
    action_time_ms: int | None = None,
    action_id: str | None = None,
) -> dict[str, Any]:
    """Return a case_action.v1 record (id and time filled in when not given)."""
    if action not in CASE_ACTION_KINDS:
        raise ValueError(f"unknown action '{action}' (use one of {', '.join(CASE_ACTION_KINDS)})")
    return {
        "action_id": action_id or uuid.uuid4().hex,
        "case_id": case_id,
        "action": action,
        "actor": actor,
        "action_time_ms": action_time_ms if action_time_ms is not None else int(time.time() * 1000),
        "comment": comment,
        "cause": cause,
        "measures": measures,
        "attachments": list(attachments or []),
    }


def send_case_action(settings: Settings, record: dict[str, Any], source: str) -> None:
    """Validate and produce a case action; ValueError with the reason when it is rejected."""
    from pipelines.ingest import IngestProducer

    producer = IngestProducer(settings, source=source)
    verdict = producer.submit(CASE_ACTIONS, record=record)
    producer.flush(15)
    if not verdict.accepted:
        raise ValueError(f"action rejected ({verdict.reason_code}): {verdict.reason}")
