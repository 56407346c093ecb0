"""Quality gate (pipelines/lake/quality.py): GX checkpoints over the fixture lake of dbt_lake.py.

GIVEN the bronze lake of tests/integration/dbt_lake.py (records valid against their schemas)
THEN every bronze and gold suite passes; GIVEN a readings batch with a future event time, a
%LEL value above 100 and a Kafka record landed twice THEN exactly those three expectations fail,
the four offending rows land in `<lake>/quarantine/readings` with their reasons, the batch is
flagged and `publish` is false; GIVEN a gold risk level scored 120 and a case acknowledged
before it opened THEN exactly those two gold checks fail, each reported with its reason.
"""

from __future__ import annotations

import json
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from pipelines.settings import Settings
from tests.integration.dbt_lake import (
    AS_OF,
    BATCH_2,
    BronzeLake,
    build_lake,
    lake_settings,
    reading,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def clean(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings of a freshly built fixture lake (bronze and reference tables only)."""
    local = lake_settings(settings, tmp_path_factory.mktemp("quality_clean"))
    build_lake(Path(local.lake.root))
    return local


@pytest.fixture(scope="module")
def built(clean: Settings) -> Settings:
    """The fixture lake after `dbt build` (as_of AS_OF): gold marts in its DuckDB file."""
    from pipelines.lake.dbt_runner import run_dbt

    assert run_dbt(clean, ["build", "--vars", json.dumps({"as_of": AS_OF})]) == 0
    return clean


def _now_ms() -> int:
    return int(datetime.now(UTC).timestamp() * 1000)


def _land_bad_batch(local: Settings) -> dict[str, Any]:
    """Append a future reading, a 150 %LEL reading and a re-landed copy of an existing record."""
    import pyarrow.compute as pc
    from deltalake import DeltaTable, write_deltalake

    lake = BronzeLake(Path(local.lake.root))
    existing = DeltaTable(lake.path("readings")).to_pyarrow_table()
    for partition, offset in zip(
        existing["_partition"].to_pylist(), existing["_offset"].to_pylist(), strict=True
    ):
        key = ("readings", partition)
        lake.offsets[key] = max(lake.offsets[key], offset + 1)  # continue the partition's offsets
    future_ms = _now_ms() + 3_600_000
    lake.append(
        "readings",
        [reading("LI-501", future_ms, 6.0), reading("GD-RX01", future_ms - 3_700_000, 150.0)],
        BATCH_2,
    )
    first = existing.filter(pc.equal(existing["_offset"], 0)).slice(0, 1)
    write_deltalake(lake.path("readings"), first, mode="append", partition_by=["event_date"])
    row = first.to_pylist()[0]
    return {
        "future_ms": future_ms,
        "duplicate": (row["_partition"], row["_offset"], row["tag"], row["event_time_ms"]),
    }


def test_clean_bronze_batch_passes_every_suite(clean: Settings) -> None:
    """GIVEN the fixture lake WHEN the bronze checkpoint runs THEN all pass and publish is true."""
    from pipelines.lake.quality import data_docs_dir, latest_results, run_checkpoint

    started = time.perf_counter()
    result = run_checkpoint(clean, "bronze")
    print(f"bronze checkpoint (3 tables, incl. GX import): {time.perf_counter() - started:.1f} s")

    assert result["success"] is True
    assert result["publish"] is True
    summary = {
        table: (e["success"], e["failed_expectations"], e["rows_checked"], e["rows_quarantined"])
        for table, e in result["tables"].items()
    }
    assert summary == {
        "readings": (True, [], 18, 0),
        "alarms": (True, [], 61, 0),
        "readings_dlq": (True, [], 4, 0),
    }
    assert (data_docs_dir(clean) / "index.html").is_file()
    assert list((data_docs_dir(clean) / "validations" / "bronze" / "readings").rglob("*.html"))
    latest = latest_results(clean)
    assert {k: v["success"] for k, v in latest.items()} == {
        "bronze.readings": True,
        "bronze.alarms": True,
        "bronze.readings_dlq": True,
    }
    assert not Path(clean.lake.root, "quarantine", "readings").exists()


def test_gold_marts_pass_keys_references_and_kpi_ranges(built: Settings) -> None:
    """GIVEN the fixture lake after dbt build WHEN the gold checkpoint runs THEN all 12 pass."""
    from pipelines.lake.quality import run_checkpoint

    result = run_checkpoint(built, "gold")

    assert result["publish"] is True
    rows = {table: (e["success"], e["rows_checked"]) for table, e in result["tables"].items()}
    assert rows == {
        "dim_hazard_sources": (True, 2),
        "dim_areas": (True, 8),
        "dim_tags": (True, 198),
        "fct_readings_1min": (True, 9),
        "fct_readings_1h": (True, 6),
        "fct_alarm_episodes": (True, 31),
        "fct_alarm_kpis_daily": (True, 6),
        "fct_dead_letters_daily": (True, 4),
        "mart_due_dates": (True, 6),
        # HS-01 4 changes, A-TF 1, the enterprise 2 (a replayed change is dropped)
        "fct_risk_levels": (True, 7),
        "fct_cases": (True, 3),
        # HS-01 2 Mar; HS-02 1 and 2 Mar; the enterprise 2 Mar (opened) and 3 Mar (acknowledged)
        "mart_case_kpis_daily": (True, 5),
    }


def test_bad_risk_level_and_case_fail_their_gold_checks_with_reasons(
    built: Settings, settings: Settings, tmp_path: Path
) -> None:
    """GIVEN a copy of the built gold marts where the A-TF risk level scores 120 and CASE_1 has
    a time to acknowledge of -60 s WHEN the new gold suites run THEN fct_risk_levels fails only
    score_0_100 and fct_cases only time_to_ack_s_non_negative, each with its reason; the case
    KPIs (built before the edit) still pass and publish is false."""
    import duckdb

    from pipelines.lake.quality import run_checkpoint
    from tests.integration.dbt_lake import CASE_1

    local = lake_settings(settings, tmp_path)
    shutil.copyfile(built.lake.duckdb_path, local.lake.duckdb_path)
    with duckdb.connect(str(local.lake.duckdb_path)) as con:
        con.execute("update gold.fct_risk_levels set score = 120 where object_code = 'A-TF'")
        con.execute("update gold.fct_cases set time_to_ack_s = -60 where case_id = ?", [CASE_1])
        changed = con.execute(
            "select (select count(*) from gold.fct_risk_levels where score > 100),"
            " (select count(*) from gold.fct_cases where time_to_ack_s < 0)"
        ).fetchone()
    assert changed == (1, 1)

    result = run_checkpoint(local, "gold", ["fct_risk_levels", "fct_cases", "mart_case_kpis_daily"])

    assert result["publish"] is False
    got = {
        table: (
            e["success"],
            e["rows_checked"],
            e["failed_expectations"],
            e["failed_reasons"],
            e["statistics"]["unsuccessful_expectations"],
        )
        for table, e in result["tables"].items()
    }
    assert got == {
        "fct_risk_levels": (
            False,
            7,
            ["score_0_100"],
            {"score_0_100": "score outside 0-100 points"},
            1,
        ),
        "fct_cases": (
            False,
            3,
            ["time_to_ack_s_non_negative"],
            {"time_to_ack_s_non_negative": "time_to_ack_s negative"},
            1,
        ),
        "mart_case_kpis_daily": (True, 5, [], {}, 0),
    }


def test_gold_table_missing_fails_the_gate(settings: Settings, tmp_path: Path) -> None:
    """GIVEN no DuckDB file WHEN the gold checkpoint runs on a mart THEN table_exists fails."""
    from pipelines.lake.quality import run_checkpoint

    result = run_checkpoint(lake_settings(settings, tmp_path), "gold", ["fct_readings_1min"])

    assert result["publish"] is False
    assert result["tables"]["fct_readings_1min"]["failed_expectations"] == ["table_exists"]
    assert result["tables"]["fct_readings_1min"]["failed_reasons"] == {
        "table_exists": "no table gold.fct_readings_1min"
    }


def test_bad_batch_fails_exactly_its_expectations_and_is_quarantined(
    settings: Settings, tmp_path: Path
) -> None:
    """GIVEN future, out-of-range and re-landed rows THEN those 3 checks fail, 4 rows kept."""
    from deltalake import DeltaTable

    from pipelines.lake.quality import quarantine_path, run_checkpoint

    local = lake_settings(settings, tmp_path)
    build_lake(Path(local.lake.root))
    bad = _land_bad_batch(local)

    result = run_checkpoint(local, "bronze")

    assert result["publish"] is False
    assert result["success"] is False
    readings = result["tables"]["readings"]
    assert readings["success"] is False
    assert readings["failed_expectations"] == [
        "event_time_not_in_future",
        "kafka_offset_unique",
        "lel_pct_range",
    ]
    assert readings["rows_checked"] == 21
    assert readings["rows_quarantined"] == 4
    assert result["tables"]["alarms"]["success"] is True
    assert result["tables"]["readings_dlq"]["success"] is True

    quarantined = DeltaTable(quarantine_path(local, "readings")).to_pyarrow_table().to_pylist()
    got = sorted(
        (r["tag"], r["value"], r["_partition"], r["_offset"], r["_quarantine_reasons"])
        for r in quarantined
    )
    partition, offset, dup_tag, _ = bad["duplicate"]
    dup_reason = (
        "kafka_offset_unique: duplicate (_topic, _partition, _offset): a Kafka record landed twice"
    )
    future = {r["tag"]: r for r in quarantined if r["event_time_ms"] == bad["future_ms"]}
    assert set(future) == {"LI-501"}
    lel = [r for r in quarantined if r["tag"] == "GD-RX01"]
    assert len(lel) == 1
    assert got == sorted(
        [
            (dup_tag, 6.0, partition, offset, dup_reason),
            (dup_tag, 6.0, partition, offset, dup_reason),
            (
                "GD-RX01",
                150.0,
                lel[0]["_partition"],
                lel[0]["_offset"],
                "lel_pct_range: combustible gas outside 0-100 %LEL",
            ),
            (
                "LI-501",
                6.0,
                future["LI-501"]["_partition"],
                future["LI-501"]["_offset"],
                "event_time_not_in_future: event_time_ms later than now + max future skew (5 min)",
            ),
        ]
    )
    assert {r["_failed_checks"] for r in quarantined} == {
        '["event_time_not_in_future"]',
        '["kafka_offset_unique"]',
        '["lel_pct_range"]',
    }
    assert {r["_run_id"] for r in quarantined} == {result["run_id"]}
    # the bronze table keeps every row (append-only): nothing was deleted
    assert (
        DeltaTable(str(Path(local.lake.root, "bronze", "readings"))).to_pyarrow_table().num_rows
        == 21
    )

    flagged = DeltaTable(quarantine_path(local, "_flagged_batches")).to_pyarrow_table().to_pylist()
    assert [
        (f["table_name"], f["rows_checked"], f["rows_quarantined"], f["failed_expectations"])
        for f in flagged
    ] == [("readings", 21, 4, "event_time_not_in_future,kafka_offset_unique,lel_pct_range")]
    assert flagged[0]["publish"] is False
