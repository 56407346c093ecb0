"""The alarm job's transform in a real Flink mini-cluster: engine + lifecycle + KPIs,
exact outputs."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.integration

T0 = 1_800_000_000_000  # a 10-minute window boundary
DAY0 = (T0 + 8 * 3_600_000) // 86_400_000 * 86_400_000 - 8 * 3_600_000  # plant-local midnight


def _run_build(configs, contexts, rows):
    from pyflink.common import Row

    from streaming_jobs.alarms_job import INPUT_TYPE, build
    from streaming_jobs.runtime import stream_env

    env = stream_env(1)
    stream = env.from_collection([Row(*r) for r in rows], type_info=INPUT_TYPE)
    routed, kpis = build(stream, configs, contexts, clock_lag_ms=0)
    out = []
    for row in routed.union(kpis).execute_and_collect():
        out.append((row[0], row[1], json.loads(row[2])))
    return out


def test_engine_lifecycle_and_kpis_run_in_flink_with_exact_outputs():
    """GIVEN PT-1 (H 10, HH 20, deadband 1, delay-on 2 s, STALE after 5 s), readings 5,10,11,12,25,
    9.5,8.9,8 at 0..7 s in batches of two as the SQL sends them, an acknowledge arriving after
    the 4-5 s batch, the unit going to maintenance at 8 s and one more reading at 15 s
    WHEN run through build() in Flink (clock lag 0)
    THEN H is raised at 3 s and cleared at 6 s, HH never (interrupted), the ack is audited,
    STALE is raised at exactly 12.001 s (before the 15 s reading is applied) but not
    annunciated (maintenance) and cleared by that reading, and the area KPI snapshot counts the
    one annunciated raise."""
    from pipelines.alarms.config import TagConfig
    from pipelines.alarms.processor import TagContext
    from pipelines.alarms.stream import join_items
    from streaming_jobs.alarms_job import (
        KIND_ACTION,
        KIND_READING,
        KIND_UNIT_STATE,
        bucket_of,
    )

    cfg = TagConfig.from_dict(
        {
            "tag": "PT-1",
            "kind": "process",
            "unit": "MPa",
            "limits": {"h": 10, "hh": 20},
            "deadband": 1,
            "delay_on_s": 2,
            "priority": {"h": "medium", "hh": "high"},
            "stale_after_s": 5,
        }
    )
    configs = {"PT-1": cfg}
    contexts = {"PT-1": TagContext("E1", "HS1", "U1", "A1", "MPa")}
    series = [5, 10, 11, 12, 25, 9.5, 8.9, 8.0]
    raw = [
        (0, "PT-1", json.dumps({"tag": "PT-1", "event_time_ms": T0 + i * 1000, "value": float(v)}))
        for i, v in enumerate(series)
    ]
    key = bucket_of("PT-1", 4)
    rows = [(KIND_READING, key, "", join_items(raw[w : w + 2])) for w in range(0, 8, 2)]
    ack = {
        "action_id": "act-1", "enterprise_code": "E1", "tag": "PT-1", "condition": "H",
        "episode_id": None, "action": "acknowledge", "actor": "op-7", "reason": None,
        "comment": None, "shelve_duration_s": None, "cause": None, "measures": None,
        "action_time_ms": T0 + 4500,
    }  # fmt: skip
    rows.insert(3, (KIND_ACTION, key, "PT-1", join_items([(0, "PT-1", json.dumps(ack))])))
    unit = {
        "enterprise_code": "E1",
        "unit_code": "U1",
        "state": "maintenance",
        "event_time_ms": T0 + 8000,
    }
    rows.append((KIND_UNIT_STATE, key, "PT-1", join_items([(0, "U1", json.dumps(unit))])))
    last = {"tag": "PT-1", "event_time_ms": T0 + 15000, "value": 8.0}
    rows.append((KIND_READING, key, "", join_items([(0, "PT-1", json.dumps(last))])))

    out = _run_build(configs, contexts, rows)

    alarms = [(r["condition"], r["event"], r["event_time_ms"], r["annunciated"], r["state"])
              for t, _, r in out if t == "alarms"]  # fmt: skip
    assert alarms == [
        ("H", "raised", T0 + 3000, True, "active_unacknowledged"),
        ("H", "cleared", T0 + 6000, True, "normal"),
        ("STALE", "raised", T0 + 12001, False, "active_unacknowledged"),
        ("STALE", "cleared", T0 + 15000, False, "returned_unacknowledged"),
    ]
    stale = next(r for t, _, r in out if t == "alarms" and r["condition"] == "STALE")
    assert stale["suppressed_by"] == "unit_state"
    assert stale["alarm_class"] == "sensor_health"
    audit = [r for t, _, r in out if t == "alarm.audit"]
    assert [
        (a["action"], a["result"], a["state_before"], a["state_after"], a["actor"]) for a in audit
    ] == [("acknowledge", "applied", "active_unacknowledged", "active_acknowledged", "op-7")]
    current = [(k, r["state"]) for t, k, r in out if t == "alarms.current"]
    assert current == [
        ("PT-1|H", "active_unacknowledged"),
        ("PT-1|H", "active_acknowledged"),
        ("PT-1|H", "normal"),
        ("PT-1|STALE", "returned_unacknowledged"),  # raised and cleared by the 15 s reading
    ]
    assert [t for t, _, _ in out if t == "alarm.notifications"] == []  # H is medium, not notified
    kpis = [r for t, _, r in out if t == "alarm.kpis"]
    assert [k["kind"] for k in kpis] == ["kpi_snapshot"]
    assert kpis[0]["area_code"] == "A1"
    assert kpis[0]["period_start_ms"] == DAY0
    assert kpis[0]["period_end_ms"] == T0 + 600_000
    assert kpis[0]["kpis"]["annunciated"] == 1
