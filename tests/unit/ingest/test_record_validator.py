"""Validated ingest: each bad-input class gets its own reason code; good records pass untouched."""

from __future__ import annotations

import json

import pytest

from pipelines.ingest import RecordValidator
from pipelines.settings import IngestSettings

NOW = 1_800_000_000_000


def reading(**overrides) -> dict:
    record = {
        "enterprise_code": "E1",
        "hazard_source_code": "HS1",
        "unit_code": "U1",
        "tag": "LT-101",
        "metric_code": "level",
        "value": 4.2,
        "unit": "m",
        "quality": "good",
        "event_time_ms": NOW - 1000,
    }
    record.update(overrides)
    return record


@pytest.fixture
def validator() -> RecordValidator:
    return RecordValidator(IngestSettings(), known_tags={"LT-101", "TT-102"}, clock_ms=lambda: NOW)


def raw(record: dict) -> bytes:
    return json.dumps(record).encode()


def test_valid_reading_is_accepted_as_parsed(validator):
    """GIVEN a well-formed reading of a known tag WHEN checked THEN it is accepted unchanged."""
    verdict = validator.check_bytes("readings", raw(reading()))
    assert verdict.accepted
    assert verdict.record == reading()


@pytest.mark.parametrize(
    ("payload", "code", "reason_part"),
    [
        (b'{"tag": "LT-101", "value": 4.2', "malformed_json", "not valid JSON"),
        (b"[1, 2, 3]", "wrong_type", "must be a JSON object"),
        (raw(reading(value="12.5")), "wrong_type", "value"),
        (raw({k: v for k, v in reading().items() if k != "unit"}), "missing_field", "unit"),
        (raw(reading(tag="XX-999")), "unknown_tag", "'XX-999'"),
        (raw(reading()).replace(b"4.2", b"NaN"), "non_finite_value", "'value'"),
        (raw(reading()).replace(b"4.2", b"Infinity"), "non_finite_value", "'value'"),
        (raw(reading(event_time_ms=NOW + 301_000)), "future_timestamp", "301 s in the future"),
        (raw(reading(event_time_ms=NOW - 8 * 86_400_000)), "expired_timestamp", "192.0 h old"),
        (raw(reading(metric_code="humidity")), "schema_violation", "metric_code"),
    ],
)
def test_each_bad_input_class_has_its_reason(validator, payload, code, reason_part):
    """GIVEN one bad record per class WHEN checked THEN it is rejected with that class and field."""
    verdict = validator.check_bytes("readings", payload)
    assert not verdict.accepted
    assert verdict.reason_code == code
    assert reason_part in verdict.reason


def test_oversized_payload_is_rejected_before_parsing(validator):
    """GIVEN a record larger than the limit WHEN checked THEN reason oversized with both sizes."""
    big = raw(reading(unit="m" * 70_000))
    verdict = validator.check_bytes("readings", big)
    assert verdict.reason_code == "oversized"
    assert f"record is {len(big)} bytes, above the 65536-byte limit" == verdict.reason


def test_timestamps_at_the_limits_are_accepted(validator):
    """GIVEN event times exactly 300 s ahead and exactly 7 days old WHEN checked THEN accepted."""
    assert validator.check_record("readings", reading(event_time_ms=NOW + 300_000)).accepted
    assert validator.check_record("readings", reading(event_time_ms=NOW - 7 * 86_400_000)).accepted


def test_duplicate_is_same_tag_and_event_time_even_if_value_differs(validator):
    """GIVEN a reading accepted once WHEN the same tag+time comes again THEN it is a duplicate."""
    assert validator.check_record("readings", reading()).accepted
    again = validator.check_record("readings", reading(value=9.9))
    assert again.reason_code == "duplicate"
    assert (
        again.reason == f"duplicate of an accepted record (tag=LT-101, event_time_ms={NOW - 1000})"
    )
    assert validator.check_record("readings", reading(event_time_ms=NOW - 999)).accepted


def test_rejected_record_does_not_count_as_seen(validator):
    """GIVEN a rejected reading WHEN a valid one with the same tag+time follows
    THEN it is accepted."""
    assert validator.check_record("readings", reading(value="x")).reason_code == "wrong_type"
    assert validator.check_record("readings", reading()).accepted


def test_non_finite_parsed_value_is_rejected(validator):
    """GIVEN a parsed record holding float('nan') WHEN checked THEN non_finite_value."""
    verdict = validator.check_record("readings", reading(value=float("nan")))
    assert verdict.reason_code == "non_finite_value"
