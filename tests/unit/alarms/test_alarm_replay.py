"""Batch replay: ordering of input and output, STALE timing, and the readings file reader."""

from __future__ import annotations

from datetime import timedelta, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines.alarms.config import TagConfig
from pipelines.alarms.engine import Transition
from pipelines.alarms.replay import BadReadingRow, format_timestamp, read_readings, replay

S = 1000
FIXTURES = Path(__file__).parent / "fixtures"
CST = timezone(timedelta(hours=8))
T0 = 1_714_521_600_000  # 2024-05-01T08:00:00+08:00


def configs(*items: TagConfig) -> dict[str, TagConfig]:
    """Return configs keyed by tag."""
    return {c.tag: c for c in items}


def test_out_of_order_input_is_sorted_before_replay() -> None:
    """GIVEN readings in reverse order WHEN replayed THEN the result equals the sorted replay."""
    cfg = configs(TagConfig(tag="TI-1", limits={"H": 80}, delay_on_s=10))
    readings = [
        (0, "TI-1", 81.0),
        (5 * S, "TI-1", 79.0),
        (10 * S, "TI-1", 81.0),
        (20 * S, "TI-1", 81.0),
    ]
    expected = [Transition("TI-1", "H", "raised", 20 * S, 81.0, 80.0, "medium", "process")]
    assert replay(cfg, readings) == expected
    # reversed, the 79.0 still sits between 0 s and 10 s in event time: raised only at 20 s
    assert replay(cfg, list(reversed(readings))) == expected


def test_output_sorted_by_ts_then_tag_then_condition_order() -> None:
    """GIVEN two tags violating at the same ts WHEN replayed THEN ts, tag, LL..RANGE order."""
    cfg = configs(
        TagConfig(tag="B-2", limits={"L": 10, "H": 20}),
        TagConfig(tag="A-1", limits={"H": 80, "HH": 90}, range_high=95),
    )
    result = replay(cfg, [(1 * S, "B-2", 25.0), (1 * S, "A-1", 99.0), (0, "B-2", 5.0)])
    assert [(t.ts_ms, t.tag, t.condition, t.event) for t in result] == [
        (0, "B-2", "L", "raised"),
        (1 * S, "A-1", "H", "raised"),
        (1 * S, "A-1", "HH", "raised"),
        (1 * S, "A-1", "RANGE", "raised"),
        (1 * S, "B-2", "L", "cleared"),
        (1 * S, "B-2", "H", "raised"),
    ]


def test_equal_ts_and_tag_keep_input_order() -> None:
    """GIVEN two readings of one tag at one ts WHEN replayed THEN processed in input order."""
    cfg = configs(TagConfig(tag="TI-1", limits={"H": 80}))
    result = replay(cfg, [(0, "TI-1", 85.0), (0, "TI-1", 70.0)])
    assert [(t.condition, t.event, t.value) for t in result] == [
        ("H", "raised", 85.0),
        ("H", "cleared", 70.0),
    ]


def test_stale_raised_at_its_due_time_not_at_the_next_reading() -> None:
    """GIVEN A stale after 90 s, B every 60 s WHEN A stops at 30 s THEN STALE at 120.001 s."""
    cfg = configs(TagConfig(tag="A-1", expected_interval_s=30), TagConfig(tag="B-2"))
    readings = [(0, "A-1", 1.0), (30 * S, "A-1", 1.0)] + [
        (t * S, "B-2", 1.0) for t in range(0, 301, 60)
    ]
    assert replay(cfg, readings) == [
        Transition("A-1", "STALE", "raised", 120_001, None, None, "low", "sensor_health")
    ]


def test_stale_gap_closed_by_the_tags_own_reading() -> None:
    """GIVEN stale after 90 s WHEN the next reading comes at 200 s THEN raise 90.001, clear 200."""
    cfg = configs(TagConfig(tag="A-1", stale_after_s=90))
    assert replay(cfg, [(200 * S, "A-1", 2.0), (0, "A-1", 1.0)]) == [
        Transition("A-1", "STALE", "raised", 90_001, None, None, "low", "sensor_health"),
        Transition("A-1", "STALE", "cleared", 200 * S, 2.0, None, "low", "sensor_health"),
    ]


def test_end_ms_evaluates_stale_after_the_last_reading() -> None:
    """GIVEN one reading at 0 and stale 90 s WHEN end is 90 s or 100 s THEN STALE only for 100 s."""
    cfg = configs(TagConfig(tag="A-1", stale_after_s=90))
    assert replay(cfg, [(0, "A-1", 1.0)]) == []
    assert replay(cfg, [(0, "A-1", 1.0)], end_ms=90 * S) == []
    assert replay(cfg, [(0, "A-1", 1.0)], end_ms=100 * S) == [
        Transition("A-1", "STALE", "raised", 90_001, None, None, "low", "sensor_health")
    ]


def test_unknown_tag_is_rejected() -> None:
    """GIVEN a reading of a tag without config WHEN replayed THEN ValueError naming it."""
    with pytest.raises(ValueError, match="unknown tag 'TI-999'"):
        replay(configs(TagConfig(tag="TI-1")), [(0, "TI-999", 1.0)])


# -- readers -------------------------------------------------------------------------------------


def test_read_csv_returns_rows_in_file_order_and_first_offset() -> None:
    """GIVEN the fixture CSV WHEN read THEN ms timestamps, None for an empty value, +08:00."""
    rows, offset = read_readings(FIXTURES / "readings.csv")
    assert offset == CST
    assert rows[:2] == [(T0 + 30 * S, "TI-101", 91.0), (T0, "TI-101", 70.0)]
    assert rows[5] == (T0 + 60 * S, "GT-201", None)
    assert len(rows) == 8


def test_read_csv_bad_row_raises_with_row_number() -> None:
    """GIVEN an unknown tag in data row 2 WHEN read with known tags THEN BadReadingRow row 2."""
    with pytest.raises(BadReadingRow, match=r"^readings_bad.csv row 2: unknown tag 'TI-999'$"):
        read_readings(FIXTURES / "readings_bad.csv", known_tags={"TI-101"})


def test_read_csv_on_bad_collects_and_skips() -> None:
    """GIVEN two bad rows WHEN read with on_bad THEN both reported in order and skipped."""
    bad: list[str] = []
    rows, _ = read_readings(FIXTURES / "readings_bad.csv", known_tags={"TI-101"}, on_bad=bad.append)
    assert bad == [
        "readings_bad.csv row 2: unknown tag 'TI-999'",
        "readings_bad.csv row 4: unparsable value 'abc'",
    ]
    assert [r[2] for r in rows] == [70.0, 75.0, 95.0]


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("2024-05-01T08:00:00,TI-1,1", "ts '2024-05-01T08:00:00' has no UTC offset"),
        ("yesterday,TI-1,1", "unparsable ts 'yesterday'"),
        ("2024-05-01T08:00:00+08:00,TI-1", "expected 3 fields, got 2"),
        ("2024-05-01T08:00:00+08:00,,1", "empty tag"),
    ],
)
def test_read_csv_row_problems(tmp_path: Path, line: str, problem: str) -> None:
    """GIVEN one bad data row after a good one WHEN read THEN the message names row 2."""
    path = tmp_path / "r.csv"
    path.write_text(f"ts,tag,value\n2024-05-01T08:00:00+08:00,TI-1,1\n{line}\n", encoding="utf-8")
    with pytest.raises(BadReadingRow) as excinfo:
        read_readings(path)
    assert str(excinfo.value) == f"r.csv row 2: {problem}"


def test_read_csv_missing_column_and_missing_file(tmp_path: Path) -> None:
    """GIVEN a header without value, or no file WHEN read THEN ValueError / FileNotFoundError."""
    path = tmp_path / "r.csv"
    path.write_text("ts,tag\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"^r.csv: missing column\(s\) value in header$"):
        read_readings(path)
    with pytest.raises(FileNotFoundError):
        read_readings(tmp_path / "nope.csv")


def test_read_parquet_with_tz_aware_timestamps(tmp_path: Path) -> None:
    """GIVEN Parquet with a timestamp[ms, +08:00] ts column WHEN read THEN ms and +08:00 offset."""
    path = tmp_path / "r.parquet"
    table = pa.table(
        {
            "ts": pa.array([T0, T0 + 1500], type=pa.timestamp("ms", tz="+08:00")),
            "tag": ["TI-1", "TI-1"],
            "value": pa.array([1.5, None], type=pa.float64()),
        }
    )
    pq.write_table(table, path)
    rows, offset = read_readings(path)
    assert rows == [(T0, "TI-1", 1.5), (T0 + 1500, "TI-1", None)]
    assert offset == CST


def test_format_timestamp_whole_seconds_and_milliseconds() -> None:
    """GIVEN ms timestamps WHEN formatted in +08:00 THEN seconds or milliseconds precision."""
    assert format_timestamp(T0, CST) == "2024-05-01T08:00:00+08:00"
    assert format_timestamp(T0 + 1, CST) == "2024-05-01T08:00:00.001+08:00"
    assert format_timestamp(T0, timezone(timedelta(hours=-5))) == "2024-04-30T19:00:00-05:00"


def test_worked_example_of_the_docs() -> None:
    """GIVEN the docs/alarm_semantics.md example WHEN replayed THEN its four transitions."""
    cfg = configs(
        TagConfig(
            tag="TI-101",
            limits={"H": 80, "HH": 90},
            deadband=2,
            delay_on_s=10,
            delay_off_s=5,
        )
    )
    values = [78, 81, 79, 82, 91, 92, float("nan"), 90, 88.5, 87, 79, 77, 77]
    readings = [(T0 + i * 5 * S, "TI-101", float(v)) for i, v in enumerate(values)]
    result = replay(cfg, readings)
    assert result == [
        Transition("TI-101", "H", "raised", T0 + 25 * S, 92.0, 80.0, "medium", "process"),
        Transition("TI-101", "HH", "raised", T0 + 35 * S, 90.0, 90.0, "high", "process"),
        Transition("TI-101", "HH", "cleared", T0 + 50 * S, 79.0, 90.0, "high", "process"),
        Transition("TI-101", "H", "cleared", T0 + 60 * S, 77.0, 80.0, "medium", "process"),
    ]
    assert result[0].episode_id == result[3].episode_id == "TI-101:H:1714521625000"
