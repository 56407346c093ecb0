"""PyFlink jobs on a local mini-cluster: fetch the connector jars and start/stop job processes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from pipelines.cli_support import UserError
from pipelines.services.process import ManagedProcess
from pipelines.settings import PROJECT_ROOT, Settings

POM = PROJECT_ROOT / "infra" / "flink" / "pom.xml"
JOBS = {"alarms": "streaming_jobs.alarms_job", "risk": "streaming_jobs.risk_job"}


def connector_jar(settings: Settings) -> Path:
    """Return the path of the Flink Kafka SQL connector jar in the cache."""
    version = settings.flink.kafka_connector_version
    return settings.flink.jars_dir / f"flink-sql-connector-kafka-{version}.jar"


def fetch_jars(settings: Settings) -> Path:
    """Download the Kafka SQL connector with Maven into the cache (no-op when present)."""
    jar = connector_jar(settings)
    if jar.exists():
        return jar
    if shutil.which("mvn") is None:
        raise UserError("mvn not found: install Maven (apt-get install maven) to fetch Flink jars")
    settings.flink.jars_dir.mkdir(parents=True, exist_ok=True)
    cmd = [
        "mvn", "-B", "-q", "-f", str(POM), "dependency:copy-dependencies",
        f"-DoutputDirectory={settings.flink.jars_dir}",
    ]  # fmt: skip
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0 or not jar.exists():
        tail = (result.stdout + result.stderr).strip().splitlines()[-1:] or ["no output"]
        raise UserError(f"fetching the Flink Kafka connector failed: {tail[0]}")
    return jar


def job_env() -> dict[str, str]:
    """Environment for a job process: the venv's python first on PATH for PyFlink's workers."""
    # A process that ran PyFlink in-process (tests) carries PyFlink's worker-mode variables, e.g.
    # PYFLINK_GATEWAY_DISABLED; a job started from it must begin as a fresh client.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYFLINK")}
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    env["PYTHONPATH"] = str(PROJECT_ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def job_process(settings: Settings, name: str) -> ManagedProcess:
    """Return the managed process record of a job."""
    return ManagedProcess(f"flink-{name}", settings.run_dir / "flink")


def job_argv(name: str, extra: list[str]) -> list[str]:
    """Return the command line that runs a job in a local mini-cluster."""
    if name not in JOBS:
        raise UserError(f"unknown job '{name}' (known: {', '.join(sorted(JOBS))})")
    return [sys.executable, "-m", JOBS[name], *extra]


def start_job(settings: Settings, name: str, extra: list[str]) -> int:
    """Start a job in the background; return its pid."""
    fetch_jars(settings)
    proc = job_process(settings, name)
    if proc.pid() is not None:
        raise UserError(f"job '{name}' already runs (pid {proc.pid()}); stop it first")
    return proc.start(job_argv(name, extra), env=job_env(), cwd=PROJECT_ROOT)


def stop_job(settings: Settings, name: str) -> bool:
    """Stop a background job; True when one was running."""
    return job_process(settings, name).stop(timeout_s=20)


def rest_port(settings: Settings, name: str) -> int:
    """Return the REST port of the job's own local mini-cluster."""
    return settings.risk.rest_port if name == "risk" else settings.flink.rest_port


def job_overview(settings: Settings, name: str = "alarms") -> list[dict]:
    """Return the job's mini-cluster jobs from its REST API ([] when it does not answer)."""
    import httpx

    port = rest_port(settings, name)
    try:
        resp = httpx.get(f"http://127.0.0.1:{port}/jobs/overview", timeout=2.0)
        return resp.json().get("jobs", [])
    except (httpx.HTTPError, ValueError):
        return []


def wait_until_running(settings: Settings, name: str, timeout_s: float = 180.0) -> None:
    """Wait until the job's every task is RUNNING; UserError if it dies or times out."""
    import time

    proc = job_process(settings, name)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.pid() is None:
            raise UserError(f"job '{name}' stopped during start-up; see {proc.log_file}")
        for job in job_overview(settings, name):
            tasks = job.get("tasks", {})
            if job.get("state") == "RUNNING" and tasks.get("running") == tasks.get("total"):
                return
        time.sleep(1.0)
    raise UserError(f"job '{name}' not running after {timeout_s:.0f} s; see {proc.log_file}")


def latest_checkpoint(settings: Settings, prefix: str = "main") -> Path | None:
    """Return the newest completed checkpoint of the job's runs (a chk-N dir with _metadata)."""
    root = settings.flink.checkpoint_dir / prefix
    found = sorted(
        root.glob("*/chk-*/_metadata"),
        key=lambda p: (p.stat().st_mtime, int(p.parent.name.split("-")[1])),
    )
    return found[-1].parent if found else None
