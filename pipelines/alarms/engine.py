"""Alarm engine (报警引擎): per-tag state machine over event-time-ordered readings, no I/O.

One `TagAlarmState` holds everything one tag needs (all its conditions); the streaming job keeps it
pickled in Flink keyed state, batch replay keeps one per tag in a dict. The rules are stated in
docs/alarm_semantics.md; every comparison below is written to match that text exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from pipelines.alarms.config import CONDITION_ORDER, HIGH_LIMITS, LIMIT_CONDITIONS, TagConfig

RAISED = "raised"
CLEARED = "cleared"
SENSOR_HEALTH = "sensor_health"
_CONDITION_RANK = {cond: rank for rank, cond in enumerate(CONDITION_ORDER)}
_EVENT_RANK = {RAISED: 0, CLEARED: 1}


def episode_id(tag: str, condition: str, raised_ts_ms: int) -> str:
    """Return the deterministic alarm episode id (报警编号) `tag:condition:raised_ts_ms`."""
    return f"{tag}:{condition}:{raised_ts_ms}"


@dataclass(frozen=True)
class Transition:
    """One raise (报警) or clear (消警) of one condition of one tag at an event time."""

    tag: str
    condition: str
    event: str
    ts_ms: int
    value: float | None
    limit: float | None
    priority: str | None
    alarm_class: str
    # Raise time of the episode this transition belongs to (== ts_ms for a raise). Kept out of
    # equality so a Transition compares on the documented fields only.
    raised_ts_ms: int | None = field(default=None, compare=False, repr=False)

    @property
    def episode_id(self) -> str:
        """Return the id of the episode this transition raises or clears."""
        raised = self.ts_ms if self.raised_ts_ms is None else self.raised_ts_ms
        return episode_id(self.tag, self.condition, raised)

    @property
    def event_id(self) -> str:
        """Return the deterministic event id `episode_id:event` (alarm_event.v1)."""
        return f"{self.episode_id}:{self.event}"


def transition_sort_key(t: Transition) -> tuple[int, str, int]:
    """Return the replay order key: ts, then tag, then condition in CONDITION_ORDER."""
    return (t.ts_ms, t.tag, _CONDITION_RANK.get(t.condition, len(CONDITION_ORDER)))


def _seconds_to_ms(seconds: float | None) -> int | None:
    """Return a duration in whole milliseconds (rounded), None stays None."""
    return None if seconds is None else round(seconds * 1000)


class TagAlarmState:
    """All alarm state of one tag; picklable; feed it readings in event-time order."""

    def __init__(self, config: TagConfig) -> None:
        """Start with no reading seen and no condition active."""
        self.config = config
        # condition -> event time (ms) of the raise of its open episode
        self.active: dict[str, int] = {}
        # limit condition -> ts of the first reading of the current violating (while inactive)
        # or returning (while active) run; absent when no such run is open
        self.pending_since: dict[str, int] = {}
        self.bad_quality_count = 0
        self.out_of_order_count = 0
        self.last_ts: int | None = None  # ts of the last finite reading
        self.last_value: float | None = None  # its value (the ROC "previous reading")
        self.run_start_ts: int | None = None  # first reading of the current unchanged-value run
        self.range_bound: float | None = None  # range bound violated when RANGE was raised

    # -- helpers -------------------------------------------------------------------------------

    def _transition(
        self, condition: str, event: str, ts_ms: int, value: float | None, limit: float | None
    ) -> Transition:
        """Build a transition and keep `active` in step with it."""
        cfg = self.config
        if event == RAISED:
            self.active[condition] = ts_ms
            raised_ts = ts_ms
        else:
            raised_ts = self.active.pop(condition)
        return Transition(
            tag=cfg.tag,
            condition=condition,
            event=event,
            ts_ms=ts_ms,
            value=value,
            limit=limit,
            priority=cfg.priority.get(condition),
            alarm_class=SENSOR_HEALTH
            if condition in ("STALE", "FLATLINE", "RANGE")
            else cfg.alarm_class,
            raised_ts_ms=raised_ts,
        )

    def _limit(self, cond: str, limit: float, ts_ms: int, value: float) -> Transition | None:
        """Advance one limit condition by one reading; return its transition, if any."""
        cfg = self.config
        high = cond in HIGH_LIMITS
        if cond not in self.active:
            violates = value >= limit if high else value <= limit
            if not violates:
                self.pending_since.pop(cond, None)
                return None
            start = self.pending_since.setdefault(cond, ts_ms)
            if ts_ms - start >= _seconds_to_ms(cfg.delay_on_s):
                del self.pending_since[cond]
                return self._transition(cond, RAISED, ts_ms, value, limit)
            return None
        returns = value < limit - cfg.deadband if high else value > limit + cfg.deadband
        if not returns:
            self.pending_since.pop(cond, None)
            return None
        start = self.pending_since.setdefault(cond, ts_ms)
        if ts_ms - start >= _seconds_to_ms(cfg.delay_off_s):
            del self.pending_since[cond]
            return self._transition(cond, CLEARED, ts_ms, value, limit)
        return None

    def _roc(self, ts_ms: int, value: float) -> Transition | None:
        """Advance ROC by one reading against the previous finite reading."""
        roc = self.config.roc_per_min
        if roc is None or self.last_ts is None or self.last_value is None:
            return None
        dt_ms = ts_ms - self.last_ts
        if dt_ms <= 0:  # equal event times: no rate can be computed, ROC state unchanged
            return None
        rate = abs(value - self.last_value) * 60_000 / dt_ms
        if "ROC" not in self.active and rate > roc:
            return self._transition("ROC", RAISED, ts_ms, value, roc)
        if "ROC" in self.active and rate <= roc:
            return self._transition("ROC", CLEARED, ts_ms, value, roc)
        return None

    def _flatline(self, ts_ms: int, value: float) -> Transition | None:
        """Advance FLATLINE by one reading (unchanged means exactly equal)."""
        after_ms = _seconds_to_ms(self.config.flatline_after_s)
        if self.run_start_ts is None or value != self.last_value:
            self.run_start_ts = ts_ms
            if "FLATLINE" in self.active:
                return self._transition("FLATLINE", CLEARED, ts_ms, value, None)
            return None
        if after_ms is not None and "FLATLINE" not in self.active:
            if ts_ms - self.run_start_ts > after_ms:
                return self._transition("FLATLINE", RAISED, ts_ms, value, None)
        return None

    def _range(self, ts_ms: int, value: float) -> Transition | None:
        """Advance RANGE by one reading: outside [range_low, range_high] raises, inside clears."""
        cfg = self.config
        if cfg.range_low is not None and value < cfg.range_low:
            bound: float | None = cfg.range_low
        elif cfg.range_high is not None and value > cfg.range_high:
            bound = cfg.range_high
        else:
            bound = None
        if bound is not None and "RANGE" not in self.active:
            self.range_bound = bound
            return self._transition("RANGE", RAISED, ts_ms, value, bound)
        if bound is None and "RANGE" in self.active:
            raised_bound, self.range_bound = self.range_bound, None
            return self._transition("RANGE", CLEARED, ts_ms, value, raised_bound)
        return None

    # -- public API ----------------------------------------------------------------------------

    def _quiet_band(self) -> tuple[float, float, float, float, int | None] | None:
        """Return (low, high, range_low, range_high, flatline_ms) of the quiet fast path, or None
        when the tag has ROC (every reading's rate matters). Cached; old pickles compute it."""
        band = self.__dict__.get("_quiet")
        if band is None:
            cfg = self.config
            if cfg.roc_per_min is not None:
                band = ()
            else:
                lows = [cfg.limits[c] for c in ("LL", "L") if c in cfg.limits]
                highs = [cfg.limits[c] for c in ("H", "HH") if c in cfg.limits]
                band = (
                    max(lows, default=-math.inf),
                    min(highs, default=math.inf),
                    -math.inf if cfg.range_low is None else cfg.range_low,
                    math.inf if cfg.range_high is None else cfg.range_high,
                    _seconds_to_ms(cfg.flatline_after_s),
                )
            self._quiet = band
        return band or None

    def on_reading(self, ts_ms: int, value: float | None) -> list[Transition]:
        """Apply one reading; return its transitions ordered by CONDITION_ORDER."""
        if value is None or not math.isfinite(value):
            self.bad_quality_count += 1
            return []
        if self.last_ts is not None and ts_ms < self.last_ts:
            # The caller guarantees event-time order; a late reading is dropped, never reordered.
            self.out_of_order_count += 1
            return []
        value = float(value)
        if not self.active and not self.pending_since:
            # Fast path, the same rules for the common case: nothing active or pending, and a
            # value that violates no limit and lies in range changes nothing but the "previous
            # reading" and the FLATLINE run (unless that run has just become a flatline).
            band = self._quiet_band()
            if band is not None and band[0] < value < band[1] and band[2] <= value <= band[3]:
                if self.run_start_ts is None or value != self.last_value:
                    self.run_start_ts = ts_ms
                elif band[4] is not None and ts_ms - self.run_start_ts > band[4]:
                    band = None  # FLATLINE raises: take the full path
                if band is not None:
                    self.last_ts = ts_ms
                    self.last_value = value
                    return []
        cfg = self.config
        out: list[Transition] = []
        for cond in LIMIT_CONDITIONS:
            limit = cfg.limits.get(cond)
            if limit is not None:
                t = self._limit(cond, limit, ts_ms, value)
                if t is not None:
                    out.append(t)
        t = self._roc(ts_ms, value)
        if t is not None:
            out.append(t)
        if "STALE" in self.active:
            out.append(self._transition("STALE", CLEARED, ts_ms, value, None))
        t = self._flatline(ts_ms, value)
        if t is not None:
            out.append(t)
        if cfg.range_low is not None or cfg.range_high is not None or "RANGE" in self.active:
            t = self._range(ts_ms, value)
            if t is not None:
                out.append(t)
        self.last_ts = ts_ms
        self.last_value = value
        return out

    def next_timer_ms(self) -> int | None:
        """Return the earliest event time at which on_time would raise STALE, or None."""
        stale_ms = self.__dict__.get("_stale_ms", -1)
        if stale_ms == -1:  # cached; old pickles compute it
            stale_ms = self._stale_ms = _seconds_to_ms(self.config.effective_stale_after_s)
        if stale_ms is None or self.last_ts is None or "STALE" in self.active:
            return None
        return self.last_ts + stale_ms + 1

    def on_time(self, now_ms: int) -> list[Transition]:
        """Evaluate STALE at event time `now_ms`; raise it when now_ms - last_ts > stale_after."""
        due = self.next_timer_ms()
        if due is None or now_ms < due:
            return []
        return [self._transition("STALE", RAISED, now_ms, None, None)]
