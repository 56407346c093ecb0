"""The Flink execution environment every job and test uses: local mini-cluster,
venv Python workers."""

from __future__ import annotations

import argparse
import sys

from pyflink.common import Configuration
from pyflink.datastream import StreamExecutionEnvironment

from pipelines.settings import Settings

# Every listener of the local mini-cluster on loopback (the REST API is set per job): the
# JobManager's blob server and RPC, the TaskManager's data exchange and RPC, the metric query
# service. Flink binds them to every interface unless told.
LOOPBACK_CONF = {
    "jobmanager.bind-host": "127.0.0.1",
    "jobmanager.rpc.address": "127.0.0.1",
    "taskmanager.bind-host": "127.0.0.1",
    "taskmanager.host": "127.0.0.1",
    "rest.address": "127.0.0.1",
    "rest.bind-address": "127.0.0.1",
}


def _loopback_python_worker_pool() -> None:
    """Make PyFlink's loopback worker pool (a gRPC server in this process that the JVM asks to
    start Python workers) listen on 127.0.0.1: pyflink 2.3 binds it to `[::]` with no setting."""
    import atexit
    import functools

    import grpc
    from apache_beam.portability.api import beam_fn_api_pb2_grpc
    from apache_beam.utils import thread_pool_executor
    from pyflink.fn_execution.beam import beam_worker_pool_service as pool

    def start(self):  # noqa: ANN001, ANN202 - replaces BeamFnLoopbackWorkerPoolServicer.start
        if not self._worker_address:
            server = grpc.server(thread_pool_executor.shared_unbounded_instance())
            address = f"127.0.0.1:{server.add_insecure_port('127.0.0.1:0')}"
            beam_fn_api_pb2_grpc.add_BeamFnExternalWorkerPoolServicer_to_server(self, server)
            server.start()
            self._worker_address = address
            atexit.register(functools.partial(server.stop, 1))
        return self._worker_address

    pool.BeamFnLoopbackWorkerPoolServicer.start = start


def stream_env(
    parallelism: int = 1, extra: dict[str, str] | None = None
) -> StreamExecutionEnvironment:
    """Return a StreamExecutionEnvironment whose Python functions run this interpreter (the
    venv's), in the JVM by default (`flink.python_execution_mode`), and whose every listener is
    on loopback."""
    from pipelines.settings import get_settings

    _loopback_python_worker_pool()
    conf = Configuration()
    conf.set_string("python.executable", sys.executable)
    conf.set_string("python.client.executable", sys.executable)
    conf.set_string("python.execution-mode", get_settings().flink.python_execution_mode)
    for key, value in {**LOOPBACK_CONF, **(extra or {})}.items():
        conf.set_string(key, value)
    env = StreamExecutionEnvironment.get_execution_environment(conf)
    env.set_parallelism(parallelism)
    return env


# -- what every Kafka job shares: arguments, start position, table environment, sinks ---------


def consumer_group(
    settings: Settings, principal: str, requested: str | None, default: str, topic_prefix: str
) -> str:
    """Return the job's consumer group; exit with one line when the ACL table does not let its
    principal use it (the job would otherwise wait on authorisation errors instead of running)."""
    from pipelines.kafka_client import group_allowed

    group = requested or default
    if not group_allowed(settings, principal, group, topic_prefix):
        allowed = f"'{default}'" + (f" or '{topic_prefix}'" if topic_prefix else "")
        raise SystemExit(
            f"error: consumer group '{group}' is not allowed for this job's Kafka principal;"
            f" use a group starting with {allowed} (docs/security.md)"
        )
    return group


def job_parser(description: str) -> argparse.ArgumentParser:
    """Return the command line every streaming job accepts (a job adds its own options)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--from-timestamp-ms", type=int, default=None)
    parser.add_argument("--from-checkpoint", default=None, help="resume from this checkpoint path")
    parser.add_argument("--topic-prefix", default="", help="prefix every topic name (tests)")
    parser.add_argument("--group", default=None, help="consumer group (default from settings)")
    parser.add_argument("--bounded", action="store_true", help="stop at the current end offsets")
    return parser


def startup_options(start_from_ms: int | None) -> str:
    """Return the Kafka source options that say where reading starts."""
    if start_from_ms is not None:
        return (
            "'scan.startup.mode' = 'timestamp', "
            f"'scan.startup.timestamp-millis' = '{start_from_ms}'"
        )
    return "'scan.startup.mode' = 'group-offsets', 'properties.auto.offset.reset' = 'earliest'"


def sink_ddl(settings, name: str, topic: str, principal: str) -> str:  # noqa: ANN001
    """Return the DDL of one keyed raw-JSON Kafka sink written as `principal`."""
    from pipelines.kafka_client import flink_properties

    return f"""
        CREATE TABLE {name} (k STRING, payload STRING) WITH (
          'connector' = 'kafka', 'topic' = '{topic}', {flink_properties(settings, principal)},
          'key.format' = 'raw', 'key.fields' = 'k',
          'value.format' = 'raw', 'value.fields-include' = 'EXCEPT_KEY',
          'sink.delivery-guarantee' = 'at-least-once'
        )"""


def kafka_table_env(
    settings,  # noqa: ANN001
    name: str,
    args: argparse.Namespace,
    checkpoint_subdir: str,
    rest_port: int,
    parallelism: int,
    extra: dict[str, str],
    principal: str,
):  # noqa: ANN201
    """Return (env, t_env) of a job on a local mini-cluster with the Kafka connector, whose
    Kafka clients connect as `principal`.

    Checkpoints are retained after a kill, so `--from-checkpoint` resumes without losing a
    transition; the REST API answers on rest_port (job state for the demo and `hazchem status`).
    """
    from pyflink.table import StreamTableEnvironment

    from pipelines.kafka_client import export_password

    # before the JVM starts: its Kafka clients read the password from the environment, so no
    # DDL (which Flink prints) holds it
    export_password(settings, principal)

    conf = {
        "execution.checkpointing.interval": f"{settings.flink.checkpoint_interval_ms} ms",
        "execution.checkpointing.dir": (settings.flink.checkpoint_dir / checkpoint_subdir).as_uri(),
        "execution.checkpointing.externalized-checkpoint-retention": "RETAIN_ON_CANCELLATION",
        "rest.address": "127.0.0.1",
        "rest.bind-address": "127.0.0.1",
        "rest.port": str(rest_port),
        **extra,
    }
    if args.from_checkpoint:
        conf["execution.state-recovery.path"] = args.from_checkpoint
    env = stream_env(parallelism, conf)
    connector = (
        settings.flink.jars_dir
        / f"flink-sql-connector-kafka-{settings.flink.kafka_connector_version}.jar"
    )
    env.add_jars(connector.as_uri())
    t_env = StreamTableEnvironment.create(env)
    t_env.get_config().set(
        "table.exec.source.idle-timeout", f"{settings.flink.source_idle_timeout_ms} ms"
    )
    t_env.get_config().set("pipeline.name", name)
    return env, t_env


def route_to_sinks(  # noqa: ANN201
    t_env,
    settings,
    routed_view: str,
    topics: tuple[str, ...],
    prefix: str,
    principal: str,  # noqa: ANN001
):
    """Create a sink per topic (written as `principal`) and return a statement set writing each
    `routed_view` row (topic, k, payload) to its topic's sink."""
    statements = t_env.create_statement_set()
    for i, topic in enumerate(topics):
        t_env.execute_sql(sink_ddl(settings, f"sink_{i}", prefix + topic, principal))
        statements.add_insert_sql(
            f"INSERT INTO sink_{i} SELECT k, payload FROM {routed_view} WHERE topic = '{topic}'"
        )
    return statements
