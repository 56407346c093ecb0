"""Streaming risk job: alarms, video, permits, positions, dangers, inspections, case actions ->
four-color risk levels and warning cases (Kafka).

Wiring only. The rules live in `pipelines.risk` (the risk model, `RiskEngine` and the case book:
one implementation, shared with `hazchem risk replay`). Flink SQL reads every input topic raw
with its event time and a watermark; readings only drive the clock (one row per 10 s window,
never parsed by Python). One keyed Python function per enterprise buffers inputs until the
watermark passes them, then applies them in `input_order` (the order replay uses), so the streamed
color timeline equals the replayed one. An input that arrives after the watermark passed it is
applied at once (late, counted, never dropped). Timers let time-based changes happen without
input: video events ageing out, overdue dangers and rounds, the anti-flapping hold, case steps.

`build()` is the pure transform (DataStream of inputs in, routed rows out); `main()` attaches
the Kafka sources and sinks from settings.
"""

from __future__ import annotations

import orjson
from pyflink.common import Row, Types
from pyflink.datastream import DataStream, KeyedProcessFunction, RuntimeContext
from pyflink.datastream.state import ListStateDescriptor, ValueStateDescriptor

from pipelines.risk.cases import CASE_NOTIFICATIONS, CASES, CASES_CURRENT
from pipelines.risk.engine import (
    RISK_CURRENT,
    RISK_LEVELS,
    TOPIC_KINDS,
    RiskEngine,
    RiskPlant,
    RiskState,
    input_order,
)
from pipelines.risk.model import RiskModel
from streaming_jobs.alarms_job import OUTPUT_TYPE
from streaming_jobs.runtime import startup_options

CLOCK = "clock"
# Input rows: (kind, payload JSON, event_time_ms); kind is an engine input kind or "clock".
INPUT_TYPE = Types.ROW_NAMED(
    ["kind", "payload", "event_time_ms"], [Types.STRING(), Types.STRING(), Types.LONG()]
)

INPUT_TOPICS = (*TOPIC_KINDS, "readings")
OUTPUT_TOPICS = (RISK_LEVELS, RISK_CURRENT, CASES, CASES_CURRENT, CASE_NOTIFICATIONS)
JOB_TOPICS = (*INPUT_TOPICS, *OUTPUT_TOPICS)


class RiskFunction(KeyedProcessFunction):
    """Per enterprise: buffer inputs until the watermark, apply them in order, fire due times."""

    def __init__(self, plant: RiskPlant, model: RiskModel) -> None:
        self.plant = plant
        self.model = model

    def open(self, runtime_context: RuntimeContext) -> None:
        self.state = runtime_context.get_state(
            ValueStateDescriptor("risk", Types.PICKLED_BYTE_ARRAY())
        )
        self.buffer = runtime_context.get_list_state(
            ListStateDescriptor("buffer", Types.PICKLED_BYTE_ARRAY())
        )
        self.timer_at = runtime_context.get_state(ValueStateDescriptor("timer_at", Types.LONG()))

    def _engine(self) -> RiskEngine:
        return RiskEngine(self.plant, self.model, self.state.value() or RiskState())

    def _rows(self, engine: RiskEngine, routed, ctx):  # noqa: ANN001
        self.state.update(engine.state)
        due = engine.next_timer_ms()
        armed = self.timer_at.value()
        if due is not None and (armed is None or due < armed):
            ctx.timer_service().register_event_time_timer(due)
            self.timer_at.update(due)
        for r in routed:
            yield Row(r.topic, r.key, orjson.dumps(r.record).decode())

    def process_element(self, row: Row, ctx: KeyedProcessFunction.Context):
        kind, payload, ts = row[0], row[1], row[2]
        if kind == CLOCK:
            return  # the clock only moves the watermark
        if ts > ctx.timer_service().current_watermark():
            self.buffer.add((ts, kind, payload))
            # one timer per second of event time, not per input: the order within is kept below
            ctx.timer_service().register_event_time_timer(ts // 1000 * 1000 + 999)
            return
        # Behind the watermark (a producer's clock behind the plant's): apply it now, counted.
        engine = self._engine()
        engine.state.late_inputs += 1
        print(f"late risk input #{engine.state.late_inputs}: {kind} at {ts} ms, behind the clock")
        yield from self._rows(engine, engine.on_input(kind, orjson.loads(payload)), ctx)

    def on_timer(self, timestamp: int, ctx: KeyedProcessFunction.OnTimerContext):
        engine = self._engine()
        if self.timer_at.value() is not None and self.timer_at.value() <= timestamp:
            self.timer_at.clear()
        items = list(self.buffer.get() or [])
        ready = [(i[1], orjson.loads(i[2])) for i in items if i[0] <= timestamp]
        if ready:
            self.buffer.update([i for i in items if i[0] > timestamp])
        routed = []
        for kind, record in sorted(ready, key=lambda kr: input_order(*kr)):
            routed += engine.on_input(kind, record)
        routed += engine.on_time(timestamp)
        yield from self._rows(engine, routed, ctx)


def build(inputs: DataStream, plant: RiskPlant, model: RiskModel) -> DataStream:
    """Return routed (topic, key, payload) rows for INPUT_TYPE rows with event-time watermarks."""
    return (
        inputs.key_by(lambda _r: plant.enterprise_code, key_type=Types.STRING())
        .process(RiskFunction(plant, model), output_type=OUTPUT_TYPE)
        .name("risk-engine")
    )


# -- Kafka wiring -----------------------------------------------------------------------------


def source_ddls(
    settings, topics: dict[str, str], group: str, start_from_ms: int | None, bounded: bool
) -> list[str]:  # noqa: ANN001
    """Return the DDL of the business inputs (one raw multi-topic source) and the readings clock."""
    lag = f"INTERVAL '{settings.risk.input_lag_ms / 1000:.3f}' SECOND"
    common = (
        f"'properties.bootstrap.servers' = '{settings.kafka.bootstrap_servers}', "
        f"'properties.group.id' = '{group}', {startup_options(start_from_ms)}"
        + (", 'scan.bounded.mode' = 'latest-offset'" if bounded else "")
    )
    business = ";".join(topics[t] for t in TOPIC_KINDS)
    event_ms = (
        "CAST(COALESCE(JSON_VALUE(payload, '$.event_time_ms'), "
        "JSON_VALUE(payload, '$.checkin_time_ms'), "
        "JSON_VALUE(payload, '$.action_time_ms')) AS BIGINT)"
    )
    return [
        f"""CREATE TABLE risk_inputs (
              topic STRING METADATA FROM 'topic' VIRTUAL,
              payload STRING,
              event_time_ms AS {event_ms},
              rt AS TO_TIMESTAMP_LTZ({event_ms}, 3),
              WATERMARK FOR rt AS rt - {lag}
            ) WITH ('connector' = 'kafka', 'topic' = '{business}', {common},
                    'format' = 'raw')""",
        f"""CREATE TABLE risk_clock (
              event_time_ms BIGINT,
              rt AS TO_TIMESTAMP_LTZ(event_time_ms, 3), WATERMARK FOR rt AS rt - {lag}
            ) WITH ('connector' = 'kafka', 'topic' = '{topics["readings"]}', {common},
                    'format' = 'json', 'json.fail-on-missing-field' = 'false',
                    'json.ignore-parse-errors' = 'true')""",
    ]


def inputs_sql(topics: dict[str, str]) -> str:
    """Return the query of input rows: business records by kind, and one clock row per 10 s."""
    kinds = " ".join(f"WHEN '{topics[t]}' THEN '{k}'" for t, k in TOPIC_KINDS.items())
    return f"""
        SELECT CASE topic {kinds} END AS kind, payload, event_time_ms
        FROM risk_inputs WHERE event_time_ms IS NOT NULL
        UNION ALL
        SELECT '{CLOCK}' AS kind, '' AS payload, MAX(event_time_ms) AS event_time_ms
        FROM TABLE(TUMBLE(TABLE risk_clock, DESCRIPTOR(rt), INTERVAL '10' SECOND))
        GROUP BY window_start, window_end"""


def main(argv: list[str] | None = None) -> None:
    """Run the risk job on a local mini-cluster until stopped."""
    from pipelines.plant import load_plant
    from pipelines.risk.engine import risk_plant
    from pipelines.risk.model import load_model
    from pipelines.settings import get_settings
    from streaming_jobs.runtime import job_parser, kafka_table_env, route_to_sinks

    parser = job_parser("HazChem streaming risk job")
    parser.add_argument("--model-file", default=None, help="risk model YAML (default: settings)")
    args = parser.parse_args(argv)
    settings = get_settings()
    prefix = args.topic_prefix
    plant = risk_plant(load_plant(settings.simulator.plant_file))
    model = load_model(args.model_file or settings.risk.model_file)
    # one enterprise, one key: parallelism would not help
    env, t_env = kafka_table_env(
        settings, "hazchem-risk", args, checkpoint_subdir=f"risk-{prefix or 'main'}",
        rest_port=settings.risk.rest_port, parallelism=1,
        extra={
            "pipeline.auto-watermark-interval": "200 ms",
            "python.fn-execution.bundle.size": "500",
            "python.fn-execution.bundle.time": "50",
        },
    )  # fmt: skip
    topics = {t: prefix + t for t in INPUT_TOPICS}
    group = args.group or settings.risk.consumer_group
    for ddl in source_ddls(settings, topics, group, args.from_timestamp_ms, args.bounded):
        t_env.execute_sql(ddl)
    inputs = t_env.to_data_stream(t_env.sql_query(inputs_sql(topics)))
    t_env.create_temporary_view("routed", t_env.from_data_stream(build(inputs, plant, model)))
    route_to_sinks(t_env, settings, "routed", OUTPUT_TOPICS, prefix).attach_as_datastream()
    env.execute("hazchem-risk")


if __name__ == "__main__":
    main()
