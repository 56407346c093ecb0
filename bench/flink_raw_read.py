"""The alarm job's read path alone, for the benchmark's `raw_consume_per_s`.

The same Kafka source DDL as `streaming_jobs/alarms_job.py` (raw key + value + partition, bounded
at the latest offsets) into a blackhole sink, in the same local mini-cluster configuration: what
the job could read per second if evaluating cost nothing. Run by bench/alarms_bench.py.
"""

from __future__ import annotations

from pipelines.settings import get_settings
from streaming_jobs.alarms_job import source_ddls
from streaming_jobs.runtime import job_parser, kafka_table_env


def main() -> None:
    """Read `<prefix>readings` to its end offsets and discard every record."""
    args = job_parser("read the readings topic like the alarm job, discard").parse_args()
    settings = get_settings()
    env, t_env = kafka_table_env(
        settings, "hazchem-raw-read", args, checkpoint_subdir="bench-raw",
        rest_port=settings.flink.rest_port, parallelism=settings.flink.parallelism, extra={},
        principal="alarms-job",
    )  # fmt: skip
    topics = {k: args.topic_prefix + t for k, t in
              (("readings", "readings"), ("actions", "alarm.actions"),
               ("unit_states", "unit.states"))}  # fmt: skip
    ddl = source_ddls(
        settings, topics, args.group or f"{settings.flink.consumer_group}-raw-read", None
    )[0]
    t_env.execute_sql(
        ddl.replace("'key.format'", "'scan.bounded.mode' = 'latest-offset', 'key.format'")
    )
    t_env.execute_sql("CREATE TABLE discard (k STRING, payload STRING, part INT) "
                      "WITH ('connector' = 'blackhole')")  # fmt: skip
    t_env.execute_sql("INSERT INTO discard SELECT k, payload, part FROM readings_src").wait()


if __name__ == "__main__":
    main()
