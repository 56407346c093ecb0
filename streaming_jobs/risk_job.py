"""Streaming risk job: alarms, video, permits, positions, dangers, inspections, case actions ->
four-color risk levels and warning cases (Kafka).

Wiring only. The rules live in `pipelines.risk` (the risk model, `RiskEngine` and the case book:
one implementation, shared with `hazchem risk replay`; `pipelines.risk.inputs` checks and routes
what the job reads). Flink SQL reads every business input topic raw (bytes, so nothing it reads
can fail to parse in the JVM) and hands each record to one keyed Python function per enterprise,
which applies it at once, in arrival order (the engine's ordering rule: an input older than what
was already applied is late, applied at the engine clock and counted, never dropped). Readings
are never parsed by Python: the JVM takes their event time and sends the newest of each second of
processing time as a clock row, which lets time-based changes happen without input (video events
ageing out, overdue dangers and rounds, the anti-flapping hold, case steps) `clock_lag_ms` behind.
A record that is not JSON, has a wrong or missing field, or is a tombstone goes to its topic's
`.dlq` with the reason; the job keeps running.

`build()` is the pure transform (DataStream of input rows in, routed rows out); `main()` attaches
the Kafka sources and sinks from settings.
"""

from __future__ import annotations

import orjson
from pyflink.common import Row, Types
from pyflink.datastream import DataStream, KeyedProcessFunction, RuntimeContext
from pyflink.datastream.state import ValueStateDescriptor

from pipelines.kafka_client import flink_properties
from pipelines.risk.cases import CASE_NOTIFICATIONS, CASES, CASES_CURRENT
from pipelines.risk.engine import (
    RISK_CURRENT,
    RISK_LEVELS,
    TOPIC_KINDS,
    RiskEngine,
    RiskPlant,
    RiskState,
)
from pipelines.risk.inputs import CLOCK_TOPIC, InputChecker, InputRouter
from pipelines.risk.model import RiskModel
from pipelines.topics import DLQ_SUFFIX
from streaming_jobs.alarms_job import OUTPUT_TYPE
from streaming_jobs.runtime import consumer_group, startup_options

# Input rows: (topic read, Kafka key, value bytes, clock_ms). A record of an input topic has a
# topic (its value may be None: a tombstone); a clock row has no topic and the newest reading time.
INPUT_TYPE = Types.ROW_NAMED(
    ["topic", "k", "payload", "clock_ms"],
    [Types.STRING(), Types.STRING(), Types.PRIMITIVE_ARRAY(Types.BYTE()), Types.LONG()],
)

INPUT_TOPICS = (*TOPIC_KINDS, CLOCK_TOPIC)
DEAD_LETTER_TOPICS = tuple(t + DLQ_SUFFIX for t in INPUT_TOPICS)
OUTPUT_TOPICS = (
    RISK_LEVELS, RISK_CURRENT, CASES, CASES_CURRENT, CASE_NOTIFICATIONS, *DEAD_LETTER_TOPICS,
)  # fmt: skip
JOB_TOPICS = (*INPUT_TOPICS, RISK_LEVELS, RISK_CURRENT, CASES, CASES_CURRENT, CASE_NOTIFICATIONS)
PRINCIPAL = "risk-job"  # its Kafka principal (pipelines/kafka_client.py)
CLOCK_TICK_S = 1  # readings move the risk clock once per second of processing time


class RiskFunction(KeyedProcessFunction):
    """Per enterprise: apply each input as it arrives, move the clock, dead-letter poison."""

    def __init__(
        self, plant: RiskPlant, model: RiskModel, topics: dict[str, str],
        schemas: dict[str, str], clock_lag_ms: int,
    ) -> None:  # fmt: skip
        self.plant = plant
        self.model = model
        self.topics = topics
        self.schemas = schemas
        self.clock_lag_ms = clock_lag_ms

    def open(self, runtime_context: RuntimeContext) -> None:
        self.state = runtime_context.get_state(
            ValueStateDescriptor("risk", Types.PICKLED_BYTE_ARRAY())
        )
        self.router = InputRouter(self.topics, InputChecker(self.schemas), self.clock_lag_ms)

    def process_element(self, row: Row, ctx: KeyedProcessFunction.Context):
        topic, key, payload, clock_ms = row[0], row[1], row[2], row[3]
        engine = RiskEngine(self.plant, self.model, self.state.value() or RiskState())
        late = engine.state.late_inputs
        if topic is None:
            if clock_ms is None:
                return
            routed = self.router.on_clock(engine, clock_ms)
        else:
            routed = self.router.on_record(engine, topic, key, payload)
        if engine.state.late_inputs > late:
            print(f"late risk input #{engine.state.late_inputs} on {topic}: applied at the clock")
        self.state.update(engine.state)
        for r in routed:
            yield Row(r.topic, r.key, orjson.dumps(r.record).decode())


def build(
    inputs: DataStream, plant: RiskPlant, model: RiskModel, topics: dict[str, str],
    schemas: dict[str, str], clock_lag_ms: int,
) -> DataStream:  # fmt: skip
    """Return routed (topic, key, payload) rows for INPUT_TYPE rows, applied in arrival order.

    topics maps each topic read to its declared name; schemas each input kind to its record type.
    """
    return (
        inputs.key_by(lambda _r: plant.enterprise_code, key_type=Types.STRING())
        .process(RiskFunction(plant, model, topics, schemas, clock_lag_ms), output_type=OUTPUT_TYPE)
        .name("risk-engine")
    )


# -- Kafka wiring -----------------------------------------------------------------------------


def source_ddls(
    settings, topics: dict[str, str], group: str, start_from_ms: int | None, bounded: bool
) -> list[str]:  # noqa: ANN001
    """Return the DDL of the business inputs (one raw multi-topic source) and the readings."""
    common = (
        f"{flink_properties(settings, PRINCIPAL)}, "
        f"'properties.group.id' = '{group}', {startup_options(start_from_ms)}, "
        "'key.format' = 'raw', 'key.fields' = 'k', "
        "'value.format' = 'raw', 'value.fields-include' = 'EXCEPT_KEY'"
        + (", 'scan.bounded.mode' = 'latest-offset'" if bounded else "")
    )
    business = ";".join(topics[t] for t in TOPIC_KINDS)
    # raw bytes: a record that is not JSON, or a tombstone (NULL payload), reaches Python intact
    return [
        f"""CREATE TABLE risk_inputs (
              topic STRING METADATA FROM 'topic' VIRTUAL, k STRING, payload BYTES
            ) WITH ('connector' = 'kafka', 'topic' = '{business}', {common})""",
        f"""CREATE TABLE risk_clock (
              topic STRING METADATA FROM 'topic' VIRTUAL, k STRING, payload BYTES,
              event_time_ms AS TRY_CAST(
                JSON_VALUE(DECODE(payload, 'UTF-8'), '$.event_time_ms') AS BIGINT),
              pt AS PROCTIME()
            ) WITH ('connector' = 'kafka', 'topic' = '{topics[CLOCK_TOPIC]}', {common})""",
    ]


def inputs_sql() -> str:
    """Return the query of input rows: every business record, every reading without a readable
    event time (to be dead-lettered), and one clock row per second with the newest reading time."""
    return f"""
        SELECT topic, k, payload, CAST(NULL AS BIGINT) AS clock_ms FROM risk_inputs
        UNION ALL
        SELECT topic, k, payload, CAST(NULL AS BIGINT) AS clock_ms
        FROM risk_clock WHERE event_time_ms IS NULL
        UNION ALL
        SELECT CAST(NULL AS STRING) AS topic, CAST(NULL AS STRING) AS k,
               CAST(NULL AS BYTES) AS payload, MAX(event_time_ms) AS clock_ms
        FROM TABLE(TUMBLE(TABLE risk_clock, DESCRIPTOR(pt), INTERVAL '{CLOCK_TICK_S}' SECOND))
        GROUP BY window_start, window_end"""


def main(argv: list[str] | None = None) -> None:
    """Run the risk job on a local mini-cluster until stopped."""
    from pipelines.plant import load_plant
    from pipelines.risk.engine import risk_plant
    from pipelines.risk.model import load_model
    from pipelines.settings import get_settings
    from pipelines.topics import load_topics
    from streaming_jobs.runtime import job_parser, kafka_table_env, route_to_sinks

    parser = job_parser("HazChem streaming risk job")
    parser.add_argument("--model-file", default=None, help="risk model YAML (default: settings)")
    args = parser.parse_args(argv)
    settings = get_settings()
    prefix = args.topic_prefix
    plant = risk_plant(load_plant(settings.simulator.plant_file))
    model = load_model(args.model_file or settings.risk.model_file)
    declared = {t.name: t for t in load_topics()}
    schemas = {kind: declared[t].schema for t, kind in TOPIC_KINDS.items()}
    # one enterprise, one key: parallelism would not help
    env, t_env = kafka_table_env(
        settings, "hazchem-risk", args, checkpoint_subdir=f"risk-{prefix or 'main'}",
        rest_port=settings.risk.rest_port, parallelism=1,
        extra={
            # latency over throughput: few inputs, each flushed on at once
            "execution.buffer-timeout.interval": f"{settings.flink.buffer_timeout_ms} ms",
            "python.fn-execution.bundle.size": "100",
            "python.fn-execution.bundle.time": "10",
        },
        principal=PRINCIPAL,
    )  # fmt: skip
    topics = {t: prefix + t for t in INPUT_TOPICS}
    group = consumer_group(
        settings, PRINCIPAL, args.group, settings.risk.consumer_group, args.topic_prefix
    )
    for ddl in source_ddls(settings, topics, group, args.from_timestamp_ms, args.bounded):
        t_env.execute_sql(ddl)
    inputs = t_env.to_data_stream(t_env.sql_query(inputs_sql()))
    routed = build(
        inputs, plant, model, {v: k for k, v in topics.items()}, schemas,
        settings.risk.clock_lag_ms,
    )  # fmt: skip
    t_env.create_temporary_view("routed", t_env.from_data_stream(routed))
    route_to_sinks(
        t_env, settings, "routed", OUTPUT_TOPICS, prefix, PRINCIPAL
    ).attach_as_datastream()
    env.execute("hazchem-risk")


if __name__ == "__main__":
    main()
