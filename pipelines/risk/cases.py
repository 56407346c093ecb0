"""Warning cases (预警处置闭环): open, notify, acknowledge, handle, verify, close, escalate.

A warning — a major hazard source reaching a color of `cases.open_on_levels`, or an alarm of a
priority in `cases.open_on_alarm_priorities` — opens a case for its subject (the hazard source,
or the enterprise for an alarm outside any). While a case of the subject is not closed, further
warnings join it. Each step has a deadline (acknowledge within `ack_within_s` of opening, handle
within `handle_within_s` of acknowledging, verify and close within `close_within_s` of opening);
a missed deadline escalates the case to the next person of the subject's 包保 chain (operations
lead → technical lead → principal head) and notifies them. Every change is a `cases` event with
who, when, what and why; `cases.current` holds the latest state of each case.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from pipelines.alarms.processor import Routed
from pipelines.risk.model import LEVELS, CasePolicy
from pipelines.security.chain import link

CASES = "cases"
CASES_CURRENT = "cases.current"
CASE_NOTIFICATIONS = "case.notifications"
CASE_ACTION_KINDS = ("ack", "handle", "verify", "close", "comment")
STATUSES = ("open", "acknowledged", "handled", "verified", "closed")
_NEXT = {"ack": ("open", "acknowledged"), "handle": ("acknowledged", "handled"),
         "verify": ("handled", "verified"), "close": ("verified", "closed")}  # fmt: skip


def case_id_for(subject: str, opened_ms: int) -> str:
    """Return the deterministic id of the case a subject opens at a time (idempotent outputs)."""
    return f"CASE-{subject}-{opened_ms}"


@dataclass
class Case:
    """One warning case and its audit trail."""

    case_id: str
    enterprise_code: str
    subject_type: str
    subject_code: str
    chain: tuple[str, ...]
    opened_ms: int
    level: str | None  # worst color reached while open (None: opened by an alarm alone)
    triggers: list[str]
    status: str = "open"
    escalation_level: int = 0
    step_due_ms: int | None = None
    close_due_ms: int | None = None
    acknowledged_ms: int | None = None
    acknowledged_by: str | None = None
    handled_ms: int | None = None
    handled_by: str | None = None
    cause: str | None = None
    measures: str | None = None
    attachments: list[str] = field(default_factory=list)
    verified_ms: int | None = None
    verified_by: str | None = None
    closed_ms: int | None = None
    closed_by: str | None = None
    overdue_steps: list[str] = field(default_factory=list)
    seq: int = 0
    last_hash: str | None = None  # hash of the case's last `cases` event (its chain, in state)

    @property
    def assignee(self) -> str:
        return self.chain[min(self.escalation_level, len(self.chain) - 1)]

    def snapshot(self) -> dict[str, Any]:
        """Return the case as a case_current.v1 record."""
        return {
            "case_id": self.case_id, "enterprise_code": self.enterprise_code,
            "subject_type": self.subject_type, "subject_code": self.subject_code,
            "status": self.status, "level": self.level, "triggers": list(self.triggers),
            "assignee": self.assignee, "escalation_level": self.escalation_level,
            "responsibility_chain": list(self.chain), "opened_ms": self.opened_ms,
            "step_due_ms": self.step_due_ms, "close_due_ms": self.close_due_ms,
            "acknowledged_ms": self.acknowledged_ms, "acknowledged_by": self.acknowledged_by,
            "handled_ms": self.handled_ms, "handled_by": self.handled_by, "cause": self.cause,
            "measures": self.measures, "attachments": list(self.attachments),
            "verified_ms": self.verified_ms, "verified_by": self.verified_by,
            "closed_ms": self.closed_ms, "closed_by": self.closed_by,
            "closed_on_time": (self.closed_ms <= self.close_due_ms
                               if self.closed_ms is not None and self.close_due_ms else None),
            "overdue_steps": list(self.overdue_steps),
        }  # fmt: skip


@dataclass
class CaseBook:
    """All cases of one enterprise; the open one of each subject."""

    cases: dict[str, Case] = field(default_factory=dict)
    open_by_subject: dict[str, str] = field(default_factory=dict)

    # -- outputs -------------------------------------------------------------------------------

    def _event(
        self, case: Case, event: str, now: int, actor: str | None = None,
        detail: str | None = None, action_id: str | None = None,
    ) -> list[Routed]:  # fmt: skip
        case.seq += 1
        record = {
            "event_id": hashlib.sha1(f"{case.case_id}:{case.seq}".encode()).hexdigest()[:20],
            "case_id": case.case_id,
            "seq": case.seq,
            "enterprise_code": case.enterprise_code,
            "subject_type": case.subject_type,
            "subject_code": case.subject_code,
            "event": event,
            "status": case.status,
            "level": case.level,
            "assignee": case.assignee,
            "escalation_level": case.escalation_level,
            "actor": actor,
            "detail": detail,
            "action_id": action_id,
            "event_time_ms": now,
        }
        record = link(record, getattr(case, "last_hash", None))  # state from before v2: None
        case.last_hash = record["hash"]
        out = [
            Routed(CASES, case.case_id, record),
            Routed(CASES_CURRENT, case.case_id, case.snapshot()),
        ]
        if event in ("opened", "escalated"):
            out.append(
                Routed(
                    CASE_NOTIFICATIONS,
                    case.case_id,
                    {
                        "notification_id": f"{case.case_id}:{case.seq}",
                        "case_id": case.case_id,
                        "kind": event,
                        "recipient": case.assignee,
                        "subject_code": case.subject_code,
                        "level": case.level,
                        "message": detail or "",
                        "event_time_ms": now,
                    },
                )  # fmt: skip
            )
        return out

    # -- warnings ------------------------------------------------------------------------------

    def open_or_attach(
        self, subject: str, subject_type: str, trigger: str, level: str | None, now: int,
        policy: CasePolicy, chain: tuple[str, ...], enterprise: str,
    ) -> list[Routed]:  # fmt: skip
        """Open a case for the subject, or add the warning to its open case."""
        open_id = self.open_by_subject.get(subject)
        if open_id is not None:
            case = self.cases[open_id]
            if trigger not in case.triggers:
                case.triggers.append(trigger)
            worse = case.level is None or LEVELS.index(level or "blue") < LEVELS.index(case.level)
            if level is not None and worse:
                case.level = level
                return self._event(case, "level_raised", now, detail=trigger)
            return [Routed(CASES_CURRENT, case.case_id, case.snapshot())]
        case = Case(
            case_id=case_id_for(subject, now), enterprise_code=enterprise,
            subject_type=subject_type, subject_code=subject, chain=tuple(chain),
            opened_ms=now, level=level, triggers=[trigger],
            step_due_ms=now + int(policy.ack_within_s * 1000),
            close_due_ms=now + int(policy.close_within_s * 1000),
        )  # fmt: skip
        self.cases[case.case_id] = case
        self.open_by_subject[subject] = case.case_id
        return self._event(case, "opened", now, detail=trigger)

    def on_level(
        self, hs: str, level: str, previous: str | None, now: int, policy: CasePolicy,
        chain: tuple[str, ...], enterprise: str,
    ) -> list[Routed]:  # fmt: skip
        """React to a hazard source's color change: open (or update) a case on a warning color."""
        if level not in policy.open_on_levels:
            return []
        trigger = f"{hs} {previous or 'none'}->{level}"
        return self.open_or_attach(hs, "hazard_source", trigger, level, now, policy, chain,
                                   enterprise)  # fmt: skip

    # -- time ----------------------------------------------------------------------------------

    def next_timer_ms(self) -> int | None:
        """Return the earliest step deadline of a case that is not closed."""
        dues = [c.step_due_ms for c in self.cases.values()
                if c.status != "closed" and c.step_due_ms is not None]  # fmt: skip
        return min(dues) if dues else None

    def on_time(self, now: int, policy: CasePolicy) -> list[Routed]:
        """Escalate every case whose step deadline has passed by `now`."""
        out: list[Routed] = []
        for case in sorted(self.cases.values(), key=lambda c: c.case_id):
            if case.status == "closed" or case.step_due_ms is None or case.step_due_ms > now:
                continue
            step = {"open": "acknowledge", "acknowledged": "handle"}.get(case.status, "close")
            case.overdue_steps.append(step)
            if case.escalation_level + 1 < len(case.chain):
                case.escalation_level += 1
                within = {"open": policy.ack_within_s, "acknowledged": policy.handle_within_s}
                case.step_due_ms = now + int(within.get(case.status, policy.close_within_s) * 1000)
                reason = f"{step} overdue; escalated to {case.assignee}"
            else:
                case.step_due_ms = None  # top of the chain: stays overdue, no further escalation
                reason = f"{step} overdue at the top of the chain ({case.assignee})"
            out += self._event(case, "escalated", now, detail=reason)
        return out

    # -- operator actions ----------------------------------------------------------------------

    def on_action(self, action: dict[str, Any], now: int, policy: CasePolicy) -> list[Routed]:
        """Apply a case_action.v1 record; an invalid one is audited as `action_rejected`."""
        case = self.cases.get(action.get("case_id", ""))
        kind = action.get("action")
        actor = action.get("actor")
        aid = action.get("action_id")
        if case is None:
            return []  # no such case (yet): nothing to audit against; the CLI checks first
        reason = None
        if kind not in CASE_ACTION_KINDS:
            reason = f"unknown action {kind!r}"
        elif case.status == "closed":
            reason = "case is closed"
        elif kind in _NEXT and case.status != _NEXT[kind][0]:
            reason = f"cannot {kind} a case that is {case.status}"
        elif kind == "handle" and not (action.get("cause") and action.get("measures")):
            reason = "handle needs a cause and the measures taken"
        elif kind == "verify" and actor == case.handled_by:
            reason = "the verifier must not be the person who handled the case"
        if reason:
            return self._event(case, "action_rejected", now, actor, reason, aid)
        if kind == "comment":
            return self._event(case, "commented", now, actor, action.get("comment"), aid)
        case.status = _NEXT[kind][1]
        if kind == "ack":
            case.acknowledged_ms, case.acknowledged_by = now, actor
            case.step_due_ms = now + int(policy.handle_within_s * 1000)
        elif kind == "handle":
            case.handled_ms, case.handled_by = now, actor
            case.cause, case.measures = action.get("cause"), action.get("measures")
            case.attachments = list(action.get("attachments") or [])
            case.step_due_ms = case.close_due_ms if case.close_due_ms > now else None
        elif kind == "verify":
            case.verified_ms, case.verified_by = now, actor
        else:
            case.closed_ms, case.closed_by = now, actor
            case.step_due_ms = None
            self.open_by_subject.pop(case.subject_code, None)
        return self._event(case, {"ack": "acknowledged", "handle": "handled",
                                  "verify": "verified", "close": "closed"}[kind],
                           now, actor, action.get("comment"), aid)  # fmt: skip
