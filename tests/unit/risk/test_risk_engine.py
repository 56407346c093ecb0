"""RiskEngine: live levels from inputs in event-time order, anti-flapping, time-based changes,
the same results streamed in order as replayed, and late inputs applied at the engine clock."""

from __future__ import annotations

import dataclasses
import random

import pytest

from pipelines.plant import load_plant
from pipelines.risk.engine import RiskEngine, input_order, risk_plant
from pipelines.risk.model import load_model, score
from pipelines.risk.replay import replay, timeline

PLANT = risk_plant(load_plant())
MODEL = load_model()
T = 1_764_288_000_000  # 2025-11-28 00:00 UTC, on a second boundary


def alarm(tag, cond, event, prio, ts, cls="gas", hs="HS-01", area="A-TF", suppressed=None):
    return ("alarm", {"tag": tag, "condition": cond, "event": event, "priority": prio,
                      "alarm_class": cls, "hazard_source_code": hs, "area_code": area,
                      "suppressed_by": suppressed, "event_time_ms": ts})  # fmt: skip


def video(kind, area, ts, cam="CAM-X"):
    return ("video", {"event_id": f"v{ts}", "camera_id": cam, "area_code": area,
                      "event_type": kind, "confidence": 0.9, "event_time_ms": ts})  # fmt: skip


def changes(routed, code):
    """Return (seconds after T, previous, level) of one object's risk.levels records."""
    return [
        ((r.record["event_time_ms"] - T) / 1000, r.record["previous_level"], r.record["level"])
        for r in routed
        if r.topic == "risk.levels" and r.record["object_code"] == code
    ]


def run(inputs, until_s=None):
    return replay(inputs, PLANT, MODEL, None if until_s is None else T + int(until_s * 1000))


LEAK = [
    alarm("GD-TF10", "H", "raised", "high", T + 10_000),
    alarm("GD-TF11", "H", "raised", "high", T + 12_000),
    alarm("GD-TF10", "HH", "raised", "critical", T + 15_000),
    alarm("GD-TF10", "HH", "cleared", "critical", T + 40_000),
    alarm("GD-TF11", "H", "cleared", "high", T + 45_000),
    alarm("GD-TF10", "H", "cleared", "high", T + 50_000),
]


def test_a_leak_turns_the_tank_farm_yellow_orange_red_and_back_to_blue_after_the_hold():
    """GIVEN gas alarms rising to HH in HS-01 (三级) and clearing WHEN replayed THEN HS-01 goes
    yellow (94-12) -> orange (70) -> red (50) at once, and back to blue only 60 s after the
    computed level first dropped (HH cleared at 40 s -> blue at 100 s), naming the alarms."""
    out = run(LEAK)
    assert changes(out, "HS-01") == [
        (10.0, None, "yellow"), (12.0, "yellow", "orange"), (15.0, "orange", "red"),
        (100.0, "red", "blue"),
    ]  # fmt: skip
    red = [r.record for r in out if r.topic == "risk.levels" and r.record["level"] == "red"]
    assert red[0]["score"] == 50.0
    gas = next(f for f in red[0]["factors"] if f["factor"] == "gas_alarms")
    assert gas["causes"] == ["GD-TF10 H high", "GD-TF10 HH critical", "GD-TF11 H high"]
    assert changes(out, "HS-02") == [(10.0, None, "blue")]
    # the enterprise follows its worst object and says which
    ent = [
        r.record
        for r in out
        if r.topic == "risk.levels" and r.record["object_type"] == "enterprise"
    ]
    assert [(e["level"], e["factors"][0]["value"]) for e in ent] == [
        ("yellow", "area:A-TF"), ("orange", "area:A-TF"),
        ("red", "area:A-TF"), ("blue", "area:A-TF"),
    ]  # fmt: skip


def test_flapping_alarms_do_not_flap_the_color():
    """GIVEN an H alarm raised and cleared every 20 s WHEN replayed THEN the area turns yellow
    once and drops to blue only 60 s after the last clear."""
    inputs = []
    for k in range(5):
        inputs.append(alarm("GD-TF10", "H", "raised", "high", T + k * 20_000))
        inputs.append(alarm("GD-TF10", "H", "cleared", "high", T + k * 20_000 + 10_000))
    assert changes(run(inputs), "A-TF") == [(0.0, None, "yellow"), (150.0, "yellow", "blue")]


def test_alarms_of_a_unit_in_maintenance_do_not_count_but_shelved_ones_do():
    """GIVEN a critical gas alarm suppressed by unit state and one suppressed by shelving
    WHEN replayed THEN only the shelved one deducts points (the condition is still real)."""
    out = run([
        alarm("GD-TF10", "HH", "raised", "critical", T, suppressed="unit_state"),
        alarm("GD-TF11", "HH", "raised", "critical", T + 1000, suppressed="shelve"),
    ])  # fmt: skip
    scores = [(r.record["event_time_ms"] - T, r.record["score"]) for r in out
              if r.topic == "risk.levels" and r.record["object_code"] == "HS-01"]  # fmt: skip
    assert scores == [(0, 94.0), (1000, 74.0)]


def test_video_events_age_out_and_off_post_counts_only_in_the_control_room():
    """GIVEN smoke in the tank farm and off-post events in the control room and in the tank farm
    WHEN replayed THEN smoke deducts 30 for 600 s, control-room off-post deducts 10 from every
    hazard source, and off-post elsewhere is ignored."""
    out = run([video("smoke", "A-TF", T), video("off_post", "A-CR", T + 1000),
               video("off_post", "A-TF", T + 2000)])  # fmt: skip
    hs2 = changes(out, "HS-02")
    assert hs2 == [(0.0, None, "blue"), (1.0, "blue", "yellow"), (361.0, "yellow", "blue")]
    hs1 = [(r.record["event_time_ms"] - T, r.record["score"], r.record["level"]) for r in out
           if r.topic == "risk.levels" and r.record["object_code"] == "HS-01"]  # fmt: skip
    # 94 - 30 = 64 orange; then -10 -> 54 red; off-post ends at 301 s (64, orange, held), smoke
    # ends at 600 s (94): the drop waits 60 s from 301 s -> orange at 361 s ... blue at 660 s
    assert hs1 == [(0, 64.0, "orange"), (1000, 54.0, "red"), (361_000, 64.0, "orange"),
                   (660_000, 94.0, "blue")]  # fmt: skip


def test_permits_people_dangers_and_rounds():
    """GIVEN hot work in progress, three people more than an area's limit, an open danger that falls
    overdue and an inspection round that falls overdue WHEN replayed THEN each shows as a factor
    exactly while it holds."""
    permit = {"permit_id": "WP-1", "work_type": "hot_work", "hot_work_level": "special",
              "area_code": "A-TF", "status": "in_progress", "event_time_ms": T}  # fmt: skip
    limit = load_plant().areas["A-RX"].headcount_limit
    inputs = [("permit", permit)]
    inputs += [("position", {"person_id": f"P9{i}", "area_code": "A-RX", "event_time_ms": T + i})
               for i in range(limit + 3)]  # fmt: skip
    danger = {"danger_id": "HD-1", "level": "major", "area_code": "A-RX", "status": "open",
              "deadline_ms": T + 30_000, "event_time_ms": T + 100}  # fmt: skip
    inputs += [("hidden_danger", danger), ("permit", {**permit, "status": "completed",
                                                       "event_time_ms": T + 50_000})]  # fmt: skip
    engine = RiskEngine(PLANT, MODEL)
    out = []
    for kind, rec in sorted(inputs, key=lambda kr: input_order(*kr)):
        out += engine.on_input(kind, rec)
    rx = [(r.record["event_time_ms"] - T, r.record["score"]) for r in out
          if r.topic == "risk.levels" and r.record["object_code"] == "A-RX"]  # fmt: skip
    # one over: 97 - 7 = 90, still blue; two over: 88, yellow; then the danger: 74, orange
    assert rx == [(0, 97.0), (limit + 1, 88.0), (100, 74.0)]
    out += engine.on_time(T + 3 * 3_600_000)
    tf = [(r.record["event_time_ms"] - T, r.record["score"]) for r in out
          if r.topic == "risk.levels" and r.record["object_code"] == "A-TF"]  # fmt: skip
    # 100 - 6 (三级) - 10 (特级 hot work); done at 50 s, blue after the 60 s hold
    assert tf == [(0, 84.0), (110_000, 94.0)]

    def factors_at(ms):
        _v, _l, factors = score(MODEL, engine.exposures(T + ms)[("area", "A-RX")])
        return {f["factor"]: (f["value"], f["contribution"]) for f in factors}

    assert factors_at(29_999)["open_hidden_dangers"] == (1, -12.0)
    assert factors_at(30_000)["open_hidden_dangers"] == (1, -17.0)  # overdue from its deadline
    assert "overdue_inspections" not in factors_at(7_199_999)
    assert factors_at(7_200_000)["overdue_inspections"] == (1, -4.0)  # R-RX-01: 2 h period
    assert factors_at(7_200_000)["people_over_limit"] == (3, -11.0)  # 5 + 2 x 3


def test_inputs_applied_as_they_arrive_in_order_equal_replay():
    """GIVEN many inputs WHEN applied one by one as they arrive in event-time order, with clock
    ticks (on_time) at arbitrary times in between (as the streaming job does), THEN the records
    equal one sorted replay's and no input counts as late."""
    rng = random.Random(7)
    inputs = list(LEAK) + [video("fire", "A-RX", T + 20_000), video("off_post", "A-CR", T + 70_000)]
    for k in range(40):
        inputs.append(("position", {"person_id": f"P{k % 12:03d}",
                                    "area_code": rng.choice(["A-TF", "A-RX", None]),
                                    "event_time_ms": T + rng.randrange(0, 200_000)}))  # fmt: skip
    expected = run(inputs, until_s=2000)
    engine = RiskEngine(PLANT, MODEL)
    got = []
    arrived = sorted(inputs, key=lambda kr: input_order(*kr))
    for i, (kind, rec) in enumerate(arrived):
        got += engine.on_input(kind, rec)
        if i + 1 < len(arrived) and rng.random() < 0.5:  # a clock tick before the next input
            got += engine.on_time(
                rng.randrange(rec["event_time_ms"], arrived[i + 1][1]["event_time_ms"] + 1)
            )
    got += engine.on_time(T + 2_000_000)
    assert [(r.topic, r.key, r.record) for r in got] == [
        (r.topic, r.key, r.record) for r in expected
    ]
    assert timeline(got) == timeline(expected)
    assert engine.state.late_inputs == 0


def test_a_late_input_is_applied_at_the_engine_clock_and_counted():
    """GIVEN the HH alarm of 15 s arriving after a position of 20 s was applied WHEN applied
    THEN it is late: counted, and it takes effect at the engine clock (red at 20 s, not 15 s),
    colors already published unchanged; replay in the same arrival order gives the same."""
    position = ("position", {"person_id": "P001", "area_code": "A-RX", "event_time_ms": T + 20_000})
    arrived = [LEAK[0], LEAK[1], position, LEAK[2], *LEAK[3:]]
    engine = RiskEngine(PLANT, MODEL)
    got = []
    late = []
    for kind, rec in arrived:
        late.append(engine.is_late(kind, rec))
        got += engine.on_input(kind, rec)
    got += engine.on_time(2**62)
    assert late == [False, False, False, True, False, False, False]
    assert engine.state.late_inputs == 1
    assert changes(got, "HS-01") == [
        (10.0, None, "yellow"), (12.0, "yellow", "orange"), (20.0, "orange", "red"),
        (100.0, "red", "blue"),
    ]  # fmt: skip
    assert [r.record for r in got] == [
        r.record for r in replay(arrived, PLANT, MODEL, arrival_order=True)
    ]
    assert changes(run(arrived), "HS-01")[2] == (15.0, "orange", "red")  # sorted: on time


def test_same_millisecond_inputs_out_of_input_order_count_as_late():
    """GIVEN a smoke video event applied at 10 s WHEN more inputs of that millisecond arrive
    THEN those replay would apply before it are late (an alarm: kind first; a fire event of the
    same camera: its canonical JSON sorts first), those it would apply after are not."""
    engine = RiskEngine(PLANT, MODEL)
    engine.on_input(*video("smoke", "A-TF", T + 10_000))
    assert engine.is_late(*alarm("GD-TF10", "H", "raised", "high", T + 10_000))
    assert engine.is_late(*video("fire", "A-TF", T + 10_000))
    assert not engine.is_late(*video("smoke", "A-TF", T + 10_000, cam="CAM-Y"))
    assert not engine.is_late(*alarm("GD-TF10", "H", "raised", "high", T + 10_001))


def test_engine_state_survives_pickling_mid_stream():
    """GIVEN the state pickled and restored between inputs (keyed state in Flink) WHEN continued
    THEN the outputs equal an uninterrupted run."""
    import pickle

    whole = run(LEAK)
    engine = RiskEngine(PLANT, MODEL)
    got = []
    for kind, rec in LEAK:
        engine = RiskEngine(PLANT, MODEL, pickle.loads(pickle.dumps(engine.state)))
        got += engine.on_input(kind, rec)
    got += engine.on_time(2**62)
    assert [r.record for r in got] == [r.record for r in whole]


def test_model_changes_change_the_colors():
    """GIVEN a model whose hold is 0 WHEN replayed THEN the color drops at once."""
    fast = dataclasses.replace(MODEL, hold_lower_s=0.0)
    out = replay(LEAK, PLANT, fast)
    assert changes(out, "HS-01") == [
        (10.0, None, "yellow"), (12.0, "yellow", "orange"), (15.0, "orange", "red"),
        (40.0, "red", "orange"), (45.0, "orange", "yellow"), (50.0, "yellow", "blue"),
    ]  # fmt: skip


@pytest.mark.parametrize("kind", ["alarm", "video"])
def test_first_input_rates_every_object(kind):
    """GIVEN one input WHEN replayed THEN every hazard source, area and the enterprise get a first
    rating (previous_level null) at its time."""
    first = LEAK[0] if kind == "alarm" else video("no_helmet", "A-WH", T)
    out = run([first])
    rated = {(r.record["object_type"], r.record["object_code"]) for r in out
             if r.topic == "risk.levels" and r.record["previous_level"] is None}  # fmt: skip
    plant = load_plant()
    assert rated == (
        {("hazard_source", h) for h in plant.hazard_sources}
        | {("area", a) for a in plant.areas}
        | {("enterprise", plant.enterprise_code)}
    )
