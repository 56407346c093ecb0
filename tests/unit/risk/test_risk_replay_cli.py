"""`hazchem risk replay` over bronze Delta tables, and model files built on a base file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest

from pipelines.risk.model import DEFAULT_MODEL_FILE, RiskModelError, load_model

HAZCHEM = str(Path(sys.executable).parent / "hazchem")
DAY_START = 1_795_881_600_000  # 2026-11-29 00:00 +08:00
T = DAY_START + 3_600_000  # 01:00 plant time


def _alarm(tag, cond, event, prio, ts):
    return {"event_id": f"{tag}{cond}{event}", "episode_id": "e", "enterprise_code": "E",
            "hazard_source_code": "HS-01", "unit_code": "U-TF", "area_code": "A-TF", "tag": tag,
            "condition": cond, "alarm_class": "gas", "event": event, "priority": prio,
            "value": 30.0, "event_time_ms": ts}  # fmt: skip


def _write_bronze(root: Path, topic: str, records: list[dict]) -> None:
    from deltalake import write_deltalake

    table = pa.table(
        {
            "_value": [json.dumps(r) for r in records],
            "event_date": [
                datetime.fromtimestamp(r["event_time_ms"] / 1000, UTC).date() for r in records
            ],
        }
    )
    write_deltalake(str(root / "bronze" / topic.replace(".", "_")), table,
                    partition_by=["event_date"])  # fmt: skip


def test_replay_prints_the_color_timeline_of_a_plant_day_from_the_lake(tmp_path):
    """GIVEN bronze alarm events of a leak (and one from the day before, which builds state)
    WHEN `hazchem risk replay --day --object HS-01` runs THEN it prints HS-01's changes of that
    plant day only, with their causes, as JSON lines with UTC+8-day bounds."""
    _write_bronze(tmp_path, "alarms", [
        _alarm("GD-TF11", "H", "raised", "high", DAY_START - 600_000),  # 23:50 the day before
        _alarm("GD-TF10", "H", "raised", "high", T),
        _alarm("GD-TF10", "HH", "raised", "critical", T + 5_000),
        _alarm("GD-TF10", "HH", "cleared", "critical", T + 20_000),
        _alarm("GD-TF10", "H", "cleared", "high", T + 25_000),
        _alarm("GD-TF11", "H", "cleared", "high", T + 30_000),
    ])  # fmt: skip
    env = {**os.environ, "HAZCHEM_LAKE__ROOT": str(tmp_path)}
    done = subprocess.run(
        [HAZCHEM, "risk", "replay", "--day", "2026-11-29", "--object", "HS-01"],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(r["event_time"][:23], r["previous_level"], r["level"], r["score"]) for r in rows] == [
        (_local(T), "yellow", "orange", 70.0),
        (_local(T + 5_000), "orange", "red", 50.0),
        (_local(T + 80_000), "red", "blue", 94.0),  # 60 s after it first fell below red
    ]
    assert rows[1]["causes"] == ["GD-TF10 H high", "GD-TF10 HH critical", "GD-TF11 H high"]
    assert "replaying 6 inputs from the lake" in done.stderr


def _local(ms: int) -> str:
    return (
        datetime.fromtimestamp(ms / 1000, UTC).astimezone().isoformat(timespec="milliseconds")[:23]
    )


def test_model_file_can_start_from_a_base(tmp_path):
    """GIVEN a model file with `base:` and two overrides WHEN loaded THEN only those keys change
    (nested mappings merged key by key)."""
    (tmp_path / "risk_model.yaml").write_text(DEFAULT_MODEL_FILE.read_text(encoding="utf-8"))
    (tmp_path / "site.yaml").write_text(
        "base: risk_model.yaml\nhold_lower_s: 5\nvideo: {fire: {points: 50, active_s: 60}}\n"
    )
    site, default = load_model(tmp_path / "site.yaml"), load_model()
    assert (site.hold_lower_s, site.video["fire"]) == (5.0, (50.0, 60.0))
    assert site.video["smoke"] == default.video["smoke"]
    assert site.alarms == default.alarms and site.cases == default.cases


def test_model_base_cycle_is_an_error(tmp_path):
    """GIVEN two model files that name each other as base WHEN loaded THEN a clear error."""
    (tmp_path / "a.yaml").write_text("base: b.yaml\n")
    (tmp_path / "b.yaml").write_text("base: a.yaml\n")
    with pytest.raises(RiskModelError, match="'base' files form a cycle"):
        load_model(tmp_path / "a.yaml")
