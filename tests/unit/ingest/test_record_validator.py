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
    """GIVEN a reading Kafka confirmed WHEN the same tag+time comes again THEN it is a duplicate:
    a resent one when identical, one 'with different values' otherwise."""
    first = validator.check_record("readings", reading())
    assert first.accepted
    validator.confirm("readings", first)
    again = validator.check_record("readings", reading())
    assert (again.reason_code, again.resent) == ("duplicate", True)
    assert again.reason == (
        f"duplicate of an accepted record (tag=LT-101, event_time_ms={NOW - 1000})"
    )
    other = validator.check_record("readings", reading(value=9.9))
    assert (other.reason_code, other.resent) == ("duplicate", False)
    assert other.reason == (
        f"duplicate of an accepted record (tag=LT-101, event_time_ms={NOW - 1000})"
        " with different values"
    )
    assert validator.check_record("readings", reading(event_time_ms=NOW - 999)).accepted


def test_only_keys_kafka_confirmed_or_holds_in_flight_are_duplicates(validator):
    """GIVEN a reading validated but never produced, then one held in flight and released
    (delivery failed) WHEN each is checked again THEN accepted, duplicate while held, accepted
    after release."""
    first = validator.check_record("readings", reading())
    assert validator.check_record("readings", reading()).accepted  # never produced: not seen
    validator.hold("readings", first)
    assert validator.check_record("readings", reading()).reason_code == "duplicate"
    assert not validator.is_confirmed("readings", validator.check_record("readings", reading()))
    validator.release("readings", first)
    assert validator.check_record("readings", reading()).accepted


def test_a_confirmed_record_is_confirmed_for_its_resent_copy(validator):
    """GIVEN a reading held then confirmed WHEN an identical copy is checked THEN the copy's
    verdict points at a confirmed original."""
    first = validator.check_record("readings", reading())
    validator.hold("readings", first)
    validator.confirm("readings", first)
    copy = validator.check_record("readings", reading())
    assert copy.resent and validator.is_confirmed("readings", copy)


def test_rejected_record_does_not_count_as_seen(validator):
    """GIVEN a rejected reading WHEN a valid one with the same tag+time follows
    THEN it is accepted."""
    assert validator.check_record("readings", reading(value="x")).reason_code == "wrong_type"
    assert validator.check_record("readings", reading()).accepted


def test_non_finite_parsed_value_is_rejected(validator):
    """GIVEN a parsed record holding float('nan') WHEN checked THEN non_finite_value."""
    verdict = validator.check_record("readings", reading(value=float("nan")))
    assert verdict.reason_code == "non_finite_value"


def nested(depth: int) -> bytes:
    """A reading whose `unit` holds arrays nested so that the record is `depth` levels deep."""
    return raw(reading()).replace(b'"m"', b"[" * (depth - 1) + b"]" * (depth - 1))


@pytest.mark.parametrize("depth", [33, 1025, 5000])
def test_record_nested_past_the_limit_is_too_deep(validator, depth):
    """GIVEN a reading nested past the 32-level limit (within orjson's 1,024 levels or beyond:
    5,000 levels is 10 KB, under the size limit) WHEN checked THEN too_deep, no RecursionError."""
    verdict = validator.check_bytes("readings", nested(depth))
    assert verdict.reason_code == "too_deep"
    assert verdict.reason.startswith("objects/arrays nest deeper than the 32-level limit (at ")


def test_record_at_the_depth_limit_goes_on_to_the_schema(validator):
    """GIVEN a reading exactly 32 levels deep WHEN checked THEN the schema judges it (unit is
    not an array), not the depth limit."""
    verdict = validator.check_bytes("readings", nested(32))
    assert verdict.reason_code == "wrong_type"


def test_deep_parsed_record_is_too_deep(validator):
    """GIVEN a parsed record holding lists nested 5,000 deep WHEN checked THEN too_deep."""
    inner: list = []
    outer = inner
    for _ in range(5000):
        inner.append([])
        inner = inner[0]
    verdict = validator.check_record("readings", reading(unit=outer))
    assert verdict.reason_code == "too_deep"


@pytest.mark.parametrize(
    ("payload", "code", "reason"),
    [
        (
            raw(reading()).replace(b"4.2", b"1" + b"0" * 5000),
            "malformed_json",
            "not valid JSON: number is infinity when parsed as double:"
            " line 1 column 125 (char 124)",
        ),
        (
            raw(reading()).replace(b"4.2", b"1e400"),
            "non_finite_value",
            "field 'value' is not a finite number",
        ),
        (
            raw(reading()).replace(b'"m"', b'"\\ud800"'),
            "malformed_json",
            "not valid JSON: no low surrogate in string: line 1 column 139 (char 138)",
        ),
        (b'"just a string"', "wrong_type", "record must be a JSON object, got str"),
        (b"null", "wrong_type", "record must be a JSON object, got NoneType"),
        (b'{"unit": "\xff"}', "malformed_json", "not valid JSON: not UTF-8 (byte 0xff at 10)"),
    ],
)  # fmt: skip
def test_numbers_and_strings_json_cannot_hold_get_their_reason(validator, payload, code, reason):
    """GIVEN a 5,000-digit number, 1e400, a lone surrogate, a non-object, invalid UTF-8
    WHEN checked THEN each gets its reason code and text."""
    verdict = validator.check_bytes("readings", payload)
    assert (verdict.reason_code, verdict.reason) == (code, reason)


def test_integer_past_64_bits_in_bytes_is_judged_as_its_value(validator):
    """GIVEN event_time_ms of 10**30 WHEN checked THEN future_timestamp (orjson reads it as a
    float), not a crash."""
    verdict = validator.check_bytes("readings", raw(reading(event_time_ms=10**30)))
    assert verdict.reason_code == "future_timestamp"


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        (reading(value=10**30), "record cannot be written as JSON: Integer exceeds 64-bit range"),
        (reading(value={1: 2}), "record cannot be written as JSON: Dict key must be str"),
        (["not", "a", "dict"], "record must be a JSON object, got list"),
    ],
)
def test_parsed_values_json_cannot_hold_are_wrong_type(validator, record, reason):
    """GIVEN a parsed record with a 100-bit int, a non-string key, or no dict at all
    WHEN checked THEN wrong_type with the reason."""
    verdict = validator.check_record("readings", record)
    assert (verdict.reason_code, verdict.reason) == ("wrong_type", reason)


@pytest.mark.parametrize("as_bytes", [True, False])
def test_reason_quoting_a_lone_surrogate_stays_valid_utf8(validator, as_bytes):
    """GIVEN a record whose NaN value sits under a key holding a lone surrogate (escaped in the
    bytes, or a parsed dict) WHEN checked THEN non_finite_value with the surrogate written as an
    escape, and its dead letter serialises."""
    from pipelines.ingest import dead_letter_message

    spec = validator.topics["readings"]
    if as_bytes:
        payload = b'{"\\ud800": NaN}'
        verdict = validator.check_bytes("readings", payload)
        _, value = dead_letter_message(spec, verdict, "gw", raw=payload)
    else:
        record = {"\ud800": float("nan")}
        verdict = validator.check_record("readings", record)
        _, value = dead_letter_message(spec, verdict, "gw", record=record)
    assert verdict.reason_code == "non_finite_value"
    assert verdict.reason == "field '\\ud800' is not a finite number"
    assert json.loads(value)["reason"] == verdict.reason
