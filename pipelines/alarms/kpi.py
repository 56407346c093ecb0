"""ISA-18.2 / EEMUA 191 alarm-system KPIs (报警系统绩效指标) over alarm transitions; pure."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from pipelines.alarms.config import CONDITION_ORDER, PRIORITIES
from pipelines.alarms.replay import EPOCH, parse_timestamp

WINDOW_MS = 10 * 60 * 1000  # tumbling window, aligned at the period start
FLOOD_MIN_RAISED = 10  # a window with >= 10 raised events is a flood
CHATTER_RAISES = 3  # this many raises of one tag + condition ...
CHATTER_SPAN_MS = 60 * 1000  # ... with the last at most this long after the first
STALE_AFTER_MS = 24 * 60 * 60 * 1000  # active strictly longer than this at the period end
TOP_N = 10
# ISA-18.2 workload bands of the average annunciated alarms per window and console: ~1 per 10 min
# very likely acceptable, ~2 per 10 min the most an operator can manage; the last band is open.
RATE_BANDS: tuple[tuple[str, int | None], ...] = (
    ("very_likely_acceptable", 1),
    ("maximum_manageable", 2),
    ("over_maximum", None),
)
_CONDITION_RANK = {cond: rank for rank, cond in enumerate(CONDITION_ORDER)}


class AlarmEvent(NamedTuple):
    """One alarm transition reduced to what the KPIs need."""

    ts_ms: int
    tag: str
    condition: str
    event: str
    priority: str | None


def to_ms(when: int | str | datetime) -> int:
    """Return ms since epoch of an int (ms), an aware datetime or ISO-8601 text with offset."""
    if isinstance(when, bool):
        raise ValueError(f"not a time: {when!r}")
    if isinstance(when, int):
        return when
    if isinstance(when, datetime):
        if when.utcoffset() is None:
            raise ValueError(f"time {when.isoformat()!r} has no UTC offset")
        return (when - EPOCH) // timedelta(milliseconds=1)
    if isinstance(when, str):
        return parse_timestamp(when)[0]
    raise ValueError(f"not a time: {when!r}")


def normalize_event(d: Mapping[str, Any]) -> AlarmEvent:
    """Return the KPI view of one event dict (replay output, `ts_ms` or `event_time_ms`)."""
    if not isinstance(d, Mapping):
        raise ValueError(f"event must be an object, got {type(d).__name__}")
    if "ts_ms" in d or "event_time_ms" in d:
        raw = d["ts_ms"] if "ts_ms" in d else d["event_time_ms"]
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise ValueError(f"ts_ms must be an integer, got {raw!r}")
        ts_ms = raw
    elif isinstance(d.get("ts"), str):
        ts_ms = parse_timestamp(d["ts"])[0]
    else:
        raise ValueError("event has no ts (ISO-8601 text) or ts_ms (integer)")
    tag, condition, event = d.get("tag"), d.get("condition"), d.get("event")
    if not isinstance(tag, str) or not tag:
        raise ValueError(f"event has no tag, got {tag!r}")
    if not isinstance(condition, str) or not condition:
        raise ValueError(f"event has no condition, got {condition!r}")
    if event not in ("raised", "cleared"):
        raise ValueError(f"event must be 'raised' or 'cleared', got {event!r}")
    priority = d.get("priority")
    if priority is not None and not isinstance(priority, str):
        raise ValueError(f"priority must be text or null, got {priority!r}")
    return AlarmEvent(ts_ms, tag, condition, event, priority)


def _pair_key(pair: tuple[str, str]) -> tuple[str, int, str]:
    """Return the sort key of a (tag, condition) pair: tag, then condition order."""
    return (pair[0], _CONDITION_RANK.get(pair[1], len(CONDITION_ORDER)), pair[1])


def _pct(part: float, whole: float) -> float:
    """Return part/whole as a percentage rounded to 2 decimals (0.0 when whole is 0)."""
    return round(100.0 * part / whole, 2) if whole else 0.0


def _pairs(pairs: Iterable[tuple[str, str]]) -> list[dict[str, str]]:
    """Return pairs as sorted {"tag", "condition"} objects."""
    return [{"tag": t, "condition": c} for t, c in sorted(pairs, key=_pair_key)]


def alarm_rate_band(annunciated: int, windows: int) -> str:
    """Return the RATE_BANDS band of `annunciated` raises in `windows` windows (bounds included)."""
    for band, max_per_window in RATE_BANDS:
        if max_per_window is None or annunciated <= max_per_window * windows:
            return band
    raise AssertionError("RATE_BANDS must end with an open band")


def seed_tables() -> dict[str, list[dict[str, Any]]]:
    """Return the dbt seeds that carry these definitions to SQL: seed name -> rows (CSV order).

    `hazchem kpi seeds` writes them to dbt_project/seeds/; a unit test keeps the committed files
    equal to this, so the KPI constants are defined here only.
    """
    definitions = {
        "window_ms": WINDOW_MS,
        "flood_min_raised": FLOOD_MIN_RAISED,
        "chatter_raises": CHATTER_RAISES,
        "chatter_span_ms": CHATTER_SPAN_MS,
        "stale_after_ms": STALE_AFTER_MS,
        "top_n": TOP_N,
    }
    bands = [
        {"band_rank": rank, "alarm_rate_band": band, "max_avg_per_window": limit}
        for rank, (band, limit) in enumerate(RATE_BANDS)
    ]
    return {"alarm_kpi_definitions": [definitions], "alarm_rate_bands": bands}


def alarm_kpis(
    events: Iterable[Mapping[str, Any]], start: int | str | datetime, end: int | str | datetime
) -> dict[str, Any]:
    """Return the ISA-18.2 KPIs of raised events in [start, end) (10-min windows from start)."""
    t0, t1 = to_ms(start), to_ms(end)
    if t1 <= t0:
        raise ValueError("end must be after start")
    n_windows = -(-(t1 - t0) // WINDOW_MS)  # a partial last window counts as a window
    per_window = [0] * n_windows
    raises: dict[tuple[str, str], list[int]] = defaultdict(list)
    history: dict[tuple[str, str], list[tuple[int, int, str]]] = defaultdict(list)
    priorities: Counter[str] = Counter()
    for seq, raw in enumerate(events):
        try:
            ev = normalize_event(raw)
        except ValueError as exc:
            raise ValueError(f"event {seq + 1}: {exc}") from None
        if ev.ts_ms >= t1:
            continue
        pair = (ev.tag, ev.condition)
        history[pair].append((ev.ts_ms, seq, ev.event))
        if ev.event == "raised" and ev.ts_ms >= t0:
            per_window[(ev.ts_ms - t0) // WINDOW_MS] += 1
            raises[pair].append(ev.ts_ms)
            priorities["none" if ev.priority is None else ev.priority] += 1

    annunciated = sum(per_window)
    flood_windows = sum(1 for n in per_window if n >= FLOOD_MIN_RAISED)

    chattering = []
    for pair, times in raises.items():
        times.sort()
        span = CHATTER_RAISES - 1
        if any(times[i + span] - times[i] <= CHATTER_SPAN_MS for i in range(len(times) - span)):
            chattering.append(pair)

    stale = []
    for pair, items in history.items():
        active_since: int | None = None
        for ts_ms, _, event in sorted(items):
            if event == "raised":
                active_since = ts_ms if active_since is None else active_since
            else:
                active_since = None
        if active_since is not None and t1 - active_since > STALE_AFTER_MS:
            stale.append(pair)

    top = sorted((len(times) for times in raises.values()), reverse=True)[:TOP_N]
    split = {p: _pct(priorities.get(p, 0), annunciated) for p in PRIORITIES}
    for p in sorted(set(priorities) - set(PRIORITIES)):
        split[p] = _pct(priorities[p], annunciated)
    return {
        "annunciated": annunciated,
        "windows": n_windows,
        "avg_per_10min": round(annunciated / n_windows, 2),
        "max_per_10min": max(per_window),
        "flood_windows": flood_windows,
        "flood_pct": _pct(flood_windows, n_windows),
        "chattering": _pairs(chattering),
        "stale": _pairs(stale),
        "top10_share_pct": _pct(sum(top), annunciated),
        "priority_split_pct": split,
    }
