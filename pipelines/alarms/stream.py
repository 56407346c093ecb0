"""Arrival-order evaluation (到达顺序): the streaming rule shared by the Flink alarm job and the
plain-Python baseline of the benchmark.

The rule (docs/alarm_semantics.md, "Streaming: arrival order and late readings"):

- A tag's readings are evaluated in the order they arrive, as they arrive: Kafka keeps one tag's
  readings in order within its partition, so no watermark wait stands between a reading and its
  alarm.
- A reading whose event time is older than the newest reading already evaluated for its tag is
  **late**. It is not fed to the engine (that would reorder the tag's history); it goes to
  `readings.late` with its value, and when it violates a limit (value >= H/HH, <= L/LL, outside
  the range; delays, deadband, ROC, FLATLINE and STALE do not apply to one isolated reading) a
  critical notification naming the tag, condition, value and event time goes to
  `alarm.notifications` (kind `late_reading`). A reading with the same event time as the newest
  is not late.
- Timers (STALE, shelve expiry) run on an event-time clock: the newest reading of each Kafka
  partition, the smallest of those over the partitions that sent something in the last
  `partition_idle_ms` of wall time (all of them when every partition is idle), minus
  `clock_lag_ms`. A tag's next reading sits in its partition behind every older one, so the
  clock cannot pass a tag's STALE due time before that tag's own next reading has been read,
  however the partitions interleave. Operator actions and unit states are applied as they
  arrive and never move the clock. When no reading arrives at all, the clock stands still.
- A record that cannot be evaluated (not JSON, a tombstone, a wrong type, a key that is not its
  tag, an unknown tag or unit) goes to its topic's dead-letter topic with the reason; nothing
  raises.

For input without late readings, every tag sees its readings in event-time order, which is exactly
what `replay()` feeds the engine: stream and replay give identical transitions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import orjson

from pipelines.alarms.config import TagConfig
from pipelines.alarms.lifecycle import UNIT_STATES, format_number
from pipelines.alarms.processor import NOTIFICATIONS, Routed, TagContext, TagProcessor
from pipelines.ingest import Verdict, dead_letter, parse_json_object

READINGS = "readings"
ACTIONS = "alarm.actions"
UNIT_STATES_TOPIC = "unit.states"
LATE = "readings.late"
DLQ_SUFFIX = ".dlq"
SOURCE = "alarm-job"

# How the JVM hands Python a batch of raw records: items separated by RS, partition, key and
# value by US; neither control character can occur in valid JSON; a tombstone (null value) is CAN.
ITEM_SEP = "\x1e"
KEY_SEP = "\x1f"
TOMBSTONE = "\x18"

# The limits a late reading is checked against, most severe first.
_LATE_ORDER = ("HH", "LL", "H", "L")
_HIGH = frozenset({"H", "HH"})


@dataclass
class BucketState:
    """The alarm state of the tags of one key bucket; picklable (Flink keyed state)."""

    processors: dict[str, TagProcessor] = field(default_factory=dict)
    newest_ms: dict[str, int] = field(default_factory=dict)  # newest evaluated reading per tag
    # Kafka partition -> (newest reading's event time, wall time it arrived)
    partitions: dict[int, tuple[int, int]] = field(default_factory=dict)
    clock_ms: int | None = None  # event-time clock of timers (see the module docstring)
    late: int = 0
    dead_lettered: int = 0


def late_violation(config: TagConfig, value: float | None) -> tuple[str, float] | None:
    """Return (condition, limit) of the most severe limit a late reading violates, or None."""
    if value is None or not math.isfinite(value):
        return None
    for cond in _LATE_ORDER:
        limit = config.limits.get(cond)
        if limit is not None and (value >= limit if cond in _HIGH else value <= limit):
            return cond, limit
    if config.range_low is not None and value < config.range_low:
        return "RANGE", config.range_low
    if config.range_high is not None and value > config.range_high:
        return "RANGE", config.range_high
    return None


Item = tuple[int | None, str | None, str | None]  # (Kafka partition, key, value) of a record


def split_items(payload: str) -> list[Item]:
    """Return the (partition, key, value) of each record of a batch the JVM built; a tombstone's
    value is None, an unknown partition or a missing key None."""
    out: list[Item] = []
    for item in payload.split(ITEM_SEP):
        part, _, rest = item.partition(KEY_SEP)
        key, _, value = rest.partition(KEY_SEP)
        out.append(
            (int(part) if part else None, key or None, None if value == TOMBSTONE else value)
        )
    return out


def join_items(items: list[Item]) -> str:
    """Return the batch text of (partition, key, value) items, as the job's SQL builds it."""
    return ITEM_SEP.join(
        f"{'' if p is None else p}{KEY_SEP}{k or ''}{KEY_SEP}{TOMBSTONE if v is None else v}"
        for p, k, v in items
    )


def _reject(code: str, reason: str) -> Verdict:
    return Verdict(None, code, reason)


def parse_reading(
    key: str | None, value: str | None, configs: dict[str, TagConfig]
) -> tuple[str, int, float | None] | Verdict:
    """Return (tag, event_time_ms, value) of one raw reading, or the Verdict that rejects it."""
    if value is not None:
        try:
            record = orjson.loads(value)
        except (orjson.JSONDecodeError, RecursionError):
            record = None
        if type(record) is dict:  # the common, valid case first: no further checks needed
            tag, ts, val = record.get("tag"), record.get("event_time_ms"), record.get("value")
            if type(ts) is int and (type(val) is float or val is None) and tag == key:
                if tag in configs:
                    return tag, ts, val
    record = parse_json_object(value)
    if isinstance(record, Verdict):
        return record
    tag, ts, val = record.get("tag"), record.get("event_time_ms"), record.get("value")
    if not isinstance(tag, str) or not tag:
        return _reject("missing_field", "field 'tag' must be a non-empty string")
    if not isinstance(ts, int) or isinstance(ts, bool):
        return _reject("wrong_type", f"field 'event_time_ms' must be an integer, got {ts!r:.80}")
    if val is not None and (isinstance(val, bool) or not isinstance(val, int | float)):
        return _reject("wrong_type", f"field 'value' must be a number or null, got {val!r:.80}")
    if tag not in configs:
        return _reject("unknown_tag", f"tag {tag!r:.80} is not configured in the plant model")
    if key != tag:
        return _reject("wrong_key", f"a reading of {tag!r} must be keyed by its tag, not {key!r}")
    return tag, ts, None if val is None else float(val)


class ArrivalEvaluator:
    """The alarm rules applied in arrival order over one bucket's `BucketState` (no I/O).

    Stateless itself (configs and plant context only): the caller keeps one `BucketState` per key
    bucket and passes it in, so the Flink function can hold it in keyed state.
    """

    def __init__(
        self,
        configs: dict[str, TagConfig],
        contexts: dict[str, TagContext],
        clock_lag_ms: int = 2000,
        partition_idle_ms: int = 10_000,
        audit_heads: dict[str, str] | None = None,
    ) -> None:
        self.configs = configs
        self.contexts = contexts
        self.clock_lag_ms = clock_lag_ms
        self.partition_idle_ms = partition_idle_ms
        # Last alarm.audit hash per tag already in the topic: a job started without its state
        # continues each tag's chain from there (a restored tag keeps the hash in its state).
        self.audit_heads = dict(audit_heads or {})
        self.units: dict[str, list[str]] = {}
        for tag, ctx in sorted(contexts.items()):
            self.units.setdefault(ctx.unit_code, []).append(tag)

    def _processor(self, state: BucketState, tag: str) -> TagProcessor:
        proc = state.processors.get(tag)
        if proc is None:
            proc = state.processors[tag] = TagProcessor(self.configs[tag], self.contexts[tag])
            proc.audit_hash = self.audit_heads.get(tag)
        return proc

    def _dead_letter(
        self, state: BucketState, topic: str, key: str | None, value: str | None, v: Verdict
    ) -> Routed:
        state.dead_lettered += 1
        raw = b"" if value is None else value.encode("utf-8", "surrogatepass")
        return Routed(topic + DLQ_SUFFIX, key or "", dead_letter(topic, raw, v, SOURCE, key))

    # -- inputs --------------------------------------------------------------------------------

    def readings(self, state: BucketState, items: list[Item], now_ms: int) -> list[Routed]:
        """Evaluate raw readings in arrival order; then fire the timers the clock has reached."""
        out: list[Routed] = []
        newest = state.newest_ms
        procs = state.processors
        part_newest: dict[int, int] = {}
        for part, key, value in items:
            parsed = parse_reading(key, value, self.configs)
            if isinstance(parsed, Verdict):
                out.append(self._dead_letter(state, READINGS, key, value, parsed))
                continue
            tag, ts, val = parsed
            last = newest.get(tag)
            if last is not None and ts < last:
                out.extend(self._late(state, tag, ts, val, last))
                continue
            newest[tag] = ts
            p = -1 if part is None else part
            if ts > part_newest.get(p, ts - 1):
                part_newest[p] = ts
            proc = procs.get(tag) or self._processor(state, tag)
            routed = proc.on_reading(ts, val, now_ms)
            if routed:
                out.extend(routed)
        parts = state.partitions
        for p, ts in part_newest.items():
            seen = parts.get(p)
            parts[p] = (ts if seen is None or ts > seen[0] else seen[0], now_ms)
        clock = self.clock_of(state, now_ms)
        if clock is not None:
            out.extend(self.advance(state, clock, now_ms))
        return out

    def clock_of(self, state: BucketState, now_ms: int) -> int | None:
        """Return the timer clock the partitions allow now (module docstring), or None."""
        if not state.partitions:
            return None
        live = [
            newest
            for newest, seen in state.partitions.values()
            if now_ms - seen <= self.partition_idle_ms
        ]
        edge = min(live) if live else max(newest for newest, _ in state.partitions.values())
        return edge - self.clock_lag_ms

    def action(
        self, state: BucketState, key: str | None, value: str | None, now_ms: int
    ) -> list[Routed]:
        """Apply one raw alarm_action.v1 record as it arrives (audited, applied or rejected)."""
        record = parse_json_object(value)
        if isinstance(record, Verdict):
            return [self._dead_letter(state, ACTIONS, key, value, record)]
        tag, ts = record.get("tag"), record.get("action_time_ms")
        if not isinstance(tag, str) or tag not in self.configs:
            v = _reject("unknown_tag", f"tag {tag!r:.80} is not configured in the plant model")
            return [self._dead_letter(state, ACTIONS, key, value, v)]
        if not isinstance(ts, int) or isinstance(ts, bool):
            v = _reject("wrong_type", f"field 'action_time_ms' must be an integer, got {ts!r:.80}")
            return [self._dead_letter(state, ACTIONS, key, value, v)]
        try:
            return self._processor(state, tag).on_action(record, now_ms)
        except (KeyError, TypeError, ValueError) as exc:  # a field of a type the rules can't use
            v = _reject("schema_violation", f"action cannot be applied: {exc!r:.200}")
            return [self._dead_letter(state, ACTIONS, key, value, v)]

    def unit_state(
        self, state: BucketState, tag: str, key: str | None, value: str | None, now_ms: int
    ) -> list[Routed]:
        """Apply one raw unit_state.v1 record to `tag` (one of its unit's tags; '' = none)."""
        record = parse_json_object(value)
        if isinstance(record, Verdict):
            return [self._dead_letter(state, UNIT_STATES_TOPIC, key, value, record)]
        unit, st, ts = record.get("unit_code"), record.get("state"), record.get("event_time_ms")
        if not tag or tag not in self.configs or unit not in self.units:
            v = _reject("unknown_unit", f"unit {unit!r:.80} is not in the plant model")
            return [self._dead_letter(state, UNIT_STATES_TOPIC, key, value, v)]
        if st not in UNIT_STATES:
            v = _reject("schema_violation", f"state {st!r:.80} is not one of {UNIT_STATES}")
            return [self._dead_letter(state, UNIT_STATES_TOPIC, key, value, v)]
        if not isinstance(ts, int) or isinstance(ts, bool):
            v = _reject("wrong_type", f"field 'event_time_ms' must be an integer, got {ts!r:.80}")
            return [self._dead_letter(state, UNIT_STATES_TOPIC, key, value, v)]
        return self._processor(state, tag).on_unit_state(st, ts, now_ms)

    def advance(self, state: BucketState, clock_ms: int, now_ms: int) -> list[Routed]:
        """Move the timer clock forward to clock_ms; fire STALE and shelve expiries due by then."""
        if state.clock_ms is not None and clock_ms <= state.clock_ms:
            return []
        state.clock_ms = clock_ms
        due = []
        for tag, proc in state.processors.items():
            at = proc.next_timer_ms()
            if at is not None and at <= clock_ms:
                due.append((at, tag))
        out: list[Routed] = []
        for _, tag in sorted(due):
            out.extend(state.processors[tag].on_time(clock_ms, now_ms))
        return out

    # -- late readings -------------------------------------------------------------------------

    def _late(
        self, state: BucketState, tag: str, ts: int, value: float | None, newest: int
    ) -> list[Routed]:
        """Return the readings.late record of a late reading and, if it violates, its notice."""
        state.late += 1
        cfg, ctx = self.configs[tag], self.contexts[tag]
        violation = late_violation(cfg, value)
        condition, limit = violation if violation else (None, None)
        place = {
            "enterprise_code": ctx.enterprise_code,
            "hazard_source_code": ctx.hazard_source_code,
            "unit_code": ctx.unit_code,
            "area_code": ctx.area_code,
        }
        out = [
            Routed(
                LATE,
                tag,
                {
                    "tag": tag,
                    "event_time_ms": ts,
                    "value": value,
                    "newest_event_time_ms": newest,
                    "condition": condition,
                    "limit": limit,
                },
            )
        ]
        if violation is not None:
            unit = f" {ctx.unit}" if ctx.unit else ""
            message = (
                f"迟到数据 late reading {condition} {tag} = {format_number(value)}{unit} "
                f"(limit {format_number(limit)}) at event time {ts} ms, "
                f"behind the newest evaluated reading ({newest} ms)"
            )
            out.append(
                Routed(
                    NOTIFICATIONS,
                    tag,
                    {
                        **place,
                        "notification_id": f"{tag}:late:{ts}:notification",
                        "kind": "late_reading",
                        "late": True,
                        "tag": tag,
                        "condition": condition,
                        "priority": "critical",
                        "value": value,
                        "limit": limit,
                        "event_time_ms": ts,
                        "episode_id": f"{tag}:{condition}:late:{ts}",
                        "message": message,
                    },
                )
            )
        return out
