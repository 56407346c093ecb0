"""The dbt seeds generated from Python equal the committed files (one definition of the KPIs)."""

from __future__ import annotations

from pathlib import Path

from pipelines.lake.seeds import SEEDS_DIR, kpi_seed_texts, render_csv, write_kpi_seeds


def test_committed_kpi_seeds_equal_what_the_generator_writes() -> None:
    """GIVEN pipelines.alarms.kpi WHEN its seeds are generated THEN dbt_project/seeds holds
    exactly those files (run `hazchem kpi seeds` after changing a KPI constant)."""
    texts = kpi_seed_texts()
    assert sorted(texts) == ["alarm_kpi_definitions.csv", "alarm_rate_bands.csv"]
    for name, text in texts.items():
        assert (SEEDS_DIR / name).read_text(encoding="utf-8") == text, name


def test_kpi_seeds_hold_the_python_constants() -> None:
    """GIVEN the generated seeds WHEN read as text THEN they carry the constants and bands."""
    texts = kpi_seed_texts()
    assert texts["alarm_kpi_definitions.csv"] == (
        "window_ms,flood_min_raised,chatter_raises,chatter_span_ms,stale_after_ms,top_n\n"
        "600000,10,3,60000,86400000,10\n"
    )
    assert texts["alarm_rate_bands.csv"] == (
        "band_rank,alarm_rate_band,max_avg_per_window\n"
        "0,very_likely_acceptable,1\n"
        "1,maximum_manageable,2\n"
        "2,over_maximum,\n"
    )


def test_write_kpi_seeds_reports_and_fixes_a_stale_file(tmp_path: Path) -> None:
    """GIVEN a seeds folder with one stale and one missing seed WHEN checked and then written
    THEN the check changes nothing and names both, the write fixes both, a re-check is clean."""
    stale = tmp_path / "alarm_kpi_definitions.csv"
    stale.write_text(render_csv([{"window_ms": 1}]), encoding="utf-8")
    names = ["alarm_kpi_definitions.csv", "alarm_rate_bands.csv"]
    assert [p.name for p in write_kpi_seeds(tmp_path, check=True)] == names
    assert stale.read_text(encoding="utf-8") == "window_ms\n1\n"
    assert [p.name for p in write_kpi_seeds(tmp_path)] == names
    assert write_kpi_seeds(tmp_path, check=True) == []
