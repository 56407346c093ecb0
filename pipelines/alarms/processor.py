"""Per-tag alarm processing: engine + lifecycle, outputs routed to the alarm topics.

The one place that turns a tag's inputs (readings, operator actions, unit states, event time) into
the records of the `alarms`, `alarms.current`, `alarm.notifications` and `alarm.audit` topics.
The streaming job holds one `TagProcessor` per tag in keyed state; tests and replays call it
directly. Pure: no I/O, picklable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipelines.alarms.config import TagConfig
from pipelines.alarms.engine import TagAlarmState, Transition
from pipelines.alarms.lifecycle import (
    ACTION,
    ALARM,
    AUTO_UNSHELVE,
    NOTIFICATION,
    REJECTED_ACTION,
    LifecycleOutput,
    LifecyclePolicy,
    TagLifecycle,
)
from pipelines.security.chain import link

ALARMS = "alarms"
CURRENT = "alarms.current"
NOTIFICATIONS = "alarm.notifications"
AUDIT = "alarm.audit"


@dataclass(frozen=True)
class TagContext:
    """Where a tag sits in the plant: copied onto every record it causes."""

    enterprise_code: str
    hazard_source_code: str | None
    unit_code: str
    area_code: str
    unit: str | None


@dataclass(frozen=True)
class Routed:
    """One output record and the topic (and key) it belongs to."""

    topic: str
    key: str
    record: dict[str, Any]


class TagProcessor:
    """All alarm state of one tag (engine and lifecycle); feed it inputs in event-time order."""

    def __init__(
        self, config: TagConfig, context: TagContext, policy: LifecyclePolicy | None = None
    ) -> None:
        self.config = config
        self.context = context
        self.engine = TagAlarmState(config)
        self.lifecycle = TagLifecycle(config.tag, policy or LifecyclePolicy(), unit=context.unit)
        # Hash of the tag's last alarm.audit record: kept in the pickled keyed state, so a
        # restart from a checkpoint continues the tag's chain (docs/security.md).
        self.audit_hash: str | None = None

    # -- inputs --------------------------------------------------------------------------------

    def _due_first(self, ts_ms: int) -> list[LifecycleOutput]:
        """Fire STALE whose due time is at or before ts_ms, as a Flink timer would have."""
        out: list[LifecycleOutput] = []
        due = self.engine.next_timer_ms()
        if due is not None and due <= ts_ms:
            for t in self.engine.on_time(due):
                out.extend(self.lifecycle.on_transition(t))
        return out

    def _transitions(self, transitions: list[Transition]) -> list[LifecycleOutput]:
        out: list[LifecycleOutput] = []
        for t in transitions:
            out.extend(self.lifecycle.on_transition(t))
        return out

    def on_reading(
        self, ts_ms: int, value: float | None, emitted_at_ms: int | None = None
    ) -> list[Routed]:
        """Apply one reading; return the routed outputs."""
        outs = self._due_first(ts_ms)
        transitions = self.engine.on_reading(ts_ms, value)
        if not outs and not transitions:
            return []
        outs += self._transitions(transitions)
        return self._route(outs, emitted_at_ms)

    def on_action(self, action: dict[str, Any], emitted_at_ms: int | None = None) -> list[Routed]:
        """Apply one alarm_action.v1 record; return the routed outputs (audit included)."""
        outs = self._due_first(int(action["action_time_ms"]))
        outs += self.lifecycle.on_action(action)
        return self._route(outs, emitted_at_ms)

    def on_unit_state(
        self, state: str, ts_ms: int, emitted_at_ms: int | None = None
    ) -> list[Routed]:
        """Apply a unit state change (running/startup/shutdown/maintenance)."""
        outs = self._due_first(ts_ms)
        outs += self.lifecycle.on_unit_state(state, ts_ms)
        return self._route(outs, emitted_at_ms)

    def on_time(self, now_ms: int, emitted_at_ms: int | None = None) -> list[Routed]:
        """Advance event time with no input: STALE and shelve expiries due by now_ms."""
        outs = self._due_first(now_ms)
        lc_due = self.lifecycle.next_timer_ms()
        if lc_due is not None and lc_due <= now_ms:
            outs += self.lifecycle.on_time(now_ms)
        return self._route(outs, emitted_at_ms)

    def next_timer_ms(self) -> int | None:
        """Return the earliest event time at which on_time has something to do."""
        dues = [d for d in (self.engine.next_timer_ms(), self.lifecycle.next_timer_ms()) if d]
        return min(dues) if dues else None

    # -- outputs -------------------------------------------------------------------------------

    def _place(self) -> dict[str, Any]:
        c = self.context
        return {
            "enterprise_code": c.enterprise_code,
            "hazard_source_code": c.hazard_source_code,
            "unit_code": c.unit_code,
            "area_code": c.area_code,
        }

    def _route(self, outs: list[LifecycleOutput], emitted_at_ms: int | None) -> list[Routed]:
        routed: list[Routed] = []
        touched: list[str] = []
        tag = self.config.tag
        for out in outs:
            rec = out.record
            if out.kind == ALARM:
                routed.append(Routed(ALARMS, tag, self._alarm_event(rec, emitted_at_ms)))
                touched.append(rec["condition"])
            elif out.kind == NOTIFICATION:
                routed.append(Routed(NOTIFICATIONS, tag, {**self._place(), **rec}))
            elif out.kind in (ACTION, REJECTED_ACTION, AUTO_UNSHELVE):
                audit = {"kind": out.kind, **self._place(), **rec}
                audit.setdefault("reannunciate", None)
                audit = link(audit, getattr(self, "audit_hash", None))  # state from before v2
                self.audit_hash = audit["hash"]
                routed.append(Routed(AUDIT, tag, audit))
                if rec.get("condition"):
                    touched.append(rec["condition"])
        if touched:
            by_condition = {r["condition"]: r for r in self.lifecycle.current()}
            for cond in dict.fromkeys(touched):
                cur = by_condition.get(cond)
                if cur is not None:
                    record = {**self._place(), **cur, "updated_at_ms": emitted_at_ms}
                    routed.append(Routed(CURRENT, f"{tag}|{cond}", record))
        return routed

    def _alarm_event(self, rec: dict[str, Any], emitted_at_ms: int | None) -> dict[str, Any]:
        """Return the alarm_event.v2 record of one lifecycle alarm output."""
        return {
            "event_id": rec["event_id"],
            "episode_id": rec["episode_id"],
            **self._place(),
            "tag": rec["tag"],
            "condition": rec["condition"],
            "alarm_class": rec["alarm_class"],
            "event": rec["event"],
            "limit": rec["limit"],
            "value": rec["value"],
            "unit": self.context.unit,
            "priority": rec["priority"],
            "event_time_ms": rec["ts_ms"],
            "reading_event_time_ms": rec["ts_ms"] if rec["value"] is not None else None,
            "emitted_at_ms": emitted_at_ms,
            "annunciated": rec["annunciated"],
            "suppressed_by": rec["suppressed_by"],
            "state": rec["state_after"],
        }


def plant_processors(
    plant_file: str | None = None,
) -> tuple[dict[str, TagConfig], dict[str, TagContext]]:
    """Return the engine config and plant context of every tag of the plant model."""
    from pipelines.plant import load_plant

    plant = load_plant(plant_file)
    configs: dict[str, TagConfig] = {}
    contexts: dict[str, TagContext] = {}
    for rec in plant.tag_records():
        configs[rec["tag"]] = TagConfig.from_dict(rec)
        contexts[rec["tag"]] = TagContext(
            enterprise_code=rec["enterprise_code"],
            hazard_source_code=rec.get("hazard_source_code"),
            unit_code=rec["unit_code"],
            area_code=rec["area_code"],
            unit=rec.get("unit"),
        )
    return configs, contexts
