"""The gate before publish (pipelines/lake/publish.py) on the fixture lake, DuckDB and Trino.

GIVEN the fixture lake of tests/integration/dbt_lake.py curated and published once, a failing
dbt test, a failing gold expectation or a quarantined bronze row stops the next curation: it
names the check, and readers of `gold` keep seeing the same build, row for row. The DAG-level
version (a real Airflow run) is tests/integration/test_dag_run.py.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from pipelines.lake.publish import (
    GateFailed,
    TrinoGold,
    build_schema_pattern,
    curate,
    gate_gold,
)
from pipelines.lake.reference import TABLE_COLUMNS
from pipelines.services import trino as trino_service
from pipelines.settings import Settings
from tests.integration.dbt_lake import (
    AS_OF,
    BATCH_2,
    BronzeLake,
    at,
    build_lake,
    lake_settings,
    query,
    reading,
)

pytestmark = pytest.mark.integration

VARS = {"as_of": AS_OF}
MINUTES_SQL = (
    "select tag, minute_start_ms, reading_count, value_max from {schema}.fct_readings_1min"
)


def _append_readings(root: Path, records: list[dict[str, Any]]) -> None:
    """Append readings to the fixture lake's bronze table after its last Kafka offsets."""
    from deltalake import DeltaTable

    lake = BronzeLake(root)
    existing = DeltaTable(lake.path("readings")).to_pyarrow_table()
    for partition, offset in zip(
        existing["_partition"].to_pylist(), existing["_offset"].to_pylist(), strict=True
    ):
        key = ("readings", partition)
        lake.offsets[key] = max(lake.offsets[key], offset + 1)
    lake.append("readings", records, BATCH_2)


def _published(settings: Settings) -> dict[str, Any]:
    """What a reader of the DuckDB file's gold sees: the build shown and the minute rows."""
    views = query(
        settings.lake.duckdb_path,
        "select sql from duckdb_views() where schema_name = 'gold' and not internal",
    )
    rows = query(
        settings.lake.duckdb_path,
        MINUTES_SQL.format(schema="gold") + " order by tag, minute_start_ms",
    )
    builds = {b for v in views for b in build_schema_pattern("gold").findall(v["sql"])}
    return {"builds": builds, "views": len(views), "minutes": rows}


@pytest.fixture(scope="module")
def published(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The fixture lake curated once on DuckDB (bronze gate, build, gold gate, publish)."""
    local = lake_settings(settings, tmp_path_factory.mktemp("publish_duckdb"))
    build_lake(Path(local.lake.root))
    with pytest.MonkeyPatch.context() as env:
        env.delenv("HAZCHEM_DBT__SCHEMA_SUFFIX", raising=False)
        result = curate(local, dbt_vars=VARS)
    return {"settings": local, "result": result, "seen": _published(local)}


def test_curate_publishes_gold_as_views_over_the_checked_build(published: dict) -> None:
    """GIVEN the fixture lake WHEN curated THEN every mart is a gold view over the one build
    that passed, and readers see its 9 minute roll-ups."""
    result, seen = published["result"], published["seen"]

    assert result["published_schema"] == "gold"
    assert result["previous_build"] is None
    assert seen["builds"] == {result["build_schema"]}
    assert seen["views"] == len(result["tables"]) == 14
    assert len(seen["minutes"]) == 9


def test_failing_dbt_test_names_it_and_keeps_the_last_good_gold(published: dict) -> None:
    """GIVEN published gold WHEN a reading of a tag absent from the plant (XX-999) lands and
    curate runs THEN the build fails naming the relationships tests to dim_tags, nothing is
    published, and readers see the same build and rows."""
    local: Settings = published["settings"]
    unknown = dict(reading("GD-RX01", at(2, "11:00:00"), 1.0), tag="XX-999")
    _append_readings(Path(local.lake.root), [unknown])

    with pytest.MonkeyPatch.context() as env:
        env.delenv("HAZCHEM_DBT__SCHEMA_SUFFIX", raising=False)
        with pytest.raises(GateFailed) as failed:
            curate(local, dbt_vars=VARS)

    assert failed.value.step == "dbt build"
    # dbt appends a hash to long test names: compare without it
    assert sorted(
        f"{c.split(' (')[0].rsplit('.', 1)[0]} ({c.split(' (')[1]}" for c in failed.value.checks
    ) == [
        "test relationships_fct_readings_1h_tag__tag__ref_dim_tags_ (fail, 1 rows)",
        "test relationships_fct_readings_1min_tag__tag__ref_dim_tags_ (fail, 1 rows)",
        "test relationships_stg_bronze__readings_tag__tag__ref_stg_reference__tags_ (fail, 1 rows)",
    ]
    assert "dbt build failed, gold not published: in gold_b" in str(failed.value)
    assert _published(local) == published["seen"]


def test_failing_gold_expectation_names_table_and_check(published: dict, tmp_path: Path) -> None:
    """GIVEN a build whose A-TF risk level scores 120 WHEN the gold gate runs on it THEN it fails
    naming gold.fct_risk_levels and score_0_100 with its reason, and gold is unchanged."""
    import duckdb

    local: Settings = published["settings"]
    build = published["result"]["build_schema"]
    bad = build + "x"
    with duckdb.connect(str(local.lake.duckdb_path)) as con:
        con.execute(f"create schema {bad}")
        for table in published["result"]["tables"]:
            con.execute(f"create table {bad}.{table} as select * from {build}.{table}")
        con.execute(f"update {bad}.fct_risk_levels set score = 120 where object_code = 'A-TF'")

    with pytest.raises(GateFailed) as failed:
        gate_gold(local, bad, "duckdb")

    assert failed.value.checks == ["gold.fct_risk_levels: score_0_100"]
    assert str(failed.value) == (
        f"gold gate failed, gold not published: in {bad}: gold.fct_risk_levels: score_0_100"
        " (score outside 0-100 points)"
    )
    assert _published(local) == published["seen"]


# --------------------------------------------------------------------------------------- Trino


def _trino(settings: Settings, sql: str) -> list[list[Any]]:
    with closing(trino_service.connect(settings)) as conn:
        cur = conn.cursor()
        cur.execute(sql)
        return cur.fetchall()


@pytest.fixture(scope="module")
def on_trino(trino: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """The fixture lake registered under private schemas and curated once on Trino."""
    root = tmp_path_factory.mktemp("publish_trino")
    local = lake_settings(trino, root)
    lake = Path(local.lake.root)
    build_lake(lake)
    suffix = f"_pt{uuid.uuid4().hex[:8]}"
    trino_service.register_delta_tables(
        local, f"bronze{suffix}", {p.name: str(p) for p in sorted((lake / "bronze").iterdir())}
    )
    trino_service.register_delta_tables(
        local, f"reference{suffix}", {t: str(lake / "reference" / t) for t in TABLE_COLUMNS}
    )
    with pytest.MonkeyPatch.context() as env:
        env.setenv("HAZCHEM_DBT__SCHEMA_SUFFIX", suffix)
        env.setenv("HAZCHEM_DBT__SOURCE_SCHEMA_SUFFIX", suffix)
        try:
            result = curate(local, target="trino", dbt_vars=VARS)
            yield {"settings": local, "suffix": suffix, "result": result}
        finally:
            _drop(local, suffix)
            shutil.rmtree(root, ignore_errors=True)


def _drop(settings: Settings, suffix: str) -> None:
    """Drop what the test created on Trino; registered tables are only unregistered."""
    catalog = settings.trino.catalog
    for schema in [s for (s,) in _trino(settings, f"show schemas from {catalog}") if suffix in s]:
        rows = _trino(
            settings,
            f"select table_name, table_type from {catalog}.information_schema.tables "
            f"where table_schema = '{schema}'",
        )
        registered = schema in (f"bronze{suffix}", f"reference{suffix}", f"quarantine{suffix}")
        for name, kind in rows:
            if registered:
                _trino(
                    settings,
                    f"call {catalog}.system.unregister_table(schema_name => '{schema}', "
                    f"table_name => '{name}')",
                )
            else:
                what = "view" if kind == "VIEW" else "table"
                _trino(settings, f"drop {what} if exists {catalog}.{schema}.{name}")
        _trino(settings, f"drop schema if exists {catalog}.{schema}")


def _trino_published(settings: Settings, suffix: str) -> dict[str, Any]:
    catalog = settings.trino.catalog
    views = _trino(
        settings,
        f"select table_name, view_definition from {catalog}.information_schema.views "
        f"where table_schema = 'gold{suffix}'",
    )
    minutes = _trino(
        settings,
        MINUTES_SQL.format(schema=f"{catalog}.gold{suffix}") + " order by tag, minute_start_ms",
    )
    return {
        "builds": {b for _, d in views for b in build_schema_pattern(f"gold{suffix}").findall(d)},
        "views": len(views),
        "minutes": [tuple(m) for m in minutes],
    }


def test_trino_curate_publishes_views_and_a_bad_batch_changes_nothing(on_trino: dict) -> None:
    """GIVEN the fixture lake curated on Trino THEN gold<suffix> holds 14 views over the build;
    WHEN a 150 %LEL reading lands and curate runs THEN the bronze gate fails naming
    lel_pct_range, readers see the same build and rows, and the gated bronze view dbt reads on
    Trino leaves the quarantined reading out."""
    local: Settings = on_trino["settings"]
    suffix = on_trino["suffix"]
    result = on_trino["result"]
    before = _trino_published(local, suffix)
    assert result["published_schema"] == f"gold{suffix}"
    assert before["builds"] == {result["build_schema"]}
    assert before["views"] == 14
    assert len(before["minutes"]) == 9

    _append_readings(Path(local.lake.root), [reading("GD-RX01", at(2, "10:00:50"), 150.0)])
    with pytest.MonkeyPatch.context() as env:
        env.setenv("HAZCHEM_DBT__SCHEMA_SUFFIX", suffix)
        env.setenv("HAZCHEM_DBT__SOURCE_SCHEMA_SUFFIX", suffix)
        with pytest.raises(GateFailed) as failed:
            curate(local, target="trino", dbt_vars=VARS)
        gated = TrinoGold(local).gate_sources()

    assert str(failed.value) == (
        "bronze gate failed, gold not published: bronze.readings: lel_pct_range"
        " (1 rows quarantined in quarantine/readings)"
    )
    assert _trino_published(local, suffix) == before
    catalog = local.trino.catalog
    counts = _trino(
        local,
        f"select (select count(*) from {catalog}.bronze{suffix}.readings),"
        f" (select count(*) from {catalog}.bronze{gated}.readings),"
        f" (select count(*) from {catalog}.bronze{gated}.readings where value > 100)",
    )
    assert counts == [[19, 18, 0]]


def test_trino_failing_gold_expectation_keeps_the_published_views(on_trino: dict) -> None:
    """GIVEN gold published on Trino WHEN the gold gate runs on a build whose A-TF risk level
    scores 120 THEN it names gold.fct_risk_levels score_0_100 and the views are unchanged."""
    local: Settings = on_trino["settings"]
    suffix = on_trino["suffix"]
    before = _trino_published(local, suffix)
    catalog = local.trino.catalog
    build = on_trino["result"]["build_schema"]
    bad = build + "x"
    location = trino_service.location(f"{local.lake.root}/{bad}")
    _trino(local, f"create schema {catalog}.{bad} with (location = '{location}')")
    for table in on_trino["result"]["tables"]:
        if table == "fct_risk_levels":
            columns = [
                r[0]
                for r in _trino(
                    local,
                    f"select column_name from {catalog}.information_schema.columns"
                    f" where table_schema = '{build}' and table_name = '{table}'"
                    " order by ordinal_position",
                )
            ]
            select = ", ".join(
                "case when object_code = 'A-TF' then 120 else score end as score"
                if c == "score"
                else c
                for c in columns
            )
        else:
            select = "*"
        source = f"{catalog}.{build}.{table}"
        _trino(local, f"create table {catalog}.{bad}.{table} as select {select} from {source}")

    with pytest.MonkeyPatch.context() as env:
        env.setenv("HAZCHEM_DBT__SCHEMA_SUFFIX", suffix)
        with pytest.raises(GateFailed) as failed:
            gate_gold(local, bad, "trino")

    assert failed.value.checks == ["gold.fct_risk_levels: score_0_100"]
    assert _trino_published(local, suffix) == before
