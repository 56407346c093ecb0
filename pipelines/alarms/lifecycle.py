"""Alarm lifecycle (报警生命周期): acknowledge, shelve, suppress and close, per ISA-18.2, no I/O.

One `TagLifecycle` holds the lifecycle state of every condition of one tag. It consumes the
engine's `Transition`s, operator actions (schemas/alarm/alarm_action.v1.json), the state of the
tag's unit and event-time ticks, and returns `LifecycleOutput`s. The streaming job keeps it
pickled in Flink keyed state, batch replay keeps one per tag, the API replays into one. The rules
and the decisions behind them are stated in docs/alarm_lifecycle.md.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from pipelines.alarms.config import CONDITION_ORDER
from pipelines.alarms.engine import CLEARED, RAISED, Transition

# ISA-18.2 alarm states (报警状态)
NORMAL = "normal"
ACTIVE_UNACKNOWLEDGED = "active_unacknowledged"
ACTIVE_ACKNOWLEDGED = "active_acknowledged"
RETURNED_UNACKNOWLEDGED = "returned_unacknowledged"
ACTIVE_STATES = frozenset({ACTIVE_UNACKNOWLEDGED, ACTIVE_ACKNOWLEDGED})

# Output kinds
ALARM = "alarm"
ACTION = "action"
REJECTED_ACTION = "rejected_action"
AUTO_UNSHELVE = "auto_unshelve"
NOTIFICATION = "notification"

# Unit (装置/单元) operating states; raises are suppressed (recorded, not annunciated) in these.
UNIT_STATES = ("running", "shutdown", "maintenance", "startup")
SUPPRESSING_UNIT_STATES = frozenset({"shutdown", "maintenance"})

ACTIONS = ("acknowledge", "comment", "shelve", "unshelve", "close")
NOTIFY_CONDITIONS = frozenset({"HH", "LL"})
NOTIFY_PRIORITY = "critical"
SYSTEM_ACTOR = "system"

CONDITION_NAMES_ZH: dict[str, str] = {
    "LL": "低低报",
    "L": "低报",
    "H": "高报",
    "HH": "高高报",
    "ROC": "变化率报警",
    "STALE": "数据停更",
    "FLATLINE": "数据不变",
    "RANGE": "超量程",
}
_CONDITION_RANK = {cond: rank for rank, cond in enumerate(CONDITION_ORDER)}


def _condition_key(cond: str) -> tuple[int, str]:
    """Sort key: CONDITION_ORDER, unknown conditions last by name."""
    return (_CONDITION_RANK.get(cond, len(CONDITION_ORDER)), cond)


@dataclass(frozen=True)
class LifecyclePolicy:
    """Site policy for operator actions (报警处置策略)."""

    max_shelve_s: float = 8 * 3600  # longest shelve one action may ask for (最长搁置时长)
    require_reason_to_shelve: bool = True
    close_requires_return: bool = True  # an episode may be closed only after it cleared (消警)


DEFAULT_POLICY = LifecyclePolicy()


@dataclass(frozen=True)
class LifecycleOutput:
    """One output of the lifecycle: an enriched alarm, an audit record or a notification."""

    kind: str  # ALARM | ACTION | REJECTED_ACTION | AUTO_UNSHELVE | NOTIFICATION
    record: dict[str, Any]


@dataclass(slots=True)
class ConditionState:
    """Lifecycle state of one condition of one tag (its current or last episode)."""

    state: str = NORMAL
    episode_id: str | None = None  # current (or last) episode; None until the first raise
    shelved_until_ms: int | None = None  # None when not shelved
    acked_by: str | None = None
    acked_at_ms: int | None = None
    last_event_time_ms: int | None = None  # event time of the last applied transition
    closed: bool = False  # the current episode has its close record (处置完毕)
    # the notification of the current episode, held back because it was raised while shelved or
    # suppressed; sent when it is first shown (rule 2 of docs/alarm_lifecycle.md)
    pending_notification: dict[str, Any] | None = None

    def __setstate__(self, state: Any) -> None:
        """Restore a pickle; a field added after it was written (a checkpoint of an older
        version) takes its default instead of being missing."""
        saved = state[1] if isinstance(state, tuple) else state
        for f in fields(self):
            setattr(self, f.name, (saved or {}).get(f.name, f.default))


def format_number(x: float | None) -> str:
    """Return `x` for a one-line message: integral floats without '.0', others as repr."""
    if x is None:
        return "None"
    if isinstance(x, float) and x.is_integer():
        return str(int(x))
    return repr(x)


def notifies(t: Transition) -> bool:
    """Return True when a raise of `t` is notified: priority critical, or condition HH or LL."""
    return t.priority == NOTIFY_PRIORITY or t.condition in NOTIFY_CONDITIONS


def notification_message(
    tag: str, condition: str, value: float | None, limit: float | None, unit: str | None
) -> str:
    """Return the one-line notification text, e.g. '高高报 HH PT-101 = 2.35 MPa (limit 2.2)'."""
    text = f"{CONDITION_NAMES_ZH.get(condition, condition)} {condition} {tag}"
    if value is not None:
        text += f" = {format_number(value)}" + (f" {unit}" if unit else "")
    if limit is not None:
        text += f" (limit {format_number(limit)})"
    return text


class TagLifecycle:
    """All lifecycle state of one tag (all its conditions); picklable and deterministic."""

    def __init__(
        self, tag: str, policy: LifecyclePolicy = DEFAULT_POLICY, *, unit: str | None = None
    ) -> None:
        """Start with no condition seen and the unit running; `unit` is the engineering unit."""
        self.tag = tag
        self.policy = policy
        self.unit = unit  # engineering unit of value/limit, used only in notification text
        self.conditions: dict[str, ConditionState] = {}
        self.unit_state = "running"
        self.unit_state_since_ms: int | None = None
        # transitions that do not fit the state (duplicate raise, clear of no active episode)
        self.ignored_transitions = 0

    # -- helpers -------------------------------------------------------------------------------

    @property
    def suppressed(self) -> bool:
        """Return True while the tag's unit is in shutdown or maintenance (停车/检修)."""
        return self.unit_state in SUPPRESSING_UNIT_STATES

    def _suppressed_by(self, cs: ConditionState | None) -> str | None:
        """Return why a transition now is not annunciated: 'unit_state', 'shelve' or None."""
        if self.suppressed:
            return "unit_state"
        if cs is not None and cs.shelved_until_ms is not None:
            return "shelve"
        return None

    def _expire_shelves(self, now_ms: int) -> list[LifecycleOutput]:
        """Unshelve every condition whose shelve ended at or before `now_ms`, earliest first."""
        due = sorted(
            (cs.shelved_until_ms, _CONDITION_RANK.get(cond, len(CONDITION_ORDER)), cond)
            for cond, cs in self.conditions.items()
            if cs.shelved_until_ms is not None and cs.shelved_until_ms <= now_ms
        )
        out: list[LifecycleOutput] = []
        for until, _, cond in due:
            cs = self.conditions[cond]
            cs.shelved_until_ms = None
            record = {
                "audit_id": f"{self.tag}:{cond}:auto_unshelve:{until}",
                "tag": self.tag,
                "condition": cond,
                "episode_id": cs.episode_id,
                "action": "unshelve",
                "actor": SYSTEM_ACTOR,
                "reason": "shelve expired",
                "comment": None,
                "cause": None,
                "measures": None,
                "result": "applied",
                "detail": f"shelve expired at {until}",
                "state_before": cs.state,
                "state_after": cs.state,
                "action_time_ms": until,
                # an active alarm leaving the shelf must be shown again (ISA-18.2 unshelve)
                "reannunciate": cs.state in ACTIVE_STATES and not self.suppressed,
            }
            out.append(LifecycleOutput(AUTO_UNSHELVE, record))
            out.extend(self._release_notification(cs))
        return out

    def _release_notification(self, cs: ConditionState) -> list[LifecycleOutput]:
        """Return the held-back notification of `cs` once its episode is shown (rule 2), if any.

        A notification held back at a shelved or suppressed raise goes out when nothing
        suppresses the condition any more and its episode is still active (acknowledged or not).
        """
        pending = cs.pending_notification
        if pending is None or cs.state not in ACTIVE_STATES or self._suppressed_by(cs):
            return []
        cs.pending_notification = None
        return [LifecycleOutput(NOTIFICATION, pending)]

    def _alarm_record(
        self, t: Transition, annunciated: bool, suppressed_by: str | None, state_after: str
    ) -> dict[str, Any]:
        """Return the enriched alarm record of one applied transition."""
        return {
            "tag": t.tag,
            "condition": t.condition,
            "event": t.event,
            "ts_ms": t.ts_ms,
            "value": t.value,
            "limit": t.limit,
            "priority": t.priority,
            "alarm_class": t.alarm_class,
            "episode_id": t.episode_id,
            "event_id": t.event_id,
            "annunciated": annunciated,
            "suppressed_by": suppressed_by,
            "state_after": state_after,
        }

    def _notification(self, t: Transition, held_by: str | None = None) -> dict[str, Any]:
        """Return the notification (短信/推送通知) of a critical, HH or LL raise.

        `held_by` names what kept the raise from being shown ('shelve', 'unit_state'); the
        message then says so, since the notification goes out later than `event_time_ms`.
        """
        episode = t.episode_id
        message = notification_message(t.tag, t.condition, t.value, t.limit, self.unit)
        if held_by == "shelve":
            message += " (raised while shelved)"
        elif held_by == "unit_state":
            message += f" (raised while the unit was in {self.unit_state})"
        return {
            "notification_id": f"{episode}:notification",
            "tag": t.tag,
            "condition": t.condition,
            "priority": t.priority,
            "value": t.value,
            "limit": t.limit,
            "event_time_ms": t.ts_ms,
            "episode_id": episode,
            "message": message,
        }

    # -- transitions ---------------------------------------------------------------------------

    def on_transition(self, t: Transition) -> list[LifecycleOutput]:
        """Apply one engine transition; return expired shelves, the alarm and any notification."""
        if t.tag != self.tag:
            raise ValueError(f"transition of tag {t.tag} fed to the lifecycle of {self.tag}")
        if t.event not in (RAISED, CLEARED):
            raise ValueError(f"unknown transition event {t.event!r}")
        out = self._expire_shelves(t.ts_ms)
        cs = self.conditions.get(t.condition)
        if t.event == RAISED:
            if cs is not None and cs.episode_id == t.episode_id and cs.state in ACTIVE_STATES:
                self.ignored_transitions += 1  # duplicate raise of the open episode
                return out
            if cs is None:
                cs = self.conditions[t.condition] = ConditionState()
            suppressed_by = self._suppressed_by(cs)
            cs.state = ACTIVE_UNACKNOWLEDGED
            cs.episode_id = t.episode_id
            cs.acked_by = None
            cs.acked_at_ms = None
            cs.closed = False
            cs.last_event_time_ms = t.ts_ms
            cs.pending_notification = None
            annunciated = suppressed_by is None
            out.append(
                LifecycleOutput(ALARM, self._alarm_record(t, annunciated, suppressed_by, cs.state))
            )
            if notifies(t):
                if annunciated:
                    out.append(LifecycleOutput(NOTIFICATION, self._notification(t)))
                else:
                    cs.pending_notification = self._notification(t, suppressed_by)
            return out
        if cs is None or cs.state not in ACTIVE_STATES or cs.episode_id != t.episode_id:
            self.ignored_transitions += 1  # clear of an episode that is not the open one
            return out
        suppressed_by = self._suppressed_by(cs)
        cs.state = NORMAL if cs.state == ACTIVE_ACKNOWLEDGED else RETURNED_UNACKNOWLEDGED
        cs.last_event_time_ms = t.ts_ms
        cs.pending_notification = None  # returned before it was shown: nothing to notify
        out.append(
            LifecycleOutput(
                ALARM, self._alarm_record(t, suppressed_by is None, suppressed_by, cs.state)
            )
        )
        return out

    # -- operator actions ----------------------------------------------------------------------

    def on_action(self, action: dict[str, Any]) -> list[LifecycleOutput]:
        """Apply one alarm_action.v1 record; return expired shelves, its audit record and the
        notification an applied unshelve releases."""
        if action.get("tag") != self.tag:
            raise ValueError(
                f"action on tag {action.get('tag')} fed to the lifecycle of {self.tag}"
            )
        now = int(action["action_time_ms"])
        out = self._expire_shelves(now)
        cond = action.get("condition")
        name = action.get("action")
        cs = self.conditions.get(cond) if isinstance(cond, str) else None
        state_before = cs.state if cs is not None else NORMAL
        episode = action.get("episode_id") or (cs.episode_id if cs is not None else None)
        rejection, detail = self._apply(action, name, cond, cs, now)
        cs = self.conditions.get(cond) if isinstance(cond, str) else None
        record = {
            "audit_id": action.get("action_id"),
            "tag": self.tag,
            "condition": cond,
            "episode_id": episode,
            "action": name,
            "actor": action.get("actor"),
            "reason": action.get("reason"),
            "comment": action.get("comment"),
            "cause": action.get("cause"),
            "measures": action.get("measures"),
            "result": "rejected" if rejection is not None else "applied",
            "detail": rejection if rejection is not None else detail,
            "state_before": state_before,
            "state_after": cs.state if cs is not None else NORMAL,
            "action_time_ms": now,
        }
        out.append(LifecycleOutput(REJECTED_ACTION if rejection is not None else ACTION, record))
        if rejection is None and name == "unshelve" and cs is not None:
            out.extend(self._release_notification(cs))
        return out

    def _apply(
        self,
        action: dict[str, Any],
        name: Any,
        cond: Any,
        cs: ConditionState | None,
        now: int,
    ) -> tuple[str | None, str]:
        """Apply one action if the rules allow it; return (rejection reason or None, detail)."""
        if name not in ACTIONS:
            return f"unknown action {name!r}", ""
        if cond not in _CONDITION_RANK:
            return f"unknown condition {cond!r}", ""
        if name == "shelve":  # allowed ahead of the first raise: no `cs` needed
            return self._shelve(action, cond, cs, now)
        if cs is None:
            return f"unknown condition {cond}: never raised on {self.tag}", ""
        given = action.get("episode_id")
        if given and name in ("acknowledge", "close") and given != cs.episode_id:
            return f"stale episode {given}: current episode is {cs.episode_id}", ""
        if name == "comment":
            return None, "comment recorded"
        if name == "acknowledge":
            return self._acknowledge(action, cs, now)
        if name == "unshelve":
            if cs.shelved_until_ms is None:
                return "not shelved", ""
            cs.shelved_until_ms = None
            return None, "unshelved"
        return self._close(action, cs)

    def _acknowledge(
        self, action: dict[str, Any], cs: ConditionState, now: int
    ) -> tuple[str | None, str]:
        """Acknowledge (确认) an unacknowledged episode, active or returned."""
        if cs.state == ACTIVE_UNACKNOWLEDGED:
            cs.state = ACTIVE_ACKNOWLEDGED
        elif cs.state == RETURNED_UNACKNOWLEDGED:
            cs.state = NORMAL
        else:
            return f"nothing to acknowledge: state is {cs.state}", ""
        cs.acked_by = action.get("actor")
        cs.acked_at_ms = now
        return None, "acknowledged"

    def _shelve(
        self, action: dict[str, Any], cond: str, cs: ConditionState | None, now: int
    ) -> tuple[str | None, str]:
        """Shelve (搁置) a condition for a limited time with a reason; allowed before any raise."""
        policy = self.policy
        if policy.require_reason_to_shelve and not action.get("reason"):
            return "shelve requires a reason", ""
        duration = action.get("shelve_duration_s")
        if (
            isinstance(duration, bool)
            or not isinstance(duration, int | float)
            or not 0 < duration <= policy.max_shelve_s
        ):
            return (
                f"shelve_duration_s must be > 0 and <= {format_number(policy.max_shelve_s)}"
                f" (max_shelve_s), got {format_number(duration)}",
                "",
            )
        if cs is None:
            cs = self.conditions[cond] = ConditionState()
        cs.shelved_until_ms = now + round(duration * 1000)
        return None, f"shelved until {cs.shelved_until_ms} ({format_number(duration)} s)"

    def _close(self, action: dict[str, Any], cs: ConditionState) -> tuple[str | None, str]:
        """Close (处置完毕) the current episode with its cause analysis and corrective measures."""
        if cs.episode_id is None:
            return "no episode to close", ""
        if cs.closed:
            return f"episode {cs.episode_id} is already closed", ""
        if self.policy.close_requires_return and cs.state in ACTIVE_STATES:
            return (
                f"episode {cs.episode_id} is still active (state {cs.state}):"
                " close it after it returns",
                "",
            )
        if not action.get("cause") or not action.get("measures"):
            return "close requires cause and measures", ""
        cs.closed = True
        return None, "episode closed"

    # -- unit state and time -------------------------------------------------------------------

    def on_unit_state(self, state: str, ts_ms: int) -> list[LifecycleOutput]:
        """Record the unit state (运行/停车/检修/开车); return shelves expired by ts_ms, then the
        notifications held back by a suppression that this state ends, in CONDITION_ORDER."""
        if state not in UNIT_STATES:
            raise ValueError(f"unknown unit state {state!r}; expected one of {UNIT_STATES}")
        out = self._expire_shelves(ts_ms)
        self.unit_state = state
        self.unit_state_since_ms = ts_ms
        for cond in sorted(self.conditions, key=_condition_key):
            out.extend(self._release_notification(self.conditions[cond]))
        return out

    def on_time(self, now_ms: int) -> list[LifecycleOutput]:
        """Auto-unshelve every condition whose shelved_until_ms <= now_ms (自动解除搁置)."""
        return self._expire_shelves(now_ms)

    def next_timer_ms(self) -> int | None:
        """Return the earliest shelve expiry (event time, ms), or None when nothing is shelved."""
        expiries = [
            cs.shelved_until_ms
            for cs in self.conditions.values()
            if cs.shelved_until_ms is not None
        ]
        return min(expiries) if expiries else None

    def current(self) -> list[dict[str, Any]]:
        """Return one record per condition seen (raised or shelved), in CONDITION_ORDER."""
        conds = sorted(self.conditions, key=_condition_key)
        return [
            {
                "tag": self.tag,
                "condition": cond,
                "state": cs.state,
                "episode_id": cs.episode_id,
                "shelved": cs.shelved_until_ms is not None,
                "shelved_until_ms": cs.shelved_until_ms,
                "suppressed": self.suppressed,
                "acked_by": cs.acked_by,
                "acked_at_ms": cs.acked_at_ms,
                "last_event_time_ms": cs.last_event_time_ms,
                "closed": cs.closed,
            }
            for cond, cs in ((c, self.conditions[c]) for c in conds)
        ]
