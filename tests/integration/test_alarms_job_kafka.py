"""The alarm job end to end on real Kafka: SQL ordering, lifecycle topics, late readings,
restart."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from pipelines.ingest import IngestProducer, RecordValidator
from pipelines.kafka_client import client_config
from pipelines.kafka_stats import read_since
from streaming_jobs.alarms_job import JOB_TOPICS

pytestmark = pytest.mark.integration


PRESSURE = [
    2.0,
    2.1,
    2.3,
    2.45,
    2.5,
    2.62,
    2.7,
    2.55,
    2.41,
    2.35,
    2.3,
    2.2,
    2.1,
    2.0,
    1.9,
    1.9,
    1.9,
    1.9,
    1.9,
]
GAS = [
    0.5,
    3.0,
    12.0,
    26.0,
    31.0,
    55.0,
    48.0,
    30.0,
    22.0,
    20.0,
    10.0,
    4.0,
    1.0,
    0.5,
    0.4,
    0.4,
    0.4,
    0.4,
    0.4,
]


def _reading(tag: str, ts: int, value: float, unit: str, metric: str) -> dict:
    return {
        "enterprise_code": "91370612MA3C7H5Q21",
        "hazard_source_code": None,
        "unit_code": "U-RX" if tag.startswith("PI") else "U-TF",
        "tag": tag,
        "metric_code": metric,
        "value": value,
        "unit": unit,
        "quality": "good",
        "event_time_ms": ts,
    }


def _wait_for(kafka, topic: str, since: int, n: int, timeout_s: float = 120.0) -> list[dict]:
    deadline = time.monotonic() + timeout_s
    got: list[dict] = []
    while time.monotonic() < deadline:
        got = [json.loads(v) for _, v in read_since(kafka, topic, since)]
        if len(got) >= n:
            return got
        time.sleep(1.0)
    return got


@pytest.fixture
def job_topics(fresh_topics):
    # One partition: with several, a test's sparse burst can let one partition's watermark run
    # ahead of another's unread records (a live plant keeps every partition busy).
    return fresh_topics(*JOB_TOPICS, partitions=1)


def test_streaming_job_equals_replay_and_a_late_hh_reaches_the_operator(kafka, job_topics):
    """GIVEN readings of two tags, one of them (PI at 5 s) arriving after the tag's 6 s reading,
    an acknowledge, and a late over-HH reading sent long after its event time
    WHEN the alarm job runs on Kafka THEN its transitions equal replay's on the readings that
    arrived in order, the ack is audited and current state updated, the critical HH raised a
    notification, and both late readings are in readings.late, not evaluated; both are over HH
    (2.62 and 3.9 MPa > 2.6) and reached alarm.notifications as critical late_reading notices."""
    from pipelines.alarms.processor import plant_processors
    from pipelines.alarms.replay import replay
    from pipelines.services import flink

    specs = job_topics
    prefix = specs["readings"].name[: -len("readings")]
    configs, _ = plant_processors()
    validator = RecordValidator(
        kafka.ingest, known_tags=configs.keys(), topics=[specs["readings"], specs["alarm.actions"]]
    )
    producer = IngestProducer(kafka, source="test", validator=validator, ledger_dir=None)
    since = int(time.time() * 1000) - 1000
    t0 = (int(time.time() * 1000) - 120_000) // 1000 * 1000
    readings = []
    for i, (p, g) in enumerate(zip(PRESSURE, GAS, strict=True)):
        readings.append(_reading("PI-R101-OUT", t0 + i * 1000, p, "MPa", "pressure"))
        readings.append(_reading("GD-TF10", t0 + i * 1000, g, "%LEL", "gas_combustible"))
    order = list(range(len(readings)))
    order[10], order[12] = order[12], order[10]  # PI's 5 s reading arrives after its 6 s one
    name = f"{prefix}alarms"  # the test's ACLs admit groups named after its topic prefix
    extra = ["--topic-prefix", prefix, "--group", name]
    proc = flink.job_process(kafka, "alarms")
    assert proc.pid() is None, "a leftover alarm job is running"
    flink.start_job(kafka, "alarms", extra)
    try:
        flink.wait_until_running(kafka, "alarms")
        ack = {
            "action_id": f"ack-{name}", "enterprise_code": "91370612MA3C7H5Q21",
            "tag": "GD-TF10", "condition": "H", "episode_id": None, "action": "acknowledge",
            "actor": "operator-3", "reason": None, "comment": "checked locally",
            "shelve_duration_s": None, "cause": None, "measures": None,
            "action_time_ms": t0 + 6500,
        }  # fmt: skip
        # Paced like a live plant (a second of readings per 0.2 s); the ack is sent when the
        # control room would, after the readings of 6 s.
        for n, k in enumerate(order):
            producer.submit(specs["readings"].name, record=readings[k])
            if n % 2 == 1:
                producer.flush()
                if readings[k]["event_time_ms"] == t0 + 6000:
                    time.sleep(0.5)  # the 6 s readings are evaluated before the ack arrives
                    producer.submit(specs["alarm.actions"].name, record=ack)
                    producer.flush()
                time.sleep(0.2)
        producer.flush()
        in_order = [
            (r["event_time_ms"], r["tag"], r["value"]) for i, r in enumerate(readings) if i != 10
        ]
        clock = t0 + (len(PRESSURE) - 1) * 1000 - kafka.flink.clock_lag_ms
        expected = replay(configs, in_order, end_ms=clock)
        assert {(t.tag, t.condition, t.event) for t in expected} >= {
            ("GD-TF10", "H", "raised"), ("GD-TF10", "HH", "raised"), ("GD-TF10", "HH", "cleared"),
            ("PI-R101-OUT", "H", "raised"), ("PI-R101-OUT", "HH", "raised"),
        }  # fmt: skip
        got = _wait_for(kafka, specs["alarms"].name, since, len(expected))
        late = _reading("PI-R101-OUT", t0 + 2500, 3.9, "MPa", "pressure")
        producer.submit(specs["readings"].name, record=late)
        # An operator action stamped long ago is applied as it arrives, never dropped.
        late_comment = ack | {"action_id": f"late-{name}", "tag": "PI-R101-OUT",
                              "action": "comment", "comment": "clock was behind",
                              "action_time_ms": t0 + 4000}  # fmt: skip
        producer.submit(specs["alarm.actions"].name, record=late_comment)
        producer.flush()
        late_rows = _wait_for(kafka, specs["readings.late"].name, since, 2, timeout_s=60)
        audit = _wait_for(kafka, specs["alarm.audit"].name, since, 2, timeout_s=30)
        notes = _wait_for(kafka, specs["alarm.notifications"].name, since, 4, timeout_s=30)
        current = [json.loads(v) for _, v in read_since(kafka, specs["alarms.current"].name, since)]
        time.sleep(3)
        after = [json.loads(v) for _, v in read_since(kafka, specs["alarms"].name, since)]
    finally:
        flink.stop_job(kafka, "alarms")

    key = lambda e: (e["event_time_ms"], e["tag"], e["condition"], e["event"])  # noqa: E731
    assert sorted(
        (e["tag"], e["condition"], e["event"], e["event_time_ms"], e["value"]) for e in got
    ) == sorted((t.tag, t.condition, t.event, t.ts_ms, t.value) for t in expected)
    assert sorted(map(key, after)) == sorted(map(key, got)), "the late readings changed no alarm"
    pi = configs["PI-R101-OUT"]
    assert (PRESSURE[5], pi.limits["HH"]) == (2.62, 2.6)  # the out-of-order 5 s reading is over HH
    assert [(r["tag"], r["event_time_ms"], r["value"], r["condition"]) for r in late_rows] == [
        ("PI-R101-OUT", t0 + 5000, 2.62, "HH"),
        ("PI-R101-OUT", t0 + 2500, 3.9, "HH"),
    ]
    assert [r["limit"] for r in late_rows] == [2.6, 2.6]
    assert [(a["tag"], a["action"], a["result"], a["actor"]) for a in audit] == [
        ("GD-TF10", "acknowledge", "applied", "operator-3"),
        ("PI-R101-OUT", "comment", "applied", "operator-3"),
    ]
    assert any(
        c["tag"] == "GD-TF10" and c["condition"] == "H" and c["acked_by"] == "operator-3"
        for c in current
    )
    hh_raises = {
        (t.tag, t.condition) for t in expected if t.event == "raised" and t.condition == "HH"
    }
    assert {(n["tag"], n["condition"]) for n in notes if not n.get("late")} >= hh_raises
    late_notes = [n for n in notes if n.get("late")]
    assert [
        (n["kind"], n["priority"], n["tag"], n["value"], n["event_time_ms"]) for n in late_notes
    ] == [
        ("late_reading", "critical", "PI-R101-OUT", 2.62, t0 + 5000),
        ("late_reading", "critical", "PI-R101-OUT", 3.9, t0 + 2500),
    ]


def test_poison_records_are_dead_lettered_and_the_job_keeps_running(kafka, job_topics):
    """GIVEN the alarm job running WHEN readings.* receives a non-JSON record, a tombstone, a
    wrong-typed value and an unkeyed reading, alarm.actions a non-JSON record and unit.states a
    tombstone, followed by good over-HH readings THEN each poison record is in its topic's .dlq
    with its reason code, the job is still RUNNING and the good readings raise their alarm."""
    from confluent_kafka import Producer

    from pipelines.services import flink

    specs = job_topics
    prefix = specs["readings"].name[: -len("readings")]
    name = f"{prefix}alarms"
    since = int(time.time() * 1000) - 1000
    t0 = int(time.time() * 1000) // 1000 * 1000 - 30_000
    flink.start_job(kafka, "alarms", ["--topic-prefix", prefix, "--group", name])
    try:
        flink.wait_until_running(kafka, "alarms")
        raw = Producer(client_config(kafka, "gateway"))
        good = lambda ts, v: json.dumps(_reading("GD-TF10", ts, v, "%LEL", "gas_combustible"))  # noqa: E731
        sends = [
            ("readings", b"GD-TF10", b"{not json"),
            ("readings", b"GD-TF10", None),
            ("readings", b"GD-TF10", json.dumps({"tag": "GD-TF10", "value": "high",
                                                  "event_time_ms": t0}).encode()),
            ("readings", None, good(t0, 1.0).encode()),
            ("alarm.actions", b"GD-TF10", b"\x00\xff"),
            ("unit.states", b"U-TF", None),
            ("readings", b"GD-TF10", good(t0 + 1000, 0.5).encode()),
            ("readings", b"GD-TF10", good(t0 + 2000, 60.0).encode()),
        ]  # fmt: skip
        for topic, k, v in sends:
            raw.produce(specs[topic].name, value=v, key=k)
        raw.flush(10)
        dlq = {
            t: _wait_for(kafka, specs[t].dlq, since, n, timeout_s=60)
            for t, n in (("readings", 4), ("alarm.actions", 1), ("unit.states", 1))
        }
        alarms = _wait_for(kafka, specs["alarms"].name, since, 2, timeout_s=60)
        jobs = flink.job_overview(kafka, "alarms")
        history = httpx.get(
            f"http://127.0.0.1:{kafka.flink.rest_port}/jobs/{jobs[0]['jid']}/exceptions"
        ).json()
    finally:
        flink.stop_job(kafka, "alarms")
    assert [j["state"] for j in jobs] == ["RUNNING"]
    assert history["exceptionHistory"]["entries"] == [], "the job failed and restarted"
    # the unkeyed reading lands in another key bucket, so its dead letter may come first
    assert sorted(d["reason_code"] for d in dlq["readings"]) == [
        "malformed_json", "tombstone", "wrong_key", "wrong_type",
    ]  # fmt: skip
    assert [d["reason_code"] for d in dlq["alarm.actions"]] == ["malformed_json"]
    assert [d["reason_code"] for d in dlq["unit.states"]] == ["tombstone"]
    assert all(d["source"] == "alarm-job" and d["reason"] for v in dlq.values() for d in v)
    assert {(a["condition"], a["event"]) for a in alarms} >= {("H", "raised"), ("HH", "raised")}
