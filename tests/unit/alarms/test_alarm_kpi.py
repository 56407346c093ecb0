"""ISA-18.2 alarm KPIs over constructed event sets; every number is computed by hand."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pipelines.alarms.kpi import alarm_kpis

T0 = 1_714_521_600_000  # 2024-05-01T00:00:00Z
S = 1000
MIN = 60 * S
HOUR = 60 * MIN


def ev(
    tag: str, cond: str, at_ms: int, event: str = "raised", priority: str | None = "low"
) -> dict:
    """Return an event dict with an integer ts_ms relative to T0."""
    return {
        "tag": tag,
        "condition": cond,
        "event": event,
        "ts_ms": T0 + at_ms,
        "priority": priority,
    }


def test_every_kpi_on_a_small_event_set() -> None:
    """GIVEN 7 raised events in 30 min WHEN KPIs computed THEN each figure as derived by hand."""
    events = [
        ev("TI-101", "H", 1 * MIN, priority="medium"),
        ev("TI-101", "H", 2 * MIN, "cleared", "medium"),  # clears are not annunciated
        ev("TI-101", "H", 3 * MIN, priority="medium"),
        ev("TI-101", "H", 3 * MIN + 30 * S, "cleared", "medium"),
        ev("TI-101", "H", 25 * MIN, priority="medium"),
        ev("PT-201", "HH", 12 * MIN, priority="high"),
        ev("GT-301", "H", 0),
        ev("GT-301", "H", 20 * S),
        ev("GT-301", "H", 50 * S),
    ]
    assert alarm_kpis(events, T0, T0 + 30 * MIN) == {
        "annunciated": 7,
        "windows": 3,
        "avg_per_10min": 2.33,  # 7 / 3
        "max_per_10min": 5,  # window [0, 10 min): TI-101 x2, GT-301 x3
        "flood_windows": 0,
        "flood_pct": 0.0,
        "chattering": [{"tag": "GT-301", "condition": "H"}],  # third raise 50 s after the first
        "stale": [],
        "top10_share_pct": 100.0,
        "priority_split_pct": {"critical": 0.0, "high": 14.29, "medium": 42.86, "low": 42.86},
    }


def test_windows_are_aligned_at_the_period_start() -> None:
    """GIVEN T0 = 00:05 WHEN raises at 00:09 and 00:11 THEN they share the first window."""
    t0 = T0 + 5 * MIN
    events = [ev("A", "H", 9 * MIN), ev("A", "H", 11 * MIN), ev("A", "H", 15 * MIN)]
    result = alarm_kpis(events, t0, t0 + 20 * MIN)
    # [00:05, 00:15) holds 00:09 and 00:11; 00:15 opens the second window
    assert (result["windows"], result["max_per_10min"], result["annunciated"]) == (2, 2, 3)


def test_flood_boundary_nine_is_not_a_flood_ten_is() -> None:
    """GIVEN 9 raises in window 0 and 10 in window 1 WHEN KPIs computed THEN one flood window."""
    events = [ev(f"T-{i}", "H", i * S) for i in range(9)]
    events += [ev(f"T-{i}", "H", 10 * MIN + i * S) for i in range(10)]
    result = alarm_kpis(events, T0, T0 + 20 * MIN)
    assert result["flood_windows"] == 1
    assert result["flood_pct"] == 50.0
    assert (result["max_per_10min"], result["avg_per_10min"]) == (10, 9.5)


def test_partial_last_window_counts_as_a_window() -> None:
    """GIVEN a 25-minute period WHEN KPIs computed THEN 3 windows, the last 5 minutes long."""
    events = [ev("A", "H", 24 * MIN)]
    result = alarm_kpis(events, T0, T0 + 25 * MIN)
    assert result["windows"] == 3
    assert result["avg_per_10min"] == 0.33


def test_chattering_boundary_sixty_seconds_counts_sixty_one_does_not() -> None:
    """GIVEN pairs whose third raise is 60 s / 61 s after the first WHEN KPIs THEN only the 60 s."""
    events = [
        ev("A-1", "HH", 0),
        ev("A-1", "HH", 30 * S),
        ev("A-1", "HH", 60 * S),  # exactly 60 s after the first: chattering
        ev("B-2", "H", 0),
        ev("B-2", "H", 30 * S),
        ev("B-2", "H", 61 * S),  # 61 s: not chattering
        ev("A-1", "H", 5 * MIN),
        ev("A-1", "H", 5 * MIN + 61 * S),
        ev("A-1", "H", 5 * MIN + 90 * S),
        ev("A-1", "H", 5 * MIN + 121 * S),  # raises 2..4 span exactly 60 s: chattering
        ev("C-3", "L", 0),
        ev("C-3", "L", 10 * S),  # only two raises: not chattering
    ]
    result = alarm_kpis(events, T0, T0 + HOUR)
    assert result["chattering"] == [
        {"tag": "A-1", "condition": "H"},  # condition order: H before HH
        {"tag": "A-1", "condition": "HH"},
    ]


def test_stale_boundary_and_events_before_the_period() -> None:
    """GIVEN raises before T0, some cleared WHEN KPIs at T1 THEN stale only if active > 24 h."""
    t1 = T0 + HOUR
    day = 24 * HOUR
    events = [
        ev("A-1", "H", t1 - T0 - day - 1),  # active 24 h + 1 ms at T1: stale
        ev("B-2", "H", t1 - T0 - day),  # active exactly 24 h: not stale
        ev("C-3", "H", -30 * HOUR),
        ev("C-3", "H", -1 * HOUR, "cleared"),  # cleared before T1: not stale
        ev("D-4", "HH", -30 * HOUR),
        ev("D-4", "HH", HOUR, "cleared"),  # cleared at T1, outside [T0, T1): still stale
        ev("E-5", "L", -30 * HOUR),
        ev("E-5", "L", -29 * HOUR),  # a second raise without a clear keeps the first raise time
        ev("E-5", "L", -1 * HOUR, "cleared"),
    ]
    result = alarm_kpis(events, T0, t1)
    assert result["stale"] == [{"tag": "A-1", "condition": "H"}, {"tag": "D-4", "condition": "HH"}]
    # events before T0 count only for stale
    assert result["annunciated"] == 0
    assert result["max_per_10min"] == 0
    assert result["top10_share_pct"] == 0.0
    assert result["priority_split_pct"] == {"critical": 0.0, "high": 0.0, "medium": 0.0, "low": 0.0}


def test_stale_counts_a_raise_inside_the_period() -> None:
    """GIVEN a 48 h period and a raise 25 h before its end WHEN KPIs THEN stale and annunciated."""
    result = alarm_kpis([ev("A-1", "H", 23 * HOUR)], T0, T0 + 48 * HOUR)
    assert result["stale"] == [{"tag": "A-1", "condition": "H"}]
    assert result["annunciated"] == 1


def test_top10_share_uses_the_ten_most_frequent_pairs() -> None:
    """GIVEN one pair raised 5 times and 11 pairs once WHEN KPIs THEN (5 + 9) / 16 = 87.5 %."""
    events = [ev("TOP", "H", i * MIN) for i in range(5)]
    events += [ev(f"T-{i:02d}", "H", 30 * MIN + i * S) for i in range(11)]
    result = alarm_kpis(events, T0, T0 + HOUR)
    assert result["annunciated"] == 16
    assert result["top10_share_pct"] == 87.5


def test_priority_split_keeps_unknown_and_missing_priorities() -> None:
    """GIVEN raises with critical, null and 'urgent' priorities WHEN KPIs THEN all are shown."""
    events = [
        ev("A", "H", 0, priority="critical"),
        {"tag": "B", "condition": "H", "event": "raised", "ts_ms": T0, "priority": None},
        ev("C", "H", 0, priority="urgent"),
        ev("D", "H", 0, priority="low"),
    ]
    assert alarm_kpis(events, T0, T0 + HOUR)["priority_split_pct"] == {
        "critical": 25.0,
        "high": 0.0,
        "medium": 0.0,
        "low": 25.0,
        "none": 25.0,
        "urgent": 25.0,
    }


def test_iso_ts_events_and_datetime_bounds_equal_ts_ms_events() -> None:
    """GIVEN replay-shaped events with ISO ts WHEN KPIs with datetime bounds THEN same as ts_ms."""
    iso = [
        {"tag": "A", "condition": "H", "event": "raised", "ts": "2024-05-01T08:01:00+08:00"},
        {"tag": "A", "condition": "H", "event": "raised", "ts": "2024-05-01T00:59:59.999Z"},
        {"tag": "A", "condition": "H", "event": "raised", "ts": "2024-05-01T01:00:00+00:00"},
    ]
    ms = [ev("A", "H", 1 * MIN, priority=None), ev("A", "H", HOUR - 1, priority=None)]
    start = datetime(2024, 5, 1, tzinfo=UTC)
    end = "2024-05-01T09:00:00+08:00"
    assert alarm_kpis(iso, start, end) == alarm_kpis(ms, T0, T0 + HOUR)
    assert alarm_kpis(iso, start, end)["annunciated"] == 2  # the raise at T1 is outside [T0, T1)


def test_bad_period_or_event_raises_value_error() -> None:
    """GIVEN end <= start or an event without ts WHEN KPIs THEN ValueError naming the problem."""
    with pytest.raises(ValueError, match="end must be after start"):
        alarm_kpis([], T0, T0)
    with pytest.raises(ValueError, match=r"^event 1: event has no ts"):
        alarm_kpis([{"tag": "A", "condition": "H", "event": "raised"}], T0, T0 + HOUR)


@pytest.mark.parametrize(
    ("annunciated", "band"),
    [
        (0, "very_likely_acceptable"),
        (144, "very_likely_acceptable"),
        (145, "maximum_manageable"),
        (288, "maximum_manageable"),
        (289, "over_maximum"),
    ],
)
def test_alarm_rate_band_bounds_belong_to_the_lower_band(annunciated: int, band: str) -> None:
    """GIVEN a day of 144 windows WHEN `annunciated` raises are banded THEN 144 (1 per window)
    is still very likely acceptable and 288 (2 per window) still maximum manageable."""
    from pipelines.alarms.kpi import alarm_rate_band

    assert alarm_rate_band(annunciated, 144) == band
