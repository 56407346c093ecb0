"""Every schema file is a valid, documented contract, and every declared topic has its schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator

from pipelines.schema_registry import SCHEMAS_ROOT, SchemaRegistry, SchemaViolation

TOPICS_FILE = Path(__file__).resolve().parents[2] / "infra" / "kafka" / "topics.yaml"
SCHEMA_FILES = sorted(SCHEMAS_ROOT.glob("*/*.json"))
PII_LEVELS = {"none", "personal", "sensitive"}
REGISTRY = SchemaRegistry.load()
# Files with a known documentation gap (none now). strict=True makes the test fail once a listed
# file is fixed, so the entry is removed and the rule guards it again.
PII_TAG_GAPS: dict[str, str] = {}


def with_known_gaps(paths: list[Path], gaps: dict[str, str]) -> list:
    return [
        pytest.param(path, marks=pytest.mark.xfail(strict=True, reason=gaps[file_id(path)]))
        if file_id(path) in gaps
        else path
        for path in paths
    ]


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def file_id(path: Path) -> str:
    return path.relative_to(SCHEMAS_ROOT).as_posix()


def declared_topics() -> list[dict]:
    return yaml.safe_load(TOPICS_FILE.read_text(encoding="utf-8"))["topics"]


def test_schema_files_exist():
    """GIVEN the repository WHEN schemas/ is scanned THEN it holds the platform's record types."""
    assert len(SCHEMA_FILES) >= 21


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=file_id)
def test_file_is_a_valid_draft_2020_12_schema(path):
    """GIVEN a schema file WHEN checked against the 2020-12 meta-schema THEN it is valid."""
    document = load(path)
    assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(document)


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=file_id)
def test_file_name_matches_id(path):
    """GIVEN <domain>/<record>.v<N>.json WHEN read THEN $id is hazchem:<domain>/<record>.v<N>."""
    domain = path.parent.name
    stem = path.name.removesuffix(".json")
    assert load(path)["$id"] == f"hazchem:{domain}/{stem}"


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=file_id)
def test_record_level_documentation_is_complete(path):
    """GIVEN a schema WHEN read THEN it has title, description, grain, key, owner, closed object."""
    document = load(path)
    for keyword in ("title", "description", "x-grain", "x-owner"):
        assert isinstance(document.get(keyword), str) and document[keyword].strip(), keyword
    assert document["type"] == "object"
    assert document["additionalProperties"] is False
    assert isinstance(document["x-key"], list) and document["x-key"]


@pytest.mark.parametrize("path", with_known_gaps(SCHEMA_FILES, PII_TAG_GAPS), ids=file_id)
def test_every_top_level_property_has_description_and_pii_tag(path):
    """GIVEN a schema WHEN its properties are read THEN each has a description and an x-pii tag."""
    undocumented = []
    for name, spec in load(path)["properties"].items():
        if not str(spec.get("description", "")).strip():
            undocumented.append(f"{name}: no description")
        if spec.get("x-pii") not in PII_LEVELS:
            undocumented.append(f"{name}: x-pii is {spec.get('x-pii')!r}")
    assert undocumented == []


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=file_id)
def test_nested_properties_have_descriptions(path):
    """GIVEN nested objects (limits, factors[]) WHEN read THEN each nested field is described."""

    def walk(schema: dict, prefix: str):
        for name, spec in schema.get("properties", {}).items():
            if "$ref" not in spec and not str(spec.get("description", "")).strip():
                yield f"{prefix}{name}"
            yield from walk(spec, f"{prefix}{name}.")
            if isinstance(spec.get("items"), dict):
                yield from walk(spec["items"], f"{prefix}{name}[].")

    missing = [
        path for name, spec in load(path)["properties"].items() for path in walk(spec, f"{name}.")
    ]
    assert missing == []


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=file_id)
def test_required_fields_and_key_fields_exist(path):
    """GIVEN a schema WHEN read THEN every required and every x-key field is a declared property."""
    document = load(path)
    properties = set(document["properties"])
    assert [f for f in document["required"] if f not in properties] == []
    assert len(document["required"]) == len(set(document["required"]))
    assert [f for f in document["x-key"] if f not in document["required"]] == []


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=file_id)
def test_epoch_millisecond_fields_state_their_unit(path):
    """GIVEN a top-level *_ms field WHEN read THEN it is an integer with unit ms since epoch."""
    for name, spec in load(path)["properties"].items():
        if name.endswith("_ms"):
            assert "integer" in (spec["type"] if isinstance(spec["type"], list) else [spec["type"]])
            assert spec.get("x-unit") == "ms since epoch (UTC)", name


@pytest.mark.parametrize("topic", declared_topics(), ids=lambda t: t["name"])
def test_every_topic_schema_exists_and_requires_its_key(topic):
    """GIVEN a topic in topics.yaml WHEN its schema is looked up THEN it exists and keys by it."""
    latest = REGISTRY.latest(topic["schema"])
    document = latest.document
    for key_field in topic["key"]:
        assert key_field in document["properties"]
        assert key_field in document["required"]
        assert key_field in document["x-key"]


def test_dead_letter_envelope_exists_for_dlq_topics():
    """GIVEN <topic>.dlq keyed by source_topic WHEN looked up THEN the envelope requires it."""
    document = REGISTRY.latest("ingest/dead_letter").document
    assert document["x-key"] == ["source_topic"]
    assert set(document["required"]) == set(document["properties"]) - {"original_text", "key"}


# --------------------------------------------------------------------------- domain rules
# Conditional rules written in the schemas themselves: a valid example passes, and breaking the
# rule gives the exact violation a producer will see in the dead-letter reason.


def check(record_type: str, record: dict) -> tuple[str, str] | None:
    try:
        REGISTRY.validator(record_type)(record)
    except SchemaViolation as exc:
        return exc.kind, exc.field
    return None


def permit(**overrides) -> dict:
    record = {
        "permit_id": "DH-2025-0001",
        "enterprise_code": "E1",
        "work_type": "hot_work",
        "hot_work_level": "level1",
        "area_code": "A-TANKFARM",
        "unit_code": "U-TANKFARM",
        "location": "pipe rack PR-3, section 2",
        "planned_start_ms": 1_800_000_000_000,
        "planned_end_ms": 1_800_028_800_000,
        "status": "approved",
        "applicant": "P-0012",
        "workers": ["P-0101", "P-0102"],
        "on_holiday_or_night": False,
        "event_time_ms": 1_799_999_000_000,
    }
    record.update(overrides)
    return {k: v for k, v in record.items() if v is not ...}


def test_hot_work_permit_needs_its_level():
    """GIVEN hot work WHEN the level is given THEN valid; WHEN missing THEN missing_field."""
    assert check("work/special_work_permit", permit()) is None
    assert check("work/special_work_permit", permit(hot_work_level=...)) == (
        "missing_field",
        "hot_work_level",
    )


def test_only_hot_work_carries_a_hot_work_level():
    """GIVEN confined-space work WHEN it names a hot-work level THEN rejected; null is fine."""
    confined = permit(work_type="confined_space", hot_work_level=None)
    assert check("work/special_work_permit", confined) is None
    assert check("work/special_work_permit", permit(work_type="confined_space")) == (
        "wrong_type",
        "hot_work_level",
    )


def test_lifting_and_height_work_carry_the_quantity_that_grades_them():
    """GIVEN lifting / work at height WHEN weight / height is missing THEN missing_field."""
    lifting = permit(work_type="lifting", hot_work_level=...)
    assert check("work/special_work_permit", lifting) == ("missing_field", "lifting_weight_t")
    assert check("work/special_work_permit", {**lifting, "lifting_weight_t": 45.0}) is None
    height = permit(work_type="work_at_height", hot_work_level=...)
    assert check("work/special_work_permit", height) == ("missing_field", "height_m")
    assert check("work/special_work_permit", {**height, "height_m": 6.5}) is None


def test_shelving_is_time_limited_and_explained():
    """GIVEN a shelve action WHEN duration or reason is missing THEN missing_field."""
    action = {
        "action_id": "ACT-1",
        "enterprise_code": "E1",
        "tag": "PT-201",
        "condition": "H",
        "action": "shelve",
        "actor": "OP-7",
        "action_time_ms": 1_800_000_000_000,
    }
    assert check("alarm/alarm_action", action) == ("missing_field", "shelve_duration_s")
    with_duration = {**action, "shelve_duration_s": 3600}
    assert check("alarm/alarm_action", with_duration) == ("missing_field", "reason")
    assert check("alarm/alarm_action", {**with_duration, "reason": "transmitter swap"}) is None
    assert check("alarm/alarm_action", {**action, "action": "acknowledge"}) is None


def test_risk_color_name_and_code_must_agree():
    """GIVEN level red WHEN level_zh says 黄 THEN schema_violation on level_zh."""
    record = {
        "object_type": "hazard_source",
        "object_code": "HS-01",
        "enterprise_code": "E1",
        "level": "red",
        "level_zh": "红",
        "risk_level_code": 0,
        "score": 87.5,
        "factors": [{"factor": "live_alarms", "value": 4, "contribution": 30.0}],
        "event_time_ms": 1_800_000_000_000,
    }
    assert check("risk/risk_level", record) is None
    assert check("risk/risk_level", {**record, "level_zh": "黄"}) == (
        "schema_violation",
        "level_zh",
    )
    assert check("risk/risk_level", {**record, "risk_level_code": 3}) == (
        "schema_violation",
        "risk_level_code",
    )


def dp_hidden_danger(**overrides) -> dict:
    record = {
        "id": "3f2b8c1e-8d4a-4b6e-9a51-2f0c7d9e1a42",
        "companyCode": "91320500MA1XXXXX0X",
        "hazardCode": "HS-01",
        "riskMeasureId": "9b1d3c2a-1e5f-4c7b-8d2e-6a4f0b3c5d71",
        "checkRecordId": "0c4e6a8b-2d1f-4e3a-9b5c-7d8e9f0a1b2c",
        "dangerName": "Tank T-101 level gauge drifting",
        "dangerLevel": 0,
        "dangerSrc": 1,
        "hazardDangerType": 4,
        "hazardCategory": 0,
        "liablePerson": "Zhang San",
        "dangerManageDeadline": "20250630180000",
        "dangerState": 0,
        "deleted": 0,
        "createDate": "20250601093000",
        "createBy": "zhangsan",
        "updateDate": "20250601093000",
        "updateBy": "zhangsan",
    }
    record.update(overrides)
    return record


def test_dual_prevention_hidden_danger_follows_the_exchange_format():
    """GIVEN a national-format hidden danger WHEN valid THEN it passes; bad codes are named."""
    assert check("dual_prevention/hidden_danger", dp_hidden_danger()) is None
    assert check("dual_prevention/hidden_danger", dp_hidden_danger(dangerState=2)) == (
        "schema_violation",
        "dangerState",
    )
    assert check("dual_prevention/hidden_danger", dp_hidden_danger(deleted=False)) == (
        "wrong_type",
        "deleted",
    )
    assert check(
        "dual_prevention/hidden_danger", dp_hidden_danger(createDate="2025-06-01 09:30:00")
    ) == ("schema_violation", "createDate")
    assert check("dual_prevention/hidden_danger", dp_hidden_danger(id="not-a-uuid")) == (
        "schema_violation",
        "id",
    )


def test_accepted_hidden_danger_names_who_accepted_it_and_when():
    """GIVEN dangerState 9 (已验收) WHEN acceptance fields are missing THEN missing_field."""
    accepted = dp_hidden_danger(dangerState=9)
    assert check("dual_prevention/hidden_danger", accepted) == (
        "missing_field",
        "checkAcceptPerson",
    )
    complete = {**accepted, "checkAcceptPerson": "Li Si", "checkAcceptTime": "20250628160000"}
    assert check("dual_prevention/hidden_danger", complete) is None
