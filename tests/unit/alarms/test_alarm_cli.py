"""`hazchem alarms replay` and `hazchem kpi alarms` through typer's CliRunner."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from pipelines.alarms.cli import app, kpi_app

FIXTURES = Path(__file__).parent / "fixtures"
TAGS = str(FIXTURES / "TAGS.yaml")
EXPECTED_JSONL = (FIXTURES / "alarms.jsonl").read_text(encoding="utf-8")


@pytest.fixture
def runner() -> CliRunner:
    """Return a runner that keeps stdout and stderr apart."""
    return CliRunner()


def test_replay_prints_exact_jsonl(runner: CliRunner) -> None:
    """GIVEN the fixture tags and shuffled readings WHEN replayed THEN the hand-derived JSONL."""
    result = runner.invoke(
        app, ["replay", "--tags", TAGS, "--readings", str(FIXTURES / "readings.csv")]
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout == EXPECTED_JSONL
    assert list(json.loads(result.stdout.splitlines()[0])) == [
        "tag",
        "condition",
        "event",
        "ts",
        "value",
        "priority",
    ]


def test_replay_writes_out_file(runner: CliRunner, tmp_path: Path) -> None:
    """GIVEN --out WHEN replayed THEN the file holds the JSONL and stdout stays empty."""
    out = tmp_path / "alarms.jsonl"
    result = runner.invoke(
        app,
        ["replay", "--tags", TAGS, "--readings", str(FIXTURES / "readings.csv"), "--out", str(out)],
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert out.read_text(encoding="utf-8") == EXPECTED_JSONL


def test_replay_keeps_the_input_offset(runner: CliRunner, tmp_path: Path) -> None:
    """GIVEN readings at -05:00 WHEN replayed THEN output ts are at -05:00 too."""
    path = tmp_path / "r.csv"
    path.write_text(
        "ts,tag,value\n2024-05-01T19:00:00-05:00,TI-101,95\n2024-05-01T19:00:05.250-05:00,TI-101,70\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["replay", "--tags", TAGS, "--readings", str(path)])
    assert result.exit_code == 0, result.stderr
    assert [json.loads(line)["ts"] for line in result.stdout.splitlines()] == [
        "2024-05-01T19:00:00-05:00",
        "2024-05-01T19:00:00-05:00",
        "2024-05-01T19:00:05.250-05:00",
        "2024-05-01T19:00:05.250-05:00",
    ]


def test_replay_mixed_offsets_use_the_first_rows_offset(runner: CliRunner, tmp_path: Path) -> None:
    """GIVEN a +08:00 row then a UTC row WHEN replayed THEN all output is in +08:00."""
    path = tmp_path / "r.csv"
    path.write_text(
        "ts,tag,value\n2024-05-01T08:00:00+08:00,TI-101,70\n2024-05-01T00:00:10Z,TI-101,85\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["replay", "--tags", TAGS, "--readings", str(path)])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["ts"] == "2024-05-01T08:00:10+08:00"


def test_replay_end_option_raises_stale(runner: CliRunner) -> None:
    """GIVEN TI-101 stale after 90 s, last 08:01:00 WHEN --end 08:03 THEN STALE at 08:02:30.001."""
    result = runner.invoke(
        app,
        [
            "replay",
            "--tags",
            TAGS,
            "--readings",
            str(FIXTURES / "readings.csv"),
            "--end",
            "2024-05-01T08:03:00+08:00",
        ],
    )
    assert result.exit_code == 0, result.stderr
    last = json.loads(result.stdout.splitlines()[-1])
    assert last == {
        "tag": "TI-101",
        "condition": "STALE",
        "event": "raised",
        "ts": "2024-05-01T08:02:30.001+08:00",
        "value": None,
        "priority": "low",
    }


def test_replay_unknown_tag_is_a_one_line_error_with_row_number(runner: CliRunner) -> None:
    """GIVEN an unknown tag in data row 2 WHEN replayed THEN one error line and exit code 2."""
    result = runner.invoke(
        app, ["replay", "--tags", TAGS, "--readings", str(FIXTURES / "readings_bad.csv")]
    )
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == "error: readings_bad.csv row 2: unknown tag 'TI-999'\n"


def test_replay_skip_bad_reports_the_count(runner: CliRunner) -> None:
    """GIVEN two bad rows WHEN replayed with --skip-bad THEN the rest replayed, count on stderr."""
    result = runner.invoke(
        app,
        ["replay", "--tags", TAGS, "--readings", str(FIXTURES / "readings_bad.csv"), "--skip-bad"],
    )
    assert result.exit_code == 0, result.stderr
    assert "skipped 2 bad rows\n" in result.stderr
    assert [json.loads(line)["condition"] for line in result.stdout.splitlines()] == ["H", "HH"]


def test_replay_missing_file_is_a_one_line_error(runner: CliRunner, tmp_path: Path) -> None:
    """GIVEN a readings path that does not exist WHEN replayed THEN one error line, exit != 0."""
    missing = tmp_path / "nope.csv"
    result = runner.invoke(app, ["replay", "--tags", TAGS, "--readings", str(missing)])
    assert result.exit_code != 0
    assert result.stderr == f"error: {missing}: file not found\n"


def test_replay_bad_tags_file_is_a_one_line_error(runner: CliRunner, tmp_path: Path) -> None:
    """GIVEN a TAGS.yaml with an unknown kind WHEN replayed THEN one error line naming the entry."""
    tags = tmp_path / "TAGS.yaml"
    tags.write_text("tags:\n  - {tag: X-1, kind: steam}\n", encoding="utf-8")
    result = runner.invoke(
        app, ["replay", "--tags", str(tags), "--readings", str(FIXTURES / "readings.csv")]
    )
    assert result.exit_code == 2
    assert result.stderr.startswith(
        "error: TAGS.yaml tags entry 1: tag 'X-1': unknown kind 'steam'"
    )
    assert result.stderr.count("\n") == 1


def test_replay_accepts_parquet(runner: CliRunner, tmp_path: Path) -> None:
    """GIVEN the fixture readings as Parquet WHEN replayed THEN the same JSONL as from CSV."""
    csv_path = tmp_path / "readings.csv"
    shutil.copy(FIXTURES / "readings.csv", csv_path)
    lines = csv_path.read_text(encoding="utf-8").splitlines()[1:]
    fields = [line.split(",") for line in lines]
    table = pa.table(
        {
            "ts": [f[0] for f in fields],
            "tag": [f[1] for f in fields],
            "value": pa.array([float(f[2]) if f[2] else None for f in fields], type=pa.float64()),
        }
    )
    path = tmp_path / "readings.parquet"
    pq.write_table(table, path)
    result = runner.invoke(app, ["replay", "--tags", TAGS, "--readings", str(path)])
    assert result.exit_code == 0, result.stderr
    assert result.stdout == EXPECTED_JSONL


def test_kpi_alarms_over_the_replay_output(runner: CliRunner) -> None:
    """GIVEN the fixture JSONL WHEN KPIs over one hour THEN 4 raised in the first of 6 windows."""
    result = runner.invoke(
        kpi_app,
        [
            "alarms",
            "--events",
            str(FIXTURES / "alarms.jsonl"),
            "--start",
            "2024-05-01T08:00:00+08:00",
            "--end",
            "2024-05-01T09:00:00+08:00",
        ],
    )
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {
        "annunciated": 4,
        "windows": 6,
        "avg_per_10min": 0.67,
        "max_per_10min": 4,
        "flood_windows": 0,
        "flood_pct": 0.0,
        "chattering": [],
        "stale": [],
        "top10_share_pct": 100.0,
        "priority_split_pct": {"critical": 25.0, "high": 25.0, "medium": 50.0, "low": 0.0},
    }


def test_kpi_alarms_bad_line_is_a_one_line_error(runner: CliRunner, tmp_path: Path) -> None:
    """GIVEN a JSONL whose line 2 has no event WHEN KPIs run THEN one error line naming line 2."""
    path = tmp_path / "a.jsonl"
    path.write_text(
        '{"tag":"A","condition":"H","event":"raised","ts":"2024-05-01T08:00:00+08:00"}\n'
        '{"tag":"A","condition":"H","ts":"2024-05-01T08:00:00+08:00"}\n',
        encoding="utf-8",
    )
    args = ["alarms", "--events", str(path), "--start", "2024-05-01T08:00:00+08:00"]
    result = runner.invoke(kpi_app, [*args, "--end", "2024-05-01T09:00:00+08:00"])
    assert result.exit_code == 2
    assert result.stderr == (
        "error: a.jsonl line 2: event must be 'raised' or 'cleared', got None\n"
    )
    result = runner.invoke(kpi_app, [*args, "--end", "2024-05-01T08:00:00+08:00"])
    assert result.stderr == "error: --end must be after --start\n"
    result = runner.invoke(kpi_app, [*args, "--end", "tomorrow"])
    assert result.stderr == "error: --end: unparsable ts 'tomorrow'\n"


def test_kpi_seeds_check_passes_on_the_committed_seeds(runner: CliRunner) -> None:
    """GIVEN the committed KPI seeds WHEN `hazchem kpi seeds --check` runs THEN it exits 0 and
    says they are up to date (it writes nothing)."""
    result = runner.invoke(kpi_app, ["seeds", "--check"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "KPI seeds are up to date\n"


def test_kpi_seeds_check_names_a_stale_seed(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GIVEN a seeds folder without the KPI seeds WHEN `hazchem kpi seeds --check` runs THEN one
    line names both files and the exit code is 1; `hazchem kpi seeds` then writes them."""
    import pipelines.lake.seeds as seeds

    monkeypatch.setattr(seeds, "SEEDS_DIR", tmp_path)
    result = runner.invoke(kpi_app, ["seeds", "--check"])
    assert result.exit_code == 1
    assert "out of date: alarm_kpi_definitions.csv, alarm_rate_bands.csv" in result.stderr
    result = runner.invoke(kpi_app, ["seeds"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "written: alarm_kpi_definitions.csv, alarm_rate_bands.csv\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "alarm_kpi_definitions.csv",
        "alarm_rate_bands.csv",
    ]
