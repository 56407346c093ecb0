"""Webhook sink for alarm notifications: at-least-once delivery with retries and backoff.

Reads `alarm.notifications`, POSTs each record as JSON to the webhook, and commits the Kafka
offset only after the receiver answered 2xx. Receivers de-duplicate on `notification_id`. A
record that still fails after the last retry goes to `alarm.notifications.dlq` with the reason, so
nothing is lost; an SMS gateway is another `Sender` behind the same interface.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from pipelines.settings import Settings


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try one notification before dead-lettering it."""

    attempts: int = 5
    first_backoff_s: float = 0.5
    max_backoff_s: float = 30.0
    timeout_s: float = 5.0


Sender = Callable[[dict], None]  # raises on failure


def webhook_sender(url: str, timeout_s: float, token: str | None = None) -> Sender:
    """Return a sender that POSTs the record as JSON and raises unless the answer is 2xx."""
    client = httpx.Client(timeout=timeout_s)
    headers = {"Authorization": f"Bearer {token}"} if token else {}

    def send(record: dict) -> None:
        resp = client.post(url, json=record, headers=headers)
        if resp.status_code // 100 != 2:
            raise RuntimeError(f"webhook answered {resp.status_code}")

    return send


def deliver(
    record: dict, send: Sender, policy: RetryPolicy, sleep=time.sleep
) -> tuple[bool, int, str]:  # noqa: ANN001
    """Try to send one record; return (delivered, attempts used, last error)."""
    backoff = policy.first_backoff_s
    error = ""
    for attempt in range(1, policy.attempts + 1):
        try:
            send(record)
            return True, attempt, ""
        except Exception as exc:  # noqa: BLE001 - any failure is retried
            error = f"{type(exc).__name__}: {exc}"
            if attempt < policy.attempts:
                sleep(backoff)
                backoff = min(policy.max_backoff_s, backoff * 2)
    return False, policy.attempts, error


def run_notifier(
    settings: Settings,
    send: Sender,
    topic: str = "alarm.notifications",
    group: str = "hazchem-notifier",
    policy: RetryPolicy = RetryPolicy(),
    max_idle_s: float | None = None,
    on_result: Callable[[dict, bool, int], None] | None = None,
) -> dict[str, int]:
    """Deliver notifications until stopped (or idle for max_idle_s); return counts."""
    from confluent_kafka import Consumer, Producer

    from pipelines.ingest import Verdict, dead_letter

    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka.bootstrap_servers,
            "group.id": group,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "log_level": 2,
        }
    )
    producer = Producer({"bootstrap.servers": settings.kafka.bootstrap_servers, "log_level": 2})
    assigned: list[bool] = []
    # idle time counts only once the group has given us partitions (joining can take seconds)
    consumer.subscribe([topic], on_assign=lambda c, parts: assigned.append(True))
    counts = {"delivered": 0, "dead_lettered": 0}
    idle_since = time.monotonic()
    try:
        while True:
            msg = consumer.poll(0.5)
            if msg is None or msg.error():
                if not assigned:
                    idle_since = time.monotonic()
                elif max_idle_s is not None and time.monotonic() - idle_since > max_idle_s:
                    break
                continue
            idle_since = time.monotonic()
            record = json.loads(msg.value())
            ok, attempts, error = deliver(record, send, policy)
            if ok:
                counts["delivered"] += 1
            else:
                reason = f"webhook failed after {attempts} attempts: {error}"
                verdict = Verdict(None, "delivery_failed", reason)
                envelope = dead_letter(topic, msg.value(), verdict, "notifier", record.get("tag"))
                producer.produce(topic + ".dlq", json.dumps(envelope).encode(), key=msg.key())
                producer.flush(10)
                counts["dead_lettered"] += 1
            if on_result:
                on_result(record, ok, attempts)
            consumer.commit(message=msg, asynchronous=False)
    finally:
        consumer.close()
    return counts
