"""The risk job end to end on real Kafka: inputs applied as they arrive; streamed colors and
cases equal replay's for inputs that arrive in order; a late input is applied at the engine
clock; poison records on any input go to that topic's .dlq while the job keeps running."""

from __future__ import annotations

import json
import time
import uuid

import httpx
import pytest

from pipelines.ingest import IngestProducer, RecordValidator
from pipelines.kafka_stats import read_since
from streaming_jobs.risk_job import INPUT_TOPICS, JOB_TOPICS

pytestmark = pytest.mark.integration

ENTERPRISE = "91370612MA3C7H5Q21"
GAP_S = 0.5  # between inputs sent in order: each is read before the next one exists


def _alarm(tag, cond, event, prio, ts, n):
    return {
        "event_id": f"e{n}", "episode_id": f"{tag}:{cond}:1", "enterprise_code": ENTERPRISE,
        "hazard_source_code": "HS-01", "unit_code": "U-TF", "area_code": "A-TF", "tag": tag,
        "condition": cond, "alarm_class": "gas", "event": event, "limit": 25.0, "value": 30.0,
        "unit": "%LEL", "priority": prio, "event_time_ms": ts,
    }  # fmt: skip


def _position(pid, area, ts):
    return {"person_id": pid, "tag_id": f"UWB-{pid}", "enterprise_code": ENTERPRISE,
            "person_type": "employee", "area_code": area, "x_m": 1.0, "y_m": 1.0, "floor": 1,
            "battery_pct": 80.0, "sos": False, "event_time_ms": ts}  # fmt: skip


def _reading(ts):
    return {"enterprise_code": ENTERPRISE, "unit_code": "U-TF", "tag": "GD-TF10",
            "metric_code": "gas_combustible", "value": 0.0, "unit": "%LEL", "quality": "good",
            "event_time_ms": ts}  # fmt: skip


def _time(record) -> int:
    return record.get("event_time_ms") or record["action_time_ms"]


def _job_health(settings) -> tuple[str, int]:
    """Return the risk job's state and how many failures it had (its REST exception history)."""
    base = f"http://127.0.0.1:{settings.risk.rest_port}"
    job = httpx.get(f"{base}/jobs/overview", timeout=5).json()["jobs"][0]
    history = httpx.get(f"{base}/jobs/{job['jid']}/exceptions", timeout=5).json()
    return job["state"], len(history["exceptionHistory"]["entries"])


def _wait_for(condition, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not condition():
        time.sleep(1.0)
    time.sleep(3.0)  # anything that would follow shows up now


def test_streamed_risk_levels_and_cases_equal_replay(kafka, fresh_topics):
    """GIVEN the risk job running WHEN a leak's gas alarms, a control-room off-post video event,
    people moving and an operator acknowledging the case arrive in event-time order, then a
    reading moves the clock THEN HS-01 goes orange then red and back to blue, a case opens, is
    escalated and acknowledged, the streamed risk.levels, cases, cases.current and
    case.notifications records equal `replay` on the same inputs, and the job never failed."""
    from pipelines.plant import load_plant
    from pipelines.risk.engine import risk_plant
    from pipelines.risk.model import load_model
    from pipelines.risk.replay import kafka_inputs, replay
    from pipelines.services import flink

    specs = fresh_topics(*JOB_TOPICS, partitions=1)
    prefix = specs["alarms"].name[: -len("alarms")]
    inputs = {"alarms", "video.events", "positions", "case.actions", "readings"}
    validator = RecordValidator(kafka.ingest, topics=[specs[t] for t in inputs])
    producer = IngestProducer(kafka, source="test", validator=validator, ledger_dir=None)
    t0 = (int(time.time() * 1000) - 3 * 3_600_000) // 1000 * 1000
    sent = [
        ("alarms", _alarm("GD-TF10", "H", "raised", "high", t0 + 10_000, 1)),
        ("alarms", _alarm("GD-TF11", "H", "raised", "high", t0 + 12_000, 2)),
        ("alarms", _alarm("GD-TF10", "HH", "raised", "critical", t0 + 15_000, 3)),
        (
            "video.events",
            {
                "event_id": "v1",
                "enterprise_code": ENTERPRISE,
                "camera_id": "CAM-CR01",
                "area_code": "A-CR",
                "event_type": "off_post",
                "confidence": 0.93,
                "event_time_ms": t0 + 16_000,
            },
        ),  # fmt: skip
        ("alarms", _alarm("GD-TF10", "HH", "cleared", "critical", t0 + 40_000, 4)),
        ("alarms", _alarm("GD-TF11", "H", "cleared", "high", t0 + 45_000, 5)),
        ("alarms", _alarm("GD-TF10", "H", "cleared", "high", t0 + 50_000, 6)),
    ]
    sent += [("positions", _position(f"P0{10 + i}", "A-RX", t0 + 1_000 * i)) for i in range(6)]
    case_id = f"CASE-HS-01-{t0 + 12_000}"
    sent.append(("case.actions", {"action_id": "a1", "case_id": case_id, "action": "ack",
                                  "actor": "P004", "action_time_ms": t0 + 400_000}))  # fmt: skip

    def topic_records(name):
        return [json.loads(v) for _ts, v in read_since(kafka, prefix + name, 0) if v]

    # The job runs first (unbounded, as in production) and the inputs arrive in event-time order.
    # Then one sensor reading 8,000 s later moves the clock (the reading time minus the clock lag)
    # past every step deadline of the case.
    clock = _reading(t0 + 8_000_000)
    until = clock["event_time_ms"] - kafka.risk.clock_lag_ms
    group = f"t{uuid.uuid4().hex[:6]}"
    flink.start_job(kafka, "risk", ["--topic-prefix", prefix, "--group", group])
    try:
        flink.wait_until_running(kafka, "risk", timeout_s=420)
        for topic, record in sorted(sent, key=lambda tr: _time(tr[1])):
            verdict = producer.submit(specs[topic].name, record=record)
            assert verdict.accepted, verdict.reason
            producer.flush()
            time.sleep(GAP_S)
        assert producer.submit(specs["readings"].name, record=clock).accepted
        producer.flush()
        _wait_for(lambda: len(topic_records("cases")) >= 6, 180)
        assert _job_health(kafka) == ("RUNNING", 0)
    finally:
        flink.stop_job(kafka, "risk")
    levels = topic_records("risk.levels")
    hs1 = [(r["event_time_ms"] - t0, r["level"]) for r in levels if r["object_code"] == "HS-01"]
    # first rated at the first input (a position), then yellow (one H), orange (two H), red (HH)
    assert hs1[:4] == [(0, "blue"), (10_000, "yellow"), (12_000, "orange"), (15_000, "red")]
    assert hs1[-1][1] == "blue"
    cases = topic_records("cases")
    assert [(c["event"], c["assignee"]) for c in cases] == [
        ("opened", "P010"),
        ("level_raised", "P010"),
        ("escalated", "P004"),
        ("acknowledged", "P004"),
        ("escalated", "P001"),
        ("escalated", "P001"),
    ]  # fmt: skip  (not handled within 1 h of the ack: P001; then stays at the top)

    plant, model = risk_plant(load_plant()), load_model()
    expected = replay(list(kafka_inputs(kafka, 0, 2**62, prefix)), plant, model, until)
    for topic in ("risk.levels", "cases", "cases.current", "case.notifications"):
        assert topic_records(topic) == [r.record for r in expected if r.topic == topic], topic

    # The HTTP API serves what the job wrote and queues validated actions for it.
    from fastapi.testclient import TestClient

    from pipelines.ingest_api import create_app

    api_validator = RecordValidator(kafka.ingest, topics=[specs["case.actions"]])
    api_producer = IngestProducer(kafka, source="http", validator=api_validator, ledger_dir=None)
    client = TestClient(create_app(kafka, producer=api_producer, topic_prefix=prefix))
    auth = {"Authorization": f"Bearer {kafka.ingest.http_token}"}
    listed = client.get("/v1/cases?status=active", headers=auth).json()["cases"]
    assert [(c["case_id"], c["status"], c["assignee"]) for c in listed] == [
        (case_id, "acknowledged", "P001")
    ]
    shown = client.get(f"/v1/cases/{case_id}", headers=auth).json()
    assert [e["event"] for e in shown["history"]] == [c["event"] for c in cases]
    assert client.get("/v1/cases/CASE-nope", headers=auth).status_code == 404
    bad = client.post(f"/v1/cases/{case_id}/actions", headers=auth,
                      json={"action": "handle", "actor": "P010", "cause": "gasket"})  # fmt: skip
    assert bad.status_code == 422 and "measures" in bad.json()["detail"]
    ok = client.post(f"/v1/cases/{case_id}/actions", headers=auth,
                     json={"action": "handle", "actor": "P010", "cause": "gasket",
                           "measures": "replaced"})  # fmt: skip
    assert ok.status_code == 202
    queued = topic_records("case.actions")
    assert [(a["action"], a["actor"]) for a in queued] == [("ack", "P004"), ("handle", "P010")]
    current = {f"{o['object_type']}|{o['object_code']}": o["level"]
               for o in client.get("/v1/risk/current", headers=auth).json()["objects"]}  # fmt: skip
    assert current["hazard_source|HS-01"] == "blue"
    assert len(current) == len(plant.grades) + len(plant.area_hs) + 1


# Poison sent raw to every input topic: (value, reason_code, how the reason starts).
POISON = [
    (b"not json{", "malformed_json", "not valid JSON: "),
    (b"[1, 2]", "wrong_type", "record must be a JSON object, got list"),
    (None, "tombstone", "a null value (tombstone): no JSON object"),
]


def test_poison_is_dead_lettered_late_input_applied_and_the_job_keeps_running(kafka, fresh_topics):
    """GIVEN the risk job running WHEN a non-JSON record, a JSON array and a tombstone arrive on
    each of its input topics, and a position with a string event_time_ms, then valid alarms, a
    position at 20 s and (after it was applied) an HH alarm of 15 s THEN each poison record is in
    its topic's .dlq with its reason, the job is RUNNING and never failed, HS-01 goes yellow,
    orange, and red at 20 s (the late HH applied at the engine clock, not dropped), equal to
    replay in arrival order."""
    from confluent_kafka import Producer

    from pipelines.plant import load_plant
    from pipelines.risk.engine import risk_plant
    from pipelines.risk.model import load_model
    from pipelines.risk.replay import replay
    from pipelines.services import flink

    specs = fresh_topics(*JOB_TOPICS, partitions=1)
    prefix = specs["alarms"].name[: -len("alarms")]
    validator = RecordValidator(kafka.ingest, topics=[specs["alarms"], specs["positions"]])
    producer = IngestProducer(kafka, source="test", validator=validator, ledger_dir=None)
    raw = Producer({"bootstrap.servers": kafka.kafka.bootstrap_servers})
    t0 = (int(time.time() * 1000) - 3_600_000) // 1000 * 1000

    def topic_records(name):
        return [json.loads(v) for _ts, v in read_since(kafka, prefix + name, 0) if v]

    arrived = [
        ("alarms", _alarm("GD-TF10", "H", "raised", "high", t0 + 10_000, 1)),
        ("alarms", _alarm("GD-TF11", "H", "raised", "high", t0 + 12_000, 2)),
        ("positions", _position("P010", "A-RX", t0 + 20_000)),
        ("alarms", _alarm("GD-TF10", "HH", "raised", "critical", t0 + 15_000, 3)),  # late
    ]
    flink.start_job(
        kafka, "risk", ["--topic-prefix", prefix, "--group", f"t{uuid.uuid4().hex[:6]}"]
    )
    try:
        flink.wait_until_running(kafka, "risk", timeout_s=420)
        for topic in INPUT_TOPICS:
            for value, _code, _reason in POISON:
                raw.produce(prefix + topic, value=value, key=b"k1")
        typo = _position("P011", "A-RX", t0)  # a record of the right shape with a wrong type
        typo["event_time_ms"] = "soon"
        raw.produce(prefix + "positions", value=json.dumps(typo).encode(), key=b"P011")
        raw.flush()
        for topic, record in arrived:
            assert producer.submit(specs[topic].name, record=record).accepted
            producer.flush()
            time.sleep(2.0 if topic == "positions" else GAP_S)

        def settled():
            dead = sum(len(topic_records(t + ".dlq")) for t in INPUT_TOPICS)
            red = [r for r in topic_records("risk.levels") if r["level"] == "red"]
            return dead > len(INPUT_TOPICS) * len(POISON) and red

        _wait_for(settled, 120)
        assert _job_health(kafka) == ("RUNNING", 0)
    finally:
        flink.stop_job(kafka, "risk")

    for topic in INPUT_TOPICS:
        dead = topic_records(topic + ".dlq")[: len(POISON)]
        assert [(d["source_topic"], d["reason_code"], d["source"]) for d in dead] == [
            (prefix + topic, code, "risk-job") for _v, code, _r in POISON
        ], topic
        for d, (value, _code, reason) in zip(dead, POISON, strict=True):
            assert d["key"] == "k1" and d["original_size_bytes"] == len(value or b"")
            assert d["reason"].startswith(reason), d["reason"]
    typo = topic_records("positions.dlq")[len(POISON) :]
    assert [(d["reason_code"], d["reason"]) for d in typo] == [
        (
            "wrong_type",
            "positioning/personnel_position.v1: field 'event_time_ms' must be integer, got string",
        )
    ]

    levels = topic_records("risk.levels")
    hs1 = [(r["event_time_ms"] - t0, r["level"]) for r in levels if r["object_code"] == "HS-01"]
    assert hs1 == [(10_000, "yellow"), (12_000, "orange"), (20_000, "red")]
    kinds = {"alarms": "alarm", "positions": "position"}
    expected = replay(
        [(kinds[t], r) for t, r in arrived], risk_plant(load_plant()), load_model(),
        end_ms=t0 + 20_000, arrival_order=True,
    )  # fmt: skip
    for topic in ("risk.levels", "cases"):
        assert topic_records(topic) == [r.record for r in expected if r.topic == topic], topic
