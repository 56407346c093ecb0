"""The jobs chain what they write: alarm.audit per tag, cases per case id; a restart from
checkpointed state continues each chain, and the records validate against their v2 schemas."""

from __future__ import annotations

import json
import pickle

from pipelines.alarms.config import TagConfig
from pipelines.alarms.processor import TagContext
from pipelines.alarms.stream import ArrivalEvaluator, BucketState
from pipelines.plant import load_plant
from pipelines.risk.engine import RiskEngine, risk_plant
from pipelines.risk.model import load_model
from pipelines.schema_registry import SchemaRegistry
from pipelines.security.chain import GENESIS, verify

T0 = 1_800_000_000_000
CFG = TagConfig.from_dict(
    {"tag": "PT-1", "kind": "process", "unit": "MPa", "limits": {"h": 10, "hh": 20},
     "deadband": 1, "priority": {"h": "medium", "hh": "high"}}
)  # fmt: skip
CTX = TagContext("E1", "HS1", "U1", "A1", "MPa")


def _reading(ts: int, value: float) -> tuple[int, str, str]:
    return 0, "PT-1", json.dumps({"tag": "PT-1", "event_time_ms": ts, "value": value})


def _action(n: int, action: str, **fields) -> str:  # noqa: ANN003
    return json.dumps({"action_id": f"a{n}", "tag": "PT-1", "condition": "HH", "action": action,
                       "actor": "op-7", "action_time_ms": T0 + 1000 + n, **fields})  # fmt: skip


ACTIONS = [_action(1, "comment", comment="checking"), _action(2, "acknowledge"),
           _action(3, "acknowledge"), _action(4, "comment", comment="pump restarted")]  # fmt: skip


def _audit(restart_after: int | None) -> list[dict]:
    """Return the alarm.audit records of ACTIONS on an HH alarm; optionally pickle and reload the
    bucket state (a restart from a checkpoint) after `restart_after` actions."""
    ev = ArrivalEvaluator({"PT-1": CFG}, {"PT-1": CTX}, clock_lag_ms=0)
    state = BucketState()
    ev.readings(state, [_reading(T0, 25.0)], 1)
    out = []
    for i, raw in enumerate(ACTIONS):
        if i == restart_after:
            state = pickle.loads(pickle.dumps(state))
        out += ev.action(state, "PT-1", raw, 1)
    return [r.record for r in out if r.topic == "alarm.audit"]


def test_alarm_audit_records_are_chained_per_tag_and_valid_v2():
    """GIVEN four actions on PT-1's HH alarm (one rejected: a second acknowledge) WHEN applied
    THEN the four audit records chain from GENESIS, verify intact and validate as alarm_audit v2."""
    audit = _audit(None)
    assert [(a["action"], a["result"]) for a in audit] == [
        ("comment", "applied"), ("acknowledge", "applied"),
        ("acknowledge", "rejected"), ("comment", "applied"),
    ]  # fmt: skip
    assert audit[0]["prev_hash"] == GENESIS
    assert [a["prev_hash"] for a in audit[1:]] == [a["hash"] for a in audit[:-1]]
    assert verify((f"#{i}", a["tag"], a) for i, a in enumerate(audit)) == (4, None)
    validate = SchemaRegistry.load().validator("alarm/alarm_audit")
    for a in audit:
        validate(a)


def test_a_restart_from_checkpointed_state_continues_the_chain():
    """GIVEN the same actions WHEN the bucket state is pickled and restored after two of them (a
    restart from a checkpoint) THEN the audit records are identical to an uninterrupted run."""
    assert _audit(2) == _audit(None)


def test_case_events_are_chained_per_case_and_valid_v2():
    """GIVEN a leak that opens a case and raises its level, then an ack and a comment WHEN the
    risk engine runs THEN the case's `cases` events chain from GENESIS per case id, verify intact
    and validate as case_event v2; a state round trip in the middle changes nothing."""

    def run(restart: bool) -> list[dict]:
        engine = RiskEngine(risk_plant(load_plant()), load_model())
        base = {"condition": "H", "event": "raised", "priority": "high", "alarm_class": "gas",
                "hazard_source_code": "HS-01", "area_code": "A-TF"}  # fmt: skip
        out = engine.on_input("alarm", {**base, "tag": "GD-TF10", "event_time_ms": T0})
        out += engine.on_input("alarm", {**base, "tag": "GD-TF11", "event_time_ms": T0 + 2000})
        out += engine.on_input(
            "alarm",
            {
                **base,
                "tag": "GD-TF10",
                "condition": "HH",
                "priority": "critical",
                "event_time_ms": T0 + 5000,
            },
        )
        if restart:
            engine.state = pickle.loads(pickle.dumps(engine.state))
        case_id = next(r.record["case_id"] for r in out if r.topic == "cases")
        for n, kind in enumerate(("ack", "comment")):
            action = {"action_id": f"c{n}", "case_id": case_id, "action": kind, "actor": "P010",
                      "comment": "on it", "action_time_ms": T0 + 6000 + n}  # fmt: skip
            out += engine.on_input("case_action", action)
        return [r.record for r in out if r.topic == "cases"]

    events = run(False)
    assert [e["event"] for e in events] == ["opened", "level_raised", "acknowledged", "commented"]
    assert events[0]["prev_hash"] == GENESIS
    assert [e["prev_hash"] for e in events[1:]] == [e["hash"] for e in events[:-1]]
    assert verify((f"#{i}", e["case_id"], e) for i, e in enumerate(events)) == (4, None)
    validate = SchemaRegistry.load().validator("risk/case_event")
    for e in events:
        validate(e)
    assert run(True) == events


def test_a_job_started_without_state_continues_from_the_topics_chain_heads():
    """GIVEN two actions audited by one evaluator WHEN a second evaluator with fresh state (a job
    started without a checkpoint) is given the topic's last hash per tag (audit_heads) and
    applies two more THEN the four records form one intact chain; without the heads the third
    record would restart at GENESIS and break it."""

    def run(actions: list[str], heads: dict[str, str] | None) -> list[dict]:
        ev = ArrivalEvaluator({"PT-1": CFG}, {"PT-1": CTX}, clock_lag_ms=0, audit_heads=heads)
        state = BucketState()
        out = []
        for raw in actions:
            out += ev.action(state, "PT-1", raw, 1)
        return [r.record for r in out if r.topic == "alarm.audit"]

    first = run(ACTIONS[:2], None)
    second = run(ACTIONS[2:], {"PT-1": first[-1]["hash"]})
    log = [(f"#{i}", a["tag"], a) for i, a in enumerate(first + second)]
    assert verify(log) == (4, None)
    restarted = run(ACTIONS[2:], None)
    log = [(f"#{i}", a["tag"], a) for i, a in enumerate(first + restarted)]
    assert verify(log)[1].where == "#2"
