"""Streaming alarm job: readings, operator actions and unit states -> alarms, state, KPIs (Kafka).

Wiring only. The rules live in `pipelines.alarms` (engine, lifecycle, KPIs, and the arrival-order
rule in `pipelines.alarms.stream`: one implementation, shared with batch replay, the benchmark's
plain-Python baseline and the API). The JVM reads the topics as raw key/value pairs, spreads tags
over a few key buckets and gathers each bucket's readings into processing-time micro-batches of
`settings.flink.batch_window_ms` (no watermark wait: a reading is evaluated as soon as its batch
closes). Python runs once per bucket and batch (not per reading) in a keyed function holding the
bucket's `BucketState`; actions and unit states are applied as they arrive. Anything that cannot
be evaluated (not JSON, a tombstone, a wrong type or key, an unknown tag) goes to its topic's
dead-letter topic, and the job keeps running.

`build()` is the pure transform (DataStream of input rows in, routed rows out); `main()` attaches
the Kafka sources and sinks from settings.
"""

from __future__ import annotations

import time
import zlib

import orjson
from pyflink.common import Duration, Row, Types, WatermarkStrategy
from pyflink.common.watermark_strategy import TimestampAssigner
from pyflink.datastream import DataStream, KeyedProcessFunction, OutputTag, RuntimeContext
from pyflink.datastream.state import ValueStateDescriptor

from pipelines.alarms.config import TagConfig
from pipelines.alarms.kpi import FLOOD_MIN_RAISED, WINDOW_MS, alarm_kpis
from pipelines.alarms.processor import ALARMS, Routed, TagContext, plant_processors
from pipelines.alarms.stream import (
    ACTIONS,
    DLQ_SUFFIX,
    ITEM_SEP,
    KEY_SEP,
    LATE,
    READINGS,
    TOMBSTONE,
    UNIT_STATES_TOPIC,
    ArrivalEvaluator,
    BucketState,
    split_items,
)
from pipelines.kafka_client import flink_properties
from pipelines.plant import PLANT_TZ
from streaming_jobs.runtime import consumer_group, startup_options

KIND_UNIT_STATE, KIND_READING, KIND_ACTION = 0, 1, 2

# Input rows: (kind, bucket, tag, payload). For KIND_READING the payload is one bucket's batch of
# raw readings "key US value RS key US value ..." (see pipelines.alarms.stream) and tag is empty;
# an action or unit state carries its raw "key US value" and, for a unit state, the tag of its
# unit it is meant for ('' when the unit is unknown or the record unreadable). ARRAY_AGG then
# ARRAY_JOIN, not LISTAGG: appending to one growing string costs O(n^2) per batch.
INPUT_TYPE = Types.ROW_NAMED(
    ["kind", "bucket", "tag", "payload"],
    [Types.INT(), Types.STRING(), Types.STRING(), Types.STRING()],
)
UNKNOWN_BUCKET = "?"


def bucket_of(tag: str, buckets: int) -> str:
    """Return the key bucket of a tag (stable across processes: crc32, not hash())."""
    return str(zlib.crc32(tag.encode()) % buckets)


# Routed output rows: (topic, key, payload JSON)
OUTPUT_TYPE = Types.ROW_NAMED(
    ["topic", "k", "payload"], [Types.STRING(), Types.STRING(), Types.STRING()]
)
# Alarm events again, keyed by area, for the flood/KPI stage, and the timer clock as ticks
# (area ''): their event times drive the KPI stage's watermark.
AREA_ALARMS = OutputTag(
    "area-alarms",
    Types.ROW_NAMED(["area", "payload", "ts"], [Types.STRING(), Types.STRING(), Types.LONG()]),
)
KPIS_TOPIC = "alarm.kpis"
PRINCIPAL = "alarms-job"  # its Kafka principal (pipelines/kafka_client.py)
DAY_MS = 24 * 3600 * 1000
PLANT_OFFSET_MS = int(PLANT_TZ.utcoffset(None).total_seconds() * 1000)


def plant_day_start(ts_ms: int) -> int:
    """Return the plant-local midnight (pipelines.plant.PLANT_TZ) at or before ts_ms, in UTC ms."""
    return (ts_ms + PLANT_OFFSET_MS) // DAY_MS * DAY_MS - PLANT_OFFSET_MS


def _rows(routed: list[Routed]):
    for r in routed:
        yield Row(r.topic, r.key, orjson.dumps(r.record).decode())
        if r.topic == ALARMS:
            yield (
                AREA_ALARMS,
                Row(
                    r.record["area_code"],
                    orjson.dumps(r.record).decode(),
                    r.record["event_time_ms"],
                ),
            )


class AlarmFunction(KeyedProcessFunction):
    """Per key bucket: apply `ArrivalEvaluator` to each batch of readings, action and unit state.

    The bucket's `BucketState` (every tag's engine and lifecycle, newest reading per tag, timer
    clock) is pickled keyed state; the timer clock advances with the readings, so timers need no
    Flink watermark.
    """

    def __init__(
        self,
        configs: dict[str, TagConfig],
        contexts: dict[str, TagContext],
        clock_lag_ms: int,
        partition_idle_ms: int,
        audit_heads: dict[str, str] | None = None,
    ) -> None:
        self.configs = configs
        self.contexts = contexts
        self.clock_lag_ms = clock_lag_ms
        self.partition_idle_ms = partition_idle_ms
        self.audit_heads = audit_heads or {}

    def open(self, runtime_context: RuntimeContext) -> None:
        self.state = runtime_context.get_state(
            ValueStateDescriptor("bucket", Types.PICKLED_BYTE_ARRAY())
        )
        self.evaluator = ArrivalEvaluator(
            self.configs, self.contexts, self.clock_lag_ms, self.partition_idle_ms,
            getattr(self, "audit_heads", None),
        )  # fmt: skip

    def process_element(self, row: Row, ctx: KeyedProcessFunction.Context):
        kind, tag, payload = row[0], row[2], row[3]
        now = int(time.time() * 1000)
        state = self.state.value() or BucketState()
        clock_before = state.clock_ms
        if kind == KIND_READING:
            routed = self.evaluator.readings(state, split_items(payload), now)
        else:
            ((_, key, value),) = split_items(payload)
            if kind == KIND_ACTION:
                routed = self.evaluator.action(state, key, value, now)
            else:
                routed = self.evaluator.unit_state(state, tag, key, value, now)
        self.state.update(state)
        yield from _rows(routed)
        if state.clock_ms is not None and state.clock_ms != clock_before:
            yield AREA_ALARMS, Row("", "", state.clock_ms)


class AreaKpiFunction(KeyedProcessFunction):
    """Per area (alarm console): flood start/end and the ISA-18.2 KPIs of the plant-local day so
    far.

    Windows are the KPI definition's 10-minute tumbling windows, aligned at midnight UTC and so
    at plant-local midnight too (UTC+8): a streaming window equals the batch `hazchem kpi alarms`
    window with T0 = that midnight; the day of a snapshot is the plant-local day (PLANT_TZ).
    """

    def open(self, runtime_context: RuntimeContext) -> None:
        self.events = runtime_context.get_state(
            ValueStateDescriptor("events", Types.PICKLED_BYTE_ARRAY())
        )
        self.window = runtime_context.get_state(
            ValueStateDescriptor("window", Types.PICKLED_BYTE_ARRAY())
        )

    def process_element(self, row: Row, ctx: KeyedProcessFunction.Context):
        if not row[0]:
            return  # a clock tick: it only moved the watermark
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
        day_start = plant_day_start(timestamp - 1)
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


class _RowTime(TimestampAssigner):
    """Event time of an area-alarm row or clock tick (its third field)."""

    def extract_timestamp(self, value, record_timestamp: int) -> int:  # noqa: ANN001
        return value[2]


def build(
    inputs: DataStream,
    configs: dict[str, TagConfig],
    contexts: dict[str, TagContext],
    clock_lag_ms: int = 2000,
    partition_idle_ms: int = 10_000,
    audit_heads: dict[str, str] | None = None,
) -> tuple[DataStream, DataStream]:
    """Return (routed rows, KPI/flood rows) for INPUT_TYPE rows in arrival order.

    `audit_heads` (tag -> last alarm.audit hash in the topic) continues each tag's audit chain
    when the job starts without its state.

    The KPI stage's event time is the alarms' own: its watermark trails the alarm events and the
    alarm stage's timer clock (ticks) by `clock_lag_ms`, so its 10-minute windows close as the
    plant's readings move on.
    """
    routed = (
        inputs.key_by(lambda r: r[1], key_type=Types.STRING())  # the tag's key bucket
        .process(
            AlarmFunction(configs, contexts, clock_lag_ms, partition_idle_ms, audit_heads),
            output_type=OUTPUT_TYPE,
        )
        .name("alarm-engine")
    )
    watermarks = WatermarkStrategy.for_bounded_out_of_orderness(
        Duration.of_millis(clock_lag_ms)
    ).with_timestamp_assigner(_RowTime())
    kpis = (
        routed.get_side_output(AREA_ALARMS)
        .assign_timestamps_and_watermarks(watermarks)
        .key_by(lambda r: r[0], key_type=Types.STRING())
        .process(AreaKpiFunction(), output_type=OUTPUT_TYPE)
        .name("alarm-kpis")
    )
    return routed, kpis


# -- Kafka wiring -----------------------------------------------------------------------------


def source_ddls(
    settings, topics: dict[str, str], group: str, start_from_ms: int | None
) -> list[str]:  # noqa: ANN001
    """Return the DDL of the three sources, each raw key + raw value (parsed in Python, so a
    record that is not JSON is dead-lettered instead of failing the job)."""
    common = (
        f"{flink_properties(settings, PRINCIPAL)}, "
        f"'properties.group.id' = '{group}', {startup_options(start_from_ms)}, "
        "'key.format' = 'raw', 'key.fields' = 'k', "
        "'value.format' = 'raw', 'value.fields-include' = 'EXCEPT_KEY'"
    )
    return [
        f"""CREATE TABLE {name} (
              k STRING, payload STRING, part INT METADATA FROM 'partition' VIRTUAL,
              pt AS PROCTIME())
            WITH ('connector' = 'kafka', 'topic' = '{topics[topic]}', {common})"""
        for name, topic in (
            ("readings_src", "readings"),
            ("actions_src", "actions"),
            ("unit_states_src", "unit_states"),
        )
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


def _sql_char(c: str) -> str:
    """Return a one-character SQL string literal in Unicode escape form (e.g. U&'\\001E')."""
    return f"U&'\\{ord(c):04X}'"


def _item_sql() -> str:
    """Return the SQL expression of one record as `partition US key US value` (a tombstone's value
    is CAN), the form `pipelines.alarms.stream.split_items` reads."""
    us = _sql_char(KEY_SEP)
    return (
        f"CONCAT(CAST(part AS STRING), {us}, COALESCE(k, ''), {us}, "
        f"COALESCE(payload, {_sql_char(TOMBSTONE)}))"
    )


def ordered_inputs_sql(contexts: dict[str, TagContext], window_ms: int, buckets: int) -> str:
    """Return the query of the job's input rows: per bucket, the readings of each processing-time
    window in arrival order, beside actions and unit states passed straight through.

    A unit state fans out to every tag of its unit (CROSS JOIN UNNEST over the plant's
    unit->tags); one whose unit is unknown or unreadable gets tag '' and is dead-lettered.
    Readings are bucketed by their Kafka key (the tag), which keeps a tag's arrival order.
    """
    by_unit: dict[str, list[str]] = {}
    for tag, c in sorted(contexts.items()):
        by_unit.setdefault(c.unit_code, []).append(tag)
    cases = " ".join(
        f"WHEN '{u}' THEN CAST(ARRAY[{', '.join(repr(t) for t in tags)}] AS ARRAY<STRING>)"
        for u, tags in sorted(by_unit.items())
    )
    window_s = f"{window_ms / 1000:.3f}"
    item = _item_sql()
    return f"""
        SELECT kind, bucket, tag, payload FROM (
          SELECT {KIND_READING} AS kind, bucket, '' AS tag,
                 ARRAY_JOIN(ARRAY_AGG({item}), {_sql_char(ITEM_SEP)}) AS payload
          FROM TABLE(TUMBLE(TABLE readings_bucketed, DESCRIPTOR(pt), INTERVAL '{window_s}' SECOND))
          GROUP BY bucket, window_start, window_end
          UNION ALL
          SELECT {KIND_ACTION} AS kind, {bucket_sql(contexts, buckets, "a.tag")} AS bucket,
                 COALESCE(a.tag, '') AS tag, {item} AS payload
          FROM (SELECT k, payload, part, JSON_VALUE(payload, '$.tag') AS tag FROM actions_src) AS a
          UNION ALL
          SELECT {KIND_UNIT_STATE} AS kind, {bucket_sql(contexts, buckets, "t.tag")} AS bucket,
                 t.tag, {item} AS payload
          FROM (SELECT k, payload, part, JSON_VALUE(payload, '$.unit_code') AS unit_code
                FROM unit_states_src) AS u
          CROSS JOIN UNNEST(CASE unit_code {cases} ELSE CAST(ARRAY[''] AS ARRAY<STRING>) END)
            AS t (tag)
        )"""


def bucketed_readings_view(contexts: dict[str, TagContext], buckets: int) -> str:
    """Return the view of raw readings with the key bucket of their key (the tag)."""
    return (
        "CREATE TEMPORARY VIEW readings_bucketed AS "
        f"SELECT *, {bucket_sql(contexts, buckets, 'k')} AS bucket FROM readings_src"
    )


INPUT_TOPICS = (READINGS, ACTIONS, UNIT_STATES_TOPIC)
DLQ_TOPICS = tuple(t + DLQ_SUFFIX for t in INPUT_TOPICS)
OUTPUT_TOPICS = (
    "alarms", "alarms.current", "alarm.notifications", "alarm.audit", KPIS_TOPIC, LATE, *DLQ_TOPICS,
)  # fmt: skip
JOB_TOPICS = (*INPUT_TOPICS, *OUTPUT_TOPICS[:6])  # what a prefixed run (tests, bench) creates


def main(argv: list[str] | None = None) -> None:
    """Run the alarm job on a local mini-cluster until stopped."""
    from pipelines.settings import get_settings
    from streaming_jobs.runtime import job_parser, kafka_table_env, route_to_sinks

    args = job_parser("HazChem streaming alarm job").parse_args(argv)
    settings = get_settings()
    prefix = args.topic_prefix
    group = consumer_group(
        settings, PRINCIPAL, args.group, settings.flink.consumer_group, args.topic_prefix
    )
    configs, contexts = plant_processors(
        str(settings.simulator.plant_file) if settings.simulator.plant_file else None
    )
    env, t_env = kafka_table_env(
        settings, "hazchem-alarms", args, checkpoint_subdir=prefix or "main",
        rest_port=settings.flink.rest_port, parallelism=settings.flink.parallelism,
        extra={
            "pipeline.auto-watermark-interval": "20 ms",
            "execution.buffer-timeout.interval": f"{settings.flink.buffer_timeout_ms} ms",
            "python.fn-execution.bundle.size": "2000",
            "python.fn-execution.bundle.time": "20",
        },
        principal=PRINCIPAL,
    )  # fmt: skip
    topics = {
        "readings": prefix + READINGS,
        "actions": prefix + ACTIONS,
        "unit_states": prefix + UNIT_STATES_TOPIC,
    }
    ddls = source_ddls(settings, topics, group, args.from_timestamp_ms)
    if args.bounded:
        ddls = [
            d.replace("'key.format'", "'scan.bounded.mode' = 'latest-offset', 'key.format'")
            for d in ddls
        ]
    for ddl in ddls:
        t_env.execute_sql(ddl)

    buckets = settings.flink.key_buckets or settings.flink.parallelism
    t_env.execute_sql(bucketed_readings_view(contexts, buckets))
    query = ordered_inputs_sql(contexts, settings.flink.batch_window_ms, buckets)
    inputs = t_env.to_data_stream(t_env.sql_query(query))
    from pipelines.security.audit_check import chain_heads

    routed, kpis = build(
        inputs, configs, contexts, settings.flink.clock_lag_ms, settings.flink.partition_idle_ms,
        chain_heads(settings, prefix + "alarm.audit", PRINCIPAL, group),
    )  # fmt: skip
    t_env.create_temporary_view("routed", t_env.from_data_stream(routed.union(kpis)))
    statements = route_to_sinks(t_env, settings, "routed", OUTPUT_TOPICS, prefix, PRINCIPAL)
    statements.attach_as_datastream()  # one job: SQL, Python operators and sinks together
    env.execute("hazchem-alarms")


if __name__ == "__main__":
    main()
