"""Delta maintenance on real tmp Delta tables: retention deletes, compaction, vacuum, marker."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from pipelines.lake import maintenance
from pipelines.lake.bronze_schema import table_name
from pipelines.lake.maintenance import (
    AUDIT_RETENTION_DAYS,
    MONITORING_RETENTION_DAYS,
    PERMIT_RETENTION_DAYS,
    current_state_tables,
    maintain_bronze,
    maintain_table,
    publish_marker,
    retention_days,
)
from pipelines.topics import load_topics

TODAY = date(2026, 3, 10)
SCHEMA = pa.schema([("tag", pa.string()), ("value", pa.float64()), ("event_date", pa.date32())])


def _append(path: Path, days_ago: list[int], tag: str = "PT-1") -> None:
    """Append one small file (one commit) per given age in days."""
    for age in days_ago:
        rows = {"tag": [tag], "value": [float(age)], "event_date": [TODAY - timedelta(days=age)]}
        table = pa.table(rows, schema=SCHEMA)
        write_deltalake(str(path), table, mode="append", partition_by=["event_date"])


def _ages(path: Path) -> list[int]:
    rows = DeltaTable(str(path)).to_pyarrow_table().to_pylist()
    return sorted((TODAY - r["event_date"]).days for r in rows)


def _parquet_files(path: Path) -> int:
    return sum(1 for _ in path.rglob("*.parquet"))


@pytest.fixture
def settings(tmp_path):
    """Settings whose lake root and DuckDB file are under tmp_path (shadows the session one)."""
    from pipelines.settings import Settings

    return Settings(
        _env_file=None,
        lake={"root": str(tmp_path / "lake"), "duckdb_path": tmp_path / "lake" / "x.duckdb"},
    )


def test_retention_days_by_table():
    """GIVEN bronze table names WHEN asking their retention THEN work_* keep a year, others 30 d."""
    assert retention_days("readings") == MONITORING_RETENTION_DAYS == 30
    assert retention_days("readings_dlq") == 30
    assert retention_days("work_permits") == PERMIT_RETENTION_DAYS >= 365
    assert retention_days("work_gas_analyses_dlq") >= 365


def test_maintain_table_deletes_old_rows_compacts_and_vacuums(tmp_path):
    """GIVEN a partitioned Delta table with one small file per row, rows 0..40 days old, several
    files in the same partitions
    WHEN maintain_table runs with 30 days retention and vacuum retention 0 h
    THEN rows older than 30 days are gone (30 days old is kept), partitions are compacted to one
    file each, and unreferenced files are deleted from disk."""
    path = tmp_path / "readings"
    ages = [0, 0, 0, 1, 1, 29, 30, 31, 31, 40]
    _append(path, ages)
    assert _parquet_files(path) == len(ages)

    report = maintain_table(str(path), 30, TODAY, vacuum_retention_hours=0)

    assert _ages(path) == [0, 0, 0, 1, 1, 29, 30]
    assert report.rows_deleted == 3
    assert report.cutoff == "2026-02-08"
    assert report.files_removed == 5 and report.files_added == 2  # partitions 0 d and 1 d
    assert report.files_vacuumed > 0
    assert _parquet_files(path) == 4  # one file per remaining partition (0, 1, 29, 30 days)
    assert DeltaTable(str(path)).history(5)[0]["operation"] == "VACUUM END"


def test_maintain_table_dry_run_changes_nothing(tmp_path):
    """GIVEN a table with old rows WHEN maintained with dry_run THEN it reports, changes nothing."""
    path = tmp_path / "readings"
    _append(path, [0, 45, 50])
    version = DeltaTable(str(path)).version()

    report = maintain_table(str(path), 30, TODAY, dry_run=True)

    assert report.dry_run and report.rows_deleted == 2
    assert DeltaTable(str(path)).version() == version
    assert _ages(path) == [0, 45, 50]


def test_maintain_bronze_keeps_permits_a_year(settings, tmp_path):
    """GIVEN bronze tables readings and work_permits with rows 10, 100 and 400 days old
    WHEN maintain_bronze runs
    THEN readings keep only the 10-day row, work_permits keep the 10- and 100-day rows."""
    bronze = Path(settings.lake.root) / "bronze"
    _append(bronze / "readings", [10, 100, 400])
    _append(bronze / "work_permits", [10, 100, 400], tag="WP-1")
    (bronze / "not_a_table").mkdir()

    reports = maintain_bronze(settings, TODAY, vacuum_retention_hours=0)

    assert {r.table: r.rows_deleted for r in reports} == {"readings": 2, "work_permits": 1}
    assert _ages(bronze / "readings") == [10]
    assert _ages(bronze / "work_permits") == [10, 100]


def test_audit_alarm_action_and_case_tables_keep_180_days_and_current_state_is_kept_whole():
    """GIVEN bronze table names WHEN asking their retention THEN audit, alarm, action and case
    tables (and their dead letters) keep 180 days, and every table of a compacted topic
    (certificates, equipment, tags, *.current) is kept whole (None)."""
    audited = ["alarm_audit", "alarms", "alarm_actions", "alarm_notifications", "cases",
               "case_actions", "case_notifications", "security_audit", "cases_dlq"]  # fmt: skip
    assert {t: retention_days(t) for t in audited} == dict.fromkeys(audited, 180)
    assert AUDIT_RETENTION_DAYS >= 180
    current = current_state_tables()
    assert {"certificates", "equipment", "tags", "alarms_current", "cases_current",
            "risk_current"} <= current  # fmt: skip
    assert {t: retention_days(t) for t in sorted(current)} == dict.fromkeys(sorted(current))
    assert retention_days("certificates_dlq") == MONITORING_RETENTION_DAYS


def test_audit_alarm_action_and_case_topics_keep_at_least_180_days_in_kafka():
    """GIVEN infra/kafka/topics.yaml WHEN reading the audit, alarm, action and case topics THEN
    each keeps >= 180 days (security.audit too, once it is declared)."""
    day_ms = 86_400_000
    kept = {
        t.name: t.retention_ms // day_ms
        for t in load_topics()
        if not t.is_dlq and table_name(t.name) in maintenance.AUDIT_TABLES
    }
    assert set(kept) >= {"alarm.audit", "alarms", "alarm.actions", "alarm.notifications",
                         "cases", "case.actions", "case.notifications"}  # fmt: skip
    assert {n: d for n, d in kept.items() if d < 180} == {}


def test_maintain_bronze_keeps_audit_180_days_and_current_state_tables_whole(settings):
    """GIVEN bronze tables alarm_audit, certificates and equipment with rows 10, 100, 200 and
    400 days old WHEN maintain_bronze runs THEN alarm_audit keeps the 10- and 100-day rows, and
    certificates and equipment keep every row (their reports show no cutoff)."""
    bronze = Path(settings.lake.root) / "bronze"
    for table in ("alarm_audit", "certificates", "equipment"):
        _append(bronze / table, [10, 100, 200, 400])

    reports = {r.table: r for r in maintain_bronze(settings, TODAY, vacuum_retention_hours=0)}

    assert {t: (r.rows_deleted, r.retention_days, r.cutoff) for t, r in reports.items()} == {
        "alarm_audit": (2, 180, "2025-09-11"),
        "certificates": (0, None, None),
        "equipment": (0, None, None),
    }
    assert _ages(bronze / "alarm_audit") == [10, 100]
    assert _ages(bronze / "certificates") == _ages(bronze / "equipment") == [10, 100, 200, 400]


def test_maintain_bronze_unknown_table_is_an_error(settings):
    """GIVEN no such bronze table WHEN it is named THEN ValueError names it."""
    with pytest.raises(ValueError, match="nope"):
        maintain_bronze(settings, TODAY, tables=["nope"])


def test_publish_marker_writes_counts(settings):
    """GIVEN a bronze table and a DuckDB file with a gold table WHEN publish_marker runs
    THEN <lake>/_published holds the run id and the row counts of both."""
    import duckdb

    _append(Path(settings.lake.root) / "bronze" / "readings", [0, 1, 2])
    with duckdb.connect(str(settings.lake.duckdb_path)) as con:
        con.execute(
            "create schema gold; create table gold.fct_x as select 1 as a union all select 2"
        )

    marker = publish_marker(settings, "manual__1")

    written = json.loads((Path(settings.lake.root) / maintenance.PUBLISHED_MARKER).read_text())
    assert written == marker
    assert marker["run_id"] == "manual__1"
    assert marker["counts"] == {"bronze": {"readings": 3}, "gold": {"fct_x": 2}}


def test_cli_prints_one_json_line_per_table(settings, monkeypatch, capsys):
    """GIVEN one bronze table WHEN the CLI runs with --dry-run THEN one JSON line, exit code 0."""
    _append(Path(settings.lake.root) / "bronze" / "readings", [0, 40])
    monkeypatch.setattr(maintenance, "get_settings", lambda: settings)

    code = maintenance.main(["--dry-run", "--today", TODAY.isoformat()])

    assert code == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(x["table"], x["rows_deleted"], x["dry_run"]) for x in lines] == [("readings", 1, True)]
