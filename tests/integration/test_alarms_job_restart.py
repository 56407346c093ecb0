"""Killing the alarm job and restarting it from its checkpoint loses and invents no transition."""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
from pathlib import Path

import pytest

from pipelines.ingest import IngestProducer, RecordValidator
from pipelines.kafka_client import client_config
from pipelines.kafka_stats import read_since
from streaming_jobs.alarms_job import JOB_TOPICS

pytestmark = pytest.mark.integration


def _gas(ts: int, value: float) -> dict:
    return {
        "enterprise_code": "91370612MA3C7H5Q21", "hazard_source_code": "HS-01", "unit_code": "U-TF",
        "tag": "GD-TF10", "metric_code": "gas_combustible", "value": value, "unit": "%LEL",
        "quality": "good", "event_time_ms": ts,
    }  # fmt: skip


def _paced(producer, topic: str, records: list[dict]) -> None:
    """Send like a live plant, a second of readings per 0.2 s (a burst could arrive late)."""
    for r in records:
        producer.submit(topic, record=r)
        producer.flush()
        time.sleep(0.2)


def _latest_checkpoint(root: Path) -> Path | None:
    found = sorted(root.glob("*/chk-*/_metadata"), key=lambda p: int(p.parent.name.split("-")[1]))
    return found[-1].parent if found else None


def _alarms(kafka, topic: str, since: int) -> list[dict]:
    return [json.loads(v) for _, v in read_since(kafka, topic, since)]


def _comment(kafka, topic: str, n: int, ts: int) -> None:
    """Send one operator comment on GD-TF10's H alarm (audited on alarm.audit)."""
    from confluent_kafka import Producer

    action = {
        "action_id": f"c{n}-{uuid.uuid4().hex[:6]}", "enterprise_code": "91370612MA3C7H5Q21",
        "tag": "GD-TF10", "condition": "H", "episode_id": None, "action": "comment",
        "actor": "operator-3", "reason": None, "comment": f"note {n}", "shelve_duration_s": None,
        "cause": None, "measures": None, "action_time_ms": ts,
    }  # fmt: skip
    producer = Producer(client_config(kafka, "gateway", log_level=0))
    producer.produce(topic, key=b"GD-TF10", value=json.dumps(action).encode())
    assert producer.flush(10) == 0


def _wait_for(kafka, topic: str, since: int, n: int, timeout_s: float = 60.0) -> list[dict]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and len(_alarms(kafka, topic, since)) < n:
        time.sleep(1)
    return _alarms(kafka, topic, since)


def test_kill_and_restart_from_checkpoint_keeps_every_transition_once(
    kafka, fresh_topics, monkeypatch
):
    """GIVEN the job processing a gas detector crossing H/HH every few seconds, and an operator
    comment audited before the kill WHEN it is killed (SIGKILL) after a checkpoint and restarted
    from it while readings keep coming THEN the distinct alarm events equal replay's exactly,
    every repeated event id carries the same payload, and a comment audited after the restart
    continues GD-TF10's audit chain (its hash lived in the checkpointed state): `hazchem audit
    verify` passes."""
    from pipelines.alarms.processor import plant_processors
    from pipelines.alarms.replay import replay
    from pipelines.services import flink

    monkeypatch.setenv("HAZCHEM_FLINK__CHECKPOINT_INTERVAL_MS", "1000")
    specs = fresh_topics(*JOB_TOPICS, partitions=1)  # see test_alarms_job_kafka.job_topics
    prefix = specs["readings"].name[: -len("readings")]
    group = f"{prefix}alarms"  # the test's ACLs admit groups named after its topic prefix
    ckpt_root = kafka.flink.checkpoint_dir / prefix
    configs, _ = plant_processors()
    producer = IngestProducer(
        kafka,
        "test",
        validator=RecordValidator(kafka.ingest, known_tags={"GD-TF10"}, topics=[specs["readings"]]),
    )
    since = int(time.time() * 1000) - 1000
    t0 = (int(time.time() * 1000) - 100_000) // 1000 * 1000
    cycle = [
        1.0,
        10.0,
        30.0,
        60.0,
        40.0,
        20.0,
        5.0,
        1.0,
        1.0,
        1.0,
    ]  # H, HH raised; cleared after 5 s
    values = [cycle[i % len(cycle)] for i in range(60)]
    readings = [_gas(t0 + i * 1000, v) for i, v in enumerate(values)]
    job = flink.job_process(kafka, "alarms")
    assert job.pid() is None, "a leftover alarm job is running"

    flink.start_job(kafka, "alarms", ["--topic-prefix", prefix, "--group", group])
    try:
        flink.wait_until_running(kafka, "alarms")
        _paced(producer, specs["readings"].name, readings[:30])
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and len(_alarms(kafka, specs["alarms"].name, since)) < 6:
            time.sleep(1)
        _comment(kafka, specs["alarm.actions"].name, 1, t0 + 30_000)
        assert len(_wait_for(kafka, specs["alarm.audit"].name, since, 1)) == 1
        time.sleep(3)  # at least one checkpoint after the first alarms and the comment
        os.killpg(job.pid(), signal.SIGKILL)
        time.sleep(1)
        job.stop()
        checkpoint = _latest_checkpoint(ckpt_root)
        assert checkpoint is not None, f"no completed checkpoint under {ckpt_root}"
        before = _alarms(kafka, specs["alarms"].name, since)

        _paced(producer, specs["readings"].name, readings[30:40])  # sent while the job is down
        flink.start_job(
            kafka,
            "alarms",
            ["--topic-prefix", prefix, "--group", group, "--from-checkpoint", str(checkpoint)],
        )
        flink.wait_until_running(kafka, "alarms")
        _comment(kafka, specs["alarm.actions"].name, 2, t0 + 40_000)
        _paced(producer, specs["readings"].name, readings[40:])
        clock = t0 + 59_000 - kafka.flink.clock_lag_ms  # the timer clock after the last reading
        replay_input = [(r["event_time_ms"], r["tag"], r["value"]) for r in readings]
        expected = replay(configs, replay_input, end_ms=clock)
        deadline = time.monotonic() + 120
        after: list[dict] = []
        while time.monotonic() < deadline:
            after = _alarms(kafka, specs["alarms"].name, since)
            if len({e["event_id"] for e in after}) >= len(expected):
                break
            time.sleep(1)
        time.sleep(3)
        after = _alarms(kafka, specs["alarms"].name, since)
        audit = _wait_for(kafka, specs["alarm.audit"].name, since, 2)
    finally:
        flink.stop_job(kafka, "alarms")

    from typer.testing import CliRunner

    from pipelines.cli import app

    assert [a["comment"] for a in audit] == ["note 1", "note 2"]
    assert audit[1]["prev_hash"] == audit[0]["hash"]
    verify = ["audit", "verify", "--stream", "alarm.audit", "--topic-prefix", prefix]
    result = CliRunner().invoke(app, verify)
    assert result.exit_code == 0, result.output
    assert result.stdout == "alarm.audit (kafka): 2 records, 1 key, chain intact\n"

    assert 0 < len(before) < len(after)
    distinct: dict[str, dict] = {}
    for e in after:
        first = distinct.setdefault(e["event_id"], e)
        assert {k: v for k, v in first.items() if k != "emitted_at_ms"} == {
            k: v for k, v in e.items() if k != "emitted_at_ms"
        }, f"event {e['event_id']} differs between its copies"
    assert sorted(
        (e["condition"], e["event"], e["event_time_ms"]) for e in distinct.values()
    ) == sorted((t.condition, t.event, t.ts_ms) for t in expected)
