"""Retry schedule and record checks of the webhook notifier (pure parts; Kafka in integration)."""

from __future__ import annotations

import pytest

from pipelines.alarms.notify import (
    Outcome,
    Rejected,
    RetryPolicy,
    SinkHealth,
    deliver,
    parse_notification,
)
from pipelines.ingest import Verdict
from pipelines.settings import NotifierSettings


class Clock:
    """A fake monotonic clock that sleeping advances."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def down_until(clock: Clock, up_at: float, calls: list[float]):
    """Return a sender that refuses until clock time `up_at`, recording each call's time."""

    def send(nid: str, body: bytes) -> None:
        calls.append(clock.now)
        if clock.now < up_at:
            raise ConnectionRefusedError("connection refused")

    return send


def test_shipped_defaults_are_the_documented_ones() -> None:
    """GIVEN no environment WHEN the settings are read THEN the policy is 0.5 s doubling to 30 s,
    retried for 1800 s, no attempt cap, 5 s per request, 30 s per dead-letter write."""
    assert RetryPolicy.from_settings(NotifierSettings()) == RetryPolicy(
        first_backoff_s=0.5,
        max_backoff_s=30.0,
        retry_for_s=1800.0,
        max_attempts=0,
        timeout_s=5.0,
        dlq_timeout_s=30.0,
    )


def test_ten_minute_outage_at_the_defaults_is_ridden_out() -> None:
    """GIVEN the shipped policy and a webhook refusing for 600 s WHEN one notification is sent
    THEN backoff 0.5, 1, 2, 4, 8, 16, then 30 s; delivered by the first try after it is back
    (at 601.5 s, within 30 s of it), on attempt 26; the sink is healthy again."""
    clock, calls = Clock(), []
    health = SinkHealth()
    out = deliver(
        "n1", b"{}", down_until(clock, clock.now + 600, calls), RetryPolicy(), health,
        sleep=clock.sleep, clock=lambda: clock.now,
    )  # fmt: skip
    assert out == Outcome(True, 26)
    assert clock.sleeps == [0.5, 1, 2, 4, 8, 16] + [30.0] * 19
    assert calls[-1] - calls[0] == 601.5
    assert health.failing_since is None


def test_outage_longer_than_retry_for_dead_letters_then_fails_fast() -> None:
    """GIVEN retry_for 60 s and a dead webhook WHEN two notifications are sent THEN the first
    gives up at exactly 60 s of failure (backoff cut to the time left); the second, the webhook
    still failing, gets one attempt only."""
    clock, calls = Clock(), []
    policy = RetryPolicy(retry_for_s=60)
    health = SinkHealth()
    send = down_until(clock, float("inf"), calls)
    first = deliver("n1", b"{}", send, policy, health, sleep=clock.sleep, clock=lambda: clock.now)
    assert clock.sleeps == [0.5, 1, 2, 4, 8, 16, 28.5]
    assert first == Outcome(
        False,
        8,
        "webhook failed after 8 attempts (failing for 60 s):"
        " ConnectionRefusedError: connection refused",
    )
    second = deliver("n2", b"{}", send, policy, health, sleep=clock.sleep, clock=lambda: clock.now)
    assert second.delivered is False and second.attempts == 1
    assert len(clock.sleeps) == 7


def test_max_attempts_caps_the_tries() -> None:
    """GIVEN max_attempts 3 WHEN the webhook keeps failing THEN 3 tries, 2 backoffs."""
    clock, calls = Clock(), []
    out = deliver(
        "n1", b"{}", down_until(clock, float("inf"), calls), RetryPolicy(max_attempts=3),
        SinkHealth(), sleep=clock.sleep, clock=lambda: clock.now,
    )  # fmt: skip
    assert (out.delivered, out.attempts, clock.sleeps) == (False, 3, [0.5, 1])


def test_a_refusal_is_not_retried_and_proves_the_webhook_is_up() -> None:
    """GIVEN a webhook failing since earlier WHEN it answers 400 THEN one attempt, rejected, and
    the failure clock is reset."""
    health = SinkHealth(failing_since=5.0)

    def send(nid: str, body: bytes) -> None:
        raise Rejected("webhook answered 400")

    out = deliver("n1", b"{}", send, RetryPolicy(), health, sleep=pytest.fail)
    assert out == Outcome(False, 1, "webhook rejected it: webhook answered 400", rejected=True)
    assert health.failing_since is None


NO_ID = "field 'notification_id' (a non-empty string) is missing"


@pytest.mark.parametrize(
    ("raw", "code", "reason"),
    [
        (None, "malformed_json", "tombstone (null value): no notification in it"),
        (b"not json", "malformed_json",
         "not valid JSON: invalid literal, expected 'null': line 1 column 1 (char 0)"),
        (b"\xff\xfe", "malformed_json", "not valid JSON: str is not valid UTF-8:"
         " surrogates not allowed: line 1 column 1 (char 0)"),
        (b'{"notification_id": "n", "value": NaN}', "malformed_json",
         "not valid JSON: unexpected character, expected a JSON value: line 1 column 35 (char 34)"),
        (b"[1, 2]", "wrong_type", "a notification is a JSON object, got list"),
        (b'{"tag": "GD-1"}', "missing_field", NO_ID),
        (b'{"notification_id": ""}', "missing_field", NO_ID),
    ],
)  # fmt: skip
def test_records_that_are_not_notifications_get_a_reason(
    raw: bytes | None, code: str, reason: str
) -> None:
    """GIVEN a tombstone, non-JSON (NaN included), a non-object or no id WHEN parsed THEN the
    exact verdict."""
    assert parse_notification(raw) == Verdict(None, code, reason)


def test_late_reading_notification_is_deliverable() -> None:
    """GIVEN a late-reading notification (kind late_reading, no episode) WHEN parsed THEN its
    id and record: the notifier delivers whatever kind carries a notification_id."""
    raw = (
        b'{"notification_id": "GD-1:late:1714521600000:HH", "kind": "late_reading", "tag": "GD-1",'
        b' "value": 55.0, "event_time_ms": 1714521600000, "condition": "HH", "limit": 50.0,'
        b' "priority": "critical", "late": true}'
    )
    nid, record = parse_notification(raw)
    assert (nid, record["kind"], record["late"]) == (
        "GD-1:late:1714521600000:HH",
        "late_reading",
        True,
    )
