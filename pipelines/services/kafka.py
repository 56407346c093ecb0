"""Single-node KRaft Kafka broker fetched from Maven Central and run from its jars."""

from __future__ import annotations

import base64
import os
import shutil
import socket
import subprocess
import time
import uuid
from pathlib import Path
from string import Template

from pipelines.cli_support import UserError
from pipelines.kafka_client import ADMIN, client_config, secret_name
from pipelines.security.pki import server_cert
from pipelines.security.secrets import get_secret
from pipelines.services.process import ManagedProcess
from pipelines.settings import PROJECT_ROOT, Settings

POM = PROJECT_ROOT / "infra" / "kafka" / "pom.xml"
TEMPLATE = PROJECT_ROOT / "infra" / "kafka" / "server.properties.template"
LOG4J = PROJECT_ROOT / "infra" / "kafka" / "log4j2.properties"


def jars_dir(settings: Settings) -> Path:
    """Return the cache folder holding the broker's runtime classpath for its version."""
    return settings.cache_dir / "jars" / f"kafka-{settings.kafka.version}"


def fetch_jars(settings: Settings) -> Path:
    """Download the broker jars with Maven into the cache (no-op when already there)."""
    target = jars_dir(settings)
    marker = target / f"kafka_2.13-{settings.kafka.version}.jar"
    if marker.exists():
        return target
    if shutil.which("mvn") is None:
        raise UserError("mvn not found: install Maven (apt-get install maven) to fetch Kafka")
    target.mkdir(parents=True, exist_ok=True)
    cmd = [
        "mvn", "-B", "-q", "-f", str(POM), "dependency:copy-dependencies",
        f"-Dkafka.version={settings.kafka.version}", "-DincludeScope=runtime",
        f"-DoutputDirectory={target}",
    ]  # fmt: skip
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0 or not marker.exists():
        tail = (result.stdout + result.stderr).strip().splitlines()[-1:] or ["no output"]
        raise UserError(f"fetching Kafka {settings.kafka.version} with mvn failed: {tail[0]}")
    return target


def _process(settings: Settings) -> ManagedProcess:
    return ManagedProcess("kafka", settings.kafka.data_dir.parent)


def _port(address: str) -> int:
    return int(address.rsplit(":", 1)[1])


def _write_private(path: Path, text: str) -> None:
    """Write a file only its owner reads (created 0600, never readable by others meanwhile)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    path.chmod(0o600)


def write_config(settings: Settings) -> Path:
    """Render server.properties (mode 0600: it holds the admin password) and the broker's PEM
    keystore for this profile's ports and data dir; return its path."""
    conf_dir = settings.kafka.data_dir.parent
    conf_dir.mkdir(parents=True, exist_ok=True)
    cert = server_cert(settings, "kafka")
    keystore = conf_dir / "kafka.keystore.pem"  # Kafka's PEM keystore: key, then the chain
    _write_private(keystore, cert.key.read_text() + cert.cert.read_text())
    text = Template(TEMPLATE.read_text()).substitute(
        broker_port=_port(settings.kafka.bootstrap_servers),
        controller_port=settings.kafka.controller_port,
        data_dir=settings.kafka.data_dir,
        admin_password=get_secret(settings, secret_name(ADMIN)),
        keystore=keystore,
        truststore=cert.ca,
    )
    path = conf_dir / "server.properties"
    _write_private(path, text)
    return path


def _java_cmd(settings: Settings, main: list[str], heap: str = "256m") -> list[str]:
    java_home = os.environ.get("HAZCHEM_KAFKA_JAVA_HOME") or os.environ.get("JAVA_HOME")
    java = str(Path(java_home) / "bin" / "java") if java_home else "java"
    logs = settings.kafka.data_dir.parent / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    return [
        java, f"-Xms{heap}", f"-Xmx{heap}", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20",
        "-Djava.awt.headless=true", f"-Dkafka.logs.dir={logs}",
        f"-Dlog4j2.configurationFile={LOG4J}",
        "-cp", str(jars_dir(settings) / "*"), *main,
    ]  # fmt: skip


def format_storage(settings: Settings, config: Path) -> None:
    """Format the KRaft log dir once (keeps existing data on later starts)."""
    if (settings.kafka.data_dir / "meta.properties").exists():
        return
    settings.kafka.data_dir.mkdir(parents=True, exist_ok=True)
    cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    cmd = _java_cmd(
        settings, ["kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(config)]
    )
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        lines = (result.stdout + result.stderr).strip().splitlines() or ["no output"]
        raise UserError(f"formatting Kafka storage failed: {lines[-1]}")


def is_running(settings: Settings) -> bool:
    """True when our broker process is alive (says nothing about readiness)."""
    return _process(settings).pid() is not None


def is_healthy(settings: Settings, timeout_s: float = 3.0) -> bool:
    """True when the broker answers a metadata request."""
    from confluent_kafka.admin import AdminClient

    host, port = settings.kafka.bootstrap_servers.split(",")[0].rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=timeout_s).close()
    except OSError:
        return False
    from pipelines.kafka_acls import bootstrap_admin_config

    config = (
        bootstrap_admin_config(settings)
        if settings.kafka.manage
        else client_config(settings, ADMIN)
    )
    admin = AdminClient({**config, "log_level": 0})
    try:
        admin.list_topics(timeout=timeout_s)
        return True
    except Exception:  # noqa: BLE001 - any failure means "not healthy"
        return False


def start(settings: Settings, wait_s: float = 90.0) -> str:
    """Fetch, configure, format and start the broker; wait until healthy; return a status line."""
    if not settings.kafka.manage:
        if is_healthy(settings):
            return f"kafka: external broker at {settings.kafka.bootstrap_servers} is up"
        raise UserError(f"external Kafka at {settings.kafka.bootstrap_servers} is not reachable")
    proc = _process(settings)
    if proc.pid() is not None and is_healthy(settings):
        ensure_users(settings)
        return f"kafka: already running at {settings.kafka.bootstrap_servers} (pid {proc.pid()})"
    if proc.pid() is None and is_healthy(settings, timeout_s=1.5):
        raise UserError(
            f"another broker already listens on {settings.kafka.bootstrap_servers}; "
            "stop it or set HAZCHEM_KAFKA__BOOTSTRAP_SERVERS"
        )
    fetch_jars(settings)
    config = write_config(settings)
    format_storage(settings, config)
    if proc.pid() is None:
        proc.start(_java_cmd(settings, ["kafka.Kafka", str(config)], heap=settings.kafka.heap))
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if proc.pid() is None:
            raise UserError(f"Kafka exited during start-up; see {proc.log_file}")
        if is_healthy(settings, timeout_s=2.0):
            ensure_users(settings)
            return f"kafka: started at {settings.kafka.bootstrap_servers} (pid {proc.pid()})"
        time.sleep(0.5)
    raise UserError(f"Kafka did not become healthy within {wait_s:.0f}s; see {proc.log_file}")


def ensure_users(settings: Settings) -> list[str]:
    """Create or update the SCRAM credentials of every principal on our broker (idempotent: also
    brings a data dir from before SCRAM up to date); return the principals."""
    from pipelines.kafka_acls import upsert_scram_users

    return upsert_scram_users(settings)


def stop(settings: Settings) -> str:
    """Stop our broker if it runs; return a status line."""
    if not settings.kafka.manage:
        return "kafka: external broker, not stopped"
    was_running = _process(settings).stop(timeout_s=30)
    return "kafka: stopped" if was_running else "kafka: not running"
