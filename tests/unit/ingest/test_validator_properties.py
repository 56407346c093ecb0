"""Property-based: whatever a producer sends, the validator never raises and gives each input
exactly one verdict (accepted, or a reason code and reason), and its dead letter can be written."""

from __future__ import annotations

import json
import time

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.ingest import (
    REASON_CODES,
    RecordValidator,
    Verdict,
    dead_letter_message,
    split_json_array,
)
from pipelines.settings import IngestSettings

TOPICS = ("readings", "positions", "alarm.actions", "work.permits", "dp.risk_events")
TAGS = ("LT-101", "TT-102")
FAST = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@pytest.fixture(scope="module")
def validator() -> RecordValidator:
    return RecordValidator(IngestSettings(), known_tags=TAGS)


def assert_one_verdict(
    validator: RecordValidator, topic: str, verdict: Verdict, raw=None, record=None
):
    """Accepted with its record and no reason, or rejected with a known code, a reason, and a
    dead letter that serialises."""
    assert isinstance(verdict, Verdict)
    if verdict.accepted:
        assert isinstance(verdict.record, dict)
        assert verdict.reason is None
        return
    assert verdict.record is None
    assert verdict.reason_code in REASON_CODES
    assert isinstance(verdict.reason, str) and verdict.reason.strip()
    spec = validator.topics[topic]
    key, value = dead_letter_message(spec, verdict, "property", raw=raw, record=record)
    assert key is None or isinstance(key, str)
    assert orjson.loads(value)["reason_code"] == verdict.reason_code


def check_raw(validator: RecordValidator, topic: str, raw: bytes) -> Verdict:
    verdict = validator.check_bytes(topic, raw)
    assert_one_verdict(validator, topic, verdict, raw=raw)
    return verdict


def valid_reading(ts: int, tag: str = "LT-101") -> dict:
    return {
        "enterprise_code": "E1",
        "hazard_source_code": "HS1",
        "unit_code": "U1",
        "tag": tag,
        "metric_code": "level",
        "value": 4.2,
        "unit": "m",
        "quality": "good",
        "event_time_ms": ts,
    }


# Text with any code point, and text holding a lone surrogate (JSON can escape one, UTF-8 cannot
# hold it): Hypothesis's own alphabets almost never draw one.
any_text = st.text(max_size=20) | st.builds(
    lambda head, surrogate, tail: head + surrogate + tail,
    st.text(max_size=8),
    st.sampled_from(["\ud800", "\udbff", "\udc00", "\udfff"]),
    st.text(max_size=8),
)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**300), max_value=10**300)
    | st.floats(allow_nan=True, allow_infinity=True)
    | any_text
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(any_text, children, max_size=4)
    ),
    max_leaves=20,
)


def to_bytes(value: object, ascii_only: bool) -> bytes:
    """Serialise as a sender might: NaN/Infinity as bare words, surrogates escaped or raw."""
    return json.dumps(value, allow_nan=True, ensure_ascii=ascii_only).encode(
        "utf-8", "surrogatepass"
    )


@FAST
@given(topic=st.sampled_from(TOPICS), raw=st.binary(max_size=512))
def test_random_bytes_get_one_verdict(validator, topic, raw):
    """GIVEN any bytes WHEN checked THEN exactly one verdict, never an exception."""
    check_raw(validator, topic, raw)


@FAST
@given(topic=st.sampled_from(TOPICS), value=json_values, ascii_only=st.booleans())
def test_random_json_values_get_one_verdict(validator, topic, value, ascii_only):
    """GIVEN any JSON value (non-finite floats, 1000-digit ints, surrogates, any shape) as bytes
    and as a parsed record WHEN checked THEN exactly one verdict each."""
    check_raw(validator, topic, to_bytes(value, ascii_only))
    verdict = validator.check_record(topic, value)
    assert_one_verdict(validator, topic, verdict, record=value)


@FAST
@given(
    depth=st.integers(min_value=1, max_value=6000),
    opener=st.sampled_from([(b"[", b"]"), (b'{"a":', b"}")]),
    as_field=st.booleans(),
)
def test_deep_nesting_gets_one_verdict_and_too_deep_past_the_limit(
    validator, depth, opener, as_field
):
    """GIVEN arrays or objects nested 1..6000 deep, alone or as a reading's field WHEN checked
    THEN one verdict, and too_deep exactly when the record nests past the limit."""
    left, right = opener
    inner = left * depth + b"1" + right * depth
    raw = (
        orjson.dumps(valid_reading(int(time.time() * 1000))).replace(b'"m"', inner)
        if as_field
        else inner
    )
    levels = depth + 1 if as_field else depth
    verdict = check_raw(validator, "readings", raw)
    assert (verdict.reason_code == "too_deep") == (levels > validator.settings.max_json_depth)


@FAST
@given(
    word=st.sampled_from(
        [b"NaN", b"Infinity", b"-Infinity", b"1e400", b"-1e400", b"1" + b"0" * 5000, b"1e-400",
         b"-0", b"18446744073709551616", b"1.7976931348623157e308", b"true", b'"4.2"', b"null",
         b"[]", b"{}"]
    ),
    field=st.sampled_from([b"value", b"event_time_ms", b"tag"]),
)  # fmt: skip
def test_odd_numbers_and_wrong_types_in_a_reading_get_one_verdict(validator, word, field):
    """GIVEN a reading whose value, time or tag is NaN, Infinity, out of range, or another type
    WHEN checked THEN one verdict."""
    record = valid_reading(int(time.time() * 1000))
    record[field.decode()] = "@@"
    raw = orjson.dumps(record).replace(b'"@@"', word)
    check_raw(validator, "readings", raw)


@FAST
@given(
    record=st.dictionaries(
        any_text, st.sampled_from([float("nan"), float("inf")]) | json_values, min_size=1
    ),
    ascii_only=st.booleans(),
)
def test_any_field_names_with_non_finite_values_get_one_verdict(validator, record, ascii_only):
    """GIVEN objects with any field names (lone surrogates too) over NaN/Infinity and other
    values WHEN checked as bytes and parsed THEN one verdict each (reasons that quote a field
    name stay writable)."""
    check_raw(validator, "readings", to_bytes(record, ascii_only))
    assert_one_verdict(
        validator, "readings", validator.check_record("readings", record), record=record
    )


@FAST
@given(data=st.data())
def test_mutated_valid_readings_get_one_verdict(validator, data):
    """GIVEN a valid reading with a field replaced, removed or added (checked parsed and as
    bytes), or its bytes flipped, cut or spliced WHEN checked (accepted ones confirmed, so
    repeats are duplicates) THEN one verdict each."""
    now = int(time.time() * 1000)
    record = valid_reading(now - data.draw(st.integers(0, 10)), data.draw(st.sampled_from(TAGS)))
    how = data.draw(st.sampled_from(["replace", "remove", "add", "bytes"]))
    if how == "replace":
        record[data.draw(st.sampled_from(sorted(record)))] = data.draw(json_values)
    elif how == "remove":
        del record[data.draw(st.sampled_from(sorted(record)))]
    elif how == "add":
        record[data.draw(any_text)] = data.draw(json_values)
    if how != "bytes":
        parsed = validator.check_record("readings", record)
        assert_one_verdict(validator, "readings", parsed, record=record)
    raw = to_bytes(record, data.draw(st.booleans()))
    if how == "bytes":
        at = data.draw(st.integers(0, len(raw)))
        raw = raw[:at] + data.draw(st.binary(max_size=8)) + raw[at + data.draw(st.integers(0, 8)) :]
    verdict = check_raw(validator, "readings", raw)
    if verdict.accepted:
        validator.confirm("readings", verdict)
        again = check_raw(validator, "readings", raw)
        assert (again.reason_code, again.resent) == ("duplicate", True)


@FAST
@given(
    items=st.lists(json_values, max_size=5),
    separator=st.sampled_from([b",", b" , ", b",\n"]),
    ascii_only=st.booleans(),
)
def test_split_json_array_gives_back_each_element_exactly(items, separator, ascii_only):
    """GIVEN any list of JSON values written out with any spacing WHEN split THEN exactly the
    bytes each element was written as, in order."""
    parts = [to_bytes(item, ascii_only) for item in items]
    assert split_json_array(b"[ " + separator.join(parts) + b" ]") == parts
