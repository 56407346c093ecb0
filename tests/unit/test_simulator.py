"""Tests of the deterministic plant simulator (pipelines/simulator.py)."""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from itertools import combinations
from pathlib import Path
from typing import Any

import jsonschema
import orjson
import pytest
import yaml

from pipelines.plant import Plant, load_plant
from pipelines.simulator import (
    MALFORMED_KINDS,
    SCENARIOS,
    SimEvent,
    Simulator,
    TransportFaults,
)

ROOT = Path(__file__).resolve().parents[2]
START_MS = 1_764_300_000_000  # 2025-11-28 11:20:00 China time, a Friday
FAULTS = TransportFaults(
    duplicate_rate=0.01, late_rate=0.01, late_by_s=30, out_of_order_rate=0.01, malformed_rate=0.02
)
# Exact fault counts of 60 s of `normal` (seed 42, rate 1000, FAULTS): 303 samples x 198 tags =
# 59,994 readings. Changing how the simulator draws random numbers changes these on purpose.
SNAPSHOT: dict[str | None, int] = {
    None: 57_611,
    "duplicate": 581,
    "late": 305,  # those due within the 60 s; the rest are still held back
    "out_of_order": 584,
    "malformed_json": 150,
    "wrong_type": 150,
    "missing_field": 150,
    "unknown_tag": 150,
    "non_finite_value": 149,
    "future_timestamp": 149,
    "expired_timestamp": 149,
    "oversized": 149,
}
RECORD_FIELDS = {
    "readings": {
        "enterprise_code", "hazard_source_code", "unit_code", "tag", "metric_code", "value",
        "unit", "quality", "event_time_ms",
    },
    "positions": {
        "person_id", "tag_id", "enterprise_code", "area_code", "x_m", "y_m", "floor",
        "battery_pct", "sos", "event_time_ms", "person_type",
    },
    "video.events": {
        "event_id", "enterprise_code", "camera_id", "area_code", "event_type", "confidence",
        "event_time_ms", "snapshot_uri", "hazard_source_code",
    },
    "work.permits": {
        "permit_id", "enterprise_code", "work_type", "hot_work_level", "area_code", "unit_code",
        "hazard_source_code", "location", "x_m", "y_m", "planned_start_ms", "planned_end_ms",
        "actual_start_ms", "actual_end_ms", "status", "applicant", "approver", "guardian",
        "contractor_id", "workers", "lifting_weight_t", "height_m", "on_holiday_or_night",
        "event_time_ms",
    },
    "work.gas_analyses": {
        "analysis_id", "permit_id", "enterprise_code", "sample_point", "distance_to_work_point_m",
        "gas", "measured_value", "measured_unit", "lel_pct_of_gas", "oxygen_pct", "analyst",
        "sampled_at_ms", "passed",
    },
    "inspections": {
        "checkin_id", "enterprise_code", "route_id", "point_id", "area_code", "inspector",
        "checkin_time_ms", "result", "note", "x_m", "y_m",
    },
    "hidden_dangers": {
        "danger_id", "enterprise_code", "area_code", "hazard_source_code", "title", "level",
        "source", "found_by", "found_at_ms", "deadline_ms", "status", "liable_person", "measures",
        "accepted_at_ms", "event_time_ms",
    },
}  # fmt: skip


@pytest.fixture(scope="module")
def plant() -> Plant:
    """The demo plant, loaded once."""
    return load_plant()


@pytest.fixture(scope="module")
def mixed_events(plant: Plant) -> list[SimEvent]:
    """150 s of `mixed` at 200 readings/s (each tag every 990 ms) with faults, in 100 ms ticks."""
    sim = Simulator(plant, "mixed", seed=42, rate=200, start_ms=START_MS, faults=FAULTS)
    return _run(sim, 150_000, 100)


def _run(sim: Simulator, duration_ms: int, tick_ms: int = 1000) -> list[SimEvent]:
    """Tick the simulator for duration_ms and return every event."""
    events: list[SimEvent] = []
    for _ in range(duration_ms // tick_ms):
        events.extend(sim.tick(tick_ms))
    return events


def _at_s(ms: int) -> float:
    """Seconds after START_MS."""
    return (ms - START_MS) / 1000.0


def _readings(events: list[SimEvent], tag: str) -> list[tuple[float, float]]:
    """Return (seconds after start, value) of one tag's clean readings, in event order."""
    return [
        (_at_s(e.record["event_time_ms"]), e.record["value"])
        for e in events
        if e.topic == "readings" and e.fault is None and e.record["tag"] == tag
    ]


def _schema_validators() -> dict[str, jsonschema.Draft202012Validator]:
    """Return a validator per topic whose schema file exists."""
    topics = yaml.safe_load((ROOT / "infra" / "kafka" / "topics.yaml").read_text(encoding="utf-8"))
    validators = {}
    for topic in topics["topics"]:
        path = ROOT / "schemas" / f"{topic['schema']}.v1.json"
        if path.exists():
            schema = json.loads(path.read_text(encoding="utf-8"))
            validators[topic["name"]] = jsonschema.Draft202012Validator(schema)
    return validators


def test_same_seed_and_arguments_give_identical_events(plant: Plant) -> None:
    """GIVEN two simulators with the same arguments WHEN ticked alike THEN events are identical."""
    a = Simulator(plant, "mixed", seed=7, rate=2000, start_ms=START_MS, faults=FAULTS)
    b = Simulator(plant, "mixed", seed=7, rate=2000, start_ms=START_MS, faults=FAULTS)
    first, second = _run(a, 60_000, 250), _run(b, 60_000, 250)
    assert len(first) == len(second) > 100_000
    assert first == second
    other = _run(Simulator(plant, "mixed", seed=8, rate=2000, start_ms=START_MS), 5_000)
    assert [e.record for e in other[:500]] != [e.record for e in first[:500]]


def test_tick_size_does_not_change_the_event_stream(plant: Plant) -> None:
    """GIVEN the same simulator WHEN ticked in 10 ms or 20 s steps THEN the streams are equal."""
    small = Simulator(plant, "mixed", seed=3, start_ms=START_MS, faults=FAULTS)
    large = Simulator(plant, "mixed", seed=3, start_ms=START_MS, faults=FAULTS)
    assert _run(small, 60_000, 10) == _run(large, 60_000, 20_000)
    assert small.now_ms == large.now_ms == START_MS + 60_000


@pytest.mark.parametrize(
    ("rate", "tick_ms", "interval_ms", "per_tag"),
    [(1000, 9_900, 198.0, 50), (49_500, 1_000, 4.0, 250), (19.8, 60_000, 10_000.0, 6)],
)
def test_rate_sets_the_sampling_interval_of_every_tag(
    plant: Plant, rate: float, tick_ms: int, interval_ms: float, per_tag: int
) -> None:
    """GIVEN a rate WHEN ticked THEN each tag is sampled every len(tags)/rate s, exactly."""
    sim = Simulator(plant, "normal", rate=rate, start_ms=START_MS)
    assert sim.sample_interval_ms == pytest.approx(interval_ms)
    events = sim.tick(tick_ms)
    counts = Counter(e.record["tag"] for e in events if e.topic == "readings")
    assert set(counts) == set(plant.tags)
    assert set(counts.values()) == {per_tag}
    times = sorted({e.record["event_time_ms"] for e in events if e.topic == "readings"})
    assert times[0] == START_MS + math.floor(interval_ms)
    assert times[-1] <= START_MS + tick_ms


def test_events_come_in_event_time_order_apart_from_late_ones(mixed_events: list[SimEvent]) -> None:
    """GIVEN mixed with faults WHEN events are read in order THEN only late/out-of-order go back."""

    def event_ms(e: SimEvent) -> int:
        r = e.record
        for key in ("event_time_ms", "checkin_time_ms", "sampled_at_ms"):
            if key in r:
                return r[key]
        raise AssertionError(r)

    latest = 0
    backwards = Counter()
    shifted = ("future_timestamp", "expired_timestamp")
    for e in mixed_events:
        if e.record is None or e.fault in shifted:
            continue
        t = event_ms(e)
        if t < latest:
            backwards[e.fault] += 1
        latest = max(latest, t)
    assert set(backwards) == {"late", "out_of_order"}


def test_clean_records_are_valid_against_their_schema_files(mixed_events: list[SimEvent]) -> None:
    """GIVEN 150 s of mixed WHEN clean records are validated THEN all pass and cover every topic."""
    validators = _schema_validators()
    seen = Counter()
    errors = []
    for e in mixed_events:
        if e.record is None or e.fault not in (None, "duplicate", "late", "out_of_order"):
            continue
        assert set(e.record) == RECORD_FIELDS[e.topic], e.topic
        assert orjson.loads(orjson.dumps(e.record)) == e.record  # plain JSON types only
        seen[e.topic] += 1
        if e.topic in validators:
            errors += [(e.topic, err.message) for err in validators[e.topic].iter_errors(e.record)]
    assert errors == []
    assert set(seen) == set(RECORD_FIELDS)
    assert {k: v for k, v in seen.items() if k != "readings" and k != "positions"} == {
        "video.events": 2,
        "work.permits": 5,
        "work.gas_analyses": 3,
        "inspections": 11,
        "hidden_dangers": 2,
    }


def test_positions_report_every_5_s_per_person(plant: Plant) -> None:
    """GIVEN normal WHEN one minute passes THEN every person reports exactly 12 positions."""
    sim = Simulator(plant, "normal", start_ms=START_MS)
    events = sim.tick(60_000)
    per_person = Counter(e.record["person_id"] for e in events if e.topic == "positions")
    assert set(per_person) == set(plant.people)
    assert set(per_person.values()) == {12}


def test_normal_raises_no_alarm_and_no_crowding(plant: Plant) -> None:
    """GIVEN normal for 10 min WHEN checked THEN no limit, H, 10 s rate of change or headcount."""
    sim = Simulator(plant, "normal", seed=11, rate=1000, start_ms=START_MS)
    events = _run(sim, 600_000, 5_000)
    crossings = []
    heads: Counter = Counter()
    roc_series: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for e in events:
        r = e.record
        if e.topic == "readings":
            t = plant.tags[r["tag"]]
            if t.roc_per_min:
                roc_series[t.tag].append((r["event_time_ms"], r["value"]))
            low = t.limits["l"] if t.limits["l"] is not None else t.limits["ll"]
            high = t.limits["h"] if t.limits["h"] is not None else t.limits["hh"]
            if (low is not None and r["value"] <= low) or (high is not None and r["value"] >= high):
                crossings.append((r["tag"], r["value"]))
        elif e.topic == "positions":
            heads[(r["event_time_ms"] // 5_000, r["area_code"])] += 1
            assert r["sos"] is False
    assert crossings == []
    assert [k for k, n in heads.items() if n > plant.areas[k[1]].headcount_limit] == []
    too_fast = []
    for tag, series in roc_series.items():  # every 50th sample is 9.9 s earlier
        limit = plant.tags[tag].roc_per_min * 9.9 / 60.0
        changes = [abs(b[1] - a[1]) for a, b in zip(series, series[50:], strict=False)]
        if max(changes) >= limit:
            too_fast.append((tag, max(changes)))
    assert len(roc_series) == 20
    assert too_fast == []
    topics = Counter(e.topic for e in events)
    assert set(topics) == {"readings", "positions", "inspections"}
    assert {e.record["result"] for e in events if e.topic == "inspections"} == {"normal"}
    assert sim.scenario_timeline() == [
        {"at_s": 10.0, "what": "inspection_round_started", "tags": [], "area": "A-TF",
         "route_id": "R-TF-01", "person_id": "P017"},
        {"at_s": 15.0, "what": "inspection_round_started", "tags": [], "area": "A-RX",
         "route_id": "R-RX-01", "person_id": "P020"},
    ]  # fmt: skip


def test_leak_reaches_the_nearest_combustible_detector_first(plant: Plant) -> None:
    """GIVEN the leak WHEN detectors respond THEN 25/50 %LEL crossings come in distance order."""
    sim = Simulator(plant, "leak", seed=5, rate=1000, start_ms=START_MS)
    events = _run(sim, 120_000)
    leak = next(e for e in sim.scenario_timeline() if e["what"] == "leak_started")
    first_above: dict[str, dict[float, float]] = defaultdict(dict)
    for e in events:
        r = e.record
        if e.topic != "readings" or plant.tags[r["tag"]].kind == "process":
            continue
        for level in (25.0, 50.0, 100.0):
            if r["value"] >= level and level not in first_above[r["tag"]]:
                first_above[r["tag"]][level] = _at_s(r["event_time_ms"])
    combustible = [t for t in plant.tags.values() if t.kind == "gas_combustible"]
    dist = {t.tag: math.hypot(t.x_m - leak["x_m"], t.y_m - leak["y_m"]) for t in combustible}
    crossed = sorted((first_above[t][25.0], t) for t in dist if 25.0 in first_above[t])
    by_distance = sorted(dist, key=dist.get)
    assert [t for _, t in crossed] == ["GD-TF10", "GD-TF09", "GD-TF17", "GD-TF11"]
    assert [t for _, t in crossed] == by_distance[:4]
    assert 20.0 < crossed[0][0] < 30.0
    hh = sorted((first_above[t][50.0], t) for t in dist if 50.0 in first_above[t])
    assert [t for _, t in hh] == ["GD-TF10", "GD-TF09"]
    assert hh[0][0] > crossed[0][0]
    toxic = {t: v[100.0] for t, v in first_above.items() if plant.tags[t].kind == "gas_toxic"}
    assert sorted(toxic, key=toxic.get) == ["TD-TF01", "TD-TF02", "TD-TF04", "TD-TF03"]
    late_gas = [t for t in first_above if first_above[t] and min(first_above[t].values()) > 100]
    assert late_gas == []


def test_overpressure_crosses_h_then_hh_and_recovers(plant: Plant) -> None:
    """GIVEN overpressure WHEN the reactor outlet pressure is read THEN H, HH, then recovery."""
    sim = Simulator(plant, "overpressure", seed=5, rate=1000, start_ms=START_MS)
    series = _readings(_run(sim, 120_000), "PI-R101-OUT")
    tag = plant.tags["PI-R101-OUT"]
    above_h = [t for t, v in series if v >= tag.limits["h"]]
    above_hh = [t for t, v in series if v >= tag.limits["hh"]]
    assert 46.0 < above_h[0] < 49.0
    assert 50.0 < above_hh[0] < 53.0
    assert 66.0 < above_hh[-1] < 67.5
    assert 67.5 < above_h[-1] < 70.0
    assert max(v for _, v in series if 80.0 <= _ < 120.0) < tag.limits["h"]


def test_offpost_operator_leaves_the_control_room_and_the_camera_sees_it(plant: Plant) -> None:
    """GIVEN offpost WHEN the operator's positions are read THEN they leave and come back."""
    sim = Simulator(plant, "offpost", seed=5, start_ms=START_MS)
    events = _run(sim, 180_000)
    track = [
        (_at_s(e.record["event_time_ms"]), e.record["area_code"])
        for e in events
        if e.topic == "positions" and e.record["person_id"] == "P012"
    ]
    assert {a for t, a in track if t < 25} == {"A-CR"}
    assert {a for t, a in track if 45 <= t <= 120} == {None, "A-OF"}
    assert {a for t, a in track if t > 141} == {"A-CR"}
    video = [e.record for e in events if e.topic == "video.events"]
    assert [(v["event_type"], v["camera_id"], _at_s(v["event_time_ms"])) for v in video] == [
        ("off_post", "CAM-CR01", 55.0)
    ]


def test_crowding_puts_more_people_than_the_limit_within_15_m_for_over_a_minute(
    plant: Plant,
) -> None:
    """GIVEN crowding WHEN positions are grouped per 5 s THEN > limit people gather > 1 min."""
    sim = Simulator(plant, "crowding", seed=5, start_ms=START_MS)
    events = _run(sim, 180_000)
    limit = plant.areas["A-LD"].headcount_limit
    windows: dict[int, list[tuple[float, float]]] = defaultdict(list)
    for e in events:
        r = e.record
        if e.topic == "positions" and r["area_code"] == "A-LD":
            windows[(r["event_time_ms"] - START_MS) // 5_000].append((r["x_m"], r["y_m"]))
    crowded = []
    for w, points in sorted(windows.items()):
        near = [p for p in points if math.dist(p, (40.0, 248.0)) <= 7.5]
        if len(near) > limit and all(math.dist(a, b) <= 15.0 for a, b in combinations(near, 2)):
            crowded.append(w)
    assert len(crowded) >= 15  # 15 windows of 5 s: more than a minute
    assert crowded == list(range(crowded[0], crowded[0] + len(crowded)))
    assert [e.record["event_type"] for e in events if e.topic == "video.events"] == ["crowding"]


def test_mixed_timeline_shows_every_scenario_within_two_and_a_half_minutes(plant: Plant) -> None:
    """GIVEN mixed WHEN its timeline is read THEN every scenario part happens before 150 s."""
    timeline = Simulator(plant, "mixed", start_ms=START_MS).scenario_timeline()
    whats = {e["what"] for e in timeline}
    assert {
        "leak_started", "gas_above_h_expected", "gas_above_hh_expected", "leak_isolated",
        "overpressure_started", "pressure_above_h_expected", "pressure_above_hh_expected",
        "operator_left_post", "video_off_post", "crowd_gathered", "crowd_over_one_minute",
        "video_crowding", "sensor_stuck", "sensor_spike", "sensor_dropout_started",
        "sensor_flatline_expected", "sensor_stale_expected", "permit_approved", "permit_started",
        "permit_suspended", "gas_analysis_passed", "inspection_abnormal", "hidden_danger_opened",
    } <= whats  # fmt: skip
    assert max(e["at_s"] for e in timeline) <= 150.0
    assert [e["at_s"] for e in timeline] == sorted(e["at_s"] for e in timeline)
    assert all({"at_s", "what", "tags", "area"} <= set(e) for e in timeline)


def test_mixed_sensor_faults_stick_spike_and_drop_out(mixed_events: list[SimEvent]) -> None:
    """GIVEN mixed WHEN the faulty tags are read THEN stuck, spiking and missing as scripted."""
    stuck = {v for t, v in _readings(mixed_events, "TI-C101-B") if t >= 30.0}
    assert len(stuck) == 1
    spikes = [(t, v) for t, v in _readings(mixed_events, "FI-501") if v >= 130.0]
    assert spikes == [(45.54, 142.5), (47.52, 142.5), (49.5, 142.5)]
    gap = [t for t, _ in _readings(mixed_events, "LI-508") if 59.0 <= t <= 91.0]
    assert max(t for t in gap if t < 60.0) < 60.0
    assert [t for t in gap if 60.0 <= t < 90.0] == []
    assert min(t for t in gap if t >= 90.0) == 90.09


def test_mixed_business_events_follow_the_permit_story(mixed_events: list[SimEvent]) -> None:
    """GIVEN mixed WHEN business records are read THEN permits, analyses and danger line up."""
    permits = [e.record for e in mixed_events if e.topic == "work.permits"]
    hot = [p for p in permits if p["work_type"] == "hot_work"]
    assert [p["status"] for p in hot] == ["approved", "in_progress", "suspended"]
    assert {(p["hot_work_level"], p["area_code"], p["hazard_source_code"]) for p in hot} == {
        ("special", "A-TF", "HS-01")
    }
    analysis = next(
        e.record for e in mixed_events
        if e.topic == "work.gas_analyses" and e.record["permit_id"] == hot[0]["permit_id"]
    )  # fmt: skip
    started = hot[1]["actual_start_ms"]
    assert 0 < started - analysis["sampled_at_ms"] <= 30 * 60_000
    assert analysis["distance_to_work_point_m"] <= 10.0
    assert (analysis["measured_value"], analysis["measured_unit"], analysis["passed"]) == (
        0.05, "%VOL", True
    )  # fmt: skip
    assert hot[0]["planned_end_ms"] - hot[0]["planned_start_ms"] <= 8 * 3_600_000
    confined = [p["status"] for p in permits if p["work_type"] == "confined_space"]
    assert confined == ["approved", "in_progress"]
    dangers = [e.record for e in mixed_events if e.topic == "hidden_dangers"]
    assert [(d["status"], d["source"], d["found_by"]) for d in dangers] == [
        ("open", "inspection", "P017"),
        ("rectifying", "inspection", "P017"),
    ]
    checkins = [e.record for e in mixed_events if e.topic == "inspections"]
    assert [(c["point_id"], c["result"]) for c in checkins if c["result"] != "normal"] == [
        ("IP-TF-02", "abnormal")
    ]


def test_transport_fault_counts_are_exact_and_reproducible(plant: Plant) -> None:
    """GIVEN seed 42 and 1-2 % fault rates WHEN 60 s run twice THEN the same exact counts."""

    def count() -> Counter:
        sim = Simulator(plant, "normal", seed=42, rate=1000, start_ms=START_MS, faults=FAULTS)
        return Counter(e.fault for e in _run(sim, 60_000, 100) if e.topic == "readings")

    first = count()
    assert first == count()
    assert dict(first) == SNAPSHOT
    malformed = [first[k] for k in MALFORMED_KINDS]
    assert malformed == sorted(malformed, reverse=True)  # spread round-robin, in this order
    assert max(malformed) - min(malformed) <= 1


def test_malformed_readings_are_invalid_the_way_their_fault_says(
    mixed_events: list[SimEvent],
) -> None:
    """GIVEN mixed with malformed faults WHEN each kind is inspected THEN it is invalid that way."""
    schema = _schema_validators()["readings"]
    tags = set(load_plant().tags)
    by_kind: dict[str, list[SimEvent]] = defaultdict(list)
    for e in mixed_events:
        if e.fault in MALFORMED_KINDS:
            by_kind[e.fault].append(e)
    assert set(by_kind) == set(MALFORMED_KINDS)
    for kind, evs in by_kind.items():
        for e in evs:
            assert (e.record is None) != (e.raw is None)
            if kind == "malformed_json":
                with pytest.raises(orjson.JSONDecodeError):
                    orjson.loads(e.raw)
                with pytest.raises(ValueError):
                    json.loads(e.raw)
            elif kind == "non_finite_value":
                value = json.loads(e.raw)["value"]
                assert not math.isfinite(value)
            elif kind == "oversized":
                assert len(e.raw) > 64 * 1024
            elif kind in ("wrong_type", "missing_field"):
                assert not schema.is_valid(e.record)
            elif kind == "unknown_tag":
                assert schema.is_valid(e.record) and e.record["tag"] not in tags
            else:
                assert schema.is_valid(e.record)
                at = e.record["event_time_ms"]
                if kind == "future_timestamp":  # sampled within the 150 s run, sent 10 min ahead
                    assert START_MS + 600_000 < at <= START_MS + 750_000
                else:
                    assert at < START_MS - 8 * 86_400_000
    wrong = [e.record["value"] for e in by_kind["wrong_type"]]
    assert all(isinstance(v, str) for v in wrong)


def test_late_and_out_of_order_readings_arrive_after_newer_ones(plant: Plant) -> None:
    """GIVEN late and out-of-order faults WHEN streamed THEN they arrive 30 s / under 2.2 s late."""
    faults = TransportFaults(late_rate=0.01, late_by_s=30, out_of_order_rate=0.01)
    sim = Simulator(plant, "normal", seed=9, rate=1000, start_ms=START_MS, faults=faults)
    clock = START_MS
    lateness: dict[str, list[int]] = defaultdict(list)
    for _ in range(600):
        for e in sim.tick(100):
            if e.topic != "readings":
                continue
            t = e.record["event_time_ms"]
            if e.fault in ("late", "out_of_order"):
                lateness[e.fault].append(clock - t)
            else:
                clock = max(clock, t)
    assert len(lateness["late"]) > 100 and len(lateness["out_of_order"]) > 100
    assert min(lateness["late"]) >= 30_000 - 198 and max(lateness["late"]) <= 30_000
    assert min(lateness["out_of_order"]) >= 0 and max(lateness["out_of_order"]) <= 1_200


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"scenario": "flood"}, "unknown scenario 'flood'; choose one of " + ", ".join(SCENARIOS)),
        ({"rate": 0}, "rate must be > 0 readings per second, got 0"),
        ({"rate": float("nan")}, "rate must be a finite number of readings per second, got nan"),
        (
            {"rate": 500_000},
            "rate 500000/s is too high for 198 tags: each tag would be sampled more than once "
            "per millisecond (maximum 198000/s)",
        ),
    ],
)
def test_invalid_arguments_raise_a_clear_value_error(
    plant: Plant, kwargs: dict[str, Any], message: str
) -> None:
    """GIVEN an invalid scenario or rate WHEN constructing THEN ValueError says what is wrong."""
    with pytest.raises(ValueError) as excinfo:
        Simulator(plant, **kwargs)
    assert str(excinfo.value) == message


def test_invalid_transport_faults_raise_a_clear_value_error() -> None:
    """GIVEN impossible fault rates WHEN constructing TransportFaults THEN ValueError."""
    with pytest.raises(ValueError) as excinfo:
        TransportFaults(duplicate_rate=1.5)
    assert str(excinfo.value) == "duplicate_rate must be a probability in [0, 1], got 1.5"
    with pytest.raises(ValueError) as excinfo:
        TransportFaults(duplicate_rate=0.6, malformed_rate=0.6)
    assert str(excinfo.value) == "transport fault rates add up to 1.2, above 1"


def _replayed(scenario: str, rate: float, seconds: int):
    from pipelines.alarms.config import TagConfig
    from pipelines.alarms.replay import replay

    plant = load_plant()
    configs = {r["tag"]: TagConfig.from_dict(r) for r in plant.tag_records()}
    sim = Simulator(plant, scenario=scenario, seed=7, rate=rate, start_ms=1_800_000_000_000)
    rows = []
    for _ in range(seconds * 10):
        for ev in sim.tick(100):
            if ev.topic == "readings" and ev.record is not None:
                rows.append((ev.record["event_time_ms"], ev.record["tag"], ev.record["value"]))
    return replay(configs, rows)


@pytest.mark.parametrize("rate", [200.0, 1000.0, 5000.0])
def test_normal_plant_raises_no_alarm_in_the_engine_at_any_rate(rate):
    """GIVEN the `normal` scenario at several sampling rates WHEN replayed through the alarm
    engine THEN nothing is raised: not a limit, and not ROC between consecutive samples."""
    assert [t for t in _replayed("normal", rate, 30) if t.event == "raised"] == []


def test_mixed_scenario_raises_the_scripted_alarms():
    """GIVEN `mixed` for 120 s WHEN replayed THEN the scripted events raise their alarms: the leak's
    nearest detector first, the overpressure's H then HH, the dropout's STALE, the stuck
    FLATLINE."""
    raised = [t for t in _replayed("mixed", 1000.0, 120) if t.event == "raised"]
    first = {}
    for t in raised:
        first.setdefault((t.tag, t.condition), t.ts_ms)
    assert first[("GD-TF10", "H")] < first[("GD-TF09", "H")] < first[("GD-TF17", "H")]
    assert first[("PI-R101-OUT", "H")] < first[("PI-R101-OUT", "HH")]
    assert ("LI-508", "STALE") in first
    assert ("TI-C101-B", "FLATLINE") in first
