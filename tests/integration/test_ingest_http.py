"""HTTP ingest endpoint: bearer auth, per-record verdicts, dead letters in Kafka, exact counts."""

from __future__ import annotations

import base64
import json
import time
import uuid

import pytest
from fastapi.testclient import TestClient

from pipelines.ingest import IngestProducer, RecordValidator
from pipelines.kafka_stats import read_since, topic_record_counts
from tests.integration.http_server import raw_request, serve

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
def api(kafka, fresh_topics, http_producer):
    from pipelines.ingest_api import create_app

    spec = fresh_topics("readings")["readings"]
    producer = http_producer(kafka, [spec], {"TT-1"})
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
    """GIVEN an NDJSON batch of 3 good lines, 2 bad ones and a repeat of the first WHEN posted
    THEN per-record verdicts (the repeat a duplicate of an accepted record), 3 records in the
    topic, 3 dead letters holding the exact original lines."""
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
    assert (body["accepted"], body["duplicates"], body["rejected"], body["unavailable"]) == (
        3,
        1,
        2,
        0,
    )
    verdicts = [(r["index"], r["status"], r.get("reason_code")) for r in body["results"]]
    assert verdicts == [
        (0, "accepted", None),
        (1, "accepted", None),
        (2, "rejected", "malformed_json"),
        (3, "rejected", "unknown_tag"),
        (4, "accepted", None),
        (5, "duplicate", "duplicate"),
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
    assert resp.json()["detail"] == (
        "batch is not a JSON array, a JSON object or NDJSON:"
        " not valid JSON: unexpected character, expected a JSON value:"
        " line 1 column 1 (char 0)"
    )
    assert producer.counts.dead_lettered[spec.name] == 1
    assert topic_record_counts(kafka, [spec.dlq]) == {spec.dlq: 1}


def test_unknown_topic_is_404(kafka, api):
    """GIVEN a topic that takes no ingest WHEN posted THEN 404 naming it."""
    client, _, _ = api
    resp = client.post("/v1/ingest/nope", json=[], headers=auth(kafka))
    assert resp.status_code == 404
    assert resp.json()["detail"] == "unknown topic 'nope'"


def _deep_reading(tag: str, ts: int, depth: int = 5000) -> bytes:
    """A reading whose `unit` is arrays nested `depth` deep: about 10 KB, under the size limit."""
    return (
        json.dumps(_reading(tag, ts)).encode().replace(b'"\\u00b0C"', b"[" * depth + b"]" * depth)
    )


@pytest.mark.parametrize("layout", ["ndjson", "json-array"])
def test_deeply_nested_record_is_dead_lettered_and_the_rest_of_its_batch_accepted(
    kafka, api, layout
):
    """GIVEN a batch of 10 valid readings, one nested 5,000 levels deep (10 KB), then 2 more
    WHEN posted (NDJSON or a JSON array) THEN 200: 12 accepted, the deep one dead-lettered as
    too_deep with its exact bytes; 12 records in the topic, 1 dead letter."""
    client, spec, producer = api
    since = int(time.time() * 1000) - 1000
    now = int(time.time() * 1000)
    good = [json.dumps(_reading("TT-1", now - 100 + i)).encode() for i in range(12)]
    deep = _deep_reading("TT-1", now)
    assert 10_000 < len(deep) < kafka.ingest.max_record_bytes
    lines = good[:10] + [deep] + good[10:]
    if layout == "ndjson":
        body, ctype = b"\n".join(lines), "application/x-ndjson"
    else:
        body, ctype = b"[" + b",".join(lines) + b"]", "application/json"
    resp = client.post(
        f"/v1/ingest/{spec.name}", content=body, headers=auth(kafka) | {"Content-Type": ctype}
    )
    assert resp.status_code == 200
    results = resp.json()["results"]
    assert [r["status"] for r in results] == ["accepted"] * 10 + ["rejected"] + ["accepted"] * 2
    assert results[10]["reason_code"] == "too_deep"
    assert results[10]["reason"] == (
        "objects/arrays nest deeper than the 32-level limit (at 'record')"
    )
    assert topic_record_counts(kafka, [spec.name, spec.dlq]) == {spec.name: 12, spec.dlq: 1}
    [(_, letter)] = read_since(kafka, spec.dlq, since)
    envelope = json.loads(letter)
    assert envelope["reason_code"] == "too_deep"
    assert base64.b64decode(envelope["original_b64"]) == deep
    assert producer.counts.submitted[spec.name] == 13
    assert producer.counts.accepted[spec.name] == 12
    assert producer.counts.dead_lettered[spec.name] == 1


def _small_limit_app(kafka, fresh_topics, tmp_path, limit: int):
    from pipelines.ingest_api import create_app

    spec = fresh_topics("readings")["readings"]
    small = kafka.model_copy(
        update={"ingest": kafka.ingest.model_copy(update={"max_batch_bytes": limit})}
    )
    validator = RecordValidator(small.ingest, known_tags={"TT-1"}, topics=[spec])
    producer = IngestProducer(small, source="http", validator=validator, ledger_dir=tmp_path)
    return create_app(small, producer=producer), spec, producer


def test_content_length_over_the_limit_is_refused_without_reading_the_body(
    kafka, fresh_topics, tmp_path
):
    """GIVEN a real server with a 4,096-byte batch limit WHEN a request declares
    Content-Length 4,097 and sends no body at all THEN 413 comes back at once (a server waiting
    for the body would time out here), and nothing is produced."""
    app, spec, producer = _small_limit_app(kafka, fresh_topics, tmp_path, 4096)
    head = (
        f"POST /v1/ingest/{spec.name} HTTP/1.1\r\nHost: test\r\n"
        f"Authorization: Bearer {kafka.ingest.http_token}\r\n"
        "Content-Type: application/x-ndjson\r\nContent-Length: 4097\r\n\r\n"
    ).encode()
    with serve(app) as url:
        status_line, body = raw_request(url, head, timeout_s=5.0)
    assert status_line.startswith(b"HTTP/1.1 413 ")
    assert json.loads(body) == {"detail": "batch of 4097 bytes exceeds 4096 bytes"}
    assert sum(producer.counts.submitted.values()) == 0
    assert topic_record_counts(kafka, [spec.name, spec.dlq]) == {spec.name: 0, spec.dlq: 0}


def test_chunked_body_over_the_limit_is_refused_once_it_passes_it(kafka, fresh_topics, tmp_path):
    """GIVEN a 4,096-byte batch limit WHEN a body without Content-Length (chunked) grows past it
    THEN 413 and nothing is produced."""
    app, spec, producer = _small_limit_app(kafka, fresh_topics, tmp_path, 4096)
    line = json.dumps(_reading("TT-1", int(time.time() * 1000))).encode() + b"\n"
    resp = TestClient(app).post(
        f"/v1/ingest/{spec.name}",
        content=iter([line] * 40),  # an iterator is sent chunked, ~10 KB
        headers=auth(kafka) | {"Content-Type": "application/x-ndjson"},
    )
    assert resp.status_code == 413
    assert resp.json()["detail"] == "batch exceeds 4096 bytes"
    assert sum(producer.counts.submitted.values()) == 0


def _create_topics(admin, names: list[str], partitions: int = 2) -> None:
    from confluent_kafka.admin import NewTopic

    from tests.conftest import _wait_for_leaders

    futures = admin.create_topics([NewTopic(n, partitions, replication_factor=1) for n in names])
    for fut in futures.values():
        fut.result()
    _wait_for_leaders(admin, names)


def test_batch_kafka_confirms_in_part_is_503_and_its_retry_is_safe(kafka, http_producer):
    """GIVEN a topic whose dead-letter topic does not exist yet WHEN a batch of 3 good readings
    and 1 unknown tag is posted THEN 503 within 5 s: the 3 accepted (confirmed), the bad one
    unavailable (its dead letter could not be written). WHEN the dead-letter topic exists and
    the same batch is re-sent THEN 200: the 3 are duplicates of accepted records (nothing new in
    the topic), the bad one rejected as unknown_tag; 3 records in the topic in all."""
    from confluent_kafka.admin import AdminClient

    from pipelines.ingest_api import create_app
    from pipelines.topics import topic as declared

    base = declared("readings")
    name = f"t{uuid.uuid4().hex[:8]}.readings"
    spec = type(base)(name=name, schema=base.schema, key=base.key, partitions=2,
                      retention_ms=base.retention_ms)  # fmt: skip
    admin = AdminClient({"bootstrap.servers": kafka.kafka.bootstrap_servers, "log_level": 0})
    _create_topics(admin, [spec.name])
    try:
        producer = http_producer(kafka, [spec], {"TT-1"})
        client = TestClient(create_app(kafka, producer=producer))
        now = int(time.time() * 1000)
        lines = [json.dumps(_reading("TT-1", now - 30 + i)).encode() for i in range(3)]
        lines.append(json.dumps(_reading("TT-9", now)).encode())
        headers = auth(kafka) | {"Content-Type": "application/x-ndjson"}

        started = time.monotonic()
        first = client.post(f"/v1/ingest/{spec.name}", content=b"\n".join(lines), headers=headers)
        assert time.monotonic() - started < 5.0
        assert first.status_code == 503
        assert first.headers["Retry-After"] == "5"
        body = first.json()
        assert [r["status"] for r in body["results"]] == ["accepted"] * 3 + ["unavailable"]
        assert body["results"][3]["reason"].startswith("Kafka did not confirm the dead letter (")
        assert (body["accepted"], body["unavailable"]) == (3, 1)

        _create_topics(admin, [spec.dlq], partitions=1)
        deadline = time.monotonic() + 60
        while True:  # the producer learns of the new topic at its next metadata refresh
            again = client.post(
                f"/v1/ingest/{spec.name}", content=b"\n".join(lines), headers=headers
            )
            if again.status_code != 503 or time.monotonic() > deadline:
                break
        assert again.status_code == 200
        statuses = [(r["status"], r.get("reason_code")) for r in again.json()["results"]]
        assert statuses == [("duplicate", "duplicate")] * 3 + [("rejected", "unknown_tag")]
        assert topic_record_counts(kafka, [spec.name, spec.dlq]) == {spec.name: 3, spec.dlq: 4}
        assert producer.counts.accepted[spec.name] == 3
        assert producer.counts.dead_lettered[spec.name] == 4
    finally:
        for fut in admin.delete_topics([spec.name, spec.dlq]).values():
            try:
                fut.result()
            except Exception:  # noqa: BLE001 - best-effort cleanup
                pass
