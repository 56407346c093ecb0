"""Webhook sink for notifications: at-least-once delivery, one stable id per notification.

Reads `alarm.notifications` (or `case.notifications`) and POSTs each record's bytes, unchanged, to
the webhook with the header `Idempotency-Key: <notification_id>` (the id is in the body too), so
a receiver de-duplicates a retry whose answer was lost. The Kafka offset is committed only after
the record was delivered (2xx) or its dead letter was confirmed by Kafka. Whatever the topic holds
is delivered (alarm raises, late-reading notifications, case notifications): the only requirement
is a JSON object with a `notification_id`. A record that is not one (non-JSON, a tombstone, no id)
and a notification the webhook cannot take go to `<topic>.dlq` with the reason; `redrive` delivers
the dead-lettered notifications later. Retry timings: `NotifierSettings`, docs/alarms.md.
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import orjson
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer

from pipelines.ingest import Verdict, dead_letter
from pipelines.kafka_client import client_config
from pipelines.settings import NotifierSettings, Settings
from pipelines.topics import DLQ_SUFFIX

# The webhook refuses this notification itself: retrying it cannot help. 408 and 429 are the
# receiver being busy, retried like a 5xx or a refused connection.
_RETRIED_4XX = frozenset({408, 429})
_MAX_POLL_INTERVAL_MS = 86_400_000  # librdkafka's upper bound


class Rejected(Exception):
    """The webhook answered 4xx (not 408/429): it refuses this notification."""


class WebhookUnavailable(Exception):
    """The webhook answered 5xx, 408, 429 or another non-2xx: try again later."""


class NotifierStopped(RuntimeError):
    """The notifier stopped without committing the record it was on; `counts` so far."""

    def __init__(self, message: str, counts: dict[str, int]) -> None:
        super().__init__(message)
        self.counts = counts


@dataclass(frozen=True)
class RetryPolicy:
    """How long to keep trying a failing webhook before dead-lettering (NotifierSettings)."""

    first_backoff_s: float = 0.5
    max_backoff_s: float = 30.0
    retry_for_s: float = 1800.0  # of continuous failure (no success in between)
    max_attempts: int = 0  # per notification; 0 = no cap
    timeout_s: float = 5.0
    dlq_timeout_s: float = 30.0

    @classmethod
    def from_settings(cls, s: NotifierSettings) -> RetryPolicy:
        """Return the policy of the settings."""
        return cls(
            first_backoff_s=s.first_backoff_s,
            max_backoff_s=s.max_backoff_s,
            retry_for_s=s.retry_for_s,
            max_attempts=s.max_attempts,
            timeout_s=s.timeout_s,
            dlq_timeout_s=s.dlq_timeout_s,
        )


@dataclass
class SinkHealth:
    """Whether the webhook is failing, shared by the notifications of one run."""

    failing_since: float | None = None  # clock time of the first failure since the last success


@dataclass(frozen=True)
class Outcome:
    """Result of delivering one notification."""

    delivered: bool
    attempts: int
    reason: str = ""  # why it was not delivered
    rejected: bool = False  # the webhook refused it (4xx), as opposed to being unavailable


# send(notification_id, body) returns on 2xx, raises Rejected or any other exception otherwise
Sender = Callable[[str, bytes], None]
Report = Callable[[str], None]


def webhook_sender(url: str, timeout_s: float, token: str | None = None) -> Sender:
    """Return a sender that POSTs the body as JSON with `Idempotency-Key: <notification_id>`."""
    client = httpx.Client(timeout=timeout_s)
    base = {"Content-Type": "application/json"}
    if token:
        base["Authorization"] = f"Bearer {token}"

    def send(notification_id: str, body: bytes) -> None:
        resp = client.post(url, content=body, headers={**base, "Idempotency-Key": notification_id})
        status = resp.status_code
        if 200 <= status < 300:
            return
        if 400 <= status < 500 and status not in _RETRIED_4XX:
            raise Rejected(f"webhook answered {status}")
        raise WebhookUnavailable(f"webhook answered {status}")

    return send


def parse_notification(raw: bytes | None) -> tuple[str, dict] | Verdict:
    """Return (notification_id, record) of a deliverable record, else the rejection Verdict."""
    if raw is None:
        return Verdict(None, "malformed_json", "tombstone (null value): no notification in it")
    try:
        record = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return Verdict(None, "malformed_json", f"not valid JSON: {exc}")
    if not isinstance(record, dict):
        kind = type(record).__name__
        return Verdict(None, "wrong_type", f"a notification is a JSON object, got {kind}")
    nid = record.get("notification_id")
    if not isinstance(nid, str) or not nid:
        return Verdict(
            None, "missing_field", "field 'notification_id' (a non-empty string) is missing"
        )
    return nid, record


def deliver(
    notification_id: str,
    body: bytes,
    send: Sender,
    policy: RetryPolicy,
    health: SinkHealth,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    report: Report | None = None,
) -> Outcome:
    """Send one notification, retrying while the webhook has failed for < retry_for_s."""
    backoff = policy.first_backoff_s
    attempt = 0
    while True:
        attempt += 1
        try:
            send(notification_id, body)
        except Rejected as exc:
            health.failing_since = None  # it answered: the webhook is up
            return Outcome(False, attempt, f"webhook rejected it: {exc}", rejected=True)
        except Exception as exc:  # noqa: BLE001 - refused, timed out, 5xx: all retried
            now = clock()
            if health.failing_since is None:
                health.failing_since = now
            error = f"{type(exc).__name__}: {exc}"
            failing_for = now - health.failing_since
            left = policy.retry_for_s - failing_for
            if left <= 0 or (policy.max_attempts and attempt >= policy.max_attempts):
                return Outcome(
                    False,
                    attempt,
                    f"webhook failed after {attempt} attempt{'s' if attempt > 1 else ''}"
                    f" (failing for {failing_for:.0f} s): {error}",
                )
            wait = min(backoff, left)
            if report:
                report(
                    f"{notification_id}: attempt {attempt} failed ({error}),"
                    f" retry in {round(wait, 2):g} s"
                )
            sleep(wait)
            backoff = min(policy.max_backoff_s, backoff * 2)
        else:
            health.failing_since = None
            return Outcome(True, attempt)


def _consumer(settings: Settings, group: str, policy: RetryPolicy, eof: bool = False) -> Consumer:
    """Return a manually committing consumer that may block in retries for a whole outage."""
    longest_block_s = (
        policy.retry_for_s + policy.max_backoff_s + 2 * policy.timeout_s + policy.dlq_timeout_s
    )
    return Consumer(
        client_config(
            settings,
            "notifier",
            **{
                "group.id": group,
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "enable.partition.eof": eof,
                # one notification may be retried for retry_for_s without polling; the group must
                # not hand its partition to another member meanwhile
                "max.poll.interval.ms": min(
                    _MAX_POLL_INTERVAL_MS, max(300_000, int((longest_block_s + 60) * 1000))
                ),
                "log_level": 2,
            },
        )
    )


def _key_text(msg: Message) -> str | None:
    key = msg.key()
    return key.decode("utf-8", "replace") if key is not None else None


def _where(msg: Message) -> str:
    return f"{msg.topic()}[{msg.partition()}]@{msg.offset()}"


class _DeadLetters:
    """Writes dead letters and confirms each one with Kafka before its offset may be committed."""

    def __init__(self, settings: Settings, topic: str, dlq: str, timeout_s: float) -> None:
        self.topic = topic
        self.dlq = dlq
        self.timeout_s = timeout_s
        self.producer = Producer(
            client_config(
                settings,
                "notifier",
                **{
                    "acks": "all",
                    "enable.idempotence": True,
                    # the dead-letter topic is declared: never create a misspelt one by writing
                    "allow.auto.create.topics": False,
                    "message.timeout.ms": max(1, int(timeout_s * 1000)),
                    "log_level": 2,
                },
            )
        )

    def write(self, msg: Message, verdict: Verdict) -> str | None:
        """Dead-letter `msg`; return None once Kafka confirmed it, else why it failed."""
        raw = msg.value() if msg.value() is not None else b""  # a tombstone keeps its key only
        envelope = dead_letter(self.topic, raw, verdict, "notifier", _key_text(msg))
        result: list[KafkaError | None] = []
        try:
            self.producer.produce(
                self.dlq,
                orjson.dumps(envelope),
                key=msg.key(),
                on_delivery=lambda err, _msg: result.append(err),
            )
        except (KafkaException, BufferError) as exc:
            return f"{type(exc).__name__}: {exc}"
        left = self.producer.flush(self.timeout_s + 5)
        if not result:
            return f"not confirmed within {self.timeout_s:g} s ({left} still queued)"
        if result[0] is not None:
            return result[0].str()
        return None


def run_notifier(
    settings: Settings,
    send: Sender,
    topic: str = "alarm.notifications",
    group: str = "hazchem-notifier",
    policy: RetryPolicy | None = None,
    max_idle_s: float | None = None,
    report: Report | None = None,
    dlq_topic: str | None = None,
) -> dict[str, int]:
    """Deliver notifications until stopped (or idle for max_idle_s); return counts.

    Raises NotifierStopped, with the offset of the current record not committed, when its dead
    letter could not be written.
    """
    policy = policy or RetryPolicy.from_settings(settings.notifier)
    say = report or (lambda _line: None)
    dlq = dlq_topic or topic + DLQ_SUFFIX
    letters = _DeadLetters(settings, topic, dlq, policy.dlq_timeout_s)
    consumer = _consumer(settings, group, policy)
    counts = {"delivered": 0, "dead_lettered": 0}
    if topic not in consumer.list_topics(timeout=10).topics:
        consumer.close()
        raise NotifierStopped(f"topic {topic} does not exist (`hazchem up` creates it)", counts)
    assigned: list[bool] = []
    # idle time counts only once the group has given us partitions (joining can take seconds)
    consumer.subscribe([topic], on_assign=lambda c, parts: assigned.append(True))
    health = SinkHealth()
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
            parsed = parse_notification(msg.value())
            if isinstance(parsed, Verdict):
                verdict, label = parsed, "record"
            else:
                nid, record = parsed
                kind = record.get("kind")
                label = f"{nid} ({kind})" if isinstance(kind, str) else nid
                outcome = deliver(nid, msg.value(), send, policy, health, report=say)
                verdict = (
                    None if outcome.delivered else Verdict(None, "delivery_failed", outcome.reason)
                )
                if outcome.delivered:
                    counts["delivered"] += 1
                    say(f"delivered {label} after {outcome.attempts} attempt(s)")
            if verdict is not None:
                failure = letters.write(msg, verdict)
                if failure is not None:
                    raise NotifierStopped(
                        f"dead-letter write to {dlq} failed ({failure}); {label} at"
                        f" {_where(msg)} is not committed and is read again when the notifier"
                        " restarts",
                        counts,
                    )
                counts["dead_lettered"] += 1
                say(
                    f"DEAD-LETTERED {label} at {_where(msg)} to {dlq}:"
                    f" {verdict.reason_code}: {verdict.reason}"
                )
            _commit(consumer, msg, say)
            idle_since = time.monotonic()
    finally:
        consumer.close()  # no auto-commit: an unfinished record stays uncommitted
    return counts


def _commit(consumer: Consumer, msg: Message, say: Report) -> None:
    """Commit past `msg`; a failed commit only means it may be delivered again (same id)."""
    try:
        consumer.commit(message=msg, asynchronous=False)
    except KafkaException as exc:
        say(
            f"warning: commit of {_where(msg)} failed ({exc.args[0].str()}); it may be"
            " delivered again, with the same Idempotency-Key"
        )


def redrive(
    settings: Settings,
    send: Sender,
    topic: str = "alarm.notifications",
    group: str = "hazchem-notifier-redrive",
    policy: RetryPolicy | None = None,
    report: Report | None = None,
    join_timeout_s: float = 60.0,
) -> dict[str, int]:
    """Deliver the original records of `<topic>.dlq` up to its current end; return counts.

    Commits the redrive group's offset past each dead letter only once its notification was
    delivered (or cannot be: not a notification, or refused by the webhook with a 4xx, counted
    and reported, left in the dead-letter topic). Raises NotifierStopped, uncommitted, when the
    webhook is still unavailable after the retry policy, so a later redrive resumes there.
    """
    policy = policy or RetryPolicy.from_settings(settings.notifier)
    say = report or (lambda _line: None)
    dlq = topic + DLQ_SUFFIX
    counts = {"delivered": 0, "rejected": 0, "skipped": 0}
    consumer = _consumer(settings, group, policy, eof=True)
    try:
        if dlq not in consumer.list_topics(timeout=10).topics:
            raise NotifierStopped(
                f"dead-letter topic {dlq} does not exist (`hazchem up` creates it)", counts
            )
        assigned: set[tuple[str, int]] = set()
        at_end: set[tuple[str, int]] = set()

        def on_assign(_c: Consumer, parts: list) -> None:
            assigned.update((p.topic, p.partition) for p in parts)

        consumer.subscribe([dlq], on_assign=on_assign)
        health = SinkHealth()
        deadline = time.monotonic() + join_timeout_s
        while not assigned or not assigned <= at_end:
            msg = consumer.poll(0.5)
            if msg is None:
                if not assigned and time.monotonic() > deadline:
                    raise NotifierStopped(
                        f"no partition of {dlq} assigned within {join_timeout_s:g} s", counts
                    )
                continue
            if msg.error():
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    at_end.add((msg.topic(), msg.partition()))
                continue
            at_end.discard((msg.topic(), msg.partition()))
            _redrive_one(msg, send, policy, health, counts, say)
            _commit(consumer, msg, say)
    finally:
        consumer.close()
    return counts


def _redrive_one(
    msg: Message,
    send: Sender,
    policy: RetryPolicy,
    health: SinkHealth,
    counts: dict[str, int],
    say: Report,
) -> None:
    """Deliver the original of one dead letter, or count why it cannot be delivered."""
    where = _where(msg)
    try:
        envelope = orjson.loads(msg.value() or b"")
        original = base64.b64decode(envelope["original_b64"], validate=True)
    except (orjson.JSONDecodeError, TypeError, KeyError, binascii.Error) as exc:
        counts["skipped"] += 1
        say(f"skipped {where}: not a dead-letter envelope ({type(exc).__name__}: {exc})")
        return
    parsed = parse_notification(original)
    if isinstance(parsed, Verdict):
        counts["skipped"] += 1
        # the envelope says why better than a re-parse does (a tombstone's original is empty)
        said = f"{envelope.get('reason_code')}: {envelope.get('reason')}"
        say(f"skipped {where}: not a notification (dead-lettered as {said})")
        return
    nid, _record = parsed
    outcome = deliver(nid, original, send, policy, health, report=say)
    if outcome.delivered:
        counts["delivered"] += 1
        say(f"redelivered {nid} after {outcome.attempts} attempt(s)")
    elif outcome.rejected:
        counts["rejected"] += 1
        say(f"REJECTED {nid} ({where}): {outcome.reason}; it stays in the dead-letter topic")
    else:
        raise NotifierStopped(
            f"{outcome.reason}; stopped at {nid} ({where}), not committed:"
            " run --redrive again when the webhook is back",
            counts,
        )
