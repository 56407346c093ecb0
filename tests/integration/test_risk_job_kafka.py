"""The risk job end to end on real Kafka: streamed colors and cases equal replay's."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from pipelines.ingest import IngestProducer, RecordValidator
from pipelines.kafka_stats import read_since
from streaming_jobs.risk_job import JOB_TOPICS

pytestmark = pytest.mark.integration

ENTERPRISE = "91370612MA3C7H5Q21"


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


def test_streamed_risk_levels_and_cases_equal_replay(kafka, fresh_topics):
    """GIVEN a leak's gas alarms, a control-room off-post video event, people moving and an
    operator acknowledging the case, on Kafka WHEN the risk job runs over them THEN HS-01 goes
    orange then red and back to blue, a case opens, is escalated and acknowledged, and the
    streamed risk.levels, cases and cases.current records equal `replay` on the same inputs."""
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
    for topic, record in sent:
        verdict = producer.submit(specs[topic].name, record=record)
        assert verdict.accepted, verdict.reason
    producer.flush()

    def topic_records(name):
        return [json.loads(v) for _ts, v in read_since(kafka, prefix + name, 0) if v]

    # Unbounded, as in production; one sensor reading 8,000 s later moves the event-time clock
    # (the watermark trails it by the input lag) past every step deadline of the case.
    clock = {"enterprise_code": ENTERPRISE, "unit_code": "U-TF", "tag": "GD-TF10",
             "metric_code": "gas_combustible", "value": 0.0, "unit": "%LEL", "quality": "good",
             "event_time_ms": t0 + 8_000_000}  # fmt: skip
    watermark = clock["event_time_ms"] - kafka.risk.input_lag_ms
    group = f"t{uuid.uuid4().hex[:6]}"
    flink.start_job(kafka, "risk", ["--topic-prefix", prefix, "--group", group])
    try:
        flink.wait_until_running(kafka, "risk")
        assert producer.submit(specs["readings"].name, record=clock).accepted
        producer.flush()
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and len(topic_records("cases")) < 6:
            time.sleep(2.0)
        time.sleep(3.0)  # anything after the sixth case event would show up now
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
    expected = replay(list(kafka_inputs(kafka, 0, 2**62, prefix)), plant, model, watermark)
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
