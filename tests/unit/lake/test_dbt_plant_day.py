"""The dbt project's plant calendar day is the plant's time zone (pipelines.plant.PLANT_TZ)."""

from __future__ import annotations

from datetime import timedelta

import yaml

from pipelines.lake.seeds import SEEDS_DIR
from pipelines.plant import PLANT_TZ

DBT_PROJECT = SEEDS_DIR.parent / "dbt_project.yml"
MARTS = SEEDS_DIR.parent / "models"


def test_plant_utc_offset_var_equals_plant_tz() -> None:
    """GIVEN dbt_project.yml WHEN its plant_utc_offset_minutes var is read THEN it is PLANT_TZ's
    offset, so every daily mart (hazchem.plant_day_index / plant_date) cuts days at the plant's
    midnight on DuckDB and Trino alike."""
    project = yaml.safe_load(DBT_PROJECT.read_text(encoding="utf-8"))
    offset = PLANT_TZ.utcoffset(None)
    assert offset is not None
    assert timedelta(minutes=project["vars"]["plant_utc_offset_minutes"]) == offset


def test_daily_marts_cut_days_with_the_plant_day_macros() -> None:
    """GIVEN every model with a report_date WHEN its SQL is read THEN the date comes from the
    plant-day macros, never from the UTC event_date partition column or a UTC cast."""
    daily = [p for p in MARTS.rglob("*.sql") if "report_date" in p.read_text(encoding="utf-8")]
    assert daily, "no daily models found"
    for path in daily:
        sql = path.read_text(encoding="utf-8")
        assert "plant_day_index" in sql or "plant_date" in sql or "ref('int_" in sql, path.name
        assert "event_date" not in sql, path.name
        assert "as date)" not in sql.replace("cast('1970-01-01' as date)", ""), path.name
