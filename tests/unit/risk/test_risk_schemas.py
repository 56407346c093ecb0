"""Every record the risk engine routes is valid under its topic's schema (risk, warning cases)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pipelines.alarms.processor import Routed
from pipelines.plant import load_plant
from pipelines.risk.engine import RiskEngine, risk_plant
from pipelines.risk.model import load_model
from pipelines.schema_registry import SchemaRegistry, SchemaViolation
from pipelines.topics import load_topics

T0 = 1_700_000_000_000
REGISTRY = SchemaRegistry.load()
TOPICS = {t.name: t for t in load_topics() if not t.is_dlq}
ENTERPRISE = load_plant().enterprise_code
RISK_OUTPUT_TOPICS = {"risk.levels", "risk.current", "cases", "cases.current", "case.notifications"}


def alarm(tag: str, condition: str, priority: str, ts: int, hs: str | None, area: str) -> dict:
    return {
        "tag": tag,
        "condition": condition,
        "event": "raised",
        "priority": priority,
        "alarm_class": "gas",
        "hazard_source_code": hs,
        "area_code": area,
        "event_time_ms": ts,
    }


def action(action_id: str, case_id: str, kind: str, actor: str, ts: int, **fields) -> dict:
    return {
        "action_id": action_id,
        "case_id": case_id,
        "action": kind,
        "actor": actor,
        "action_time_ms": ts,
        **fields,
    }


def check(record_type: str, record: dict) -> tuple[str, str] | None:
    try:
        REGISTRY.validator(record_type)(record)
    except SchemaViolation as exc:
        return exc.kind, exc.field
    return None


@pytest.fixture(scope="module")
def run() -> tuple[list[Routed], list[dict]]:
    """Return (routed records, case actions fed) of a case from opening to closing.

    HS-01 goes yellow -> orange -> red on three gas alarms (a case opens on orange), the
    acknowledge step runs overdue (escalated to P004), P004 acknowledges and handles it,
    P004's own verification is rejected, P001 verifies and closes; a critical alarm outside
    any hazard source opens an enterprise case without a color.
    """
    engine = RiskEngine(risk_plant(load_plant()), load_model())
    out = engine.on_input("alarm", alarm("GD-TF10", "H", "high", T0, "HS-01", "A-TF"))
    out += engine.on_input("alarm", alarm("GD-TF11", "H", "high", T0 + 1_000, "HS-01", "A-TF"))
    out += engine.on_input("alarm", alarm("GD-TF10", "HH", "critical", T0 + 2_000, "HS-01", "A-TF"))
    out += engine.on_time(T0 + 400_000)
    case_id = next(r.record["case_id"] for r in out if r.topic == "cases")
    actions = [
        action("A1", case_id, "ack", "P004", T0 + 401_000),
        action(
            "A2",
            case_id,
            "handle",
            "P004",
            T0 + 402_000,
            cause="gasket",
            measures="replaced",
            attachments=["file:///x.jpg"],
        ),
        action("A3", case_id, "verify", "P004", T0 + 403_000),  # rejected: the handler
        action("A4", case_id, "comment", "P010", T0 + 404_000, comment="seen on site"),
        action("A5", case_id, "verify", "P001", T0 + 405_000),
        action("A6", case_id, "close", "P001", T0 + 406_000),
    ]
    for record in actions:
        out += engine.on_input("case_action", record)
    out += engine.on_input("alarm", alarm("GD-OF01", "HH", "critical", T0 + 407_000, None, "A-OF"))
    return out, actions


def violations(routed: list[Routed]) -> Iterator[str]:
    for r in routed:
        try:
            REGISTRY.validator(TOPICS[r.topic].schema)(r.record)
        except SchemaViolation as exc:
            yield f"{r.topic} {r.key}: {exc}"


def test_every_routed_record_validates_against_its_topics_schema(run):
    """GIVEN a case opened, escalated, handled, rejected, verified and closed, and an enterprise
    case WHEN each routed record is validated with its topic's latest schema THEN none fails,
    and every risk output topic was exercised."""
    routed, _actions = run
    assert {r.topic for r in routed} == RISK_OUTPUT_TOPICS
    assert list(violations(routed)) == []


def test_the_run_covers_the_nullable_and_conditional_shapes(run):
    """GIVEN the same run WHEN its case records are read THEN they include the shapes the
    schemas describe: a rejected action, a case closed on time, a colorless enterprise case."""
    routed, _actions = run
    events = [r.record for r in routed if r.topic == "cases"]
    assert [e["event"] for e in events] == [
        "opened",
        "level_raised",
        "escalated",
        "acknowledged",
        "handled",
        "action_rejected",
        "commented",
        "verified",
        "closed",
        "opened",
    ]
    last_snapshot = [r.record for r in routed if r.topic == "cases.current"][-2]
    assert (last_snapshot["status"], last_snapshot["closed_on_time"]) == ("closed", True)
    enterprise = events[-1]
    assert (enterprise["subject_type"], enterprise["level"]) == ("enterprise", None)
    firm = [r.record for r in routed if r.topic == "risk.levels" and r.key == ENTERPRISE]
    assert [r["factors"][0] for r in firm] == [
        {"factor": "worst_object", "value": "area:A-TF", "contribution": 0.0, "causes": []}
    ] * len(firm)


def test_case_actions_fed_to_the_engine_are_valid_case_actions(run):
    """GIVEN the case actions of the run WHEN validated as case.actions records THEN all pass."""
    _routed, actions = run
    assert [check(TOPICS["case.actions"].schema, a) for a in actions] == [None] * len(actions)


def test_handle_without_cause_and_measures_is_rejected_by_the_schema():
    """GIVEN a handle action WHEN cause is absent, null or empty THEN the case_action schema
    rejects it naming cause; WHEN measures is absent THEN it names measures."""
    handle = action("A9", "CASE-HS-01-1", "handle", "P004", T0, measures="replaced")
    assert check("risk/case_action", handle) == ("missing_field", "cause")
    assert check("risk/case_action", {**handle, "cause": None}) == ("wrong_type", "cause")
    assert check("risk/case_action", {**handle, "cause": ""}) == ("schema_violation", "cause")
    no_measures = {**handle, "cause": "gasket"}
    del no_measures["measures"]
    assert check("risk/case_action", no_measures) == ("missing_field", "measures")
    assert check("risk/case_action", {**handle, "cause": "gasket"}) is None
    assert check("risk/case_action", {**handle, "action": "ack"}) is None


def test_attachments_must_be_uris():
    """GIVEN a handle action WHEN an attachment is a bare file name THEN schema_violation."""
    handle = action("A9", "C", "handle", "P004", T0, cause="gasket", measures="replaced")
    assert check("risk/case_action", {**handle, "attachments": ["x.jpg"]}) == (
        "schema_violation",
        "attachments[0]",
    )
