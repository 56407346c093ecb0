"""Streaming alarm job: readings, operator actions and unit states -> alarms, state, KPIs (Kafka).

Wiring only. The rules live in `pipelines.alarms` (engine, lifecycle, KPIs: one implementation,
shared with batch replay and the API). The per-reading path stays in the JVM: Flink SQL parses the
topics, gathers each tag's readings into event-time micro-batches (a tumbling window of
`settings.flink.batch_window_ms`, closed by the watermark), orders batches, operator actions and
unit states by event time, and routes the outputs to their topics. Python runs once per tag per
window (not per reading) in a keyed function holding a `TagProcessor`, which applies the readings
and the other inputs merged in event-time order, and once per alarm in the per-area KPI function.

`build()` is the pure transform (DataStream of ordered inputs in, routed rows out); `main()`
attaches the Kafka sources and sinks from settings.
"""

from __future__ import annotations

import time
import zlib

import orjson
from pyflink.common import Row, Types
from pyflink.datastream import DataStream, KeyedProcessFunction, OutputTag, RuntimeContext
from pyflink.datastream.state import ValueStateDescriptor

from pipelines.alarms.config import TagConfig
from pipelines.alarms.kpi import FLOOD_MIN_RAISED, WINDOW_MS, alarm_kpis
from pipelines.alarms.processor import ALARMS, Routed, TagContext, TagProcessor, plant_processors
from streaming_jobs.runtime import startup_options

KIND_UNIT_STATE, KIND_READING, KIND_ACTION = 0, 1, 2  # processing order within one instant

# Ordered input rows: (kind, bucket, tag, payload, event_time_ms). Tags are spread over a few key
# buckets, so Python runs once per bucket per window rather than once per tag: the per-call cost
# of a Python function, not the rules, is what limits a per-tag design. For KIND_READING the
# payload is the batch "tag|ts:value,tag|ts:value" of one bucket's readings in one window ("n" for
# a missing value) and tag is empty; actions and unit states carry their tag and JSON payload.
INPUT_TYPE = Types.ROW_NAMED(
    ["kind", "bucket", "tag", "payload", "event_time_ms"],
    [Types.INT(), Types.STRING(), Types.STRING(), Types.STRING(), Types.LONG()],
)
UNKNOWN_BUCKET = "?"


def bucket_of(tag: str, buckets: int) -> str:
    """Return the key bucket of a tag (stable across processes: crc32, not hash())."""
    return str(zlib.crc32(tag.encode()) % buckets)


def batch_payload(tag: str, readings: list[tuple[int, float | None]]) -> str:
    """Return the batch text of one tag's (ts, value) readings, as the SQL window builds it."""
    return ",".join(f"{tag}|{ts}:{'n' if v is None else v}" for ts, v in readings)


def parse_batch(payload: str) -> dict[str, list[tuple[int, int, float | None]]]:
    """Return tag -> [(ts, KIND_READING, value)] of a batch, each sorted by event time (stable)."""
    out: dict[str, list[tuple[int, int, float | None]]] = {}
    for item in payload.split(","):
        tag, _, rest = item.partition("|")
        ts, _, value = rest.partition(":")
        out.setdefault(tag, []).append(
            (int(ts), KIND_READING, None if value in ("n", "") else float(value))
        )
    for events in out.values():
        events.sort(key=lambda r: r[0])
    return out


# Routed output rows: (topic, key, payload JSON)
OUTPUT_TYPE = Types.ROW_NAMED(
    ["topic", "k", "payload"], [Types.STRING(), Types.STRING(), Types.STRING()]
)
# Alarm events again, keyed by area, for the flood/KPI stage.
AREA_ALARMS = OutputTag(
    "area-alarms", Types.ROW_NAMED(["area", "payload"], [Types.STRING(), Types.STRING()])
)
UNKNOWN_TAG = OutputTag("unknown-tag", Types.STRING())
KPIS_TOPIC = "alarm.kpis"
DAY_MS = 24 * 3600 * 1000


def _rows(routed: list[Routed]):
    for r in routed:
        yield Row(r.topic, r.key, orjson.dumps(r.record).decode())
        if r.topic == ALARMS:
            yield AREA_ALARMS, Row(r.record["area_code"], orjson.dumps(r.record).decode())


class AlarmFunction(KeyedProcessFunction):
    """Per key bucket, in event-time order: feed each tag's `TagProcessor`; timers for STALE and
    shelves.

    Actions and unit states usually arrive before the reading batch of their window; they wait in
    `pending` and are merged with their tag's readings by event time, or applied by a timer at
    their window's end when the tag sent no readings. One whose window has already closed is
    applied at once (late, but never dropped). One event-time timer per bucket sits at the
    earliest due time of its processors; when it fires, exactly the processors due then run.
    """

    def __init__(
        self, configs: dict[str, TagConfig], contexts: dict[str, TagContext], window_ms: int
    ) -> None:
        self.configs = configs
        self.contexts = contexts
        self.window_ms = window_ms

    def open(self, runtime_context: RuntimeContext) -> None:
        self.state = runtime_context.get_state(
            ValueStateDescriptor("processors", Types.PICKLED_BYTE_ARRAY())
        )
        self.pending = runtime_context.get_state(
            ValueStateDescriptor("pending", Types.PICKLED_BYTE_ARRAY())
        )
        self.timer_at = runtime_context.get_state(ValueStateDescriptor("timer_at", Types.LONG()))

    def _processor(self, procs: dict[str, TagProcessor], tag: str) -> TagProcessor:
        proc = procs.get(tag)
        if proc is None:
            proc = procs[tag] = TagProcessor(self.configs[tag], self.contexts[tag])
        return proc

    def _save_and_arm(self, procs: dict[str, TagProcessor], ctx) -> None:  # noqa: ANN001
        """Store the bucket's processors; keep a timer at (or before) their earliest due time."""
        self.state.update(procs)
        dues = [d for d in (p.next_timer_ms() for p in procs.values()) if d is not None]
        armed = self.timer_at.value()
        if dues and (armed is None or min(dues) < armed):
            ctx.timer_service().register_event_time_timer(min(dues))
            self.timer_at.update(min(dues))

    @staticmethod
    def _apply(proc: TagProcessor, events: list[tuple], now: int) -> list[Routed]:
        routed: list[Routed] = []
        for ts, kind, item in events:
            if kind == KIND_READING:
                routed += proc.on_reading(ts, item, now)
            elif kind == KIND_ACTION:
                routed += proc.on_action(orjson.loads(item), now)
            else:
                routed += proc.on_unit_state(orjson.loads(item)["state"], ts, now)
        return routed

    def process_element(self, row: Row, ctx: KeyedProcessFunction.Context):
        kind, bucket, tag, payload, ts = row[0], row[1], row[2], row[3], row[4]
        if bucket == UNKNOWN_BUCKET or (kind != KIND_READING and tag not in self.configs):
            yield UNKNOWN_TAG, f"{tag or payload[:200]}|{ts}"
            return
        now = int(time.time() * 1000)
        procs = self.state.value() or {}
        if kind != KIND_READING:
            end = ts // self.window_ms * self.window_ms + self.window_ms - 1
            if end > ctx.timer_service().current_watermark():
                pending = self.pending.value() or []
                pending.append((ts, kind, tag, payload))
                self.pending.update(pending)
                ctx.timer_service().register_event_time_timer(end)
                return
            # Its window is already closed (an operator's clock behind the plant's): apply it
            # now rather than drop it; it is audited like any other action.
            routed = self._apply(self._processor(procs, tag), [(ts, kind, payload)], now)
            self._save_and_arm(procs, ctx)
            yield from _rows(routed)
            return
        batches = parse_batch(payload)
        pending = self.pending.value() or []
        merged: set[str] = set()
        if pending:  # a waiting action or unit state joins its tag's readings, by event time
            kept = []
            for p_ts, p_kind, p_tag, p_payload in pending:
                if p_tag in batches:
                    batches[p_tag].append((p_ts, p_kind, p_payload))
                    merged.add(p_tag)
                else:
                    kept.append((p_ts, p_kind, p_tag, p_payload))
            if merged:
                self.pending.update(kept) if kept else self.pending.clear()
        routed: list[Routed] = []
        for tag_, events in batches.items():
            if tag_ not in self.configs:
                yield UNKNOWN_TAG, f"{tag_}|{ts}"
                continue
            if tag_ in merged:
                events.sort(key=lambda e: (e[0], e[1]))
            routed += self._apply(self._processor(procs, tag_), events, now)
        self._save_and_arm(procs, ctx)
        yield from _rows(routed)

    def on_timer(self, timestamp: int, ctx: KeyedProcessFunction.OnTimerContext):
        if self.timer_at.value() is not None and self.timer_at.value() <= timestamp:
            self.timer_at.clear()
        procs = self.state.value() or {}
        now = int(time.time() * 1000)
        pending = self.pending.value() or []
        due: dict[str, list[tuple]] = {}
        for p_ts, p_kind, p_tag, p_payload in pending:
            if p_ts <= timestamp:
                due.setdefault(p_tag, []).append((p_ts, p_kind, p_payload))
        routed: list[Routed] = []
        for tag, events in due.items():
            events.sort(key=lambda e: (e[0], e[1]))
            routed += self._apply(self._processor(procs, tag), events, now)
        if due:
            rest = [p for p in pending if p[0] > timestamp]
            self.pending.update(rest) if rest else self.pending.clear()
        for tag in sorted(procs):
            proc = procs[tag]
            next_due = proc.next_timer_ms()
            if tag in due or (next_due is not None and next_due <= timestamp):
                routed += proc.on_time(timestamp, now)
        self._save_and_arm(procs, ctx)
        yield from _rows(routed)


class AreaKpiFunction(KeyedProcessFunction):
    """Per area (alarm console): flood start/end and the ISA-18.2 KPIs of the day so far.

    Windows are the KPI definition's 10-minute tumbling windows aligned at midnight UTC, so a
    streaming window equals the batch `hazchem kpi alarms` window with T0 = that midnight.
    """

    def open(self, runtime_context: RuntimeContext) -> None:
        self.events = runtime_context.get_state(
            ValueStateDescriptor("events", Types.PICKLED_BYTE_ARRAY())
        )
        self.window = runtime_context.get_state(
            ValueStateDescriptor("window", Types.PICKLED_BYTE_ARRAY())
        )

    def process_element(self, row: Row, ctx: KeyedProcessFunction.Context):
        area, event = row[0], orjson.loads(row[1])
        if not event.get("annunciated", True):
            return  # suppressed or shelved: recorded, not annunciated, not counted
        events = self.events.value() or []
        events.append(
            {
                "tag": event["tag"],
                "condition": event["condition"],
                "event": event["event"],
                "ts_ms": event["event_time_ms"],
                "priority": event["priority"],
            }
        )
        self.events.update(events)
        if event["event"] != "raised":
            return
        start = event["event_time_ms"] // WINDOW_MS * WINDOW_MS
        window = self.window.value() or {}
        if window.get("start") != start:
            window = {"start": start, "raised": 0, "flood": False}
            ctx.timer_service().register_event_time_timer(start + WINDOW_MS)
        window["raised"] += 1
        if window["raised"] == FLOOD_MIN_RAISED:
            window["flood"] = True
            yield self._flood("flood_start", area, start, event["event_time_ms"], window["raised"])
        self.window.update(window)

    def _flood(self, kind: str, area: str, start: int, at_ms: int, raised: int) -> Row:
        record = {
            "kind": kind, "area_code": area, "window_start_ms": start,
            "window_end_ms": start + WINDOW_MS, "at_ms": at_ms, "raised": raised,
        }  # fmt: skip
        print(f"ALARM FLOOD {kind.split('_')[1].upper()} area={area} raised={raised} at={at_ms}")
        return Row(KPIS_TOPIC, area, orjson.dumps(record).decode())

    def on_timer(self, timestamp: int, ctx: KeyedProcessFunction.OnTimerContext):
        area = ctx.get_current_key()
        window = self.window.value() or {}
        if window.get("start") == timestamp - WINDOW_MS and window.get("flood"):
            yield self._flood("flood_end", area, window["start"], timestamp, window["raised"])
        day_start = (timestamp - 1) // DAY_MS * DAY_MS
        events = self.events.value() or []
        # keep today's events plus the raises of pairs still active (for the `stale` KPI)
        open_raises: dict[tuple[str, str], dict] = {}
        for e in events:
            key = (e["tag"], e["condition"])
            if e["event"] == "raised":
                open_raises[key] = e
            else:
                open_raises.pop(key, None)
        kept = [e for e in events if e["ts_ms"] >= day_start]
        kept_ids = {id(e) for e in kept}
        kept = [e for e in open_raises.values() if id(e) not in kept_ids] + kept
        self.events.update(kept)
        kpis = alarm_kpis([e for e in kept if e["ts_ms"] < timestamp], day_start, timestamp)
        record = {"kind": "kpi_snapshot", "area_code": area, "period_start_ms": day_start,
                  "period_end_ms": timestamp, "kpis": kpis}  # fmt: skip
        yield Row(KPIS_TOPIC, area, orjson.dumps(record).decode())


def build(
    inputs: DataStream,
    configs: dict[str, TagConfig],
    contexts: dict[str, TagContext],
    window_ms: int = 200,
) -> tuple[DataStream, DataStream, DataStream]:
    """Return (routed rows, KPI/flood rows, unknown-tag notes) for event-time-ordered inputs.

    `inputs` are INPUT_TYPE rows with event-time timestamps and watermarks, ordered by event time.
    """
    routed = (
        inputs.key_by(lambda r: r[1], key_type=Types.STRING())  # the tag's key bucket
        .process(AlarmFunction(configs, contexts, window_ms), output_type=OUTPUT_TYPE)
        .name("alarm-engine")
    )
    kpis = (
        routed.get_side_output(AREA_ALARMS)
        .key_by(lambda r: r[0], key_type=Types.STRING())
        .process(AreaKpiFunction(), output_type=OUTPUT_TYPE)
        .name("alarm-kpis")
    )
    return routed, kpis, routed.get_side_output(UNKNOWN_TAG)


# -- Kafka wiring -----------------------------------------------------------------------------


def source_ddls(
    settings, topics: dict[str, str], group: str, start_from_ms: int | None
) -> list[str]:  # noqa: ANN001
    """Return the DDL of the three sources: readings (typed JSON), actions and unit states (raw)."""
    delay = f"INTERVAL '{settings.flink.watermark_delay_ms / 1000:.3f}' SECOND"
    # Actions and unit states must never move the job's event-time clock: while one is being
    # read, its watermark trails a day behind, so only the readings advance STALE and timers.
    trailing = "INTERVAL '1' DAY"
    max_drift_ms = settings.flink.watermark_delay_ms // 2
    common = (
        f"'properties.bootstrap.servers' = '{settings.kafka.bootstrap_servers}', "
        f"'properties.group.id' = '{group}', {startup_options(start_from_ms)}"
    )
    return [
        f"""CREATE TABLE readings_src (
              tag STRING, `value` DOUBLE, event_time_ms BIGINT,
              rt AS TO_TIMESTAMP_LTZ(event_time_ms, 3), WATERMARK FOR rt AS rt - {delay}
            ) WITH ('connector' = 'kafka', 'topic' = '{topics["readings"]}', {common},
                    'scan.watermark.alignment.group' = 'readings',
                    'scan.watermark.alignment.max-drift' = '{max_drift_ms} ms',
                    'scan.watermark.alignment.update-interval' = '50 ms',
                    'scan.watermark.idle-timeout' = '{settings.flink.readings_idle_timeout_ms} ms',
                    'format' = 'json', 'json.fail-on-missing-field' = 'false')""",
        f"""CREATE TABLE actions_src (
              payload STRING,
              tag AS JSON_VALUE(payload, '$.tag'),
              event_time_ms AS CAST(JSON_VALUE(payload, '$.action_time_ms') AS BIGINT),
              rt AS TO_TIMESTAMP_LTZ(CAST(JSON_VALUE(payload, '$.action_time_ms') AS BIGINT), 3),
              WATERMARK FOR rt AS rt - {trailing}
            ) WITH ('connector' = 'kafka', 'topic' = '{topics["actions"]}', {common},
                    'format' = 'raw')""",
        f"""CREATE TABLE unit_states_src (
              payload STRING,
              unit_code AS JSON_VALUE(payload, '$.unit_code'),
              event_time_ms AS CAST(JSON_VALUE(payload, '$.event_time_ms') AS BIGINT),
              rt AS TO_TIMESTAMP_LTZ(CAST(JSON_VALUE(payload, '$.event_time_ms') AS BIGINT), 3),
              WATERMARK FOR rt AS rt - {trailing}
            ) WITH ('connector' = 'kafka', 'topic' = '{topics["unit_states"]}', {common},
                    'format' = 'raw')""",
    ]


def bucket_sql(contexts: dict[str, TagContext], buckets: int, column: str) -> str:
    """Return the SQL expression of a tag column's key bucket (the same as `bucket_of`)."""
    by_bucket: dict[str, list[str]] = {}
    for tag in sorted(contexts):
        by_bucket.setdefault(bucket_of(tag, buckets), []).append(tag)
    whens = " ".join(
        f"WHEN {column} IN ({', '.join(repr(t) for t in tags)}) THEN '{b}'"
        for b, tags in sorted(by_bucket.items())
    )
    return f"CASE {whens} ELSE '{UNKNOWN_BUCKET}' END"


def ordered_inputs_sql(contexts: dict[str, TagContext], window_ms: int, buckets: int) -> str:
    """Return the query that batches readings per key bucket and window, beside actions and unit
    states.

    Batches leave the window in event-time order when the watermark closes them; actions and unit
    states pass straight through and wait in the keyed function for their window (never dropped).
    A unit state fans out to every tag of its unit (CROSS JOIN UNNEST over the plant's unit→tags).
    A tag the plant lacks gets the bucket UNKNOWN_BUCKET and is reported, not evaluated.
    """
    by_unit: dict[str, list[str]] = {}
    for tag, c in sorted(contexts.items()):
        by_unit.setdefault(c.unit_code, []).append(tag)
    cases = " ".join(
        f"WHEN '{u}' THEN CAST(ARRAY[{', '.join(repr(t) for t in tags)}] AS ARRAY<STRING>)"
        for u, tags in sorted(by_unit.items())
    )
    window_s = f"{window_ms / 1000:.3f}"
    return f"""
        SELECT kind, bucket, tag, payload, event_time_ms FROM (
          SELECT {KIND_READING} AS kind, bucket, '' AS tag,
                 LISTAGG(CONCAT(tag, '|', CAST(event_time_ms AS STRING), ':',
                                COALESCE(CAST(`value` AS STRING), 'n')), ',') AS payload,
                 MAX(event_time_ms) AS event_time_ms, window_time AS rt
          FROM TABLE(TUMBLE(TABLE readings_bucketed, DESCRIPTOR(rt), INTERVAL '{window_s}' SECOND))
          GROUP BY bucket, window_start, window_end, window_time
          UNION ALL
          SELECT {KIND_ACTION} AS kind, {bucket_sql(contexts, buckets, "tag")} AS bucket, tag,
                 payload, event_time_ms, rt
          FROM actions_src
          UNION ALL
          SELECT {KIND_UNIT_STATE} AS kind, {bucket_sql(contexts, buckets, "t.tag")} AS bucket,
                 t.tag, payload, event_time_ms, rt
          FROM unit_states_src
          CROSS JOIN UNNEST(CASE unit_code {cases} ELSE CAST(ARRAY[''] AS ARRAY<STRING>) END)
            AS t (tag)
        )"""


def bucketed_readings_view(contexts: dict[str, TagContext], buckets: int) -> str:
    """Return the view of readings with their key bucket (the window groups by it)."""
    return (
        "CREATE TEMPORARY VIEW readings_bucketed AS "
        f"SELECT *, {bucket_sql(contexts, buckets, 'tag')} AS bucket FROM readings_src"
    )


def late_readings_sql(window_ms: int) -> str:
    """Readings whose window had already closed when read: not evaluated, copied to readings.late.

    A window closes when the watermark reaches its last millisecond; the source's watermark is
    never behind the window operator's, so every reading the window drops is listed here.
    """
    return f"""SELECT tag, JSON_OBJECT('tag' VALUE tag, 'event_time_ms' VALUE event_time_ms)
              FROM readings_src
              WHERE CURRENT_WATERMARK(rt) IS NOT NULL
                AND TO_TIMESTAMP_LTZ(event_time_ms - MOD(event_time_ms, {window_ms})
                                     + {window_ms} - 1, 3)
                    <= CURRENT_WATERMARK(rt)"""


INPUT_TOPICS = ("readings", "alarm.actions", "unit.states")
OUTPUT_TOPICS = ("alarms", "alarms.current", "alarm.notifications", "alarm.audit", "alarm.kpis")
LATE_TOPIC = "readings.late"
JOB_TOPICS = (*INPUT_TOPICS, *OUTPUT_TOPICS, LATE_TOPIC)  # what a prefixed run (tests, bench) needs


def main(argv: list[str] | None = None) -> None:
    """Run the alarm job on a local mini-cluster until stopped."""
    from pipelines.settings import get_settings
    from streaming_jobs.runtime import job_parser, kafka_table_env, route_to_sinks, sink_ddl

    args = job_parser("HazChem streaming alarm job").parse_args(argv)
    settings = get_settings()
    prefix = args.topic_prefix
    group = args.group or settings.flink.consumer_group
    configs, contexts = plant_processors(
        str(settings.simulator.plant_file) if settings.simulator.plant_file else None
    )
    env, t_env = kafka_table_env(
        settings, "hazchem-alarms", args, checkpoint_subdir=prefix or "main",
        rest_port=settings.flink.rest_port, parallelism=settings.flink.parallelism,
        extra={
            "pipeline.auto-watermark-interval": "20 ms",
            # partitions read a backlog at different speeds; aligned splits pause instead of
            # letting the fastest push the watermark past the others' unread readings
            "pipeline.watermark-alignment.allow-unaligned-source-splits": "false",
            "execution.buffer-timeout.interval": f"{settings.flink.buffer_timeout_ms} ms",
            "python.fn-execution.bundle.size": "2000",
            "python.fn-execution.bundle.time": "20",
        },
    )  # fmt: skip
    topics = {
        "readings": prefix + "readings",
        "actions": prefix + "alarm.actions",
        "unit_states": prefix + "unit.states",
    }
    ddls = source_ddls(settings, topics, group, args.from_timestamp_ms)
    if args.bounded:
        ddls = [
            d.replace("'format'", "'scan.bounded.mode' = 'latest-offset', 'format'") for d in ddls
        ]
    for ddl in ddls:
        t_env.execute_sql(ddl)
    t_env.execute_sql(sink_ddl(settings, "late_sink", prefix + LATE_TOPIC))

    window_ms = settings.flink.batch_window_ms
    buckets = settings.flink.key_buckets or settings.flink.parallelism
    t_env.execute_sql(bucketed_readings_view(contexts, buckets))
    inputs = t_env.to_data_stream(t_env.sql_query(ordered_inputs_sql(contexts, window_ms, buckets)))
    routed, kpis, unknown = build(inputs, configs, contexts, window_ms)
    unknown.print("unknown-tag")
    t_env.create_temporary_view("routed", t_env.from_data_stream(routed.union(kpis)))
    statements = route_to_sinks(t_env, settings, "routed", OUTPUT_TOPICS, prefix)
    statements.add_insert_sql(f"INSERT INTO late_sink {late_readings_sql(window_ms)}")
    statements.attach_as_datastream()  # one job: SQL, Python operators and sinks together
    env.execute("hazchem-alarms")


if __name__ == "__main__":
    main()
