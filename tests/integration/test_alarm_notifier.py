"""Webhook notification sink on the real broker, against a real local HTTP webhook: delivered
once per id through an outage, dead-lettered with the reason when it cannot be, redriven later,
and never committed past a record whose dead letter Kafka did not confirm."""

from __future__ import annotations

import base64
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from pipelines.alarms.notify import NotifierStopped, RetryPolicy, redrive, run_notifier
from pipelines.alarms.notify import webhook_sender as sender
from pipelines.kafka_stats import read_since

pytestmark = pytest.mark.integration

# "10 minutes" in seconds: the retry policy scaled down so an outage fits in a test
FAST = RetryPolicy(first_backoff_s=0.05, max_backoff_s=0.3, retry_for_s=30, dlq_timeout_s=5)


class Receiver:
    """A local webhook (http.server in a thread) that acts once per Idempotency-Key.

    `status` is its answer; `lose_first_response` makes it act on the first request, then drop
    the connection without answering (a response lost on the way back); stop()/start() take it
    down (connection refused) and bring it back on the same port.
    """

    def __init__(self, status: int = 200, lose_first_response: bool = False) -> None:
        self.status = status
        self.lose_first_response = lose_first_response
        self.requests: list[str] = []  # Idempotency-Key of every request that reached it
        self.accepted: list[str] = []  # ids acted on, first time each, in order
        self.bodies: dict[str, dict] = {}
        self.server: HTTPServer | None = None
        self.port = 0
        self.start()
        self.url = f"http://127.0.0.1:{self.port}/hook"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server API
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                key = self.headers["Idempotency-Key"]
                outer.requests.append(key)
                if outer.status == 200 and key not in outer.bodies:
                    outer.bodies[key] = body
                    outer.accepted.append(key)
                    if outer.lose_first_response and len(outer.accepted) == 1:
                        self.close_connection = True  # acted on it, answer lost
                        return
                self.send_response(outer.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        return Handler

    def start(self) -> None:
        self.server = HTTPServer(("127.0.0.1", self.port), self._handler())
        self.port = self.server.server_port
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        assert self.server is not None
        self.server.shutdown()
        self.server.server_close()


def _notification(i: int) -> dict:
    return {
        "notification_id": f"GD-1:HH:{i}:notification", "enterprise_code": "E1",
        "hazard_source_code": None, "unit_code": "U1", "area_code": "A1", "tag": "GD-1",
        "condition": "HH", "priority": "critical", "value": 55.0, "limit": 50.0,
        "event_time_ms": i, "episode_id": f"GD-1:HH:{i}", "message": "高高报 HH GD-1 = 55 %LEL",
    }  # fmt: skip


def _late_reading(i: int) -> dict:
    """A critical notification of a late reading over its limit (made by the alarm job)."""
    return {
        "notification_id": f"GD-1:late:{i}:HH", "kind": "late_reading", "tag": "GD-1",
        "value": 57.0, "event_time_ms": i, "condition": "HH", "limit": 50.0,
        "priority": "critical", "late": True,
    }  # fmt: skip


def _produce(kafka, topic: str, values: list[dict | bytes | None]) -> None:
    """Produce records (dicts as JSON, bytes as they are, None as a tombstone) keyed GD-1."""
    producer = Producer({"bootstrap.servers": kafka.kafka.bootstrap_servers})
    for v in values:
        raw = json.dumps(v).encode() if isinstance(v, dict) else v
        producer.produce(topic, raw, key=b"GD-1")
    assert producer.flush(10) == 0


def _dead_letters(kafka, dlq: str, since: int) -> list[dict]:
    return [json.loads(v) for _, v in read_since(kafka, dlq, since)]


def _committed(kafka, group: str, topic: str) -> int:
    consumer = Consumer({"bootstrap.servers": kafka.kafka.bootstrap_servers, "group.id": group})
    try:
        return consumer.committed([TopicPartition(topic, 0)], timeout=10)[0].offset
    finally:
        consumer.close()


def _run(kafka, receiver: Receiver, topic: str, policy: RetryPolicy = FAST, **kw) -> dict:
    return run_notifier(
        kafka, sender(receiver.url, 2.0), topic=topic, group=f"g-{topic}", policy=policy,
        max_idle_s=3, **kw,
    )  # fmt: skip


def test_webhook_down_then_up_delivers_each_notification_once(kafka, fresh_topics):
    """GIVEN 3 HH notifications and a late-reading one, and a webhook that refuses connections
    until the notifier has been refused three times, then loses its answer to the first request
    it acts on WHEN the notifier runs (retry budget 30 s: the outage is shorter) THEN each id is
    acted on exactly once, in order, the lost answer's retry carried the same Idempotency-Key,
    nothing is dead-lettered, and a second run finds nothing left (all committed)."""
    spec = fresh_topics("alarm.notifications", partitions=1)["alarm.notifications"]
    records = [_notification(0), _late_reading(1), _notification(2), _notification(3)]
    ids = [r["notification_id"] for r in records]
    _produce(kafka, spec.name, records)
    receiver = Receiver(lose_first_response=True)
    receiver.stop()
    since = int(time.time() * 1000) - 1000
    lines: list[str] = []

    def report(line: str) -> None:
        """Bring the webhook back once the notifier has been refused three times (the outage is
        observed whatever the consumer's start-up time; a wall-clock timer raced it under load)."""
        lines.append(line)
        if sum("failed (ConnectError" in x for x in lines) == 3 and "failed (ConnectError" in line:
            receiver.start()

    counts = _run(kafka, receiver, spec.name, report=report)

    assert counts == {"delivered": 4, "dead_lettered": 0}
    assert receiver.accepted == ids
    assert receiver.requests == [ids[0], ids[0], *ids[1:]]  # the retry after the lost answer
    assert [receiver.bodies[i] for i in ids] == records  # the id is in the body too
    assert any("attempt 1 failed (ConnectError" in line for line in lines)
    assert f"delivered {ids[1]} (late_reading) after 1 attempt(s)" in lines
    assert _dead_letters(kafka, spec.dlq, since) == []
    assert _run(kafka, receiver, spec.name) == {"delivered": 0, "dead_lettered": 0}


@pytest.mark.parametrize(
    ("status", "tries", "reason"),
    [
        (503, 3, "webhook failed after 3 attempts (failing for 0 s): WebhookUnavailable:"
                 " webhook answered 503"),
        (400, 1, "webhook rejected it: webhook answered 400"),
    ],
)  # fmt: skip
def test_undeliverable_notification_is_dead_lettered_with_the_reason(
    kafka, fresh_topics, status, tries, reason
):
    """GIVEN a webhook answering 503 (max 3 attempts) or 400 (refused: not retried) WHEN the
    notifier runs THEN the notification is dead-lettered as delivery_failed with the exact
    reason, its bytes and key kept, after exactly that many attempts."""
    spec = fresh_topics("alarm.notifications", partitions=1)["alarm.notifications"]
    receiver = Receiver(status=status)
    since = int(time.time() * 1000) - 1000
    _produce(kafka, spec.name, [_notification(7)])

    counts = _run(kafka, receiver, spec.name, policy=RetryPolicy(0.01, 0.01, 30, max_attempts=3))

    assert counts == {"delivered": 0, "dead_lettered": 1}
    assert receiver.requests == ["GD-1:HH:7:notification"] * tries
    [letter] = _dead_letters(kafka, spec.dlq, since)
    assert (letter["reason_code"], letter["reason"], letter["source"], letter["key"]) == (
        "delivery_failed", reason, "notifier", "GD-1",
    )  # fmt: skip
    assert json.loads(base64.b64decode(letter["original_b64"])) == _notification(7)


def test_outage_longer_than_the_retry_budget_is_dead_lettered_then_redriven(kafka, fresh_topics):
    """GIVEN a webhook down for longer than the retry budget (1 s) and 3 notifications plus one
    non-JSON record WHEN the notifier runs THEN all 4 are dead-lettered (3 delivery_failed, the
    last two after one attempt each); WHEN --redrive runs with the webhook still down THEN it
    stops at the first, uncommitted; WHEN the webhook is up and redrive runs THEN the 3 are
    delivered once each, the non-JSON one skipped; WHEN redrive runs again THEN nothing is
    sent."""
    spec = fresh_topics("alarm.notifications", partitions=1)["alarm.notifications"]
    ids = [f"GD-1:HH:{i}:notification" for i in range(3)]
    receiver = Receiver()
    receiver.stop()
    since = int(time.time() * 1000) - 1000
    _produce(kafka, spec.name, [_notification(0), b"{oops", _notification(1), _notification(2)])
    short = RetryPolicy(first_backoff_s=0.05, max_backoff_s=0.3, retry_for_s=1, dlq_timeout_s=5)

    assert _run(kafka, receiver, spec.name, policy=short) == {"delivered": 0, "dead_lettered": 4}
    letters = _dead_letters(kafka, spec.dlq, since)
    assert [e["reason_code"] for e in letters] == ["delivery_failed", "malformed_json"] + [
        "delivery_failed"
    ] * 2
    reasons = [e["reason"].split(" (")[0] for e in letters if e["reason_code"] != "malformed_json"]
    # the first is retried for the 1 s budget; the webhook still failing, the next get one try
    assert reasons[0].startswith("webhook failed after ") and not reasons[0].endswith(" 1 attempt")
    assert reasons[1:] == ["webhook failed after 1 attempt"] * 2

    group = f"g-{spec.name}-redrive"
    send = sender(receiver.url, 2.0)
    with pytest.raises(NotifierStopped, match=f"stopped at {ids[0]} .* not committed") as stop:
        redrive(kafka, send, topic=spec.name, group=group, policy=short)
    assert stop.value.counts == {"delivered": 0, "rejected": 0, "skipped": 0}

    receiver.start()
    lines: list[str] = []
    counts = redrive(kafka, send, topic=spec.name, group=group, policy=short, report=lines.append)
    assert counts == {"delivered": 3, "rejected": 0, "skipped": 1}
    assert receiver.accepted == ids and receiver.requests == ids
    skipped = f"skipped {spec.dlq}[0]@1: not a notification (dead-lettered as malformed_json: "
    assert any(line.startswith(skipped) for line in lines)
    assert redrive(kafka, send, topic=spec.name, group=group, policy=short) == {
        "delivered": 0, "rejected": 0, "skipped": 0,
    }  # fmt: skip
    assert receiver.requests == ids


def test_non_json_and_tombstone_are_dead_lettered_and_consuming_goes_on(kafka, fresh_topics):
    """GIVEN a notification, a non-JSON record, a tombstone and another notification WHEN the
    notifier runs THEN both notifications are delivered, the two others dead-lettered as
    malformed_json with their reason and key (no crash), and everything is committed."""
    spec = fresh_topics("alarm.notifications", partitions=1)["alarm.notifications"]
    receiver = Receiver()
    since = int(time.time() * 1000) - 1000
    _produce(kafka, spec.name, [_notification(0), b"not json", None, _notification(1)])

    counts = _run(kafka, receiver, spec.name)

    assert counts == {"delivered": 2, "dead_lettered": 2}
    assert receiver.accepted == ["GD-1:HH:0:notification", "GD-1:HH:1:notification"]
    letters = _dead_letters(kafka, spec.dlq, since)
    assert [
        (e["reason_code"], e["reason"], e["key"], e["original_b64"], e["original_size_bytes"])
        for e in letters
    ] == [
        ("malformed_json",
         "not valid JSON: invalid literal, expected 'null': line 1 column 1 (char 0)",
         "GD-1", base64.b64encode(b"not json").decode(), 8),
        ("malformed_json", "tombstone (null value): no notification in it", "GD-1", "", 0),
    ]  # fmt: skip
    assert _committed(kafka, f"g-{spec.name}", spec.name) == 4


def test_failed_dead_letter_write_leaves_the_offset_uncommitted(kafka, fresh_topics):
    """GIVEN a notification then a non-JSON record, and the dead-letter topic pointing at a topic
    that does not exist (the broker does not auto-create) WHEN the notifier runs THEN it stops
    with the reason naming the record, the notification is committed (offset 1) but not the
    record whose dead letter failed; WHEN it runs again with the real dead-letter topic THEN
    that record is read again and dead-lettered, and the next notification delivered."""
    spec = fresh_topics("alarm.notifications", partitions=1)["alarm.notifications"]
    receiver = Receiver()
    group = f"g-{spec.name}"
    since = int(time.time() * 1000) - 1000
    _produce(kafka, spec.name, [_notification(0), b"not json", _notification(1)])
    missing = f"{spec.name}.missing-dlq"
    quick = RetryPolicy(first_backoff_s=0.05, max_backoff_s=0.3, retry_for_s=30, dlq_timeout_s=2)

    with pytest.raises(NotifierStopped) as stop:
        _run(kafka, receiver, spec.name, policy=quick, dlq_topic=missing)

    assert str(stop.value) == (
        f"dead-letter write to {missing} failed (Local: Message timed out);"
        f" record at {spec.name}[0]@1 is not committed and is read again when the notifier"
        " restarts"
    )
    assert stop.value.counts == {"delivered": 1, "dead_lettered": 0}
    assert _committed(kafka, group, spec.name) == 1
    assert _run(kafka, receiver, spec.name) == {"delivered": 1, "dead_lettered": 1}
    assert [e["reason_code"] for e in _dead_letters(kafka, spec.dlq, since)] == ["malformed_json"]
    assert receiver.accepted == ["GD-1:HH:0:notification", "GD-1:HH:1:notification"]
    assert _committed(kafka, group, spec.name) == 3
