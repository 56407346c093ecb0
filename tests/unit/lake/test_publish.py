"""The publish step of the gate (pipelines/lake/publish.py) on a real DuckDB file, no dbt."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from pipelines.lake import publish
from pipelines.lake.publish import DuckDBGold, GateFailed, builds_to_drop, dbt_failures
from pipelines.settings import Settings

B1, B2, B3, B4, B9 = (f"gold_b20261203t14000{i}000{i}" for i in (1, 2, 3, 4, 9))  # builds


@pytest.fixture
def gold(settings: Settings, tmp_path: Path) -> Settings:
    """Settings whose DuckDB file holds two builds: build 1 (rows 1, 2) and build 2 (row 3)."""
    lake = settings.lake.model_copy(update={"duckdb_path": tmp_path / "hazchem.duckdb"})
    local = settings.model_copy(update={"lake": lake})
    with duckdb.connect(str(lake.duckdb_path)) as con:
        for build, values in (
            (B1, [1, 2]),
            (B2, [3]),
        ):
            con.execute(f"create schema {build}")
            con.execute(f"create table {build}.fct_a as select unnest(?) as v", [values])
            con.execute(f"create table {build}.dim_b as select 'b-{build}' as name")
    return local


def _rows(path: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_publish_points_gold_at_the_build(gold: Settings, monkeypatch: pytest.MonkeyPatch):
    """GIVEN build build 1 WHEN published THEN gold.fct_a and gold.dim_b are views showing it,
    and the file reports build 1 as the published build."""
    monkeypatch.delenv("HAZCHEM_DBT__SCHEMA_SUFFIX", raising=False)

    done = publish.publish(gold, B1, "duckdb")

    assert (done.published_schema, done.previous_build, done.tables) == (
        "gold",
        None,
        ["dim_b", "fct_a"],
    )
    path = gold.lake.duckdb_path
    assert _rows(path, "select v from gold.fct_a order by v") == [(1,), (2,)]
    assert _rows(path, "select name from gold.dim_b") == [(f"b-{B1}",)]
    assert _rows(
        path,
        "select table_name, table_type from information_schema.tables "
        "where table_schema = 'gold' order by 1",
    ) == [("dim_b", "VIEW"), ("fct_a", "VIEW")]
    assert DuckDBGold(gold).published_build("gold") == B1


def test_a_reader_sees_the_old_build_or_the_new_one_never_a_mix(
    gold: Settings, monkeypatch: pytest.MonkeyPatch
):
    """GIVEN gold showing build 1 and a reader in an open transaction WHEN build 2 is published
    THEN the reader still sees build 1 in both tables, and build 2 in both after it commits."""
    monkeypatch.delenv("HAZCHEM_DBT__SCHEMA_SUFFIX", raising=False)
    publish.publish(gold, B1, "duckdb")
    reader = duckdb.connect(str(gold.lake.duckdb_path))
    try:
        reader.execute("begin transaction")
        before = reader.execute("select count(*) from gold.fct_a").fetchone()

        publish.publish(gold, B2, "duckdb")

        during = reader.execute(
            "select (select count(*) from gold.fct_a), (select name from gold.dim_b)"
        ).fetchone()
        reader.execute("commit")
        after = reader.execute(
            "select (select count(*) from gold.fct_a), (select name from gold.dim_b)"
        ).fetchone()
    finally:
        reader.close()
    assert before == (2,)
    assert during == (2, f"b-{B1}")
    assert after == (1, f"b-{B2}")


def test_a_swap_that_fails_halfway_changes_nothing(gold: Settings, monkeypatch):
    """GIVEN gold showing build 1 WHEN a swap to build 2 fails on its last table THEN the
    transaction is rolled back: every gold view still shows build 1."""
    monkeypatch.delenv("HAZCHEM_DBT__SCHEMA_SUFFIX", raising=False)
    publish.publish(gold, B1, "duckdb")

    with pytest.raises(duckdb.CatalogException, match="no_such_table"):
        DuckDBGold(gold).swap("gold", B2, ["dim_b", "fct_a", "no_such_table"])

    path = gold.lake.duckdb_path
    assert _rows(path, "select v from gold.fct_a order by v") == [(1,), (2,)]
    assert _rows(path, "select name from gold.dim_b") == [(f"b-{B1}",)]
    assert DuckDBGold(gold).published_build("gold") == B1


def test_publish_replaces_a_development_table_and_drops_old_builds(
    gold: Settings, monkeypatch: pytest.MonkeyPatch
):
    """GIVEN gold.fct_a a table written by a plain `dbt build`, a stale gold.old view and
    builds b1, b2 WHEN b1, then b2, then a new b3 are published THEN gold holds exactly b3's
    views and b1 is dropped (b2, the previous build, stays for readers still on it)."""
    monkeypatch.delenv("HAZCHEM_DBT__SCHEMA_SUFFIX", raising=False)
    path = gold.lake.duckdb_path
    with duckdb.connect(str(path)) as con:
        con.execute("create schema gold")
        con.execute("create table gold.fct_a as select 99 as v")
        con.execute("create view gold.old as select 1 as x")
        con.execute(f"create schema {B3}")
        con.execute(f"create table {B3}.fct_a as select 7 as v")

    publish.publish(gold, B1, "duckdb")
    publish.publish(gold, B2, "duckdb")
    done = publish.publish(gold, B3, "duckdb")

    assert (done.previous_build, done.tables, done.dropped_builds) == (
        B2,
        ["fct_a"],
        [B1],
    )
    assert _rows(path, "select v from gold.fct_a") == [(7,)]
    assert _rows(
        path, "select table_name from information_schema.tables where table_schema = 'gold'"
    ) == [("fct_a",)]
    assert sorted(s for s in DuckDBGold(gold).schemas() if s.startswith("gold_")) == [
        B2,
        B3,
    ]


def test_publishing_an_empty_build_is_refused(gold: Settings, monkeypatch):
    """GIVEN gold showing build 1 and an empty build schema WHEN published THEN GateFailed
    names the publish step and gold still shows build 1."""
    monkeypatch.delenv("HAZCHEM_DBT__SCHEMA_SUFFIX", raising=False)
    publish.publish(gold, B1, "duckdb")
    with duckdb.connect(str(gold.lake.duckdb_path)) as con:
        con.execute(f"create schema {B9}")

    with pytest.raises(GateFailed) as failed:
        publish.publish(gold, B9, "duckdb")

    assert str(failed.value) == (
        f"publish failed, gold not published: build schema {B9} has no tables"
    )
    assert DuckDBGold(gold).published_build("gold") == B1


def test_build_schema_names_follow_the_published_schema(monkeypatch: pytest.MonkeyPatch):
    """GIVEN a schema suffix WHEN naming a build THEN it is gold<suffix>_b<stamp>, matched by the
    build pattern (not `gold_backup`), and the builds to drop are the older ones except the
    previous (a newer one, from another curate, is left alone)."""
    from datetime import UTC, datetime

    monkeypatch.setenv("HAZCHEM_DBT__SCHEMA_SUFFIX", "_it1")
    name = publish.new_build_schema(datetime(2026, 12, 3, 14, 5, 6, tzinfo=UTC))

    assert name.startswith("gold_it1_b20261203t140506") and len(name) == len("gold_it1_b") + 19
    assert publish.build_schema_pattern("gold_it1").fullmatch(name)
    assert not publish.build_schema_pattern("gold").fullmatch(name)
    assert not publish.build_schema_pattern("gold").fullmatch("gold_backup")
    assert builds_to_drop(
        [
            B1,
            B2,
            B3,
            B4,
        ],
        B3,
        B2,
    ) == [B1]


def test_dbt_failures_name_each_failed_test_and_model():
    """GIVEN dbt's run_results with a passing model, a failing test, an erroring model and a
    skipped one THEN exactly the failing test and the erroring model are named."""
    results = {
        "results": [
            {"unique_id": "model.hazchem.dim_tags", "status": "success", "failures": None},
            {
                "unique_id": "test.hazchem.relationships_fct_readings_1min_tag__tag__ref_dim_tags_"
                ".6a1f",
                "status": "fail",
                "failures": 3,
            },
            {"unique_id": "model.hazchem.fct_cases", "status": "error", "failures": None},
            {"unique_id": "model.hazchem.mart_due_dates", "status": "skipped", "failures": None},
        ]
    }

    assert dbt_failures(results) == [
        "test relationships_fct_readings_1min_tag__tag__ref_dim_tags_.6a1f (fail, 3 rows)",
        "model fct_cases (error)",
    ]


def test_unknown_target_is_refused_before_any_work(settings: Settings):
    """GIVEN target 'spark' WHEN curating THEN ValueError names the known targets."""
    with pytest.raises(
        ValueError, match=r"unknown target 'spark' \(expected one of duckdb, trino\)"
    ):
        publish.curate(settings, target="spark")


def test_cli_unknown_target_is_one_line(monkeypatch: pytest.MonkeyPatch):
    """GIVEN `hazchem lake curate --target spark` THEN one error line and exit code 2."""
    from typer.testing import CliRunner

    from pipelines.cli import app

    result = CliRunner().invoke(app, ["lake", "curate", "--target", "spark"])

    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "error: unknown target 'spark' (known: duckdb, trino)"
    ]
