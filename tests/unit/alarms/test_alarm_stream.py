"""The arrival-order rule (pipelines.alarms.stream): late readings, dead letters, timers, and
stream = replay for input without late readings."""

from __future__ import annotations

import base64
import json
import random

import pytest

from pipelines.alarms.config import TagConfig
from pipelines.alarms.processor import TagContext
from pipelines.alarms.replay import replay
from pipelines.alarms.stream import (
    ArrivalEvaluator,
    BucketState,
    join_items,
    late_violation,
    split_items,
)

T0 = 1_800_000_000_000
CFG = TagConfig.from_dict(
    {
        "tag": "PT-1",
        "kind": "process",
        "unit": "MPa",
        "limits": {"ll": 0.5, "l": 1.0, "h": 10, "hh": 20},
        "deadband": 1,
        "priority": {"h": "medium", "hh": "high", "l": "medium", "ll": "high"},
        "stale_after_s": 5,
        "range_low": 0,
        "range_high": 30,
    }
)
CTX = TagContext("E1", "HS1", "U1", "A1", "MPa")


def _evaluator(lag_ms: int = 0) -> ArrivalEvaluator:
    return ArrivalEvaluator({"PT-1": CFG}, {"PT-1": CTX}, clock_lag_ms=lag_ms)


def _raw(tag: str, ts: int, value, part: int = 0) -> tuple[int, str, str]:  # noqa: ANN001
    return part, tag, json.dumps({"tag": tag, "event_time_ms": ts, "value": value})


def test_late_violation_picks_the_most_severe_limit_and_ignores_delays():
    """GIVEN PT-1 (LL 0.5, L 1, H 10, HH 20, range 0..30) WHEN single late values are judged
    THEN >= HH is HH, exactly H is H, <= LL is LL, in-limits is None, over range is HH (a limit
    beats RANGE), below range is LL, and a missing value violates nothing."""
    assert late_violation(CFG, 25.0) == ("HH", 20)
    assert late_violation(CFG, 10.0) == ("H", 10)
    assert late_violation(CFG, 0.5) == ("LL", 0.5)
    assert late_violation(CFG, 5.0) is None
    assert late_violation(CFG, 31.0) == ("HH", 20)
    assert late_violation(CFG, -1.0) == ("LL", 0.5)
    assert late_violation(CFG, None) is None
    only_range = TagConfig.from_dict({"tag": "X", "kind": "process", "range_high": 5})
    assert late_violation(only_range, 6.0) == ("RANGE", 5)


def test_a_late_hh_reading_reaches_the_operator_as_a_critical_notification():
    """GIVEN PT-1 has evaluated readings up to 3 s WHEN a reading of 2 s with value 25 (over HH)
    arrives THEN the engine does not see it (no alarm), readings.late keeps it with the violated
    limit, and alarm.notifications gets one critical late_reading notice naming tag, value and
    time; a late in-limits reading is kept but not notified."""
    ev, state = _evaluator(), BucketState()
    out = ev.readings(state, [_raw("PT-1", T0 + i * 1000, 5.0) for i in range(4)], now_ms=1)
    assert out == []
    out = ev.readings(state, [_raw("PT-1", T0 + 2000, 25.0), _raw("PT-1", T0 + 1000, 6)], 1)
    assert [r.topic for r in out] == ["readings.late", "alarm.notifications", "readings.late"]
    assert out[0].record == {
        "tag": "PT-1", "event_time_ms": T0 + 2000, "value": 25.0,
        "newest_event_time_ms": T0 + 3000, "condition": "HH", "limit": 20,
    }  # fmt: skip
    note = out[1].record
    assert (note["kind"], note["late"], note["priority"], note["condition"]) == (
        "late_reading", True, "critical", "HH"
    )  # fmt: skip
    assert (note["tag"], note["value"], note["event_time_ms"]) == ("PT-1", 25.0, T0 + 2000)
    assert note["notification_id"] == f"PT-1:late:{T0 + 2000}:notification"
    assert "PT-1 = 25 MPa" in note["message"] and "HH" in note["message"]
    assert out[2].record["condition"] is None
    assert state.late == 2
    assert state.processors["PT-1"].engine.active == {}  # the engine never saw the 25


def test_equal_event_time_is_not_late():
    """GIVEN PT-1 evaluated at 1 s WHEN another reading stamped 1 s arrives THEN it is evaluated
    (HH raised), not late."""
    ev, state = _evaluator(), BucketState()
    ev.readings(state, [_raw("PT-1", T0 + 1000, 5.0)], 1)
    out = ev.readings(state, [_raw("PT-1", T0 + 1000, 25.0)], 1)
    assert [(r.topic, r.record.get("condition")) for r in out if r.topic == "alarms"] == [
        ("alarms", "H"),
        ("alarms", "HH"),
    ]
    assert state.late == 0


@pytest.mark.parametrize(
    ("key", "value", "code"),
    [
        ("PT-1", "not json", "malformed_json"),
        ("PT-1", None, "tombstone"),
        ("PT-1", "[1, 2]", "wrong_type"),
        ("PT-1", '{"tag": "PT-1", "event_time_ms": "soon", "value": 1}', "wrong_type"),
        ("PT-1", '{"tag": "PT-1", "event_time_ms": 1, "value": "high"}', "wrong_type"),
        ("PT-1", '{"tag": "PT-1", "event_time_ms": 1, "value": true}', "wrong_type"),
        ("PT-1", '{"event_time_ms": 1, "value": 1}', "missing_field"),
        ("XX-9", '{"tag": "XX-9", "event_time_ms": 1, "value": 1}', "unknown_tag"),
        (None, '{"tag": "PT-1", "event_time_ms": 1, "value": 1}', "wrong_key"),
        ("PT-1", "[" * 5000 + "]" * 5000, "malformed_json"),
    ],
)
def test_a_poison_reading_is_dead_lettered_with_its_reason_and_exact_bytes(key, value, code):
    """GIVEN a reading that cannot be evaluated WHEN it arrives between two good ones THEN it goes
    to readings.dlq with the reason code and its exact bytes, and the good ones are evaluated."""
    ev, state = _evaluator(), BucketState()
    items = [_raw("PT-1", T0, 5.0), (0, key, value), _raw("PT-1", T0 + 1000, 25.0)]
    out = ev.readings(state, items, 1)
    dlq = [r for r in out if r.topic == "readings.dlq"]
    assert len(dlq) == 1
    env = dlq[0].record
    assert env["reason_code"] == code and env["reason"]
    assert env["source_topic"] == "readings" and env["key"] == key
    assert base64.b64decode(env["original_b64"]) == (value or "").encode()
    assert {r.record["condition"] for r in out if r.topic == "alarms"} == {"H", "HH"}
    assert state.dead_lettered == 1


def test_batches_round_trip_through_the_jvm_text_form():
    """GIVEN keys, values and a tombstone WHEN joined as the SQL does and split THEN they come
    back exactly (a missing key as None)."""
    items = [(0, "PT-1", '{"a": 1}'), (3, None, "x"), (None, "PT-1", None), (12, "T", "")]
    assert split_items(join_items(items)) == items


def test_stale_fires_on_the_clock_that_trails_the_newest_reading():
    """GIVEN PT-1 (STALE after 5 s) read at 0 s, and the clock lag 2 s WHEN other readings of the
    bucket move the newest event time to 7.000 s, then 7.001 s THEN STALE is not raised at a
    clock of 5.000 s but at 5.001 s, stamped exactly last_ts + 5 s + 1 ms."""
    other = TagConfig.from_dict({"tag": "T-2", "kind": "process"})
    ev = ArrivalEvaluator({"PT-1": CFG, "T-2": other}, {"PT-1": CTX, "T-2": CTX}, 2000)
    state = BucketState()
    ev.readings(state, [_raw("PT-1", T0, 5.0)], 1)
    assert ev.readings(state, [_raw("T-2", T0 + 7000, 1.0)], 1) == []
    out = ev.readings(state, [_raw("T-2", T0 + 7001, 1.0)], 1)
    stale = [r.record for r in out if r.topic == "alarms"]
    assert [(a["tag"], a["condition"], a["event_time_ms"]) for a in stale] == [
        ("PT-1", "STALE", T0 + 5001)
    ]


def test_poison_actions_and_unit_states_are_dead_lettered_good_ones_applied():
    """GIVEN HH active on PT-1 WHEN a non-JSON action, an action with a string time, an action
    on an unknown tag, a tombstone unit state and a unit state of an unknown unit arrive, then a
    good acknowledge THEN each poison record is in its topic's .dlq with the reason and the
    acknowledge is applied and audited."""
    ev, state = _evaluator(), BucketState()
    ev.readings(state, [_raw("PT-1", T0, 25.0)], 1)
    out = []
    out += ev.action(state, "PT-1", "{oops", 1)
    out += ev.action(state, "PT-1", '{"tag": "PT-1", "action_time_ms": "now"}', 1)
    out += ev.action(state, "ZZ", '{"tag": "ZZ", "action_time_ms": 1}', 1)
    out += ev.unit_state(state, "PT-1", "U1", None, 1)
    out += ev.unit_state(state, "", "U9", '{"unit_code": "U9", "state": "shutdown"}', 1)
    ack = {"action_id": "a1", "tag": "PT-1", "condition": "HH", "action": "acknowledge",
           "actor": "op", "action_time_ms": T0 + 1}  # fmt: skip
    out += ev.action(state, "PT-1", json.dumps(ack), 1)
    assert [(r.topic, r.record.get("reason_code")) for r in out[:5]] == [
        ("alarm.actions.dlq", "malformed_json"),
        ("alarm.actions.dlq", "wrong_type"),
        ("alarm.actions.dlq", "unknown_tag"),
        ("unit.states.dlq", "tombstone"),
        ("unit.states.dlq", "unknown_unit"),
    ]
    audit = [r.record for r in out if r.topic == "alarm.audit"]
    assert [(a["action"], a["result"]) for a in audit] == [("acknowledge", "applied")]


def test_stream_equals_replay_for_input_without_late_readings():
    """GIVEN 3 tags' random walks (limits, ROC, STALE crossed many times), each tag in its own
    Kafka partition in event-time order, the partitions interleaved at random (one may be hours
    ahead of another), fed in random batch sizes WHEN evaluated in arrival order with clock lag 0
    (clock advanced to the end) THEN the transitions equal replay()'s, exactly: the per-partition
    clock never declares a tag STALE before its own next reading was read."""
    rng = random.Random(7)
    tags = {
        t: TagConfig.from_dict(
            {
                "tag": t,
                "kind": "process",
                "limits": {"h": 10, "hh": 20, "l": 1},
                "deadband": 1,
                "delay_on_s": 1,
                "roc_per_min": 400,
                "stale_after_s": 4,
                "priority": {"h": "medium", "hh": "high", "l": "low"},
            }  # fmt: skip
        )
        for t in ("T-0", "T-1", "T-2")
    }
    contexts = {t: CTX for t in tags}
    per_tag = {}
    for t in tags:
        v, ts, rows = 5.0, T0, []
        for _ in range(300):
            ts += rng.choice([0, 500, 1000, 1000, 6000])
            v = max(-5.0, min(30.0, v + rng.uniform(-4, 4)))
            rows.append((ts, t, round(v, 2)))
        per_tag[t] = rows
    # one partition per tag, interleaved at random: one partition may run hours ahead
    part = {t: i for i, t in enumerate(sorted(tags))}
    queues = {t: list(rows) for t, rows in per_tag.items()}
    arrival = []
    while any(queues.values()):
        t = rng.choice([t for t, q in queues.items() if q])
        arrival.append(queues[t].pop(0))
    ev, state = ArrivalEvaluator(tags, contexts, clock_lag_ms=0), BucketState()
    got = []
    i = 0
    while i < len(arrival):
        n = rng.randint(1, 40)
        batch = [_raw(t, ts, v, part[t]) for ts, t, v in arrival[i : i + n]]
        got += ev.readings(state, batch, 1)
        i += n
    end = max(ts for ts, _, _ in arrival)
    got += ev.advance(state, end, 1)
    stream = sorted(
        (a["event_time_ms"], a["tag"], a["condition"], a["event"], a["value"])
        for a in (r.record for r in got if r.topic == "alarms")
    )
    expected = sorted(
        (t.ts_ms, t.tag, t.condition, t.event, t.value)
        for t in replay(tags, [r for rows in per_tag.values() for r in rows], end_ms=end)
    )
    assert len(expected) > 50
    assert stream == expected
    assert state.late == 0


def test_the_clock_waits_for_the_slowest_live_partition_and_skips_idle_ones():
    """GIVEN PT-1 (STALE after 5 s) read at 0 s on partition 0 and T-2 on partition 1, lag 0,
    idle after 10 s WHEN partition 1 runs 60 s ahead THEN PT-1 is not STALE (partition 0 is
    behind); WHEN partition 0 then sends nothing for more than 10 s of wall time while partition 1
    goes on THEN the clock follows partition 1 and PT-1's STALE is raised at exactly 5.001 s."""
    other = TagConfig.from_dict({"tag": "T-2", "kind": "process"})
    ev = ArrivalEvaluator({"PT-1": CFG, "T-2": other}, {"PT-1": CTX, "T-2": CTX}, 0, 10_000)
    state = BucketState()
    assert ev.readings(state, [_raw("PT-1", T0, 5.0, part=0)], now_ms=1_000) == []
    assert ev.readings(state, [_raw("T-2", T0 + 60_000, 1.0, part=1)], now_ms=2_000) == []
    assert state.clock_ms == T0
    out = ev.readings(state, [_raw("T-2", T0 + 61_000, 1.0, part=1)], now_ms=11_001)
    assert [(r.record["tag"], r.record["condition"], r.record["event_time_ms"])
            for r in out if r.topic == "alarms"] == [("PT-1", "STALE", T0 + 5001)]  # fmt: skip
    assert state.clock_ms == T0 + 61_000
