"""Operator actions on alarms (确认/搁置/解除搁置/闭环): build a validated alarm_action.v1 record.

The CLI (`hazchem alarms ack|comment|shelve|unshelve|close`) and the HTTP endpoint both produce
through the validated ingest path onto `alarm.actions`; the streaming job applies them in
event-time order with the lifecycle rules and writes the audit record (applied or rejected).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

ACTION_NAMES = {
    "ack": "acknowledge",
    "acknowledge": "acknowledge",
    "comment": "comment",
    "shelve": "shelve",
    "unshelve": "unshelve",
    "close": "close",
}


def build_action(
    enterprise_code: str,
    tag: str,
    condition: str,
    action: str,
    actor: str,
    *,
    episode_id: str | None = None,
    reason: str | None = None,
    comment: str | None = None,
    shelve_duration_s: float | None = None,
    cause: str | None = None,
    measures: str | None = None,
    action_time_ms: int | None = None,
    action_id: str | None = None,
) -> dict[str, Any]:
    """Return an alarm_action.v1 record (action_id and time filled in when not given)."""
    if action not in ACTION_NAMES:
        raise ValueError(
            f"unknown action '{action}' (use one of {', '.join(sorted(ACTION_NAMES))})"
        )
    return {
        "action_id": action_id or uuid.uuid4().hex,
        "enterprise_code": enterprise_code,
        "tag": tag,
        "condition": condition.upper(),
        "episode_id": episode_id,
        "action": ACTION_NAMES[action],
        "actor": actor,
        "reason": reason,
        "comment": comment,
        "shelve_duration_s": shelve_duration_s,
        "cause": cause,
        "measures": measures,
        "action_time_ms": action_time_ms if action_time_ms is not None else int(time.time() * 1000),
    }
