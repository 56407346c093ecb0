"""Trino over the lake: Delta tables written by other engines are registered and queried exactly."""

from __future__ import annotations

import uuid
from contextlib import closing
from datetime import date
from pathlib import Path

import pytest

from pipelines.cli_support import UserError
from pipelines.services import trino as trino_service
from pipelines.settings import LakeSettings, Settings

pytestmark = pytest.mark.integration

READINGS = {
    "tag": ["PT-101", "PT-101", "TT-201", "TT-201", "TT-201", "LT-301"],
    "value": [1.5, 2.25, 80.0, 81.5, 79.75, 0.5],  # binary-exact, so sums compare exactly
    "unit": ["MPa", "MPa", "degC", "degC", "degC", "m"],
    "event_date": [date(2026, 11, 1)] * 3 + [date(2026, 11, 2)] * 3,
}


@pytest.fixture(scope="module")
def lake_table(trino: Settings, tmp_path_factory: pytest.TempPathFactory):
    """A small bronze-like Delta table in a temporary lake root, registered in a unique schema."""
    import pyarrow as pa
    from deltalake import write_deltalake

    root = tmp_path_factory.mktemp("lake")
    settings = trino.model_copy(update={"lake": LakeSettings(root=str(root))})
    path = root / "bronze" / "readings"
    write_deltalake(str(path), pa.table(READINGS), partition_by=["event_date"])
    schema = f"it_{uuid.uuid4().hex[:8]}"
    added = trino_service.register_delta_tables(settings, schema, {"readings": str(path)})
    yield settings, schema, path, added
    with closing(trino_service.connect(settings)) as conn:
        cur = conn.cursor()
        catalog = settings.trino.catalog
        cur.execute(
            f"CALL {catalog}.system.unregister_table(schema_name => '{schema}', "
            "table_name => 'readings')"
        )
        cur.fetchall()
        cur.execute(f"DROP SCHEMA {catalog}.{schema}")
        cur.fetchall()


def _rows(settings: Settings, sql: str) -> list[list[object]]:
    with closing(trino_service.connect(settings)) as conn:
        cur = conn.cursor()
        cur.execute(sql)
        return cur.fetchall()


def test_registered_table_answers_exact_aggregates(lake_table):
    """GIVEN a 6-row Delta table written by the deltalake package and registered in Trino
    WHEN it is counted, summed and grouped by tag through Trino
    THEN the answers are exactly those of the written rows."""
    settings, schema, _, added = lake_table
    table = f"{settings.trino.catalog}.{schema}.readings"

    assert added == ["readings"]
    assert _rows(settings, f"SELECT count(*), sum(value) FROM {table}") == [[6, 245.5]]
    assert _rows(
        settings,
        f"SELECT tag, count(*), sum(value) FROM {table} GROUP BY tag ORDER BY tag",
    ) == [["LT-301", 1, 0.5], ["PT-101", 2, 3.75], ["TT-201", 3, 241.25]]
    assert _rows(
        settings, f"SELECT event_date, count(*) FROM {table} GROUP BY event_date ORDER BY 1"
    ) == [[date(2026, 11, 1), 3], [date(2026, 11, 2), 3]]


def test_information_schema_lists_registered_table(lake_table):
    """GIVEN a registered Delta table WHEN the catalog's information_schema.tables is read
    THEN it lists the table in its schema as a base table."""
    settings, schema, _, _ = lake_table
    rows = _rows(
        settings,
        f"SELECT table_schema, table_name, table_type FROM {settings.trino.catalog}"
        f".information_schema.tables WHERE table_schema = '{schema}'",
    )

    assert rows == [[schema, "readings", "BASE TABLE"]]


def test_registering_again_is_a_no_op(lake_table):
    """GIVEN a table already registered WHEN the same tables are registered again
    THEN nothing is added and the table still reads once, at the same location."""
    settings, schema, path, _ = lake_table

    again = trino_service.register_delta_tables(settings, schema, {"readings": str(path)})

    assert again == []
    assert _rows(settings, f"SELECT count(*) FROM {settings.trino.catalog}.{schema}.readings") == [
        [6]
    ]
    ddl = _rows(settings, f"SHOW CREATE TABLE {settings.trino.catalog}.{schema}.readings")[0][0]
    assert f"location = 'local://{path.resolve()}'" in ddl


def test_a_folder_without_delta_log_is_refused(lake_table, tmp_path: Path):
    """GIVEN a folder that is not a Delta table WHEN it is registered
    THEN a one-line UserError names the folder and nothing is registered."""
    settings, schema, _, _ = lake_table
    folder = tmp_path / "not_delta"

    with pytest.raises(UserError, match=r"^not a Delta table \(no _delta_log\): .*not_delta$"):
        trino_service.register_delta_tables(settings, schema, {"other": str(folder)})


def test_missing_java_25_is_a_one_line_error(settings: Settings, tmp_path: Path):
    """GIVEN settings whose Trino JDK folder does not exist WHEN Trino is started
    THEN a one-line UserError names the expected JDK path (nothing is fetched or started)."""
    missing = tmp_path / "no-jdk"
    broken = settings.model_copy(
        update={"trino": settings.trino.model_copy(update={"java_home": missing, "port": 1})}
    )

    with pytest.raises(UserError) as error:
        trino_service.start(broken)

    assert "\n" not in str(error.value)
    assert f"no JDK at {missing}" in str(error.value)
