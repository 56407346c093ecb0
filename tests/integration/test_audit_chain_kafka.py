"""Tamper-evident alarm.audit on the real broker: the chained records the alarm job writes
verify; a record forged into the topic makes `hazchem audit verify` fail naming it."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from typer.testing import CliRunner

from pipelines.ingest import IngestProducer, RecordValidator
from pipelines.kafka_client import client_config
from pipelines.kafka_stats import read_since
from streaming_jobs.alarms_job import JOB_TOPICS

pytestmark = pytest.mark.integration
ENTERPRISE = "91370612MA3C7H5Q21"


def _action(n: int, tag: str, action: str, condition: str, t0: int, **fields) -> dict:  # noqa: ANN003
    return {
        "action_id": f"a{n}-{uuid.uuid4().hex[:6]}", "enterprise_code": ENTERPRISE, "tag": tag,
        "condition": condition, "episode_id": None, "action": action, "actor": "operator-3",
        "reason": None, "comment": None, "shelve_duration_s": None, "cause": None,
        "measures": None, "action_time_ms": t0 + n, **fields,
    }  # fmt: skip


def _wait_for(settings, topic: str, since: int, n: int, timeout_s: float = 120.0) -> list:
    deadline = time.monotonic() + timeout_s
    got: list = []
    while time.monotonic() < deadline:
        got = read_since(settings, topic, since)
        if len(got) >= n:
            return got
        time.sleep(1.0)
    return got


def test_the_alarm_jobs_audit_chain_verifies_and_a_forged_record_is_named(kafka, fresh_topics):
    """GIVEN the alarm job on fresh topics (one partition) and five operator actions on two tags
    (a shelve and an unshelve applied, a comment on a never-raised condition rejected, ...)
    WHEN the job has audited them THEN `hazchem audit verify` passes with 5 records on 2 keys;
    WHEN the job is restarted without its state and audits one more action THEN that record
    follows its tag's last hash in the topic and verify passes with 6 records;
    WHEN a record is then forged into alarm.audit (a copy of the last one, actor changed, its
    hashes kept) THEN verify exits 1 naming that record's topic, partition and offset."""
    from confluent_kafka import Producer

    from pipelines.alarms.processor import plant_processors
    from pipelines.cli import app
    from pipelines.services import flink

    specs = fresh_topics(*JOB_TOPICS, partitions=1)
    prefix = specs["readings"].name[: -len("readings")]
    audit_topic = specs["alarm.audit"].name
    configs, _ = plant_processors()
    validator = RecordValidator(
        kafka.ingest, known_tags=configs.keys(), topics=[specs["alarm.actions"]]
    )
    producer = IngestProducer(kafka, source="test", validator=validator, ledger_dir=None)
    since = int(time.time() * 1000) - 1000
    t0 = int(time.time() * 1000) - 60_000
    actions = [
        _action(1, "GD-TF10", "shelve", "H", t0, reason="sensor recalibration",
                shelve_duration_s=600),
        _action(2, "GD-TF10", "comment", "HH", t0, comment="never raised"),
        _action(3, "PI-R101-OUT", "comment", "H", t0, comment="looks fine"),
        _action(4, "GD-TF10", "unshelve", "H", t0),
        _action(5, "PI-R101-OUT", "acknowledge", "H", t0),
    ]  # fmt: skip
    name = f"{prefix}alarms-{uuid.uuid4().hex[:6]}"  # a test's groups start with its topic prefix
    assert flink.job_process(kafka, "alarms").pid() is None, "a leftover alarm job is running"
    flink.start_job(kafka, "alarms", ["--topic-prefix", prefix, "--group", name])
    try:
        flink.wait_until_running(kafka, "alarms")
        for a in actions:
            producer.submit(specs["alarm.actions"].name, record=a)
        producer.flush()
        audited = _wait_for(kafka, audit_topic, since, len(actions))
    finally:
        flink.stop_job(kafka, "alarms")
    records = [json.loads(v) for _, v in audited]
    assert [(r["tag"], r["action"], r["result"]) for r in records] == [
        ("GD-TF10", "shelve", "applied"),
        ("GD-TF10", "comment", "rejected"),
        ("PI-R101-OUT", "comment", "rejected"),
        ("GD-TF10", "unshelve", "applied"),
        ("PI-R101-OUT", "acknowledge", "rejected"),
    ]

    runner = CliRunner()
    verify = ["audit", "verify", "--stream", "alarm.audit", "--topic-prefix", prefix]
    result = runner.invoke(app, verify)
    assert result.exit_code == 0, result.output
    assert result.stdout == "alarm.audit (kafka): 5 records, 2 keys, chain intact\n"

    # A restart without state (as `make demo` does) continues each tag's chain from the topic.
    restart_ms = int(time.time() * 1000)
    flink.start_job(
        kafka, "alarms",
        ["--topic-prefix", prefix, "--group", f"{name}-2", "--from-timestamp-ms", str(restart_ms)],
    )  # fmt: skip
    try:
        flink.wait_until_running(kafka, "alarms")
        producer.submit(
            specs["alarm.actions"].name,
            record=_action(6, "GD-TF10", "comment", "H", t0, comment="after restart"),
        )
        producer.flush()
        audited = _wait_for(kafka, audit_topic, since, len(actions) + 1)
    finally:
        flink.stop_job(kafka, "alarms")
    records = [json.loads(v) for _, v in audited]
    assert [(r["action"], r["comment"]) for r in records[5:]] == [("comment", "after restart")]
    assert records[5]["prev_hash"] == records[3]["hash"]  # GD-TF10's last record before it
    result = runner.invoke(app, verify)
    assert result.exit_code == 0, result.output
    assert result.stdout == "alarm.audit (kafka): 6 records, 2 keys, chain intact\n"

    forged = {**records[-1], "actor": "someone-else"}
    raw = Producer(client_config(kafka, "alarms-job", log_level=0))  # its writer's rights
    raw.produce(audit_topic, key=b"PI-R101-OUT", value=json.dumps(forged).encode())
    assert raw.flush(10) == 0
    result = runner.invoke(app, verify)
    assert result.exit_code == 1
    assert result.stderr == (
        f"error: alarm.audit (kafka): chain broken at {audit_topic} partition 0 offset 6 "
        "(key PI-R101-OUT): content does not match its hash (edited)\n"
    )
