"""The same dbt project on Trino and on DuckDB gives exactly the same gold tables.

The fixture lake of tests/integration/dbt_lake.py is registered in Trino under private schemas
(bronze_<id>, reference_<id>; dbt writes silver_<id>, gold_<id>), `dbt build` runs on both
targets (seeds, snapshots, models, data and unit tests), and every gold table is compared row by
row with the DuckDB one.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from pipelines.lake.dbt_runner import run_dbt
from pipelines.lake.reference import TABLE_COLUMNS
from pipelines.services import trino as trino_service
from pipelines.settings import Settings
from tests.integration.dbt_lake import AS_OF, build_lake, lake_settings, query

pytestmark = pytest.mark.integration

GOLD = (
    "dim_tags",
    "dim_areas",
    "dim_hazard_sources",
    "fct_readings_1min",
    "fct_readings_1h",
    "fct_alarm_episodes",
    "fct_alarm_kpis_daily",
    "fct_dead_letters_daily",
    "mart_due_dates",
    "fct_risk_levels",
    "mart_risk_color_minutes_daily",
    "fct_case_events",
    "fct_cases",
    "mart_case_kpis_daily",
)


def _execute(settings: Settings, sql: str) -> list[list[Any]]:
    with closing(trino_service.connect(settings)) as conn:
        cur = conn.cursor()
        cur.execute(sql)
        return cur.fetchall()


@pytest.fixture(scope="module")
def both_targets(trino: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """The fixture lake built by dbt on DuckDB and on Trino (private schemas, dropped after)."""
    root = tmp_path_factory.mktemp("dbt_trino")
    local = lake_settings(trino, root)
    lake = Path(local.lake.root)
    build_lake(lake)
    suffix = f"_it{uuid.uuid4().hex[:8]}"
    catalog = local.trino.catalog
    trino_service.register_delta_tables(
        local, f"bronze{suffix}", {p.name: str(p) for p in sorted((lake / "bronze").iterdir())}
    )
    trino_service.register_delta_tables(
        local, f"reference{suffix}", {t: str(lake / "reference" / t) for t in TABLE_COLUMNS}
    )
    for layer in ("silver", "gold"):
        location = trino_service.location(f"{local.lake.root}/{layer}{suffix}")
        _execute(
            local,
            f"CREATE SCHEMA IF NOT EXISTS {catalog}.{layer}{suffix} WITH (location = '{location}')",
        )
    args = ["build", "--vars", json.dumps({"as_of": AS_OF})]
    with pytest.MonkeyPatch.context() as env:
        env.setenv("HAZCHEM_DBT__SCHEMA_SUFFIX", suffix)
        env.setenv("HAZCHEM_DBT__SOURCE_SCHEMA_SUFFIX", suffix)
        trino_rc = run_dbt(local, args, target="trino")
    duckdb_rc = run_dbt(local, args, target="duckdb")
    try:
        yield {
            "settings": local,
            "suffix": suffix,
            "trino_rc": trino_rc,
            "duckdb_rc": duckdb_rc,
            "log": local.cache_dir / "dbt",
        }
    finally:
        _drop_schemas(local, suffix)


def _drop_schemas(settings: Settings, suffix: str) -> None:
    """Drop what dbt created and unregister the bronze/reference tables (data stays in tmp)."""
    catalog = settings.trino.catalog
    for layer in ("gold", "silver", "reference", "bronze"):
        schema = f"{layer}{suffix}"
        rows = _execute(
            settings,
            f"SELECT table_name, table_type FROM {catalog}.information_schema.tables "
            f"WHERE table_schema = '{schema}'",
        )
        for name, kind in rows:
            if layer in ("bronze", "reference"):
                _execute(
                    settings,
                    f"CALL {catalog}.system.unregister_table(schema_name => '{schema}', "
                    f"table_name => '{name}')",
                )
            elif kind == "VIEW":
                _execute(settings, f"DROP VIEW IF EXISTS {catalog}.{schema}.{name}")
            else:
                _execute(settings, f"DROP TABLE IF EXISTS {catalog}.{schema}.{name}")
        _execute(settings, f"DROP SCHEMA IF EXISTS {catalog}.{schema}")


def _normal(value: Any) -> Any:
    """One representation per value across both clients (UTC instants, floats, plain types)."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC)
    if isinstance(value, Decimal):
        return float(value)
    return value


def _rows(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    normal = [{k: _normal(v) for k, v in r.items()} for r in records]
    return sorted(normal, key=lambda r: [(v is None, str(v)) for v in r.values()])


def _trino_query(settings: Settings, sql: str) -> list[dict[str, Any]]:
    """Rows of a query on Trino, as dicts."""
    with closing(trino_service.connect(settings)) as conn:
        cur = conn.cursor()
        cur.execute(sql)
        rows = cur.fetchall()
        names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in rows]


def _trino_rows(settings: Settings, relation: str) -> list[dict[str, Any]]:
    return _trino_query(settings, f"SELECT * FROM {relation}")


def test_dbt_builds_on_both_targets(both_targets: dict) -> None:
    """GIVEN the fixture lake WHEN `dbt build` runs on Trino and on DuckDB THEN both succeed
    (seeds, snapshots, models, every data test and unit test)."""
    assert both_targets["trino_rc"] == 0, f"dbt on trino failed; see {both_targets['log']}"
    assert both_targets["duckdb_rc"] == 0, f"dbt on duckdb failed; see {both_targets['log']}"


@pytest.mark.parametrize("model", GOLD)
def test_gold_tables_are_identical_on_trino_and_duckdb(both_targets: dict, model: str) -> None:
    """GIVEN both builds WHEN a gold table is read from each engine THEN the rows are equal,
    column by column (timestamps as UTC instants)."""
    if both_targets["trino_rc"] or both_targets["duckdb_rc"]:
        pytest.fail("a dbt build failed; see test_dbt_builds_on_both_targets")
    settings: Settings = both_targets["settings"]
    suffix = both_targets["suffix"]
    on_trino = _trino_rows(settings, f"{settings.trino.catalog}.gold{suffix}.{model}")
    on_duckdb = query(settings.lake.duckdb_path, f"SELECT * FROM gold.{model}")
    assert on_duckdb, f"gold.{model} is empty: the comparison would prove nothing"
    assert list(on_trino[0]) == list(on_duckdb[0])  # same columns, same order
    assert _rows(on_trino) == _rows(on_duckdb)
