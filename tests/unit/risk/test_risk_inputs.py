"""What the risk job reads: valid inputs applied at once, readings move the clock with its lag,
poison records (not JSON, wrong type, tombstone, unusable) become dead letters with the reason."""

from __future__ import annotations

import base64

import orjson
import pytest

from pipelines.plant import load_plant
from pipelines.risk.engine import TOPIC_KINDS, RiskEngine, risk_plant
from pipelines.risk.inputs import InputChecker, InputRouter, clock_verdict
from pipelines.risk.model import load_model
from pipelines.risk.replay import replay
from pipelines.schema_registry import SchemaRegistry

PLANT = risk_plant(load_plant())
MODEL = load_model()
T = 1_764_288_000_000
PREFIX = "t1."
DEAD_LETTER = SchemaRegistry.load().validator("ingest/dead_letter")
TOPICS = {PREFIX + t: t for t in (*TOPIC_KINDS, "readings")}


@pytest.fixture(scope="module")
def router():
    return InputRouter(TOPICS, InputChecker.for_topics(), clock_lag_ms=2000)


def alarm(event, ts, n, cond="H", prio="high"):
    return {
        "event_id": f"e{n}", "episode_id": f"GD-TF10:{cond}:1", "enterprise_code": "E",
        "unit_code": "U-TF", "hazard_source_code": "HS-01", "area_code": "A-TF",
        "tag": "GD-TF10", "condition": cond, "alarm_class": "gas", "event": event,
        "value": 30.0, "priority": prio, "event_time_ms": ts,
    }  # fmt: skip


def levels(routed, code="HS-01"):
    return [(r.record["event_time_ms"] - T, r.record["level"]) for r in routed
            if r.topic == "risk.levels" and r.record["object_code"] == code]  # fmt: skip


def test_valid_inputs_are_applied_at_once_and_equal_replay(router):
    """GIVEN a high then a critical HH gas alarm as raw Kafka values WHEN routed one by one THEN
    HS-01 turns yellow then orange at their event times, as replay of the same records."""
    engine = RiskEngine(PLANT, MODEL)
    records = [alarm("raised", T + 10_000, 1), alarm("raised", T + 15_000, 2, "HH", "critical")]
    got = []
    for rec in records:
        got += router.on_record(engine, PREFIX + "alarms", "GD-TF10", orjson.dumps(rec))
    assert levels(got) == [(10_000, "yellow"), (15_000, "orange")]
    expected = replay([("alarm", r) for r in records], PLANT, MODEL, end_ms=T + 15_000)
    assert [r.record for r in got] == [r.record for r in expected]


def test_readings_move_the_clock_by_their_time_minus_the_lag(router):
    """GIVEN HS-01 red from an HH alarm cleared at 40 s (hold 60 s) WHEN the readings' clock
    reaches 101 s THEN nothing drops (101 - 2 s lag < 100 s); at 102 s HS-01 turns blue at
    exactly 100 s; a reading record with a usable time does the same."""
    engine = RiskEngine(PLANT, MODEL)
    for rec in (alarm("raised", T + 15_000, 1, "HH", "critical"),
                alarm("cleared", T + 40_000, 2, "HH", "critical")):  # fmt: skip
        router.on_record(engine, PREFIX + "alarms", "GD-TF10", orjson.dumps(rec))
    assert levels(router.on_clock(engine, T + 101_000)) == []
    reading = {"tag": "GD-TF10", "value": 0.0, "event_time_ms": T + 102_000}
    out = router.on_record(engine, PREFIX + "readings", "GD-TF10", orjson.dumps(reading))
    assert levels(out) == [(100_000, "blue")]


POISON = [
    (b"not json{", "malformed_json", "not valid JSON: "),
    (b"[1, 2]", "wrong_type", "record must be a JSON object, got list"),
    (None, "tombstone", "a null value (tombstone): no JSON object"),
]


@pytest.mark.parametrize("topic", [*TOPIC_KINDS, "readings"])
@pytest.mark.parametrize(("raw", "code", "reason"), POISON)
def test_poison_on_any_input_topic_is_dead_lettered_with_the_reason(router, topic, raw, code,
                                                                     reason):  # fmt: skip
    """GIVEN a non-JSON record, a JSON array or a tombstone on an input topic WHEN routed THEN one
    dead letter goes to `<topic>.dlq` (envelope: topic read, reason, exact bytes, risk-job) and
    the engine state is untouched."""
    engine = RiskEngine(PLANT, MODEL)
    out = router.on_record(engine, PREFIX + topic, "k1", raw)
    assert [(r.topic, r.key) for r in out] == [(topic + ".dlq", "k1")]
    env = out[0].record
    assert (env["source_topic"], env["reason_code"], env["source"]) == (
        PREFIX + topic, code, "risk-job",
    )  # fmt: skip
    assert env["reason"].startswith(reason)
    assert base64.b64decode(env["original_b64"]) == (raw or b"")
    assert env["original_size_bytes"] == len(raw or b"")
    assert engine.state.started_ms is None
    DEAD_LETTER(env)


def test_a_record_of_the_wrong_shape_names_the_field():
    """GIVEN an alarm whose event_time_ms is a string, and a reading without event_time_ms WHEN
    checked THEN the verdicts name the field: wrong_type and missing_field."""
    bad = alarm("raised", T, 1)
    bad["event_time_ms"] = "soon"
    verdict = InputChecker.for_topics().check("alarm", orjson.dumps(bad))
    assert (verdict.reason_code, "event_time_ms" in verdict.reason) == ("wrong_type", True)
    verdict = clock_verdict(b'{"tag": "GD-TF10", "value": 1.0}')
    assert (verdict.reason_code, verdict.reason) == (
        "missing_field", "field 'event_time_ms' is missing",
    )  # fmt: skip


def test_an_input_the_engine_cannot_apply_is_dead_lettered_not_raised():
    """GIVEN a checker that accepts anything WHEN an alarm lacking its tag is routed THEN the
    engine's error becomes a schema_violation dead letter instead of an exception."""

    class AcceptAll(InputChecker):
        def __init__(self):
            self._validate = {kind: lambda _r: None for kind in TOPIC_KINDS.values()}

    router = InputRouter(TOPICS, AcceptAll(), clock_lag_ms=0)
    out = router.on_record(
        RiskEngine(PLANT, MODEL), PREFIX + "alarms", None, b'{"event_time_ms": 1}'
    )
    assert [(r.topic, r.record["reason_code"]) for r in out] == [("alarms.dlq", "schema_violation")]
    assert out[0].record["reason"].startswith("the risk engine cannot apply it: KeyError(")
