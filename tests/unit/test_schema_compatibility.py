"""Schema evolution: each new version must read every record valid under the previous one."""

from __future__ import annotations

import copy
import json
from pathlib import Path

from pipelines.schema_registry import (
    SchemaRegistry,
    backward_compatibility_problems,
    compatibility_report,
)

BASE = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "required": ["tag", "value"],
    "properties": {
        "tag": {"type": "string", "minLength": 1, "maxLength": 64},
        "value": {"type": ["number", "null"], "minimum": 0, "maximum": 100},
        "count": {"type": "integer"},
        "quality": {"type": "string", "enum": ["good", "bad", "uncertain"]},
        "note": {"type": "string"},
        "limits": {
            "type": "object",
            "properties": {"h": {"type": ["number", "null"]}, "hh": {"type": ["number", "null"]}},
        },
    },
}


def changed(edit) -> dict:
    new = copy.deepcopy(BASE)
    edit(new)
    return new


def problems(edit) -> list[str]:
    return backward_compatibility_problems(BASE, changed(edit))


# --------------------------------------------------------------------------- the guard


def test_every_schema_version_in_the_repository_is_backward_compatible():
    """GIVEN schemas/ WHEN consecutive versions are compared THEN no record type has a problem."""
    report = compatibility_report(SchemaRegistry.load())
    assert {record_type: lines for record_type, lines in report.items() if lines} == {}


def test_report_covers_only_record_types_with_several_versions(tmp_path):
    """GIVEN v1..v3 of one type (v3 breaking) and a v1-only type WHEN reported THEN exact lines.

    Lines follow the older schema's property order.
    """
    write(tmp_path, "demo/thing", 1, BASE)
    write(tmp_path, "demo/thing", 2, changed(lambda s: s["properties"].update(extra={})))
    write(tmp_path, "demo/thing", 3, changed(lambda s: s["properties"].pop("note")))
    write(tmp_path, "demo/single", 1, BASE)
    report = compatibility_report(SchemaRegistry.load(tmp_path))
    assert report == {
        "demo/thing": [
            "v2 -> v3: field 'note': removed",
            "v2 -> v3: field 'extra': removed",
        ]
    }


def write(root: Path, record_type: str, version: int, document: dict) -> None:
    path = root / f"{record_type}.v{version}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**document, "$id": f"hazchem:{record_type}.v{version}"}))


# --------------------------------------------------------------------------- one rule each


def test_identical_schemas_are_compatible():
    """GIVEN the same schema twice WHEN compared THEN no problems."""
    assert backward_compatibility_problems(BASE, copy.deepcopy(BASE)) == []


def test_adding_an_optional_field_is_compatible():
    """GIVEN a new optional nullable field WHEN compared THEN no problems."""
    assert problems(lambda s: s["properties"].update(source={"type": ["string", "null"]})) == []


def test_widening_is_compatible():
    """GIVEN integer->number, one more enum value, looser limits WHEN compared THEN []."""

    def widen(s: dict) -> None:
        s["properties"]["count"]["type"] = "number"
        s["properties"]["quality"]["enum"].append("substituted")
        s["properties"]["value"]["maximum"] = 1000
        s["properties"]["tag"]["maxLength"] = 128
        s["required"] = ["tag"]
        s["additionalProperties"] = True

    assert problems(widen) == []


def test_removed_field_is_a_problem():
    """GIVEN v2 without `note` WHEN compared THEN one problem naming it."""
    assert problems(lambda s: s["properties"].pop("note")) == ["field 'note': removed"]


def test_new_required_field_is_a_problem():
    """GIVEN v2 adding required `unit` WHEN compared THEN one problem naming it."""

    def add_required(s: dict) -> None:
        s["properties"]["unit"] = {"type": "string"}
        s["required"].append("unit")

    assert problems(add_required) == ["field 'unit': new required field"]


def test_optional_field_becoming_required_is_a_problem():
    """GIVEN `note` made required WHEN compared THEN one problem naming it."""
    assert problems(lambda s: s["required"].append("note")) == ["field 'note': became required"]


def test_type_change_is_a_problem():
    """GIVEN `count` changed from integer to string WHEN compared THEN one type problem."""

    def retype(s: dict) -> None:
        s["properties"]["count"]["type"] = "string"

    assert problems(retype) == [
        "field 'count': type narrowed from integer to string (drops ['integer'])"
    ]


def test_dropping_null_is_a_problem():
    """GIVEN `value` no longer nullable WHEN compared THEN the type narrowing names null."""

    def not_null(s: dict) -> None:
        s["properties"]["value"]["type"] = "number"

    assert problems(not_null) == [
        "field 'value': type narrowed from null/number to number (drops ['null'])"
    ]


def test_number_to_integer_is_a_problem():
    """GIVEN `value` changed from number to integer WHEN compared THEN it drops non-integers."""

    def integer(s: dict) -> None:
        s["properties"]["value"]["type"] = ["integer", "null"]

    assert problems(integer) == [
        "field 'value': type narrowed from null/number to integer/null (drops ['number'])"
    ]


def test_narrowed_enum_is_a_problem():
    """GIVEN `quality` without "uncertain" WHEN compared THEN the removed value is named."""

    def narrow(s: dict) -> None:
        s["properties"]["quality"]["enum"] = ["good", "bad"]

    assert problems(narrow) == ["field 'quality': enum values removed: ['uncertain']"]


def test_new_enum_on_an_open_field_is_a_problem():
    """GIVEN free-text `note` given an enum WHEN compared THEN it is a restriction."""

    def restrict(s: dict) -> None:
        s["properties"]["note"]["enum"] = ["a", "b"]

    assert problems(restrict) == [
        "field 'note': new enum ['a', 'b'] restricts a field that was open"
    ]


def test_length_limits_tightened_are_problems():
    """GIVEN a lower maxLength and a higher minLength WHEN compared THEN two problems."""

    def tighten(s: dict) -> None:
        s["properties"]["tag"]["maxLength"] = 32
        s["properties"]["tag"]["minLength"] = 2

    assert problems(tighten) == [
        "field 'tag': maxLength lowered from 64 to 32",
        "field 'tag': minLength raised from 1 to 2",
    ]


def test_bounds_narrowed_are_problems():
    """GIVEN minimum 0 -> exclusiveMinimum 0, maximum 100 -> 50 WHEN compared THEN two problems."""

    def narrow(s: dict) -> None:
        value = s["properties"]["value"]
        del value["minimum"]
        value["exclusiveMinimum"] = 0
        value["maximum"] = 50

    assert problems(narrow) == [
        "field 'value': lower bound narrowed from >= 0 to > 0",
        "field 'value': upper bound narrowed from <= 100 to <= 50",
    ]


def test_new_bound_on_an_unbounded_field_is_a_problem():
    """GIVEN `count` given minimum 1 WHEN compared THEN the bound is new."""

    def bound(s: dict) -> None:
        s["properties"]["count"]["minimum"] = 1

    assert problems(bound) == ["field 'count': lower bound narrowed from none to >= 1"]


def test_closing_an_open_object_is_a_problem():
    """GIVEN `limits` (open) set additionalProperties false WHEN compared THEN one problem."""

    def close(s: dict) -> None:
        s["properties"]["limits"]["additionalProperties"] = False

    assert problems(close) == [
        "field 'limits': additionalProperties set to false; unknown fields now rejected"
    ]


def test_nested_properties_are_compared():
    """GIVEN `limits.hh` removed and `limits.h` made non-nullable WHEN compared THEN both named."""

    def nested(s: dict) -> None:
        del s["properties"]["limits"]["properties"]["hh"]
        s["properties"]["limits"]["properties"]["h"]["type"] = "number"

    assert problems(nested) == [
        "field 'limits.hh': removed",
        "field 'limits.h': type narrowed from null/number to number (drops ['null'])",
    ]


def test_array_items_are_compared():
    """GIVEN an array of objects whose item field narrows WHEN compared THEN the path uses []."""
    old = {
        "type": "object",
        "properties": {
            "factors": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"value": {"type": ["number", "string"]}},
                },
            }
        },
    }
    new = copy.deepcopy(old)
    new["properties"]["factors"]["items"]["properties"]["value"]["type"] = "number"
    assert backward_compatibility_problems(old, new) == [
        "field 'factors[].value': type narrowed from number/string to number (drops ['string'])"
    ]


def test_local_refs_are_followed():
    """GIVEN an enum behind $ref to $defs WHEN the target loses a value THEN it is reported."""
    old = {
        "type": "object",
        "properties": {"priority": {"$ref": "#/$defs/priority"}},
        "$defs": {"priority": {"type": "string", "enum": ["high", "medium", "low"]}},
    }
    new = copy.deepcopy(old)
    new["$defs"]["priority"]["enum"] = ["high", "low"]
    assert backward_compatibility_problems(old, new) == [
        "field 'priority': enum values removed: ['medium']"
    ]


def test_new_conditional_rules_are_flagged_for_review():
    """GIVEN v2 adding an if/then rule under allOf WHEN compared THEN a review line is reported."""

    def conditional(s: dict) -> None:
        s["allOf"] = [{"if": {"required": ["note"]}, "then": {"required": ["count"]}}]

    assert problems(conditional) == [
        "record: 'allOf' constraints changed; review compatibility by hand"
    ]


def test_new_pattern_is_a_problem():
    """GIVEN `note` given a pattern WHEN compared THEN the pattern change is reported."""

    def pattern(s: dict) -> None:
        s["properties"]["note"]["pattern"] = "^\\d{14}$"

    assert problems(pattern) == ["field 'note': pattern changed from None to '^\\\\d{14}$'"]
