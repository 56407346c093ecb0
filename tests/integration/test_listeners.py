"""Nothing the demo starts listens on a wildcard address: the Kafka broker and the two Flink jobs
(their mini-clusters, the py4j gateway) accept connections on loopback only, as `ss -ltnpH` sees
them.

The jobs run their Python functions in the JVM (`flink.python_execution_mode` = `thread`, the
default). In `process` mode Apache Beam opens six gRPC servers in each job JVM for its Python
workers, bound to every interface with no setting (docs/security.md); the test of that mode
keeps the reason visible.
"""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import pytest

from pipelines.demo import DEMO_RISK_MODEL
from pipelines.services import flink
from pipelines.settings import Settings
from pipelines.topics import ensure_topics

pytestmark = pytest.mark.integration

_PID = re.compile(r"pid=(\d+)")


def listening_sockets() -> list[tuple[str, set[int]]]:
    """Return (local address, pids holding it) of every listening TCP socket (`ss -ltnpH`)."""
    out = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True, check=True).stdout
    sockets = []
    for line in out.splitlines():
        fields = line.split()
        # State Recv-Q Send-Q Local-Address:Port Peer-Address:Port [Process]
        if len(fields) >= 5:
            sockets.append((fields[3], {int(p) for p in _PID.findall(line)}))
    return sockets


def host_of(address: str) -> str:
    """Return the host part of an ss address: `127.0.0.1:80` -> `127.0.0.1`,
    `[::]:80` -> `::`, `*:80` -> `*`, `127.0.0.1%lo:80` -> `127.0.0.1`."""
    host = address.rsplit(":", 1)[0].strip("[]")
    return host.split("%", 1)[0]


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and ::ffff:127.x (never for 0.0.0.0, ::, *)."""
    return host.startswith(("127.", "::ffff:127.")) or host == "::1"


def descendants(roots: set[int]) -> set[int]:
    """Return the roots and every process below them (from /proc/<pid>/stat parent ids)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        pid = int(stat.parent.name)
        ppid = int(text.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(pid)
    found, todo = set(), list(roots)
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo.extend(children.get(pid, []))
    return found


def test_ss_parsing_tells_wildcards_from_loopback():
    """GIVEN the address forms ss prints WHEN their host is taken THEN wildcards are not
    loopback and loopback forms are."""
    hosts = [host_of(a) for a in ("0.0.0.0:9", "[::]:9", "*:9", "127.0.0.1:9", "[::1]:9")]
    hosts.append(host_of("[::ffff:127.0.0.1]:9"))

    assert hosts == ["0.0.0.0", "::", "*", "127.0.0.1", "::1", "::ffff:127.0.0.1"]
    assert [is_loopback(h) for h in hosts] == [False, False, False, True, True, True]


@pytest.fixture(scope="module")
def demo_processes(kafka: Settings):
    """Kafka and the demo's two Flink jobs (alarms, risk) running, as the demo starts them;
    yields (settings, {name: pid}); the jobs are stopped afterwards."""
    settings = kafka
    ensure_topics(settings)
    from_ts = ["--from-timestamp-ms", str(int(time.time() * 1000))]
    for name in ("alarms", "risk"):
        flink.stop_job(settings, name)
    flink.start_job(settings, "alarms", from_ts)
    flink.start_job(settings, "risk", [*from_ts, "--model-file", str(DEMO_RISK_MODEL)])
    try:
        flink.wait_until_running(settings, "alarms")
        flink.wait_until_running(settings, "risk")
        from pipelines.services import kafka as kafka_service

        pids = {
            "kafka": kafka_service._process(settings).pid(),
            "alarms": flink.job_process(settings, "alarms").pid(),
            "risk": flink.job_process(settings, "risk").pid(),
        }
        yield settings, pids
    finally:
        for name in ("alarms", "risk"):
            flink.stop_job(settings, name)


def _held(pids: dict[str, int]) -> list[tuple[str, set[int]]]:
    """Return the listening sockets of the demo's processes (and their children)."""
    ours = descendants(set(pids.values()))
    return [(addr, owners & ours) for addr, owners in listening_sockets() if owners & ours]


def test_no_demo_process_listens_on_a_wildcard_address(demo_processes):
    """GIVEN Kafka and the alarm and risk jobs running as in `make demo` (shipped settings)
    WHEN every listening TCP socket is read with `ss -ltnpH`
    THEN every socket held by those processes (and their children) is on loopback, and the
    broker's and the jobs' REST ports are among them."""
    settings, pids = demo_processes
    assert all(pids.values()), pids
    held = _held(pids)

    assert [a for a, _ in held if not is_loopback(host_of(a))] == [], held
    ports = {int(addr.rsplit(":", 1)[1]) for addr, _ in held}
    broker = int(settings.kafka.bootstrap_servers.rsplit(":", 1)[1])
    assert {flink.rest_port(settings, "alarms"), flink.rest_port(settings, "risk"), broker} <= ports
