"""dbt on the embedded DuckDB target: a small bronze lake in, exact gold rows out.

tests/integration/dbt_lake.py writes the bronze Delta tables exactly as docs/lakehouse.md says
the bronze job does, plus the plant reference tables; `dbt build` then runs seeds, snapshots,
models, data tests and unit tests once per module. Expected rows are derived by hand from the
scenario in dbt_lake.py (see the comments next to its records).
"""

from __future__ import annotations

import json
import re
import shutil
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from pipelines.settings import Settings
from tests.integration.dbt_lake import (
    AS_OF,
    BATCH_3,
    CASE_1,
    CASE_2,
    CASE_3,
    CST,
    DBT_DIR,
    E1,
    E2,
    ENTERPRISE,
    LATE_READINGS,
    BronzeLake,
    alarm_events,
    at,
    build_lake,
    lake_settings,
    query,
    risk_change_id,
    utc,
)

# ------------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def built(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The fixture lake after one `dbt build` on DuckDB (seconds taken included)."""
    from pipelines.lake.dbt_runner import run_dbt

    root = tmp_path_factory.mktemp("dbt_duckdb")
    local = lake_settings(settings, root)
    build_lake(Path(local.lake.root))
    started = time.perf_counter()
    rc = run_dbt(local, ["build", "--vars", json.dumps({"as_of": AS_OF})])
    elapsed = time.perf_counter() - started
    print(f"dbt build on duckdb: {elapsed:.1f} s")
    assert rc == 0, f"dbt build failed; see {local.cache_dir}/dbt/duckdb/logs/dbt.log"
    return {"settings": local, "root": root, "db": local.lake.duckdb_path, "seconds": elapsed}


# ---------------------------------------------------------------------------------------- tests


def test_project_declares_every_bronze_table_and_dead_letter_topic() -> None:
    """GIVEN infra/kafka/topics.yaml WHEN reading the dbt sources and the dead-letter union
    THEN every bronze table is a source and every `.dlq` table is in stg_bronze__dead_letters."""
    from pipelines.lake.bronze_schema import table_name
    from pipelines.topics import load_topics

    topics = load_topics()
    sources = (DBT_DIR / "models/staging/bronze/_bronze__sources.yml").read_text()
    declared = set(re.findall(r"^      - name: (\w+)$", sources, re.M))
    assert declared == {table_name(t.name) for t in topics}
    union_sql = (DBT_DIR / "models/staging/bronze/stg_bronze__dead_letters.sql").read_text()
    listed = re.search(r"set dlq_tables = \[(.*?)\]", union_sql, re.S)
    assert listed is not None
    assert set(re.findall(r"'(\w+)'", listed.group(1))) == {
        table_name(t.name) for t in topics if t.is_dlq
    }


def test_seeds_match_the_python_constants() -> None:
    """GIVEN the seeds WHEN compared with the code THEN conditions, priorities and reasons agree."""
    import csv

    from pipelines.alarms.config import CONDITION_ORDER, PRIORITIES
    from pipelines.ingest import DEAD_LETTER_REASONS

    def rows(name: str) -> list[dict[str, str]]:
        with (DBT_DIR / "seeds" / f"{name}.csv").open(encoding="utf-8") as f:
            return list(csv.DictReader(f))

    conditions = sorted(rows("alarm_conditions"), key=lambda r: int(r["condition_rank"]))
    assert tuple(r["condition"] for r in conditions) == CONDITION_ORDER
    assert {r["priority"] for r in rows("alarm_priorities")} == set(PRIORITIES)
    assert tuple(r["reason_code"] for r in rows("dead_letter_reasons")) == DEAD_LETTER_REASONS


@pytest.mark.integration
def test_readings_hourly_are_exact(built: dict[str, Any]) -> None:
    """GIVEN readings of 3 tags over 3 hours (bad quality, a null value, a re-sent duplicate)
    WHEN dbt builds fct_readings_1h THEN min/max/avg/last/count per tag and hour are exact."""
    rows = query(
        built["db"],
        "select tag, hour_start_at, reading_count, good_count, bad_quality_count, value_min, "
        "value_max, value_avg, value_last from gold.fct_readings_1h order by tag, hour_start_ms",
    )
    h = {8: utc(2, "08:00:00"), 9: utc(2, "09:00:00"), 10: utc(2, "10:00:00")}
    assert rows == [
        _hour("GD-RX01", h[10], 3, 2, 1, 1.0, 2.0, 1.5, 2.0),
        _hour("LI-501", h[8], 6, 4, 2, 6.0, 7.0, 6.4375, 6.25),
        _hour("LI-501", h[9], 3, 3, 0, 7.5, 8.0, 7.75, 7.75),
        _hour("LI-501", h[10], 1, 0, 1, None, None, None, None),
        _hour("TI-501", h[8], 2, 2, 0, 20.0, 21.5, 20.75, 21.5),
        _hour("TI-501", h[9], 2, 1, 1, 22.0, 22.0, 22.0, 22.0),
    ]


def _hour(tag: str, start: datetime, n: int, good: int, bad: int, *stats: float | None) -> dict:
    keys = ("value_min", "value_max", "value_avg", "value_last")
    return {
        "tag": tag, "hour_start_at": start, "reading_count": n, "good_count": good,
        "bad_quality_count": bad, **dict(zip(keys, stats, strict=True)),
    }  # fmt: skip


@pytest.mark.integration
def test_readings_per_minute_are_exact(built: dict[str, Any]) -> None:
    """GIVEN the same readings WHEN dbt builds fct_readings_1min THEN LI-501's minutes are exact
    (value_last is the latest good value, not the later uncertain one) and 9 minutes exist."""
    rows = query(
        built["db"],
        "select minute_start_at, reading_count, good_count, bad_quality_count, value_min, "
        "value_max, value_avg, value_last from gold.fct_readings_1min where tag = 'LI-501' "
        "order by minute_start_ms",
    )
    assert [tuple(r.values()) for r in rows] == [
        (utc(2, "08:00:00"), 3, 2, 1, 6.0, 6.5, 6.25, 6.5),
        (utc(2, "08:01:00"), 2, 1, 1, 7.0, 7.0, 7.0, 7.0),
        (utc(2, "08:30:00"), 1, 1, 0, 6.25, 6.25, 6.25, 6.25),
        (utc(2, "09:00:00"), 1, 1, 0, 8.0, 8.0, 8.0, 8.0),
        (utc(2, "09:15:00"), 2, 2, 0, 7.5, 7.75, 7.625, 7.75),
        (utc(2, "10:45:00"), 1, 0, 1, None, None, None, None),
    ]
    assert query(built["db"], "select count(*) as n from gold.fct_readings_1min") == [{"n": 9}]


# (area, plant day) -> hand-derived KPIs; see alarm_events() for the scenario.
EXPECTED_KPIS = {
    ("A-RX", date(2026, 3, 1)): dict(annunciated=0, avg_per_10min=0.0, max_per_10min=0,
        flood_windows=0, flood_pct=0.0, chattering_pairs="", stale_pairs="",
        top10_share_pct=0.0, pct=(0.0, 0.0, 0.0, 0.0, 0.0)),
    # 11 + 9 + 1 annunciated raises; 20 pairs, GD-RX01:H twice: top 10 = 2 + 9 = 11 of 21
    ("A-RX", date(2026, 3, 2)): dict(annunciated=21, avg_per_10min=0.15, max_per_10min=11,
        flood_windows=1, flood_pct=0.69, chattering_pairs="", stale_pairs="",
        top10_share_pct=52.38, pct=(42.86, 57.14, 0.0, 0.0, 0.0)),
    ("A-RX", date(2026, 3, 3)): dict(annunciated=1, avg_per_10min=0.01, max_per_10min=1,
        flood_windows=0, flood_pct=0.0, chattering_pairs="", stale_pairs="",
        top10_share_pct=100.0, pct=(0.0, 0.0, 0.0, 0.0, 100.0)),
    ("A-TF", date(2026, 3, 1)): dict(annunciated=1, avg_per_10min=0.01, max_per_10min=1,
        flood_windows=0, flood_pct=0.0, chattering_pairs="", stale_pairs="",
        top10_share_pct=100.0, pct=(0.0, 0.0, 100.0, 0.0, 0.0)),
    # E1 + 3 chattering TI-501:H + 3 LI-501:L; E2 (TI-501:HH) active for 41 h at day end
    ("A-TF", date(2026, 3, 2)): dict(annunciated=7, avg_per_10min=0.05, max_per_10min=3,
        flood_windows=0, flood_pct=0.0, chattering_pairs="TI-501:H", stale_pairs="TI-501:HH",
        top10_share_pct=100.0, pct=(0.0, 0.0, 14.29, 85.71, 0.0)),
    ("A-TF", date(2026, 3, 3)): dict(annunciated=0, avg_per_10min=0.0, max_per_10min=0,
        flood_windows=0, flood_pct=0.0, chattering_pairs="", stale_pairs="TI-501:HH",
        top10_share_pct=0.0, pct=(0.0, 0.0, 0.0, 0.0, 0.0)),
}  # fmt: skip
KPI_COLUMNS = (
    "area_code, report_date, period_start_at, annunciated, windows, avg_per_10min, "
    "max_per_10min, flood_windows, flood_pct, chattering_count, chattering_pairs, stale_count, "
    "stale_pairs, top10_share_pct, priority_critical_pct, priority_high_pct, "
    "priority_medium_pct, priority_low_pct, priority_none_pct, alarm_rate_band"
)


@pytest.mark.integration
def test_alarm_kpis_daily_are_the_hand_derived_ones(built: dict[str, Any]) -> None:
    """GIVEN a flood window (11 annunciated + 1 shelved), a 9-raise window, a chattering pair
    (60 s), a non-chattering one (61 s) and an alarm active for 41 h WHEN dbt builds
    fct_alarm_kpis_daily THEN every area x plant day has the hand-derived ISA-18.2 KPIs."""
    rows = query(built["db"], f"select {KPI_COLUMNS} from gold.fct_alarm_kpis_daily order by 1, 2")
    assert [(r["area_code"], r["report_date"]) for r in rows] == sorted(EXPECTED_KPIS)
    for row in rows:
        want = EXPECTED_KPIS[(row["area_code"], row["report_date"])]
        critical, high, medium, low, none = want["pct"]
        assert row == {
            "area_code": row["area_code"],
            "report_date": row["report_date"],
            "period_start_at": datetime.combine(row["report_date"], datetime.min.time())
            - timedelta(hours=8),
            "annunciated": want["annunciated"],
            "windows": 144,
            "avg_per_10min": want["avg_per_10min"],
            "max_per_10min": want["max_per_10min"],
            "flood_windows": want["flood_windows"],
            "flood_pct": want["flood_pct"],
            "chattering_count": len([p for p in want["chattering_pairs"].split(", ") if p]),
            "chattering_pairs": want["chattering_pairs"],
            "stale_count": len([p for p in want["stale_pairs"].split(", ") if p]),
            "stale_pairs": want["stale_pairs"],
            "top10_share_pct": want["top10_share_pct"],
            "priority_critical_pct": critical,
            "priority_high_pct": high,
            "priority_medium_pct": medium,
            "priority_low_pct": low,
            "priority_none_pct": none,
            "alarm_rate_band": "very_likely_acceptable",
        }, (row["area_code"], row["report_date"])


@pytest.mark.integration
def test_alarm_kpis_daily_equal_the_python_reference(built: dict[str, Any]) -> None:
    """GIVEN the same alarm events WHEN pipelines.alarms.kpi.alarm_kpis runs per area and plant
    day on the annunciated, de-duplicated events THEN the mart holds exactly its results."""
    from pipelines.alarms.config import PRIORITIES
    from pipelines.alarms.kpi import alarm_kpis

    unique = {e["event_id"]: e for e in alarm_events()}.values()  # bronze dedupes by event_id
    annunciated = [e for e in unique if e["annunciated"]]
    # replay order: event time, a raise before a clear at the same instant
    annunciated.sort(key=lambda e: (e["event_time_ms"], e["event"] != "raised"))
    rows = query(built["db"], "select * from gold.fct_alarm_kpis_daily order by 1, 2")
    assert len(rows) == len(EXPECTED_KPIS)
    for row in rows:
        start = datetime.combine(row["report_date"], datetime.min.time(), tzinfo=CST)
        events = [e for e in annunciated if e["area_code"] == row["area_code"]]
        want = alarm_kpis(events, start, start + timedelta(days=1))
        pairs = {k: ", ".join(f"{p['tag']}:{p['condition']}" for p in want[k]) for k in
                 ("chattering", "stale")}  # fmt: skip
        split = want["priority_split_pct"]
        assert set(split) <= {*PRIORITIES, "none"}
        got = {
            "annunciated": row["annunciated"],
            "windows": row["windows"],
            "avg_per_10min": row["avg_per_10min"],
            "max_per_10min": row["max_per_10min"],
            "flood_windows": row["flood_windows"],
            "flood_pct": row["flood_pct"],
            "chattering": row["chattering_pairs"],
            "stale": row["stale_pairs"],
            "top10_share_pct": row["top10_share_pct"],
            "priority_split_pct": {p: row[f"priority_{p}_pct"] for p in PRIORITIES},
        }
        expected = dict(want, chattering=pairs["chattering"], stale=pairs["stale"])
        expected["priority_split_pct"] = {
            p: split[p] for p in ("critical", "high", "medium", "low")
        }
        assert got == expected, (row["area_code"], row["report_date"])
        assert row["priority_none_pct"] == split.get("none", 0.0)
        assert row["chattering_count"] == len(want["chattering"])
        assert row["stale_count"] == len(want["stale"])


@pytest.mark.integration
def test_alarm_episodes_are_the_jobs_verdicts(built: dict[str, Any]) -> None:
    """GIVEN raises, clears and the alarm job's audit of the operator actions (a replayed raise and
    audit record, a comment without episode_id the job gave E1, a close it rejected before the
    clear, one it rejected without measures, a shelve ahead of any raise) WHEN dbt builds
    fct_alarm_episodes THEN E1 is closed with exact times and durations, E2 is active, the rest
    returned, and the rejected closes are counted on their episodes, never applied."""
    rows = query(
        built["db"],
        "select * from gold.fct_alarm_episodes where episode_id in "
        f"('{E1}', '{E2}') order by raised_at",
    )
    common = {
        "enterprise_code": ENTERPRISE, "hazard_source_code": "HS-01", "unit_code": "U-TF",
        "area_code": "A-TF", "alarm_class": "process", "priority": "medium",
        "is_annunciated": True, "suppressed_by": None, "shelve_count": 0, "priority_rank": 2,
        "rejected_action_count": 0,
    }  # fmt: skip
    assert rows == [
        {
            **common, "episode_id": E2, "tag": "TI-501", "condition": "HH",
            "limit_value": 45.0, "raise_value": 46.2, "value_unit": "°C",
            "raised_date": date(2026, 3, 1), "raised_at": utc(1, "07:00:00"),
            "acknowledged_at": utc(1, "07:05:00"), "acknowledged_by": "P013",
            "cleared_at": None, "closed_at": None, "closed_by": None, "close_cause": None,
            "close_measures": None, "comment_count": 0, "time_to_acknowledge_s": 300.0,
            "active_duration_s": None, "time_to_close_s": None, "episode_duration_s": None,
            "episode_state": "active",
        },
        {
            **common, "episode_id": E1, "tag": "LI-501", "condition": "H",
            "limit_value": 10.5, "raise_value": 10.6, "value_unit": "m",
            "raised_date": date(2026, 3, 2), "raised_at": utc(2, "08:10:00"),
            "acknowledged_at": utc(2, "08:12:00"), "acknowledged_by": "P012",
            "cleared_at": utc(2, "08:40:00"), "closed_at": utc(2, "09:00:00"),
            "closed_by": "P016", "close_cause": "进料阀开度过大",
            "close_measures": "关小进料阀, 校核液位计", "comment_count": 1,
            "time_to_acknowledge_s": 120.0, "active_duration_s": 1800.0,
            "time_to_close_s": 1200.0, "episode_duration_s": 3000.0, "episode_state": "closed",
        },
    ]  # fmt: skip
    states = query(
        built["db"],
        "select episode_state, count(*) as n from gold.fct_alarm_episodes group by 1 order by 1",
    )
    # 31 episodes: E2 and the GD-RX05 STALE are active, E1 closed, the 28 others returned
    assert states == [
        {"episode_state": "active", "n": 2},
        {"episode_state": "closed", "n": 1},
        {"episode_state": "returned", "n": 28},
    ]
    shelved = query(
        built["db"],
        "select is_annunciated, suppressed_by, shelve_count from gold.fct_alarm_episodes "
        "where tag = 'GD-RX12'",
    )
    assert shelved == [{"is_annunciated": False, "suppressed_by": "shelve", "shelve_count": 0}]
    rejected = query(
        built["db"],
        "select episode_id, rejected_action_count, closed_at, episode_state "
        "from gold.fct_alarm_episodes where rejected_action_count > 0 order by 1",
    )
    assert rejected == [
        {"episode_id": f"LI-501:L:{at(2, t)}", "rejected_action_count": 1, "closed_at": None,
         "episode_state": "returned"}
        for t in ("11:00:00", "11:00:30")
    ]  # fmt: skip


@pytest.mark.integration
def test_dead_letters_daily_count_reasons_per_topic_and_plant_day(built: dict[str, Any]) -> None:
    """GIVEN 5 dead letters with 3 reasons on 2 topics, one at 07:30 local (23:30 UTC the day
    before) WHEN dbt builds fct_dead_letters_daily THEN rows per topic, plant day and reason."""
    rows = query(
        built["db"],
        "select source_topic, report_date, reason_code, dead_letter_count, original_bytes, "
        "sender_count, first_received_at, last_received_at, reason_name_en "
        "from gold.fct_dead_letters_daily order by 1, 2, 3",
    )
    assert [tuple(r.values()) for r in rows] == [
        ("alarm.actions", date(2026, 3, 2), "unknown_tag", 1, 39, 1,
         utc(2, "11:00:00"), utc(2, "11:00:00"), "tag not in the plant model"),
        ("readings", date(2026, 3, 2), "future_timestamp", 1, 46, 1,
         utc(2, "10:00:00"), utc(2, "10:00:00"), "event time too far in the future"),
        ("readings", date(2026, 3, 2), "wrong_type", 2, 60, 1,
         utc(2, "07:30:00"), utc(2, "09:30:00"), "a field has the wrong type"),
        ("readings", date(2026, 3, 3), "wrong_type", 1, 30, 1,
         utc(3, "08:00:00"), utc(3, "08:00:00"), "a field has the wrong type"),
    ]  # fmt: skip


@pytest.mark.integration
def test_due_dates_relative_to_as_of(built: dict[str, Any]) -> None:
    """GIVEN certificates and equipment due before, on, 30 and 31+ days after as_of 2026-03-02
    (a renewed, a revoked and a retired item too) WHEN dbt builds mart_due_dates THEN days left
    and status are exact, revoked/retired items are absent, the latest certificate state wins."""
    rows = query(
        built["db"],
        "select due_item_id, item_type, due_kind, due_date, days_left, due_status "
        "from gold.mart_due_dates order by due_date, due_item_id",
    )
    cal, exp, rep = "calibration", "expiry", "replacement"
    assert [tuple(r.values()) for r in rows] == [
        ("certificate:CERT-001:expiry", "安全生产许可证", exp, date(2026, 2, 28), -2, "overdue"),
        ("equipment:SV-102:calibration", "safety_valve", cal, date(2026, 3, 1), -1, "overdue"),
        ("equipment:SV-101:calibration", "safety_valve", cal, date(2026, 3, 2), 0, "due_30d"),
        ("certificate:CERT-002:expiry", "特种作业操作证", exp, date(2026, 4, 1), 30, "due_30d"),
        ("certificate:CERT-003:expiry", "压力容器使用登记证", exp, date(2026, 4, 2), 31, "ok"),
        ("equipment:BD-101:replacement", "bursting_disc", rep, date(2027, 3, 2), 365, "ok"),
    ]


@pytest.mark.integration
def test_dimensions_and_snapshots(built: dict[str, Any]) -> None:
    """GIVEN the demo plant and two published tag configurations WHEN dbt builds the dims and
    snapshots THEN the live configuration wins over the plant model and history starts."""
    db = built["db"]
    tags = query(
        db,
        "select tag, config_source, area_name, hazard_source_name, equipment_id, limit_h, "
        "deadband, priority_h from gold.dim_tags where tag in ('LI-501', 'TI-501', 'GD-RX01') "
        "order by tag",
    )
    tank_farm = "溶剂储罐区（防火堤内及泵区）"
    assert tags == [
        {"tag": "GD-RX01", "config_source": "plant_model", "area_name": "甲胺合成反应区",
         "hazard_source_name": "甲胺合成装置", "equipment_id": None, "limit_h": 25.0,
         "deadband": 2.0, "priority_h": "high"},
        {"tag": "LI-501", "config_source": "tags_topic", "area_name": tank_farm,
         "hazard_source_name": "溶剂储罐区", "equipment_id": "T-501", "limit_h": 10.5,
         "deadband": 0.05, "priority_h": "medium"},
        {"tag": "TI-501", "config_source": "tags_topic", "area_name": tank_farm,
         "hazard_source_name": "溶剂储罐区", "equipment_id": "T-501", "limit_h": 40.0,
         "deadband": 0.8, "priority_h": "low"},
    ]  # fmt: skip
    counts = query(
        db,
        "select (select count(*) from gold.dim_tags) as tags, "
        "(select count(*) from gold.dim_areas) as areas, "
        "(select sum(tag_count) from gold.dim_areas) as area_tags, "
        "(select count(*) from silver.snap_tag_configs) as tag_versions, "
        "(select count(*) from silver.snap_people) as people, "
        "(select count(*) from silver.snap_equipment) as equipment",
    )
    assert counts == [
        {"tags": 198, "areas": 8, "area_tags": 198, "tag_versions": 198, "people": 45,
         "equipment": 5}
    ]  # fmt: skip
    hazard = query(
        db,
        "select hazard_source_code, gb18218_level, substance_count, substance_names_zh "
        "from gold.dim_hazard_sources order by 1",
    )
    assert hazard == [
        {"hazard_source_code": "HS-01", "gb18218_level": 3, "substance_count": 3,
         "substance_names_zh": "甲醇, 苯, 甲苯"},
        {"hazard_source_code": "HS-02", "gb18218_level": 4, "substance_count": 3,
         "substance_names_zh": "氨, 甲醇, 一甲胺"},
    ]  # fmt: skip


@pytest.mark.integration
def test_risk_history_is_valid_until_the_next_change(built: dict[str, Any]) -> None:
    """GIVEN HS-01 blue -> orange -> red -> blue (the orange change landed twice), A-TF yellow and
    the enterprise blue (a v1 record without event_id) -> red WHEN dbt builds fct_risk_levels
    THEN each change is valid until the object's next one, the latest is current, the v1 change
    gets the engine's id, and cause_summary lists the deducting factors, largest first."""
    rows = query(
        built["db"],
        "select object_type, object_code, risk_level, previous_risk_level, valid_from, valid_to, "
        "duration_s, is_current, cause_summary, model_version, event_id "
        "from gold.fct_risk_levels order by object_type, object_code, valid_from_ms",
    )
    alarms, inherent = "gas_alarms: LI-501 H medium", "inherent_gb18218_level"
    both = f"{alarms}, TI-501 HH medium; {inherent}"
    e, hs = ENTERPRISE, "HS-01"
    assert [tuple(r.values()) for r in rows] == [
        ("area", "A-TF", "yellow", None, utc(2, "09:00:00"), None, None, True,
         f"special_work: HW-001 hot_work level1; {inherent}", 1,
         risk_change_id("area", "A-TF", at(2, "09:00:00"), "yellow")),
        ("enterprise", e, "blue", None, utc(1, "10:00:00"), utc(2, "09:30:00"), 84600.0, False,
         inherent, None, risk_change_id("enterprise", e, at(1, "10:00:00"), "blue")),
        ("enterprise", e, "red", "blue", utc(2, "09:30:00"), None, None, True, both, 1,
         risk_change_id("enterprise", e, at(2, "09:30:00"), "red")),
        ("hazard_source", hs, "blue", None, utc(1, "10:00:00"), utc(2, "09:00:00"), 82800.0,
         False, inherent, 1, risk_change_id("hazard_source", hs, at(1, "10:00:00"), "blue")),
        ("hazard_source", hs, "orange", "blue", utc(2, "09:00:00"), utc(2, "09:30:00"), 1800.0,
         False, f"{alarms}; {inherent}", 1,
         risk_change_id("hazard_source", hs, at(2, "09:00:00"), "orange")),
        ("hazard_source", hs, "red", "orange", utc(2, "09:30:00"), utc(2, "11:00:00"), 5400.0,
         False, both, 1, risk_change_id("hazard_source", hs, at(2, "09:30:00"), "red")),
        ("hazard_source", hs, "blue", "red", utc(2, "11:00:00"), None, None, True, inherent, 1,
         risk_change_id("hazard_source", hs, at(2, "11:00:00"), "blue")),
    ]  # fmt: skip


@pytest.mark.integration
def test_risk_color_minutes_per_plant_day_stop_at_as_of(built: dict[str, Any]) -> None:
    """GIVEN the same history and as_of 2026-03-02 WHEN dbt builds mart_risk_color_minutes_daily
    THEN the minutes per color are split at local midnight and the current levels count until
    the end of 2 March (local)."""
    rows = query(
        built["db"],
        "select object_type, object_code, report_date, red_minutes, orange_minutes, "
        "yellow_minutes, blue_minutes, rated_minutes, worst_risk_level "
        "from gold.mart_risk_color_minutes_daily order by 1, 2, 3",
    )
    d1, d2 = date(2026, 3, 1), date(2026, 3, 2)
    assert [tuple(r.values()) for r in rows] == [
        ("area", "A-TF", d2, 0.0, 0.0, 900.0, 0.0, 900.0, "yellow"),
        ("enterprise", ENTERPRISE, d1, 0.0, 0.0, 0.0, 840.0, 840.0, "blue"),
        ("enterprise", ENTERPRISE, d2, 870.0, 0.0, 0.0, 570.0, 1440.0, "red"),
        ("hazard_source", "HS-01", d1, 0.0, 0.0, 0.0, 840.0, 840.0, "blue"),
        ("hazard_source", "HS-01", d2, 90.0, 30.0, 0.0, 1320.0, 1440.0, "red"),
    ]


@pytest.mark.integration
def test_cases_follow_their_events(built: dict[str, Any]) -> None:
    """GIVEN a HS-01 case escalated, raised to red, acknowledged, handled, a rejected verify,
    verified and closed in 90 min (an event landed twice), an enterprise case acknowledged after
    local midnight, and a HS-02 case closed after 25 h WHEN dbt builds fct_cases THEN steps, who
    acted, assignees, escalations, durations and closed_on_time are exact."""
    rows = query(
        built["db"],
        "select case_id, subject_type, subject_code, case_status, max_risk_level, opened_date, "
        "opened_at, acknowledged_at, acknowledged_by, handled_by, verified_by, closed_at, "
        "closed_by, first_assignee, final_assignee, final_escalation_level, escalation_count, "
        "level_raise_count, rejected_action_count, event_count, time_to_ack_s, time_to_close_s, "
        "closed_on_time from gold.fct_cases order by opened_ms",
    )
    assert [tuple(r.values()) for r in rows] == [
        (CASE_3, "hazard_source", "HS-02", "closed", "orange", date(2026, 3, 1),
         utc(1, "08:00:00"), utc(1, "08:03:00"), "P011", "P011", "P005", utc(2, "09:00:00"),
         "P005", "P011", "P005", 1, 1, 0, 0, 6, 180.0, 90000.0, False),
        (CASE_1, "hazard_source", "HS-01", "closed", "red", date(2026, 3, 2), utc(2, "09:00:00"),
         utc(2, "09:40:00"), "P004", "P004", "P001", utc(2, "10:30:00"), "P001", "P010", "P004",
         1, 1, 1, 1, 8, 2400.0, 5400.0, True),
        (CASE_2, "enterprise", ENTERPRISE, "acknowledged", None, date(2026, 3, 2),
         utc(2, "23:58:00"), utc(3, "00:01:00"), "P003", None, None, None, None, "P003", "P003",
         0, 0, 0, 0, 2, 180.0, None, None),
    ]  # fmt: skip
    events = query(built["db"], "select count(*) as n from gold.fct_case_events")
    assert events == [{"n": 16}]


@pytest.mark.integration
def test_case_kpis_count_each_step_on_its_plant_day(built: dict[str, Any]) -> None:
    """GIVEN the same cases WHEN dbt builds mart_case_kpis_daily THEN each opening,
    acknowledgement, closure and escalation counts on the plant day it happened."""
    rows = query(
        built["db"],
        "select subject_code, report_date, cases_opened, cases_acknowledged, cases_closed, "
        "cases_closed_on_time, escalations, avg_time_to_ack_s, p50_time_to_ack_s, "
        "avg_time_to_close_s, closed_on_time_pct from gold.mart_case_kpis_daily "
        "order by subject_type, subject_code, report_date",
    )
    d1, d2, d3 = date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 3)
    assert [tuple(r.values()) for r in rows] == [
        (ENTERPRISE, d2, 1, 0, 0, 0, 0, None, None, None, None),
        (ENTERPRISE, d3, 0, 1, 0, 0, 0, 180.0, 180.0, None, None),
        ("HS-01", d2, 1, 1, 1, 1, 1, 2400.0, 2400.0, 5400.0, 100.0),
        ("HS-02", d1, 1, 1, 0, 0, 0, 180.0, 180.0, None, None),
        ("HS-02", d2, 0, 0, 1, 0, 1, None, None, 90000.0, 0.0),
    ]


@pytest.mark.integration
def test_incremental_run_recomputes_minutes_that_got_late_readings(
    built: dict[str, Any], tmp_path: Path
) -> None:
    """GIVEN the built lake (copied) and a later bronze batch with a late reading into an existing
    minute and one in a new hour WHEN fct_readings_1min/1h run incrementally THEN the touched
    minute and hour are recomputed whole, the new ones added, the others unchanged."""
    from pipelines.lake.dbt_runner import run_dbt

    shutil.copytree(built["root"], tmp_path / "copy")
    local = lake_settings(built["settings"], tmp_path / "copy")
    before = query(local.lake.duckdb_path, "select * from gold.fct_readings_1h order by 1, 2")
    lake = BronzeLake(Path(local.lake.root))
    for partition in range(lake.topics["readings"].partitions):
        lake.offsets[("readings", partition)] = 10_000  # past every offset already used
    lake.append("readings", LATE_READINGS, BATCH_3)
    rc = run_dbt(local, ["run", "-s", "fct_readings_1min", "fct_readings_1h"])
    assert rc == 0
    minute = query(
        local.lake.duckdb_path,
        "select reading_count, good_count, value_min, value_max, value_avg, value_last "
        f"from gold.fct_readings_1min where tag = 'LI-501' and minute_start_ms = {at(2, '08:00:00')}",  # noqa: E501
    )
    assert minute == [{"reading_count": 4, "good_count": 3, "value_min": 5.5, "value_max": 6.5,
                       "value_avg": 6.0, "value_last": 5.5}]  # fmt: skip
    after = query(local.lake.duckdb_path, "select * from gold.fct_readings_1h order by 1, 2")
    changed = [r for r in after if r not in before]
    assert [(r["tag"], r["hour_start_at"], r["reading_count"], r["value_min"], r["value_avg"],
             r["value_last"]) for r in changed] == [
        ("LI-501", utc(2, "08:00:00"), 7, 5.5, 6.25, 6.25),
        ("TI-501", utc(2, "11:00:00"), 1, 23.0, 23.0, 23.0),
    ]  # fmt: skip
    assert len(after) == len(before) + 1
    total = query(local.lake.duckdb_path, "select count(*) as n from gold.fct_readings_1min")
    assert total == [{"n": 10}]
