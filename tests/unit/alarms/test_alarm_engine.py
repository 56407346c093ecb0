"""Rules of the per-tag alarm engine; every expected transition is derived by hand."""

from __future__ import annotations

import math
import pickle

from pipelines.alarms.config import TagConfig
from pipelines.alarms.engine import TagAlarmState, Transition, episode_id

S = 1000  # ms per second


def process(**kwargs: object) -> TagAlarmState:
    """Return a fresh state for a process tag TI-101 with the given config fields."""
    return TagAlarmState(TagConfig(tag="TI-101", **kwargs))  # type: ignore[arg-type]


def feed(state: TagAlarmState, readings: list[tuple[int, float | None]]) -> list[Transition]:
    """Return all transitions of readings fed in order."""
    out: list[Transition] = []
    for ts, value in readings:
        out.extend(state.on_reading(ts, value))
    return out


def tr(
    cond: str,
    event: str,
    ts: int,
    value: float | None,
    limit: float | None,
    priority: str | None = "medium",
    alarm_class: str = "process",
    tag: str = "TI-101",
) -> Transition:
    """Return an expected transition."""
    return Transition(tag, cond, event, ts, value, limit, priority, alarm_class)


# -- high limits ---------------------------------------------------------------------------------


def test_value_exactly_at_high_limit_raises() -> None:
    """GIVEN H=80 WHEN 79.9 then exactly 80.0 arrive THEN H is raised at the 80.0 reading (>=)."""
    state = process(limits={"H": 80})
    assert state.on_reading(0, 79.9) == []
    assert state.on_reading(1 * S, 80.0) == [tr("H", "raised", 1 * S, 80.0, 80.0)]
    assert state.active == {"H": 1 * S}


def test_value_exactly_at_limit_minus_deadband_does_not_return() -> None:
    """GIVEN active H=80 with deadband 2 WHEN 78.0 then 77.99 THEN only 77.99 clears (< X-d)."""
    state = process(limits={"H": 80}, deadband=2)
    assert state.on_reading(0, 85.0) == [tr("H", "raised", 0, 85.0, 80.0)]
    assert state.on_reading(1 * S, 78.0) == []
    assert state.on_reading(2 * S, 79.5) == []
    assert state.on_reading(3 * S, 77.99) == [tr("H", "cleared", 3 * S, 77.99, 80.0)]
    assert state.active == {}


def test_delay_on_restarts_after_an_interrupting_reading() -> None:
    """GIVEN H=80 delay_on 10 s WHEN a run is broken by 79 THEN the 10 s count from the next run."""
    state = process(limits={"H": 80}, delay_on_s=10)
    transitions = feed(
        state,
        [
            (0, 81.0),  # r0 of the first run
            (5 * S, 79.0),  # not violating: the first run ends
            (8 * S, 82.0),  # r0 of the second run
            (15 * S, 83.0),  # 7 s: not yet
            (17 * S, 90.0),  # 9 s: not yet (would be 17 s from the first run)
            (18 * S, 84.0),  # 10 s: raised here
        ],
    )
    assert transitions == [tr("H", "raised", 18 * S, 84.0, 80.0)]


def test_delay_on_raises_when_elapsed_equals_delay_exactly() -> None:
    """GIVEN H=80 delay_on 10 s WHEN violating at 0, 9.999 s, 10 s THEN raised at exactly 10 s."""
    state = process(limits={"H": 80}, delay_on_s=10)
    assert state.on_reading(0, 81.0) == []
    assert state.on_reading(9_999, 81.0) == []
    assert state.on_reading(10 * S, 81.0) == [tr("H", "raised", 10 * S, 81.0, 80.0)]


def test_delay_on_single_violating_reading_never_raises() -> None:
    """GIVEN H=80 delay_on 10 s WHEN one violating reading, then normal ones THEN no raise."""
    state = process(limits={"H": 80}, delay_on_s=10)
    assert feed(state, [(0, 95.0), (20 * S, 70.0), (40 * S, 70.0)]) == []


def test_delay_off_restarts_after_a_reading_that_does_not_return() -> None:
    """GIVEN active H=80 delay_off 10 s WHEN the return run is broken THEN it clears 10 s later."""
    state = process(limits={"H": 80}, deadband=1, delay_off_s=10)
    transitions = feed(
        state,
        [
            (0, 81.0),  # raised (delay_on 0)
            (1 * S, 78.0),  # r1 of the first return run
            (6 * S, 79.5),  # inside the deadband: does not return, run ends
            (7 * S, 78.5),  # r1 of the second return run
            (16_999, 70.0),  # 9.999 s: not yet
            (17 * S, 78.9),  # 10 s exactly: cleared
        ],
    )
    assert transitions == [
        tr("H", "raised", 0, 81.0, 80.0),
        tr("H", "cleared", 17 * S, 78.9, 80.0),
    ]


def test_delay_on_and_off_together() -> None:
    """GIVEN H=80 delay_on 5 s delay_off 5 s WHEN a spike and a dip THEN both are filtered out."""
    state = process(limits={"H": 80}, delay_on_s=5, delay_off_s=5)
    transitions = feed(
        state,
        [
            (0, 85.0),
            (3 * S, 70.0),  # spike of 3 s: filtered
            (10 * S, 85.0),
            (15 * S, 85.0),  # raised at 15 s
            (16 * S, 70.0),
            (18 * S, 85.0),  # dip of 2 s: filtered
            (20 * S, 70.0),
            (25 * S, 70.0),  # cleared at 25 s
        ],
    )
    assert transitions == [
        tr("H", "raised", 15 * S, 85.0, 80.0),
        tr("H", "cleared", 25 * S, 70.0, 80.0),
    ]


# -- low limits ----------------------------------------------------------------------------------


def test_low_limits_mirror_high_limits() -> None:
    """GIVEN L=20 LL=10 deadband 1 WHEN falling to 20, 10, then rising THEN mirrored rules."""
    state = process(limits={"LL": 10, "L": 20}, deadband=1)
    assert state.on_reading(0, 20.01) == []
    assert state.on_reading(1 * S, 20.0) == [tr("L", "raised", 1 * S, 20.0, 20.0)]
    assert state.on_reading(2 * S, 10.0) == [tr("LL", "raised", 2 * S, 10.0, 10.0, "high")]
    assert state.on_reading(3 * S, 11.0) == []  # exactly X+d: does not return
    assert state.on_reading(4 * S, 11.5) == [tr("LL", "cleared", 4 * S, 11.5, 10.0, "high")]
    assert state.on_reading(5 * S, 21.0) == []
    assert state.on_reading(6 * S, 21.01) == [tr("L", "cleared", 6 * S, 21.01, 20.0)]


def test_low_limits_with_delays() -> None:
    """GIVEN L=20 delay_on 5 s delay_off 5 s WHEN low 5 s then back 5 s THEN raise, clear."""
    state = process(limits={"L": 20}, delay_on_s=5, delay_off_s=5)
    transitions = feed(
        state,
        [(0, 19.0), (4 * S, 18.0), (5 * S, 18.5), (6 * S, 25.0), (10 * S, 20.0), (11 * S, 25.0)],
    )
    # 10 s is 20.0 <= L: not returning, so the return run restarts at 11 s and is not yet 5 s old.
    assert transitions == [tr("L", "raised", 5 * S, 18.5, 20.0)]
    assert state.on_reading(16 * S, 24.0) == [tr("L", "cleared", 16 * S, 24.0, 20.0)]


def test_both_limits_raised_by_one_reading_come_in_condition_order() -> None:
    """GIVEN LL and L WHEN one reading is below both THEN LL comes before L in the result."""
    state = process(limits={"LL": 10, "L": 20})
    assert state.on_reading(0, 5.0) == [
        tr("LL", "raised", 0, 5.0, 10.0, "high"),
        tr("L", "raised", 0, 5.0, 20.0),
    ]


def test_h_and_hh_are_independent() -> None:
    """GIVEN H=80 HH=90 WHEN 95, 85, 70 THEN both raised together, HH cleared first, then H."""
    state = process(limits={"H": 80, "HH": 90})
    assert state.on_reading(0, 95.0) == [
        tr("H", "raised", 0, 95.0, 80.0),
        tr("HH", "raised", 0, 95.0, 90.0, "high"),
    ]
    assert state.on_reading(1 * S, 85.0) == [tr("HH", "cleared", 1 * S, 85.0, 90.0, "high")]
    assert state.active == {"H": 0}
    assert state.on_reading(2 * S, 92.0) == [tr("HH", "raised", 2 * S, 92.0, 90.0, "high")]
    assert state.on_reading(3 * S, 70.0) == [
        tr("H", "cleared", 3 * S, 70.0, 80.0),
        tr("HH", "cleared", 3 * S, 70.0, 90.0, "high"),
    ]


# -- rate of change ------------------------------------------------------------------------------


def test_roc_raises_above_rate_and_clears_at_equal_rate() -> None:
    """GIVEN roc 6/min WHEN rates 6, 7, 6 /min THEN not raised at 6, raised at 7, cleared at 6."""
    state = process(roc_per_min=6)
    assert state.on_reading(0, 50.0) == []  # no previous reading: no rate
    assert state.on_reading(60 * S, 56.0) == []  # 6/min: not above
    assert state.on_reading(120 * S, 63.0) == [tr("ROC", "raised", 120 * S, 63.0, 6.0)]
    assert state.on_reading(150 * S, 60.0) == [tr("ROC", "cleared", 150 * S, 60.0, 6.0)]


def test_roc_stays_active_while_rate_is_above_limit() -> None:
    """GIVEN roc 6/min active WHEN the next rate is 8/min (falling) THEN no new transition."""
    state = process(roc_per_min=6)
    assert feed(state, [(0, 0.0), (30 * S, 10.0)]) == [tr("ROC", "raised", 30 * S, 10.0, 6.0)]
    assert state.on_reading(60 * S, 6.0) == []  # |6-10| per 0.5 min = 8/min
    assert state.on_reading(120 * S, 6.0) == [tr("ROC", "cleared", 120 * S, 6.0, 6.0)]


def test_roc_skips_equal_timestamps_and_uses_the_latest_value() -> None:
    """GIVEN roc 6/min WHEN two readings share a ts THEN no rate, the later one is the previous."""
    state = process(roc_per_min=6)
    assert state.on_reading(0, 50.0) == []
    assert state.on_reading(0, 100.0) == []  # equal ts: rate skipped
    assert state.on_reading(60 * S, 103.0) == []  # 3/min against 100 (would be 53/min vs 50)


def test_roc_previous_reading_is_the_previous_finite_one() -> None:
    """GIVEN roc 6/min WHEN a NaN sits between 50 at 0 s and 57 at 60 s THEN rate 7/min raises."""
    state = process(roc_per_min=6)
    assert feed(state, [(0, 50.0), (30 * S, math.nan), (60 * S, 57.0)]) == [
        tr("ROC", "raised", 60 * S, 57.0, 6.0)
    ]


# -- bad quality ---------------------------------------------------------------------------------


def test_nan_and_none_change_nothing_and_count_as_bad_quality() -> None:
    """GIVEN H=80 delay_on 10 s WHEN NaN/None/inf interrupt a violating run THEN the run goes on."""
    state = process(limits={"H": 80}, delay_on_s=10)
    assert state.on_reading(0, 81.0) == []
    assert state.on_reading(5 * S, math.nan) == []
    assert state.on_reading(6 * S, None) == []
    assert state.on_reading(7 * S, math.inf) == []
    assert state.on_reading(10 * S, 81.0) == [tr("H", "raised", 10 * S, 81.0, 80.0)]
    assert state.bad_quality_count == 3
    assert state.on_reading(11 * S, None) == []  # does not clear either
    assert state.active == {"H": 10 * S}
    assert state.bad_quality_count == 4


def test_out_of_order_reading_is_dropped_and_counted() -> None:
    """GIVEN a reading at 10 s WHEN one at 5 s arrives THEN it is ignored and counted."""
    state = process(limits={"H": 80})
    assert state.on_reading(10 * S, 70.0) == []
    assert state.on_reading(5 * S, 99.0) == []
    assert state.out_of_order_count == 1
    assert state.active == {}


# -- gas tags ------------------------------------------------------------------------------------


def test_gas_tag_uses_gas_class_and_gas_priorities() -> None:
    """GIVEN a combustible detector, default limits WHEN 25 then 50 %LEL THEN H high, HH crit."""
    state = TagAlarmState(TagConfig(tag="GT-201", kind="gas_combustible", unit="%LEL"))
    assert state.on_reading(0, 24.9) == []
    assert state.on_reading(1 * S, 25.0) == [
        tr("H", "raised", 1 * S, 25.0, 25.0, "high", "gas", "GT-201")
    ]
    assert state.on_reading(2 * S, 50.0) == [
        tr("HH", "raised", 2 * S, 50.0, 50.0, "critical", "gas", "GT-201")
    ]


def test_oxygen_low_and_high_defaults() -> None:
    """GIVEN an oxygen detector WHEN 19.5 then 23.5 %vol THEN L raised, cleared, H raised."""
    state = TagAlarmState(TagConfig(tag="AT-301", kind="oxygen", unit="%VOL"))
    assert state.on_reading(0, 19.5) == [
        tr("L", "raised", 0, 19.5, 19.5, "medium", "gas", "AT-301")
    ]
    assert state.on_reading(1 * S, 23.5) == [
        tr("L", "cleared", 1 * S, 23.5, 19.5, "medium", "gas", "AT-301"),
        tr("H", "raised", 1 * S, 23.5, 23.5, "high", "gas", "AT-301"),
    ]


# -- sensor health -------------------------------------------------------------------------------


def test_stale_raised_by_on_time_after_more_than_stale_after_and_cleared_by_a_reading() -> None:
    """GIVEN expected_interval 10 s (stale 30 s) WHEN time passes THEN STALE >30 s, clear next."""
    state = process(expected_interval_s=10)
    assert state.on_time(10**9) == []  # no reading yet: nothing to be stale about
    assert state.on_reading(0, 1.0) == []
    assert state.next_timer_ms() == 30_001
    assert state.on_time(30 * S) == []  # exactly 30 s: not longer than
    assert state.on_time(30_001) == [
        tr("STALE", "raised", 30_001, None, None, "low", "sensor_health")
    ]
    assert state.on_time(40 * S) == []  # already active
    assert state.next_timer_ms() is None
    assert state.on_reading(45 * S, 2.0) == [
        tr("STALE", "cleared", 45 * S, 2.0, None, "low", "sensor_health")
    ]
    assert state.next_timer_ms() == 75_001


def test_stale_event_time_is_now_ms_of_on_time() -> None:
    """GIVEN stale_after 30 s WHEN on_time is first called at 100 s THEN STALE raised at 100 s."""
    state = process(stale_after_s=30, expected_interval_s=1)  # explicit stale_after wins over 3x
    state.on_reading(0, 1.0)
    assert state.on_time(100 * S) == [
        tr("STALE", "raised", 100 * S, None, None, "low", "sensor_health")
    ]


def test_bad_readings_neither_refresh_nor_clear_stale() -> None:
    """GIVEN stale 30 s WHEN only NaN/None arrive after the last value THEN STALE raises, stays."""
    state = process(stale_after_s=30)
    state.on_reading(0, 1.0)
    assert state.on_reading(20 * S, None) == []
    assert state.on_time(30_001) == [
        tr("STALE", "raised", 30_001, None, None, "low", "sensor_health")
    ]
    assert state.on_reading(40 * S, math.nan) == []
    assert "STALE" in state.active


def test_stale_disabled_without_interval_or_stale_after() -> None:
    """GIVEN no expected_interval_s and no stale_after_s WHEN a day passes THEN no STALE."""
    state = process()
    state.on_reading(0, 1.0)
    assert state.on_time(86_400 * S) == []
    assert state.next_timer_ms() is None


def test_flatline_raises_after_more_than_flatline_after_and_clears_on_change() -> None:
    """GIVEN flatline 60 s WHEN 5.0 repeats THEN raised at >60 s, cleared at the first change."""
    state = process(flatline_after_s=60)
    health = {"priority": "low", "alarm_class": "sensor_health"}
    assert feed(state, [(0, 5.0), (30 * S, 5.0), (60 * S, 5.0)]) == []  # exactly 60 s: not yet
    assert state.on_reading(60_001, 5.0) == [tr("FLATLINE", "raised", 60_001, 5.0, None, **health)]
    assert state.on_reading(90 * S, 5.0) == []
    assert state.on_reading(100 * S, 5.1) == [
        tr("FLATLINE", "cleared", 100 * S, 5.1, None, **health)
    ]
    # the changed value starts a new run
    assert state.on_reading(160 * S, 5.1) == []
    assert state.on_reading(160_001, 5.1) == [
        tr("FLATLINE", "raised", 160_001, 5.1, None, **health)
    ]


def test_flatline_run_restarts_on_any_change() -> None:
    """GIVEN flatline 60 s WHEN the value changes at 50 s and back THEN the run starts again."""
    state = process(flatline_after_s=60)
    assert feed(state, [(0, 5.0), (50 * S, 5.2), (55 * S, 5.0), (110 * S, 5.0)]) == []
    assert state.on_reading(115_001, 5.0)[0].condition == "FLATLINE"


def test_range_raises_outside_and_clears_inside() -> None:
    """GIVEN range [0, 100] WHEN 100, 100.5, -1, 0 THEN raised at 100.5 (bound 100), clear at 0."""
    state = process(range_low=0, range_high=100)
    health = {"priority": "low", "alarm_class": "sensor_health"}
    assert state.on_reading(0, 100.0) == []  # the bounds are inside
    assert state.on_reading(1 * S, 100.5) == [tr("RANGE", "raised", 1 * S, 100.5, 100.0, **health)]
    assert state.on_reading(2 * S, -1.0) == []  # still outside (other side): same episode
    assert state.on_reading(3 * S, 0.0) == [tr("RANGE", "cleared", 3 * S, 0.0, 100.0, **health)]
    assert state.on_reading(4 * S, -0.1) == [tr("RANGE", "raised", 4 * S, -0.1, 0.0, **health)]


def test_range_with_only_a_low_bound() -> None:
    """GIVEN range_low 4 only WHEN 3.9 THEN RANGE raised with limit 4."""
    state = process(range_low=4)
    assert state.on_reading(0, 1000.0) == []
    assert state.on_reading(1 * S, 3.9) == [
        tr("RANGE", "raised", 1 * S, 3.9, 4.0, "low", "sensor_health")
    ]


# -- ordering, episodes, pickling ----------------------------------------------------------------


def test_one_reading_transitions_follow_condition_order() -> None:
    """GIVEN five conditions WHEN one big jump THEN H, HH, ROC, STALE, RANGE in that order."""
    state = process(
        limits={"H": 80, "HH": 90}, roc_per_min=10, stale_after_s=30, range_low=0, range_high=100
    )
    state.on_reading(0, 50.0)
    state.on_time(40 * S)
    assert [(t.condition, t.event) for t in state.on_reading(60 * S, 120.0)] == [
        ("H", "raised"),
        ("HH", "raised"),
        ("ROC", "raised"),
        ("STALE", "cleared"),
        ("RANGE", "raised"),
    ]


def test_episode_ids_tie_a_clear_to_its_raise() -> None:
    """GIVEN H raised at 1 s WHEN it clears at 5 s THEN both carry episode TI-101:H:1000."""
    state = process(limits={"H": 80})
    raised = state.on_reading(1 * S, 85.0)[0]
    assert state.active == {"H": 1 * S}
    cleared = state.on_reading(5 * S, 70.0)[0]
    assert episode_id("TI-101", "H", 1000) == "TI-101:H:1000"
    assert raised.episode_id == cleared.episode_id == "TI-101:H:1000"
    assert (raised.raised_ts_ms, cleared.raised_ts_ms) == (1000, 1000)
    assert cleared.event_id == "TI-101:H:1000:cleared"


def test_pickled_state_mid_episode_continues_identically() -> None:
    """GIVEN a state pickled mid-episode WHEN both copies get the rest THEN same transitions."""
    config = TagConfig(
        tag="TI-101",
        limits={"H": 80, "HH": 90},
        deadband=2,
        delay_on_s=5,
        delay_off_s=5,
        roc_per_min=120,
        stale_after_s=20,
        flatline_after_s=15,
    )
    original = TagAlarmState(config)
    # rates stay <= 120/min until the jump at 41 s (84, 0 and 96 /min)
    first = [(0, 78.0), (5 * S, 85.0), (10 * S, 85.0), (12 * S, None), (15 * S, 77.0)]
    second = [(18 * S, 77.0), (20 * S, 77.0), (31 * S, 77.0), (40 * S, 77.0), (41 * S, 95.0)]
    before = feed(original, first)
    assert before == [tr("H", "raised", 10 * S, 85.0, 80.0)]  # 5 s after 85 at 5 s
    copy = pickle.loads(pickle.dumps(original))
    assert copy.active == {"H": 10 * S} and copy.bad_quality_count == 1
    rest = feed(original, second)
    assert feed(copy, second) == rest
    assert original.on_time(200 * S) == copy.on_time(200 * S)
    assert rest == [
        # the return run started at 15 s: 20 s is 5 s later
        tr("H", "cleared", 20 * S, 77.0, 80.0),
        # 77.0 unchanged since 15 s: 31 s is 16 s > 15 s
        tr("FLATLINE", "raised", 31 * S, 77.0, None, "low", "sensor_health"),
        # 18 in 1 s = 1080/min > 120/min; H and HH need 5 s of violation first
        tr("ROC", "raised", 41 * S, 95.0, 120.0),
        tr("FLATLINE", "cleared", 41 * S, 95.0, None, "low", "sensor_health"),
    ]
    assert rest[0].episode_id == "TI-101:H:10000"
