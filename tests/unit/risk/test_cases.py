"""Warning cases: opened by warnings, escalated along the 包保 chain, closed by people."""

from __future__ import annotations

from pipelines.plant import load_plant
from pipelines.risk.engine import RiskEngine, risk_plant
from pipelines.risk.model import load_model

PLANT = risk_plant(load_plant())
MODEL = load_model()
T = 1_764_288_000_000


def alarm(tag, cond, event, prio, ts, hs="HS-01", area="A-TF"):
    return {"tag": tag, "condition": cond, "event": event, "priority": prio,
            "alarm_class": "gas", "hazard_source_code": hs, "area_code": area,
            "event_time_ms": ts}  # fmt: skip


def act(case_id, action, actor, ms, **fields):
    return {"action_id": f"{action}-{ms}", "case_id": case_id, "action": action, "actor": actor,
            "action_time_ms": T + ms, **fields}  # fmt: skip


def events(routed):
    return [
        ((r.record["event_time_ms"] - T) // 1000, r.record["event"], r.record["assignee"],
         r.record["status"], r.record["detail"])
        for r in routed if r.topic == "cases"
    ]  # fmt: skip


def leak(engine):
    out = engine.on_input("alarm", alarm("GD-TF10", "H", "raised", "high", T))
    out += engine.on_input("alarm", alarm("GD-TF11", "H", "raised", "high", T + 2000))
    out += engine.on_input("alarm", alarm("GD-TF10", "HH", "raised", "critical", T + 5000))
    return out


def test_orange_opens_a_case_for_the_operations_lead_and_red_raises_its_level():
    """GIVEN HS-01 going orange then red WHEN processed THEN one case opens at orange, assigned to
    HS-01's operations lead (P010) with a notification, and red raises the case's level."""
    engine = RiskEngine(PLANT, MODEL)
    out = leak(engine)
    assert events(out) == [
        (2, "opened", "P010", "open", "HS-01 yellow->orange"),
        (5, "level_raised", "P010", "open", "HS-01 orange->red"),
    ]
    notes = [r.record for r in out if r.topic == "case.notifications"]
    assert [(n["kind"], n["recipient"], n["case_id"]) for n in notes] == [
        ("opened", "P010", f"CASE-HS-01-{T + 2000}")
    ]
    current = [r.record for r in out if r.topic == "cases.current"][-1]
    assert current["level"] == "red"
    assert current["triggers"] == [
        "HS-01 yellow->orange", "alarm GD-TF10 HH critical", "HS-01 orange->red",
    ]  # fmt: skip


def test_unacknowledged_case_escalates_up_the_chain_then_stops():
    """GIVEN an open case nobody acknowledges WHEN time passes THEN it escalates to the technical
    lead after 300 s, the principal head after 600 s, and then stays overdue without more."""
    engine = RiskEngine(PLANT, MODEL)
    leak(engine)
    out = engine.on_time(T + 3 * 3600_000)
    assert events(out) == [
        (302, "escalated", "P004", "open", "acknowledge overdue; escalated to P004"),
        (602, "escalated", "P001", "open", "acknowledge overdue; escalated to P001"),
        (902, "escalated", "P001", "open", "acknowledge overdue at the top of the chain (P001)"),
    ]
    assert [r.record["recipient"] for r in out if r.topic == "case.notifications"] == [
        "P004", "P001", "P001",
    ]  # fmt: skip


def test_full_loop_ack_handle_verify_close_on_time():
    """GIVEN a case WHEN acknowledged, handled with cause and measures, verified by another
    person and closed THEN each step is recorded and the case is closed on time."""
    engine = RiskEngine(PLANT, MODEL)
    leak(engine)
    cid = f"CASE-HS-01-{T + 2000}"
    out = engine.on_input("case_action", act(cid, "ack", "P010", 60_000))
    handle = act(cid, "handle", "P010", 900_000, cause="gasket", measures="replaced",
                 attachments=["s3://x/1.jpg"])  # fmt: skip
    out += engine.on_input("case_action", handle)
    out += engine.on_input("case_action", act(cid, "verify", "P004", 1_000_000))
    out += engine.on_input("case_action", act(cid, "close", "P004", 1_100_000, comment="done"))
    assert [e[1:4] for e in events(out)] == [
        ("acknowledged", "P010", "acknowledged"), ("handled", "P010", "handled"),
        ("verified", "P010", "verified"), ("closed", "P010", "closed"),
    ]  # fmt: skip
    final = [r.record for r in out if r.topic == "cases.current"][-1]
    assert (final["acknowledged_by"], final["handled_by"], final["verified_by"],
            final["closed_by"]) == ("P010", "P010", "P004", "P004")  # fmt: skip
    assert (final["cause"], final["measures"], final["attachments"]) == (
        "gasket", "replaced", ["s3://x/1.jpg"],
    )  # fmt: skip
    assert final["closed_on_time"] is True
    assert final["overdue_steps"] == []
    assert engine.on_time(T + 10 * 86_400_000) == []  # nothing left to escalate


def test_invalid_actions_are_rejected_with_the_reason():
    """GIVEN a case WHEN steps are skipped, handled without measures, verified by the handler or
    acted on after close THEN each is audited as action_rejected with why, state unchanged."""
    engine = RiskEngine(PLANT, MODEL)
    leak(engine)
    cid = f"CASE-HS-01-{T + 2000}"
    steps = [
        act(cid, "close", "P010", 10_000),
        act(cid, "ack", "P010", 11_000),
        act(cid, "handle", "P010", 12_000, cause="gasket"),
        act(cid, "handle", "P010", 13_000, cause="gasket", measures="replaced"),
        act(cid, "verify", "P010", 14_000),
        act(cid, "verify", "P004", 15_000),
        act(cid, "close", "P004", 16_000),
        act(cid, "comment", "P001", 17_000, comment="late note"),
    ]
    out = []
    for step in steps:
        out += engine.on_input("case_action", step)
    assert [(e[1], e[4]) for e in events(out)] == [
        ("action_rejected", "cannot close a case that is open"),
        ("acknowledged", None),
        ("action_rejected", "handle needs a cause and the measures taken"),
        ("handled", None),
        ("action_rejected", "the verifier must not be the person who handled the case"),
        ("verified", None),
        ("closed", None),
        ("action_rejected", "case is closed"),
    ]


def test_a_new_warning_after_close_opens_a_new_case():
    """GIVEN a closed case WHEN the source warns again THEN a second case opens."""
    engine = RiskEngine(PLANT, MODEL)
    leak(engine)
    cid = f"CASE-HS-01-{T + 2000}"
    for i, (a, who) in enumerate([("ack", "P010"), ("handle", "P010"), ("verify", "P004"),
                                  ("close", "P004")]):  # fmt: skip
        engine.on_input("case_action", act(cid, a, who, 10_000 + i, cause="c", measures="m"))
    engine.on_input("alarm", alarm("GD-TF10", "HH", "cleared", "critical", T + 20_000))
    out = engine.on_input("alarm", alarm("GD-TF10", "HH", "raised", "critical", T + 30_000))
    assert [(e[1], e[2]) for e in events(out)] == [("opened", "P010")]
    assert [r.key for r in out if r.topic == "cases"] == [f"CASE-HS-01-{T + 30_000}"]


def test_critical_alarm_outside_a_hazard_source_opens_an_enterprise_case():
    """GIVEN a critical alarm with no hazard source WHEN processed THEN a case opens for the
    enterprise, assigned to the first person of the model's default chain."""
    engine = RiskEngine(PLANT, MODEL)
    out = engine.on_input("alarm", alarm("PI-UT1", "HH", "raised", "critical", T, None, "A-UT"))
    opened = [r.record for r in out if r.topic == "cases"]
    assert [(o["subject_type"], o["subject_code"], o["assignee"]) for o in opened] == [
        ("enterprise", PLANT.enterprise_code, MODEL.cases.default_chain[0])
    ]
