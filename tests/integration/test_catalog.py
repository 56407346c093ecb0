"""Data catalog (pipelines/lake/catalog.py) over the fixture lake of tests/integration/dbt_lake.py.

GIVEN the fixture lake, the dbt manifest (`dbt parse`) and a bronze quality run on readings
WHEN the catalog is published THEN the Delta tables catalog/{datasets,fields,lineage} hold the
readings lineage topic -> bronze -> staging -> mart, the sensor_reading fields with units and PII
tags, and the quality status; the browsable index is written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pipelines.settings import Settings
from tests.integration.dbt_lake import build_lake, lake_settings

pytestmark = pytest.mark.integration

SENSOR_READING_FIELDS = [
    ("enterprise_code", "string", True, None, "none"),
    ("hazard_source_code", "string, null", False, None, "none"),
    ("unit_code", "string", True, None, "none"),
    ("tag", "string", True, None, "none"),
    ("metric_code", "string", True, None, "none"),
    ("value", "number, null", True, "see unit", "none"),
    ("unit", "string", True, None, "none"),
    ("quality", "string", True, None, "none"),
    ("event_time_ms", "integer", True, "ms since epoch (UTC)", "none"),
]


@pytest.fixture(scope="module")
def published(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The catalog published for the fixture lake after a quality run on bronze.readings."""
    from deltalake import DeltaTable

    from pipelines.lake.catalog import catalog_path, publish_catalog
    from pipelines.lake.quality import run_checkpoint

    root = tmp_path_factory.mktemp("catalog")
    local = lake_settings(settings, root)
    build_lake(Path(local.lake.root))
    run_checkpoint(local, "bronze", ["readings"])
    written = publish_catalog(local, docs_dir=root / "docs_catalog")
    tables = {
        name: DeltaTable(catalog_path(local, name)).to_pyarrow_table().to_pylist()
        for name in ("datasets", "fields", "lineage")
    }
    return {"settings": local, "root": root, "written": written, **tables}


def test_lineage_follows_readings_from_topic_to_mart(published: dict[str, Any]) -> None:
    """GIVEN the manifest THEN readings topic -> bronze.readings -> stg -> fct_readings_1min/1h."""
    edges = {(e["upstream_id"], e["downstream_id"], e["relation"]) for e in published["lineage"]}

    assert {
        ("kafka.readings", "bronze.readings", "landed by bronze job"),
        ("bronze.readings", "silver.stg_bronze__readings", "dbt source"),
        ("silver.stg_bronze__readings", "gold.fct_readings_1min", "dbt ref"),
        ("gold.fct_readings_1min", "gold.fct_readings_1h", "dbt ref"),
        ("kafka.readings", "kafka.readings.dlq", "dead letters"),
        ("kafka.readings.dlq", "bronze.readings_dlq", "landed by bronze job"),
        ("bronze.readings_dlq", "silver.stg_bronze__dead_letters", "dbt source"),
    } <= edges
    into_1min = sorted(u for u, d, _ in edges if d == "gold.fct_readings_1min")
    assert into_1min == ["silver.stg_bronze__readings"]


def test_fields_carry_schema_units_and_pii(published: dict[str, Any]) -> None:
    """GIVEN sensor_reading.v1 THEN kafka.readings has its 9 fields, units and PII, in order."""
    rows = [r for r in published["fields"] if r["dataset_id"] == "kafka.readings"]

    assert [
        (r["field"], r["data_type"], r["required"], r["unit"], r["pii"]) for r in rows
    ] == SENSOR_READING_FIELDS
    assert [r["ordinal"] for r in rows] == list(range(1, 10))
    assert {r["origin"] for r in rows} == {"schema telemetry/sensor_reading"}

    bronze = [r for r in published["fields"] if r["dataset_id"] == "bronze.readings"]
    assert [(r["field"], r["data_type"], r["unit"]) for r in bronze[:9]] == [
        ("enterprise_code", "string", None),
        ("hazard_source_code", "string", None),
        ("unit_code", "string", None),
        ("tag", "string", None),
        ("metric_code", "string", None),
        ("value", "double", "see unit"),
        ("unit", "string", None),
        ("quality", "string", None),
        ("event_time_ms", "bigint", "ms since epoch (UTC)"),
    ]
    assert [r["field"] for r in bronze[9:]] == [
        "_topic", "_partition", "_offset", "_kafka_timestamp", "_key", "_value", "_ingested_at",
        "event_date",
    ]  # fmt: skip
    # positions are keyed by person_id: the Kafka key and value of that table are personal data
    positions = {r["field"]: r["pii"] for r in published["fields"]
                 if r["dataset_id"] == "bronze.positions"}  # fmt: skip
    assert positions["person_id"] == positions["_key"] == "personal"
    assert positions["_value"] == "personal"


def test_datasets_state_grain_owner_versions_and_quality(published: dict[str, Any]) -> None:
    """GIVEN a quality run on bronze.readings only THEN its status is passed, others unchecked."""
    datasets = {d["dataset_id"]: d for d in published["datasets"]}

    readings = datasets["kafka.readings"]
    assert (readings["kind"], readings["owner"], readings["grain"], readings["key"]) == (
        "topic",
        "control-room instrumentation",
        "one row per tag per event time",
        "tag",
    )
    assert datasets["kafka.alarms"]["schema_history"].startswith("v1 (first version); v2 (")
    assert datasets["kafka.alarms"]["schema_version"] == 2
    bronze = datasets["bronze.readings"]
    assert (bronze["quality_status"], bronze["quality_failed_expectations"]) == ("passed", "")
    assert bronze["location"] == f"{published['settings'].lake.root}/bronze/readings"
    mart = datasets["gold.fct_readings_1min"]
    assert (mart["kind"], mart["grain"], mart["quality_status"]) == (
        "dbt model (incremental)",
        "one row per tag per minute with at least one reading",
        "not checked",
    )
    assert datasets["gold.fct_alarm_episodes"]["grain"] == "one row per alarm episode (episode_id)"
    mart_fields = {r["field"]: r for r in published["fields"]
                   if r["dataset_id"] == "gold.fct_alarm_episodes"}  # fmt: skip
    assert mart_fields["acknowledged_by"]["pii"] == "personal"
    assert mart_fields["episode_id"]["description"].startswith("Alarm episode id")


def test_browsable_pages_and_index_copy_are_written(published: dict[str, Any]) -> None:
    """GIVEN publish_catalog THEN index.md/html in the cache and in docs_dir, one page per set."""
    root = published["root"]
    written = set(published["written"])
    for folder in (root / "cache" / "run" / "catalog", root / "docs_catalog"):
        assert str(folder / "index.md") in written
        assert "| [bronze.readings](datasets/bronze.readings.md) |" in (
            folder / "index.md"
        ).read_text(encoding="utf-8")
    page = root / "cache" / "run" / "catalog" / "datasets" / "kafka.readings.md"
    assert "| 9 | `event_time_ms` | integer | yes | ms since epoch (UTC) | none |" in (
        page.read_text(encoding="utf-8")
    )
    assert len(list((root / "cache" / "run" / "catalog" / "datasets").glob("*.md"))) == len(
        published["datasets"]
    )
