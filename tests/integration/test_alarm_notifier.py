"""Webhook notification sink: retries until 2xx, commits after delivery, dead-letters the rest."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from confluent_kafka import Producer

from pipelines.alarms.notify import RetryPolicy, run_notifier, webhook_sender
from pipelines.kafka_stats import read_since

pytestmark = pytest.mark.integration


class Receiver:
    """A local webhook that fails the first `failures` requests of each notification."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.attempts: dict[str, int] = {}
        self.delivered: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server API
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                nid = body["notification_id"]
                outer.attempts[nid] = outer.attempts.get(nid, 0) + 1
                ok = outer.attempts[nid] > outer.failures
                if ok:
                    outer.delivered.append(nid)
                self.send_response(200 if ok else 503)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def _notification(i: int) -> dict:
    return {
        "notification_id": f"GD-1:HH:{i}:notification", "enterprise_code": "E1",
        "hazard_source_code": None, "unit_code": "U1", "area_code": "A1", "tag": "GD-1",
        "condition": "HH", "priority": "critical", "value": 55.0, "limit": 50.0,
        "event_time_ms": i, "episode_id": f"GD-1:HH:{i}", "message": "高高报 HH GD-1 = 55 %LEL",
    }  # fmt: skip


def _produce(kafka, topic: str, records: list[dict]) -> None:
    producer = Producer({"bootstrap.servers": kafka.kafka.bootstrap_servers})
    for r in records:
        producer.produce(topic, json.dumps(r).encode(), key=r["tag"].encode())
    producer.flush(10)


def test_flaky_webhook_gets_each_notification_once_after_retries(kafka, fresh_topics):
    """GIVEN a webhook answering 503 twice per notification WHEN the sink runs THEN each of the
    3 notifications is delivered exactly once, on its third attempt, and nothing is
    dead-lettered."""
    spec = fresh_topics("alarm.notifications")["alarm.notifications"]
    receiver = Receiver(failures=2)
    _produce(kafka, spec.name, [_notification(i) for i in range(3)])
    counts = run_notifier(
        kafka, webhook_sender(receiver.url, 2.0), topic=spec.name, group=f"g-{spec.name}",
        policy=RetryPolicy(attempts=5, first_backoff_s=0.01), max_idle_s=3,
    )  # fmt: skip
    assert counts == {"delivered": 3, "dead_lettered": 0}
    assert receiver.delivered == [f"GD-1:HH:{i}:notification" for i in range(3)]
    assert receiver.attempts == {f"GD-1:HH:{i}:notification": 3 for i in range(3)}
    # committed: a second run finds nothing left to send
    again = run_notifier(
        kafka, webhook_sender(receiver.url, 2.0), topic=spec.name, group=f"g-{spec.name}",
        policy=RetryPolicy(attempts=5, first_backoff_s=0.01), max_idle_s=3,
    )  # fmt: skip
    assert again == {"delivered": 0, "dead_lettered": 0}


def test_dead_webhook_dead_letters_after_the_last_attempt(kafka, fresh_topics):
    """GIVEN a webhook that always fails WHEN the sink runs THEN the notification is dead-lettered
    with reason delivery_failed after exactly `attempts` tries, keeping its bytes."""
    spec = fresh_topics("alarm.notifications")["alarm.notifications"]
    receiver = Receiver(failures=10**6)
    since = int(time.time() * 1000) - 1000
    _produce(kafka, spec.name, [_notification(7)])
    counts = run_notifier(
        kafka, webhook_sender(receiver.url, 2.0), topic=spec.name, group=f"g-{spec.name}",
        policy=RetryPolicy(attempts=3, first_backoff_s=0.01), max_idle_s=3,
    )  # fmt: skip
    assert counts == {"delivered": 0, "dead_lettered": 1}
    assert receiver.attempts == {"GD-1:HH:7:notification": 3}
    letters = [json.loads(v) for _, v in read_since(kafka, spec.dlq, since)]
    assert [(e["reason_code"], e["source"]) for e in letters] == [("delivery_failed", "notifier")]
    assert letters[0]["reason"].startswith(
        "webhook failed after 3 attempts: RuntimeError: webhook answered 503"
    )
