"""The alarm job's transform in a real Flink mini-cluster equals batch replay, reading for reading."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.integration

T0 = 1_800_000_000_000


def _run_build(configs, contexts, readings):
    from pyflink.common import Duration, Row, WatermarkStrategy
    from pyflink.common.watermark_strategy import TimestampAssigner
    from streaming_jobs.alarms_job import READING_TYPE, build
    from streaming_jobs.runtime import stream_env

    class ByEventTime(TimestampAssigner):
        def extract_timestamp(self, value, record_timestamp):
            return value[2]

    env = stream_env(1)
    stream = env.from_collection(
        [Row(tag, value, ts) for ts, tag, value in readings], type_info=READING_TYPE
    ).assign_timestamps_and_watermarks(
        WatermarkStrategy.for_bounded_out_of_orderness(Duration.of_seconds(10)).with_timestamp_assigner(
            ByEventTime()
        )
    )
    alarms, unevaluated = build(stream, configs, contexts)
    out = [json.loads(s) for s in alarms.execute_and_collect()]
    return out


def test_streaming_transform_matches_replay_and_hand_derived_transitions():
    """GIVEN a high-limit tag (H 10, HH 20, deadband 1, delay-on 2 s) and out-of-order readings
    WHEN run through build() in Flink THEN the transitions are the hand-derived ones and equal
    pipelines.alarms.replay on the same input."""
    from pipelines.alarms.config import TagConfig
    from pipelines.alarms.replay import replay
    from streaming_jobs.alarms_job import TagContext

    cfg = TagConfig.from_dict(
        {
            "tag": "PT-1",
            "kind": "process",
            "unit": "MPa",
            "limits": {"h": 10, "hh": 20},
            "deadband": 1,
            "delay_on_s": 2,
            "priority": {"h": "medium", "hh": "high"},
        }
    )
    configs = {"PT-1": cfg}
    contexts = {"PT-1": TagContext("E1", "HS1", "U1", "A1", "MPa")}
    # value by second; sent out of order (within the 10 s watermark bound)
    series = [5, 10, 11, 12, 25, 9.5, 8.9, 8.0]
    readings = [(T0 + i * 1000, "PT-1", float(v)) for i, v in enumerate(series)]
    shuffled = [readings[i] for i in (1, 0, 3, 2, 5, 4, 7, 6)]

    got = _run_build(configs, contexts, shuffled)

    # H: violating from t=1 (10 >= 10); raised at t=3 (3-1 >= 2 s). HH: 25 at t=4 violates,
    # but t=5 (9.5) interrupts before 2 s: never raised. H returns when < 9: t=6 (8.9) clears.
    expected = [("H", "raised", T0 + 3000, 12.0), ("H", "cleared", T0 + 6000, 8.9)]
    assert [(e["condition"], e["event"], e["event_time_ms"], e["value"]) for e in got] == expected
    assert got[0]["episode_id"] == f"PT-1:H:{T0 + 3000}"
    assert got[1]["event_id"] == f"PT-1:H:{T0 + 3000}:cleared"
    assert {e["area_code"] for e in got} == {"A1"}

    replayed = replay(configs, readings)
    assert [(t.condition, t.event, t.ts_ms, t.value) for t in replayed] == expected
