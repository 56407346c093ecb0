"""Streaming alarm job: readings (Kafka) -> per-tag alarm engine -> alarm events (Kafka `alarms`).

`build()` is the pure transform (a DataStream of readings in, alarm-event JSON strings out); `main()`
attaches the Kafka source and sink from settings. The alarm rules themselves live in
`pipelines.alarms` (one implementation, shared with batch replay and the API); this file only keys
readings by tag, orders them by event time with timers, and holds the engine state in Flink state.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

import orjson
from pyflink.common import Row, Types
from pyflink.datastream import DataStream, KeyedProcessFunction, OutputTag, RuntimeContext
from pyflink.datastream.state import MapStateDescriptor, ValueStateDescriptor

from pipelines.alarms.config import TagConfig
from pipelines.alarms.engine import TagAlarmState, Transition

# Readings the job could not evaluate: behind the watermark, or for a tag it has no config for.
UNEVALUATED = OutputTag("unevaluated", Types.STRING())

READING_TYPE = Types.ROW_NAMED(["tag", "value", "event_time_ms"], [Types.STRING(), Types.DOUBLE(), Types.LONG()])


@dataclass(frozen=True)
class TagContext:
    """Where a tag sits in the plant: copied onto every alarm event it causes."""

    enterprise_code: str
    hazard_source_code: str | None
    unit_code: str
    area_code: str
    unit: str | None


def alarm_event(t: Transition, ctx: TagContext, emitted_at_ms: int) -> dict:
    """Return the alarm_event.v1 record of one transition."""
    return {
        "event_id": t.event_id,
        "episode_id": t.episode_id,
        "enterprise_code": ctx.enterprise_code,
        "hazard_source_code": ctx.hazard_source_code,
        "unit_code": ctx.unit_code,
        "area_code": ctx.area_code,
        "tag": t.tag,
        "condition": t.condition,
        "alarm_class": t.alarm_class,
        "event": t.event,
        "limit": t.limit,
        "value": t.value,
        "unit": ctx.unit,
        "priority": t.priority,
        "event_time_ms": t.ts_ms,
        "reading_event_time_ms": t.ts_ms if t.value is not None else None,
        "emitted_at_ms": emitted_at_ms,
    }


class AlarmFunction(KeyedProcessFunction):
    """Per tag: buffer readings until the watermark passes them, then run the engine in order.

    Event-time timers do the ordering: a reading at ts registers a timer at ts, and timers fire
    in ts order as the watermark advances, exactly like `pipelines.alarms.replay` sorts readings.
    STALE uses the engine's own due time (`next_timer_ms`) as another timer.
    """

    def __init__(self, configs: dict[str, TagConfig], contexts: dict[str, TagContext]) -> None:
        self.configs = configs
        self.contexts = contexts

    def open(self, runtime_context: RuntimeContext) -> None:
        self.engine = runtime_context.get_state(
            ValueStateDescriptor("engine", Types.PICKLED_BYTE_ARRAY())
        )
        self.buffer = runtime_context.get_map_state(
            MapStateDescriptor("buffer", Types.LONG(), Types.PICKLED_BYTE_ARRAY())
        )

    def process_element(self, reading: Row, ctx: KeyedProcessFunction.Context):
        tag, value, ts = reading[0], reading[1], reading[2]
        if tag not in self.configs:
            yield UNEVALUATED, f"unknown_tag|{tag}|{ts}"
            return
        if ts <= ctx.timer_service().current_watermark():
            yield UNEVALUATED, f"late|{tag}|{ts}"
            return
        pending = self.buffer.get(ts) or []
        pending.append(value)
        self.buffer.put(ts, pending)
        ctx.timer_service().register_event_time_timer(ts)

    def on_timer(self, timestamp: int, ctx: KeyedProcessFunction.OnTimerContext):
        tag = ctx.get_current_key()
        state: TagAlarmState = self.engine.value() or TagAlarmState(self.configs[tag])
        due_before = state.next_timer_ms()
        # STALE due at this instant is evaluated before readings at the same instant (as replay).
        transitions: list[Transition] = list(state.on_time(timestamp))
        pending = self.buffer.get(timestamp)
        if pending is not None:
            self.buffer.remove(timestamp)
            for value in pending:
                transitions.extend(state.on_reading(timestamp, value))
        due = state.next_timer_ms()
        if due is not None and due != due_before:
            ctx.timer_service().register_event_time_timer(due)
        self.engine.update(state)
        if transitions:
            now = int(time.time() * 1000)
            tag_ctx = self.contexts[tag]
            for t in transitions:
                yield orjson.dumps(alarm_event(t, tag_ctx, now)).decode()


def build(
    readings: DataStream, configs: dict[str, TagConfig], contexts: dict[str, TagContext]
) -> tuple[DataStream, DataStream]:
    """Return (alarm-event JSON strings, unevaluated-reading notes) for a stream of readings.

    `readings` are Rows (tag, value, event_time_ms) with event-time timestamps and watermarks.
    """
    alarms = (
        readings.key_by(lambda r: r[0], key_type=Types.STRING())
        .process(AlarmFunction(configs, contexts), output_type=Types.STRING())
        .name("alarm-engine")
    )
    return alarms, alarms.get_side_output(UNEVALUATED)


def plant_inputs(plant_file: str | None = None) -> tuple[dict[str, TagConfig], dict[str, TagContext]]:
    """Return the engine configs and plant context of every tag of the plant model."""
    from pipelines.plant import load_plant

    plant = load_plant(plant_file)
    configs: dict[str, TagConfig] = {}
    contexts: dict[str, TagContext] = {}
    for rec in plant.tag_records():
        configs[rec["tag"]] = TagConfig.from_dict(rec)
        contexts[rec["tag"]] = TagContext(
            enterprise_code=rec["enterprise_code"],
            hazard_source_code=rec.get("hazard_source_code"),
            unit_code=rec["unit_code"],
            area_code=rec["area_code"],
            unit=rec.get("unit"),
        )
    return configs, contexts


def kafka_source_ddl(settings, topic: str, group: str, start_from_ms: int | None) -> str:  # noqa: ANN001
    """Return the DDL of the readings source table (JSON on the `readings` topic)."""
    if start_from_ms is not None:
        startup = f"'scan.startup.mode' = 'timestamp', 'scan.startup.timestamp-millis' = '{start_from_ms}'"
    else:
        startup = "'scan.startup.mode' = 'group-offsets', 'properties.auto.offset.reset' = 'earliest'"
    delay_s = settings.flink.watermark_delay_ms / 1000
    return f"""
        CREATE TABLE readings_src (
          tag STRING, `value` DOUBLE, event_time_ms BIGINT,
          rt AS TO_TIMESTAMP_LTZ(event_time_ms, 3),
          WATERMARK FOR rt AS rt - INTERVAL '{delay_s:.3f}' SECOND
        ) WITH (
          'connector' = 'kafka', 'topic' = '{topic}',
          'properties.bootstrap.servers' = '{settings.kafka.bootstrap_servers}',
          'properties.group.id' = '{group}',
          'properties.isolation.level' = 'read_committed',
          {startup},
          'format' = 'json', 'json.fail-on-missing-field' = 'false'
        )"""


def kafka_sink_ddl(settings, topic: str) -> str:  # noqa: ANN001
    """Return the DDL of the alarms sink table (JSON value, keyed by tag)."""
    return f"""
        CREATE TABLE alarms_sink (tag STRING, payload STRING) WITH (
          'connector' = 'kafka', 'topic' = '{topic}',
          'properties.bootstrap.servers' = '{settings.kafka.bootstrap_servers}',
          'key.format' = 'raw', 'key.fields' = 'tag',
          'value.format' = 'raw', 'value.fields-include' = 'EXCEPT_KEY',
          'sink.delivery-guarantee' = 'at-least-once'
        )"""


def main(argv: list[str] | None = None) -> None:
    """Run the alarm job on a local mini-cluster until stopped."""
    from pyflink.table import StreamTableEnvironment

    from streaming_jobs.runtime import stream_env

    from pipelines.settings import get_settings

    parser = argparse.ArgumentParser(description="HazChem streaming alarm job")
    parser.add_argument("--from-timestamp-ms", type=int, default=None)
    parser.add_argument("--readings-topic", default="readings")
    parser.add_argument("--alarms-topic", default="alarms")
    parser.add_argument("--group", default=None, help="consumer group (default from settings)")
    args = parser.parse_args(argv)

    settings = get_settings()
    group = args.group or settings.flink.consumer_group
    configs, contexts = plant_inputs(
        str(settings.simulator.plant_file) if settings.simulator.plant_file else None
    )
    env = stream_env(
        settings.flink.parallelism,
        {
            "execution.checkpointing.interval": f"{settings.flink.checkpoint_interval_ms} ms",
            "execution.checkpointing.dir": settings.flink.checkpoint_dir.as_uri(),
            # kept after a kill so `--from-checkpoint` can resume without losing a transition
            "execution.checkpointing.externalized-checkpoint-retention": "RETAIN_ON_CANCELLATION",
        },
    )
    connector = settings.flink.jars_dir / f"flink-sql-connector-kafka-{settings.flink.kafka_connector_version}.jar"
    env.add_jars(connector.as_uri())
    t_env = StreamTableEnvironment.create(env)
    t_env.get_config().set("table.exec.source.idle-timeout", f"{settings.flink.source_idle_timeout_ms} ms")
    t_env.get_config().set("pipeline.name", "hazchem-alarms")
    t_env.execute_sql(kafka_source_ddl(settings, args.readings_topic, group, args.from_timestamp_ms))
    t_env.execute_sql(kafka_sink_ddl(settings, args.alarms_topic))

    readings = t_env.to_data_stream(
        t_env.sql_query("SELECT tag, `value`, event_time_ms, rt FROM readings_src")
    ).map(lambda r: Row(r[0], r[1], r[2]), output_type=READING_TYPE)
    alarms, unevaluated = build(readings, configs, contexts)
    unevaluated.print("unevaluated")
    keyed = alarms.map(
        lambda s: Row(orjson.loads(s)["tag"], s),
        output_type=Types.ROW_NAMED(["tag", "payload"], [Types.STRING(), Types.STRING()]),
    )
    statements = t_env.create_statement_set()
    statements.add_insert("alarms_sink", t_env.from_data_stream(keyed))
    statements.attach_as_datastream()  # one job: DataStream operators and the SQL sink together
    env.execute("hazchem-alarms")


if __name__ == "__main__":
    main()
