"""The risk job end to end on real Kafka: streamed colors and cases equal replay's."""

from __future__ import annotations

import json
import subprocess
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
    inputs = {"alarms", "video.events", "positions", "case.actions"}
    validator = RecordValidator(kafka.ingest, topics=[specs[t] for t in inputs])
    producer = IngestProducer(kafka, source="test", validator=validator, ledger_dir=None)
    t0 = (int(time.time() * 1000) - 3_600_000) // 1000 * 1000
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

    argv = flink.job_argv("risk", ["--topic-prefix", prefix, "--group", f"t{uuid.uuid4().hex[:6]}",
                                   "--bounded"])  # fmt: skip
    flink.fetch_jars(kafka)
    done = subprocess.run(argv, env=flink.job_env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]

    def topic_records(name):
        return [json.loads(v) for _ts, v in read_since(kafka, prefix + name, 0) if v]

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
    expected = replay(list(kafka_inputs(kafka, 0, 2**62, prefix)), plant, model)
    for topic in ("risk.levels", "cases", "cases.current", "case.notifications"):
        assert topic_records(topic) == [r.record for r in expected if r.topic == topic], topic
