"""The Flink execution environment every job and test uses: local mini-cluster,
venv Python workers."""

from __future__ import annotations

import sys

from pyflink.common import Configuration
from pyflink.datastream import StreamExecutionEnvironment


def stream_env(
    parallelism: int = 1, extra: dict[str, str] | None = None
) -> StreamExecutionEnvironment:
    """Return a StreamExecutionEnvironment whose Python workers run this interpreter
    (the venv's)."""
    conf = Configuration()
    conf.set_string("python.executable", sys.executable)
    conf.set_string("python.client.executable", sys.executable)
    for key, value in (extra or {}).items():
        conf.set_string(key, value)
    env = StreamExecutionEnvironment.get_execution_environment(conf)
    env.set_parallelism(parallelism)
    return env
