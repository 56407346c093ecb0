"""The schema registry: loading schema files, fast validators with exact errors, the catalog."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from pipelines.schema_registry import (
    SCHEMAS_ROOT,
    SchemaRegistry,
    SchemaViolation,
    render_catalog,
)

TOPICS_FILE = Path(__file__).resolve().parents[2] / "infra" / "kafka" / "topics.yaml"
SENSOR = "telemetry/sensor_reading"


def reading(**overrides) -> dict:
    record = {
        "enterprise_code": "91320500MA1XXXXX0X",
        "hazard_source_code": "HS-01",
        "unit_code": "U-TANKFARM",
        "tag": "LT-101",
        "metric_code": "level",
        "value": 4.2,
        "unit": "m",
        "quality": "good",
        "event_time_ms": 1_800_000_000_000,
    }
    record.update(overrides)
    return record


def violation(record: dict, record_type: str = SENSOR) -> SchemaViolation:
    with pytest.raises(SchemaViolation) as caught:
        REGISTRY.validator(record_type)(record)
    return caught.value


REGISTRY = SchemaRegistry.load()


def write_schema(root: Path, relative: str, document: dict | str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    text = document if isinstance(document, str) else json.dumps(document)
    path.write_text(text, encoding="utf-8")
    return path


def tiny_schema(record_type: str, version: int, **extra) -> dict:
    document = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"hazchem:{record_type}.v{version}",
        "type": "object",
        "properties": {"a": {"type": "string", "description": "A.", "x-pii": "none"}},
    }
    document.update(extra)
    return document


# --------------------------------------------------------------------------- loading


def test_default_root_is_the_repository_schemas_folder():
    """GIVEN no root WHEN the registry loads THEN it reads <repo>/schemas."""
    assert SCHEMAS_ROOT == Path(__file__).resolve().parents[2] / "schemas"
    assert REGISTRY.root == SCHEMAS_ROOT


def test_record_types_are_sorted_domain_slash_record():
    """GIVEN the repository schemas WHEN listed THEN every type is "domain/record", sorted."""
    types = REGISTRY.record_types()
    assert types == sorted(types)
    assert {SENSOR, "telemetry/tag_metadata", "alarm/alarm_event", "ingest/dead_letter"} <= set(
        types
    )
    assert all(t.count("/") == 1 for t in types)


def test_versions_ascend_and_latest_is_the_highest(tmp_path):
    """GIVEN v1, v2 and v10 of one record WHEN loaded THEN versions ascend numerically."""
    for version in (10, 1, 2):
        write_schema(tmp_path, f"demo/thing.v{version}.json", tiny_schema("demo/thing", version))
    registry = SchemaRegistry.load(tmp_path)
    assert [v.version for v in registry.versions("demo/thing")] == [1, 2, 10]
    latest = registry.latest("demo/thing")
    assert (latest.record_type, latest.version) == ("demo/thing", 10)
    assert latest.path == tmp_path / "demo" / "thing.v10.json"
    assert latest.document["$id"] == "hazchem:demo/thing.v10"


def test_unknown_record_type_is_a_clear_key_error():
    """GIVEN a record type with no schema WHEN asked for THEN KeyError names it."""
    with pytest.raises(KeyError, match="unknown record type 'telemetry/nope'"):
        REGISTRY.latest("telemetry/nope")
    with pytest.raises(KeyError, match="telemetry/sensor_reading has no version 99"):
        REGISTRY.validator(SENSOR, 99)


@pytest.mark.parametrize(
    "bad_name",
    ["sensor-reading.v1.json", "sensor_reading.json", "sensor_reading.v0.json", "Reading.v1.json"],
)
def test_badly_named_file_is_rejected_naming_the_file(tmp_path, bad_name):
    """GIVEN a schema directory holding a badly named file WHEN loaded THEN ValueError names it."""
    write_schema(tmp_path, "demo/good.v1.json", tiny_schema("demo/good", 1))
    write_schema(tmp_path, f"demo/{bad_name}", tiny_schema("demo/good", 1))
    with pytest.raises(ValueError) as caught:
        SchemaRegistry.load(tmp_path)
    assert f"demo/{bad_name}: bad schema file name '{bad_name}'" in str(caught.value)


def test_file_outside_a_domain_directory_is_rejected(tmp_path):
    """GIVEN a schema file directly under the root WHEN loaded THEN ValueError names it."""
    write_schema(tmp_path, "thing.v1.json", tiny_schema("demo/thing", 1))
    with pytest.raises(ValueError, match=r"^thing\.v1\.json: schema files must be"):
        SchemaRegistry.load(tmp_path)


def test_readme_beside_the_schemas_is_ignored(tmp_path):
    """GIVEN a README.md in the schema tree WHEN loaded THEN it is not taken for a schema."""
    write_schema(tmp_path, "README.md", "# schemas")
    write_schema(tmp_path, "demo/thing.v1.json", tiny_schema("demo/thing", 1))
    assert SchemaRegistry.load(tmp_path).record_types() == ["demo/thing"]


def test_invalid_json_is_rejected_naming_the_file(tmp_path):
    """GIVEN a schema file that is not JSON WHEN loaded THEN ValueError names the file."""
    write_schema(tmp_path, "demo/thing.v1.json", '{"type": "object",')
    with pytest.raises(ValueError, match=r"^demo/thing\.v1\.json: not valid JSON: "):
        SchemaRegistry.load(tmp_path)


def test_invalid_json_schema_is_rejected_naming_the_file(tmp_path):
    """GIVEN a file whose `type` is not a JSON Schema type WHEN loaded THEN ValueError names it."""
    write_schema(tmp_path, "demo/thing.v1.json", tiny_schema("demo/thing", 1, type="text"))
    with pytest.raises(ValueError) as caught:
        SchemaRegistry.load(tmp_path)
    message = str(caught.value)
    assert message.startswith("demo/thing.v1.json: invalid JSON Schema at type: ")


def test_id_must_match_the_file_name(tmp_path):
    """GIVEN thing.v2.json whose $id says v1 WHEN loaded THEN ValueError names both."""
    write_schema(tmp_path, "demo/thing.v2.json", tiny_schema("demo/thing", 1))
    with pytest.raises(ValueError) as caught:
        SchemaRegistry.load(tmp_path)
    assert str(caught.value) == (
        "demo/thing.v2.json: $id is 'hazchem:demo/thing.v1' but the file name requires "
        "'hazchem:demo/thing.v2'"
    )


# --------------------------------------------------------------------------- validation


def test_valid_sensor_reading_passes():
    """GIVEN a complete, well-typed reading WHEN validated THEN no error and nothing changes."""
    record = reading()
    assert REGISTRY.validator(SENSOR)(record) is None
    assert record == reading()


def test_optional_nullable_fields_may_be_absent_or_null():
    """GIVEN a reading without hazard source and with value null WHEN validated THEN it passes."""
    record = reading(value=None)
    del record["hazard_source_code"]
    REGISTRY.validator(SENSOR)(record)


def test_validator_is_compiled_once_and_cached():
    """GIVEN the same record type asked twice (latest and explicit v1) THEN the same function."""
    assert REGISTRY.validator(SENSOR) is REGISTRY.validator(SENSOR)
    assert REGISTRY.validator(SENSOR) is REGISTRY.validator(SENSOR, 1)


def test_missing_tag_is_missing_field_tag():
    """GIVEN a reading without `tag` WHEN validated THEN missing_field on field "tag"."""
    record = reading()
    del record["tag"]
    error = violation(record)
    assert (error.kind, error.field) == ("missing_field", "tag")
    assert str(error) == "telemetry/sensor_reading.v1: missing required field 'tag'"


def test_several_missing_fields_are_all_named_and_the_first_is_the_field():
    """GIVEN a reading without `tag` and `unit` WHEN validated THEN both are named, field "tag"."""
    record = reading()
    del record["unit"]
    del record["tag"]
    error = violation(record)
    assert (error.kind, error.field) == ("missing_field", "tag")
    assert str(error) == "telemetry/sensor_reading.v1: missing required fields 'tag', 'unit'"


def test_value_as_string_is_wrong_type_value():
    """GIVEN value "12.5" (a string) WHEN validated THEN wrong_type on field "value"."""
    error = violation(reading(value="12.5"))
    assert (error.kind, error.field) == ("wrong_type", "value")
    assert str(error) == (
        "telemetry/sensor_reading.v1: field 'value' must be number or null, got string"
    )


def test_boolean_is_not_a_number():
    """GIVEN value true WHEN validated THEN wrong_type (JSON booleans are not numbers)."""
    error = violation(reading(value=True))
    assert (error.kind, error.field) == ("wrong_type", "value")
    assert str(error).endswith("got boolean")


def test_unknown_metric_code_is_schema_violation_metric_code():
    """GIVEN metric_code "humidity" WHEN validated THEN schema_violation on "metric_code"."""
    error = violation(reading(metric_code="humidity"))
    assert (error.kind, error.field) == ("schema_violation", "metric_code")
    assert str(error) == (
        "telemetry/sensor_reading.v1: field 'metric_code' must be one of ['level', "
        "'temperature', 'pressure', 'flow', 'gas_combustible', 'gas_toxic', 'oxygen'] "
        "(got 'humidity')"
    )


def test_extra_unknown_field_is_schema_violation_naming_it():
    """GIVEN a reading with an extra `humidity_pct` WHEN validated THEN schema_violation on it."""
    error = violation(reading(humidity_pct=55))
    assert (error.kind, error.field) == ("schema_violation", "humidity_pct")
    assert str(error) == (
        "telemetry/sensor_reading.v1: unknown field 'humidity_pct' (not in the schema)"
    )


def test_several_extra_fields_are_named_in_sorted_order():
    """GIVEN two extra fields WHEN validated THEN both named sorted, the first is the field."""
    error = violation(reading(zeta=1, alpha=2))
    assert (error.kind, error.field) == ("schema_violation", "alpha")
    assert str(error) == (
        "telemetry/sensor_reading.v1: unknown fields 'alpha', 'zeta' (not in the schema)"
    )


def test_empty_tag_is_schema_violation():
    """GIVEN tag "" WHEN validated THEN schema_violation on "tag" (minLength 1)."""
    error = violation(reading(tag=""))
    assert (error.kind, error.field) == ("schema_violation", "tag")
    assert str(error) == (
        "telemetry/sensor_reading.v1: field 'tag' must be longer than or equal to 1 characters "
        "(got '')"
    )


def test_record_that_is_not_an_object_is_wrong_type_with_empty_field():
    """GIVEN a JSON array instead of an object WHEN validated THEN wrong_type with field ""."""
    error = violation([1, 2, 3])  # type: ignore[arg-type]
    assert (error.kind, error.field) == ("wrong_type", "")
    assert str(error) == "telemetry/sensor_reading.v1: record must be object, got array"


def test_nested_field_paths_are_dotted_without_data_prefix():
    """GIVEN tag metadata with a bad nested priority WHEN validated THEN field "priority.h"."""
    record = {
        "enterprise_code": "E1",
        "unit_code": "U1",
        "area_code": "A1",
        "tag": "LT-101",
        "kind": "process",
        "metric_code": "level",
        "unit": "m",
        "priority": {"h": "urgent"},
    }
    error = violation(record, "telemetry/tag_metadata")
    assert (error.kind, error.field) == ("schema_violation", "priority.h")


def test_missing_field_inside_an_array_item_is_indexed():
    """GIVEN a factor without contribution WHEN validated THEN field "factors[0].contribution"."""
    record = {
        "object_type": "area",
        "object_code": "A1",
        "enterprise_code": "E1",
        "level": "red",
        "level_zh": "红",
        "risk_level_code": 0,
        "score": 42.0,
        "factors": [{"factor": "live_alarms", "value": 3}],
        "event_time_ms": 1,
    }
    error = violation(record, "risk/risk_level")
    assert (error.kind, error.field) == ("missing_field", "factors[0].contribution")


def test_personal_values_are_not_quoted_in_messages():
    """GIVEN an empty person_id (PII personal) WHEN validated THEN the message quotes no value."""
    record = {
        "person_id": "",
        "tag_id": "T-1",
        "enterprise_code": "E1",
        "person_type": "employee",
        "x_m": 1.0,
        "y_m": 2.0,
        "sos": False,
        "event_time_ms": 1,
    }
    error = violation(record, "positioning/personnel_position")
    assert (error.kind, error.field) == ("schema_violation", "person_id")
    assert "got" not in str(error)


def test_violation_is_a_value_error():
    """GIVEN callers that catch ValueError WHEN a record is invalid THEN they catch it too."""
    assert issubclass(SchemaViolation, ValueError)


# --------------------------------------------------------------------------- catalog


def topics() -> list[dict]:
    return yaml.safe_load(TOPICS_FILE.read_text(encoding="utf-8"))["topics"]


def test_catalog_lists_every_topic_with_its_dead_letter_topic():
    """GIVEN topics.yaml WHEN the catalog is rendered THEN each topic and its .dlq appear."""
    catalog = render_catalog(REGISTRY, topics())
    for topic in topics():
        assert f"| `{topic['name']}` |" in catalog
        assert f"`{topic['name']}.dlq`" in catalog


def test_catalog_describes_every_sensor_reading_field():
    """GIVEN the sensor_reading schema WHEN rendered THEN one row per field, with unit and PII."""
    catalog = render_catalog(REGISTRY, topics())
    for name in REGISTRY.latest(SENSOR).document["properties"]:
        assert f"| `{name}` |" in catalog
    assert (
        "| `event_time_ms` | integer | yes | ms since epoch (UTC) | none | Time the value was "
        "measured (采集时间), milliseconds since the Unix epoch, UTC. |"
    ) in catalog
    assert "## telemetry/sensor_reading" in catalog
    assert "- Grain: one row per tag per event time" in catalog
    assert "  - v1 (`schemas/telemetry/sensor_reading.v1.json`): first version" in catalog


def test_catalog_topic_row_shows_partitions_policy_and_key():
    """GIVEN the readings and tags topics WHEN rendered THEN rows carry the declared values."""
    catalog = render_catalog(REGISTRY, topics(), defaults={"partitions": 2})
    assert (
        "| `readings` | [telemetry/sensor_reading](#telemetrysensor_reading) | `tag` | 4 | delete |"
    ) in catalog
    assert (
        "| `tags` | [telemetry/tag_metadata](#telemetrytag_metadata) | `tag` | 2 | compact |"
        in (catalog)
    )


def test_catalog_version_history_flags_incompatible_versions(tmp_path):
    """GIVEN v2 removing v1's only field WHEN rendered THEN the history says so."""
    write_schema(tmp_path, "demo/thing.v1.json", tiny_schema("demo/thing", 1))
    v2 = tiny_schema("demo/thing", 2)
    v2["properties"] = {"b": {"type": "string", "description": "B.", "x-pii": "none"}}
    write_schema(tmp_path, "demo/thing.v2.json", v2)
    catalog = render_catalog(SchemaRegistry.load(tmp_path), [])
    assert (
        f"  - v2 (`{tmp_path.name}/demo/thing.v2.json`): adds `b`; removes `a`; "
        "NOT backward compatible with v1 (1 problems)"
    ) in catalog
