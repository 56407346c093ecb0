"""Batches and dead letters: array elements cut out exactly without a recursive parse, nesting
measured on bytes, dead letters that always fit one Kafka message."""

from __future__ import annotations

import base64

import orjson
import pytest

from pipelines.ingest import (
    DEAD_LETTER_MAX_ORIGINAL_BYTES,
    Verdict,
    dead_letter,
    dead_letter_message,
    json_nesting_depth,
    split_json_array,
)
from pipelines.topics import TopicSpec

READINGS = TopicSpec(
    name="readings", schema="telemetry/sensor_reading", key=("tag",), partitions=1, retention_ms=1
)


def test_array_elements_are_cut_out_with_their_exact_bytes():
    """GIVEN an array of an object with brackets, commas and an escaped quote inside strings,
    a nested object, a list, a number and a string WHEN split THEN each element's exact bytes."""
    body = b' [ {"a": "x,]\\"[", "b": 1}, {"c": {"d": [1, "}"]}} ,[1,2], 3 , "s" ]\n'
    assert split_json_array(body) == [
        b'{"a": "x,]\\"[", "b": 1}',
        b'{"c": {"d": [1, "}"]}}',
        b"[1,2]",
        b"3",
        b'"s"',
    ]


def test_elements_that_are_not_json_still_come_out_one_by_one():
    """GIVEN elements holding NaN, 5,000 levels of nesting and an empty slot WHEN split THEN
    each is its own element (each then gets its own verdict)."""
    deep = b"[" * 5000 + b"]" * 5000
    body = b'[{"v": NaN}, ' + deep + b", , 7]"
    assert split_json_array(body) == [b'{"v": NaN}', deep, b"", b"7"]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"[]", []),
        (b" [ ] ", []),
        (b"[1, 2", None),  # not closed
        (b'[{"a": "x]', None),  # unterminated string
        (b"[1] trailing", None),
        (b"[}", None),  # mismatched brackets
        (b"[{]}", None),
        (b"", None),
        (b'{"a": 1}', None),  # an object is not an array
        (b"<xml/>", None),
    ],
)
def test_bodies_that_are_not_one_balanced_array(body, expected):
    """GIVEN empty arrays and bodies that are not one balanced array WHEN split THEN [] / None."""
    assert split_json_array(body) == expected


@pytest.mark.parametrize(
    ("raw", "depth"),
    [
        (b"42", 0),
        (b'{"a": 1}', 1),
        (b'{"a": "[[[[{{{{"}', 1),  # brackets inside a string do not count
        (b'{"a": [{"b": [1]}], "c": {}}', 4),
        (b"[" * 5000, 5000),
    ],
)
def test_nesting_depth_is_measured_on_bytes(raw, depth):
    """GIVEN JSON text WHEN its nesting is measured THEN objects/arrays outside strings count."""
    assert json_nesting_depth(raw) == depth


def test_nesting_depth_stops_once_past_the_limit():
    """GIVEN 5,000 levels WHEN measured with stop_above=32 THEN it stops at 33."""
    assert json_nesting_depth(b"[" * 5000, stop_above=32) == 33


def test_dead_letter_of_a_huge_original_keeps_its_head_and_says_so():
    """GIVEN a 3 MB original (too big for one Kafka message) WHEN dead-lettered THEN its first
    512 KiB are kept, the full size recorded, and the reason says how much was kept."""
    raw = b"x" * 3_000_000
    envelope = dead_letter("readings", raw, Verdict(None, "oversized", "too big"), "gw", None)
    kept = base64.b64decode(envelope["original_b64"])
    assert kept == raw[:DEAD_LETTER_MAX_ORIGINAL_BYTES]
    assert envelope["original_size_bytes"] == 3_000_000
    assert (
        envelope["reason"]
        == f"too big (first {DEAD_LETTER_MAX_ORIGINAL_BYTES} of 3000000 bytes kept)"
    )
    assert len(orjson.dumps(envelope)) < 1_000_000


def test_dead_letter_cut_inside_a_utf8_character_still_has_its_text():
    """GIVEN an original whose cut falls inside a 3-byte character WHEN dead-lettered THEN the
    text is the whole characters before the cut."""
    raw = b"a" + "温".encode() * 400_000
    envelope = dead_letter("readings", raw, Verdict(None, "oversized", "too big"), "gw", None)
    assert envelope["original_text"] == "a" + "温" * 4095


@pytest.mark.parametrize(
    ("record", "verdict", "original"),
    [
        ({"tag": "\ud800"}, Verdict(None, "wrong_type", "x"), b'{"tag": "\xed\xa0\x80"}'),
        ({"tag": 10**5000}, Verdict(None, "wrong_type", "x"), b"<dict that cannot be serialised>"),
        (None, Verdict(None, "too_deep", "x"), b"<NoneType nested too deeply to serialise>"),
    ],
)
def test_dead_letter_of_any_parsed_record_can_be_written(record, verdict, original):
    """GIVEN parsed records holding a lone surrogate, a 5,000-digit int, or too deep WHEN
    dead-lettered THEN the message serialises, keyless, with the best original available."""
    key, value = dead_letter_message(READINGS, verdict, "test", record=record)
    envelope = orjson.loads(value)
    assert key is None
    assert base64.b64decode(envelope["original_b64"]) == original


def test_dead_letter_of_raw_bytes_is_keyed_like_its_record():
    """GIVEN raw bytes of a rejected reading of tag LT-1 WHEN dead-lettered THEN keyed LT-1."""
    raw = b'{"tag": "LT-1", "value": NaN}'
    key, value = dead_letter_message(READINGS, Verdict(None, "non_finite_value", "x"), "t", raw=raw)
    assert key == "LT-1"
    assert base64.b64decode(orjson.loads(value)["original_b64"]) == raw


def test_every_reason_code_is_in_the_dead_letter_schema():
    """GIVEN every reason a dead letter can carry (ingest, notifier, streaming jobs) WHEN compared
    with the latest dead-letter schema THEN the schema allows exactly those (a consumer validating
    envelopes accepts them all)."""
    from pipelines.ingest import DEAD_LETTER_REASONS, REASON_CODES
    from pipelines.schema_registry import SchemaRegistry

    latest = SchemaRegistry.load().latest("ingest/dead_letter")
    assert latest.version == 3
    assert set(REASON_CODES) <= set(DEAD_LETTER_REASONS)
    assert set(DEAD_LETTER_REASONS) == set(latest.document["properties"]["reason_code"]["enum"])
