"""HTTP ingest through a broker outage: 503 within 5 s while /healthz answers, then the same
batch accepted once the broker is back, and later requests 200.

This module stops and restarts the test broker, so it lives alone: other modules' tests never
see the broker down. The broker is started again whatever happens.
"""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest

from pipelines.kafka_stats import topic_record_counts
from pipelines.services import kafka as kafka_service
from tests.integration.http_server import serve

pytestmark = pytest.mark.integration


def _reading(tag: str, ts: int) -> bytes:
    return json.dumps(
        {
            "enterprise_code": "E1",
            "hazard_source_code": "HS1",
            "unit_code": "U1",
            "tag": tag,
            "metric_code": "temperature",
            "value": 20.5,
            "unit": "C",
            "quality": "good",
            "event_time_ms": ts,
        }
    ).encode()


def test_broker_outage_answers_503_fast_and_the_same_batch_is_accepted_when_it_is_back(
    kafka, fresh_topics, http_producer
):
    """GIVEN the HTTP endpoint served by uvicorn and 2 readings accepted WHEN the broker is
    stopped and a batch of 4 good readings, 1 unknown tag and 1 record nested 5,000 deep is
    posted THEN 503 within 5 s, every record `unavailable`, and /healthz answers 200 in under
    1 s all the while. WHEN the broker is back and the same batch is re-sent THEN 200: 4
    accepted, 2 rejected with their reasons; a later batch of 2 gets 200; the topic holds
    exactly 8 readings, the dead-letter topic 2, and the counts reconcile."""
    from pipelines.ingest_api import create_app

    spec = fresh_topics("readings")["readings"]
    producer = http_producer(kafka, [spec], {"TT-1"})
    headers = {
        "Authorization": f"Bearer {kafka.ingest.http_token}",
        "Content-Type": "application/x-ndjson",
    }
    now = int(time.time() * 1000)
    warm_up = [_reading("TT-1", now - 1000), _reading("TT-1", now - 999)]
    deep = _reading("TT-1", now - 10).replace(b'"C"', b"[" * 5000 + b"]" * 5000)
    batch = [_reading("TT-1", now - 500 + i) for i in range(4)]
    batch += [_reading("TT-9", now - 100), deep]
    later = [_reading("TT-1", now - 50), _reading("TT-1", now - 49)]

    with serve(create_app(kafka, producer=producer)) as url, httpx.Client(base_url=url) as http:
        url_path = f"/v1/ingest/{spec.name}"
        first = http.post(url_path, content=b"\n".join(warm_up), headers=headers)
        assert (first.status_code, first.json()["accepted"]) == (200, 2)

        kafka_service.stop(kafka)
        try:
            outcome: dict = {}

            def post_during_outage() -> None:
                started = time.monotonic()
                outcome["resp"] = httpx.post(
                    url + url_path, content=b"\n".join(batch), headers=headers, timeout=30
                )
                outcome["elapsed_s"] = time.monotonic() - started

            poster = threading.Thread(target=post_during_outage)
            poster.start()
            health: list[tuple[int, float]] = []
            while poster.is_alive():
                started = time.monotonic()
                status = http.get("/healthz", timeout=5).status_code
                health.append((status, time.monotonic() - started))
                time.sleep(0.2)
            poster.join()

            resp = outcome["resp"]
            assert resp.status_code == 503
            assert outcome["elapsed_s"] < 5.0
            assert resp.headers["Retry-After"] == "5"
            body = resp.json()
            assert (body["accepted"], body["rejected"], body["unavailable"]) == (0, 0, 6)
            assert [r["status"] for r in body["results"]] == ["unavailable"] * 6
            assert len(health) >= 3, health  # /healthz was asked while the batch waited
            assert all(status == 200 and took < 1.0 for status, took in health), health
            assert producer.counts.undelivered[spec.name] == 6
        finally:
            kafka_service.start(kafka)

        again = http.post(url_path, content=b"\n".join(batch), headers=headers, timeout=30)
        assert again.status_code == 200, again.text
        verdicts = [(r["status"], r.get("reason_code")) for r in again.json()["results"]]
        assert verdicts == [("accepted", None)] * 4 + [
            ("rejected", "unknown_tag"),
            ("rejected", "too_deep"),
        ]
        after = http.post(url_path, content=b"\n".join(later), headers=headers, timeout=30)
        assert (after.status_code, after.json()["accepted"]) == (200, 2)

    assert topic_record_counts(kafka, [spec.name, spec.dlq]) == {spec.name: 8, spec.dlq: 2}
    counts = producer.counts
    assert (counts.submitted[spec.name], counts.accepted[spec.name]) == (10, 8)
    assert counts.dead_lettered[spec.name] == 2
    assert counts.undelivered[spec.name] == 6
