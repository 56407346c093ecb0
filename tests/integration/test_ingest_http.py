"""HTTP ingest endpoint: bearer auth, per-record verdicts, dead letters in Kafka, exact counts."""

from __future__ import annotations

import base64
import json
import time

import pytest
from fastapi.testclient import TestClient

from pipelines.ingest import IngestProducer, RecordValidator
from pipelines.kafka_stats import read_since, topic_record_counts

pytestmark = pytest.mark.integration


def _reading(tag: str, ts: int, value: float = 20.5) -> dict:
    return {
        "enterprise_code": "E1",
        "hazard_source_code": "HS1",
        "unit_code": "U1",
        "tag": tag,
        "metric_code": "temperature",
        "value": value,
        "unit": "°C",
        "quality": "good",
        "event_time_ms": ts,
    }


@pytest.fixture
def api(kafka, fresh_topics, tmp_path):
    from pipelines.ingest_api import create_app

    spec = fresh_topics("readings")["readings"]
    validator = RecordValidator(kafka.ingest, known_tags={"TT-1"}, topics=[spec])
    producer = IngestProducer(kafka, source="http", validator=validator, ledger_dir=tmp_path)
    client = TestClient(create_app(kafka, producer=producer))
    return client, spec, producer


def auth(settings) -> dict:
    return {"Authorization": f"Bearer {settings.ingest.http_token}"}


def test_missing_or_wrong_token_is_refused(kafka, api):
    """GIVEN no token or a wrong one WHEN posting THEN 401 / 403 and nothing is produced."""
    client, spec, producer = api
    assert client.post(f"/v1/ingest/{spec.name}", json=[]).status_code == 401
    resp = client.post(f"/v1/ingest/{spec.name}", json=[], headers={"Authorization": "Bearer nope"})
    assert resp.status_code == 403
    assert sum(producer.counts.submitted.values()) == 0


def test_ndjson_batch_gets_per_record_verdicts_and_exact_dead_letters(kafka, api):
    """GIVEN an NDJSON batch of 3 good and 3 bad lines WHEN posted THEN per-record verdicts,
    3 records in the topic, 3 dead letters holding the exact original lines."""
    client, spec, _ = api
    since = int(time.time() * 1000) - 1000
    now = int(time.time() * 1000)
    lines = [
        json.dumps(_reading("TT-1", now - 3000)).encode(),
        json.dumps(_reading("TT-1", now - 2000)).encode(),
        b'{"tag": "TT-1", "value": ',  # malformed
        json.dumps(_reading("TT-9", now)).encode(),  # unknown tag
        json.dumps(_reading("TT-1", now - 1000)).encode(),
        json.dumps(_reading("TT-1", now - 3000)).encode(),  # duplicate of line 0
    ]
    resp = client.post(
        f"/v1/ingest/{spec.name}",
        content=b"\n".join(lines),
        headers=auth(kafka) | {"Content-Type": "application/x-ndjson", "X-Source": "gw-7"},
    )
    assert resp.status_code == 200
    body = resp.json()
    assert body["accepted"] == 3 and body["rejected"] == 3
    verdicts = [(r["index"], r["status"], r.get("reason_code")) for r in body["results"]]
    assert verdicts == [
        (0, "accepted", None),
        (1, "accepted", None),
        (2, "rejected", "malformed_json"),
        (3, "rejected", "unknown_tag"),
        (4, "accepted", None),
        (5, "rejected", "duplicate"),
    ]
    assert topic_record_counts(kafka, [spec.name, spec.dlq]) == {spec.name: 3, spec.dlq: 3}
    letters = sorted(
        (json.loads(v) for _, v in read_since(kafka, spec.dlq, since)),
        key=lambda e: e["reason_code"],
    )
    assert [base64.b64decode(e["original_b64"]) for e in letters] == [lines[5], lines[2], lines[3]]
    assert {e["source"] for e in letters} == {"http:gw-7"}


def test_json_array_with_nan_rejects_only_that_record(kafka, api):
    """GIVEN a JSON array whose second element has NaN WHEN posted THEN only it is rejected."""
    client, spec, _ = api
    now = int(time.time() * 1000)
    body = json.dumps([_reading("TT-1", now - 10), _reading("TT-1", now - 5, value=float("nan"))])
    resp = client.post(
        f"/v1/ingest/{spec.name}",
        content=body,
        headers=auth(kafka) | {"Content-Type": "application/json"},
    )
    assert resp.status_code == 200
    assert [r.get("reason_code") for r in resp.json()["results"]] == [None, "non_finite_value"]


def test_unreadable_batch_is_kept_whole_as_one_dead_letter(kafka, api):
    """GIVEN a body that is not JSON WHEN posted THEN 400, and the body is one dead letter."""
    client, spec, producer = api
    resp = client.post(
        f"/v1/ingest/{spec.name}",
        content=b"<xml/>",
        headers=auth(kafka) | {"Content-Type": "application/json"},
    )
    assert resp.status_code == 400
    assert resp.json()["detail"].startswith("batch is not valid JSON")
    assert producer.counts.dead_lettered[spec.name] == 1
    assert topic_record_counts(kafka, [spec.dlq]) == {spec.dlq: 1}


def test_unknown_topic_is_404(kafka, api):
    """GIVEN a topic that takes no ingest WHEN posted THEN 404 naming it."""
    client, _, _ = api
    resp = client.post("/v1/ingest/nope", json=[], headers=auth(kafka))
    assert resp.status_code == 404
    assert resp.json()["detail"] == "unknown topic 'nope'"
