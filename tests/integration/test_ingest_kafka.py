"""Validated ingest against a real broker: counts reconcile exactly and dead letters
keep the bytes."""

from __future__ import annotations

import base64
import json
import time

import pytest

from pipelines.ingest import IngestProducer, RecordValidator
from pipelines.kafka_stats import read_since, topic_record_counts

pytestmark = pytest.mark.integration


def _reading(tag: str, ts: int, value: float = 1.5) -> dict:
    return {
        "enterprise_code": "E1",
        "hazard_source_code": None,
        "unit_code": "U1",
        "tag": tag,
        "metric_code": "pressure",
        "value": value,
        "unit": "MPa",
        "quality": "good",
        "event_time_ms": ts,
    }


def test_every_bad_class_is_dead_lettered_and_counts_reconcile(kafka, fresh_topics, tmp_path):
    """GIVEN 20 good readings and one of each bad class WHEN produced through ingest
    THEN 20 land in the topic, 9 in its dlq with their reasons, and submitted = accepted + dlq."""
    specs = fresh_topics("readings")
    spec = specs["readings"]
    validator = RecordValidator(kafka.ingest, known_tags={"PT-1", "PT-2"}, topics=[spec])
    producer = IngestProducer(kafka, source="test", validator=validator, ledger_dir=tmp_path)
    since = int(time.time() * 1000) - 1000
    now = int(time.time() * 1000)
    for i in range(20):
        producer.submit(spec.name, record=_reading("PT-1" if i % 2 else "PT-2", now - 10_000 + i))
    good = json.dumps(_reading("PT-1", now)).encode()
    bad = {
        "malformed_json": good[:-5],
        "wrong_type": good.replace(b'"value": 1.5', b'"value": "1.5"'),
        "missing_field": json.dumps(
            {k: v for k, v in _reading("PT-1", now).items() if k != "quality"}
        ).encode(),
        "unknown_tag": json.dumps(_reading("PT-404", now)).encode(),
        "non_finite_value": good.replace(b"1.5", b"NaN"),
        "future_timestamp": json.dumps(_reading("PT-1", now + 3_600_000)).encode(),
        "expired_timestamp": json.dumps(_reading("PT-1", now - 30 * 86_400_000)).encode(),
        "oversized": json.dumps(_reading("PT-1", now) | {"unit": "x" * 70_000}).encode(),
        "duplicate": json.dumps(_reading("PT-1", now - 10_000 + 1)).encode(),
    }
    for payload in bad.values():
        producer.submit(spec.name, raw=payload)
    producer.flush()

    assert producer.counts.submitted[spec.name] == 29
    assert producer.counts.accepted[spec.name] == 20
    assert producer.counts.dead_lettered[spec.name] == 9
    counts = topic_record_counts(kafka, [spec.name, spec.dlq])
    assert counts == {spec.name: 20, spec.dlq: 9}
    letters = [json.loads(v) for _, v in read_since(kafka, spec.dlq, since)]
    by_reason = {env["reason_code"]: env for env in letters}
    assert sorted(by_reason) == sorted(bad)
    for reason, payload in bad.items():
        env = by_reason[reason]
        assert base64.b64decode(env["original_b64"]) == payload
        assert env["source"] == "test"
        assert env["source_topic"] == spec.name
    # Dead letters are keyed like the records they replace, so a tag's history stays ordered.
    assert by_reason["unknown_tag"]["key"] == "PT-404"


def test_ledger_records_deltas_so_status_sums_are_exact(kafka, fresh_topics, tmp_path):
    """GIVEN two ledger writes from one producer WHEN summed THEN each record is counted once."""
    from pipelines.kafka_stats import ledger_totals

    spec = fresh_topics("readings")["readings"]
    validator = RecordValidator(kafka.ingest, known_tags={"PT-1"}, topics=[spec])
    producer = IngestProducer(kafka, source="test", validator=validator, ledger_dir=tmp_path)
    now = int(time.time() * 1000)
    producer.submit(spec.name, record=_reading("PT-1", now))
    producer.write_ledger("r1")
    producer.submit(spec.name, record=_reading("PT-1", now + 1))
    producer.submit(spec.name, record=_reading("PT-9", now + 2))
    producer.flush()
    producer.write_ledger("r1")
    totals = ledger_totals(tmp_path)
    assert totals["submitted"] == {spec.name: 3}
    assert totals["accepted"] == {spec.name: 2}
    assert totals["dead_lettered"] == {spec.name: 1}
