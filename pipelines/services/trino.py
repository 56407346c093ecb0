"""Single-node Trino coordinator serving the lake's Delta tables, fetched from Maven Central.

It listens on HTTPS only (settings.trino.host, loopback by default), with the certificate
`pki.server_cert(settings, "trino")`; every client logs in with a password (users in USERS,
passwords the secrets `trino.<user>`, bcrypt hashes in a 0600 file) and is held to the file-based
access rules of infra/trino/rules.json. docs/security.md has the matrix.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import tarfile
import time
import urllib.request
from contextlib import closing
from pathlib import Path
from string import Template
from typing import TYPE_CHECKING

from pipelines.cli_support import UserError
from pipelines.lake.storage import trino_catalog_properties
from pipelines.security.pki import ca_file, server_cert
from pipelines.security.secrets import get_secret
from pipelines.services.process import ManagedProcess
from pipelines.settings import PROJECT_ROOT, Settings

if TYPE_CHECKING:
    from trino.dbapi import Connection, Cursor

INFRA = PROJECT_ROOT / "infra" / "trino"
POM = INFRA / "pom.xml"
MIN_JAVA = 24  # Trino 47x refuses older runtimes
# Only these parts of the ~820 MB server tarball are unpacked (~390 MB): the core, Delta Lake and
# the file password authenticator.
KEEP = ("lib/", "plugin/delta-lake/", "plugin/password-authenticators/")
_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*")
# Trino's users (file password authenticator); their rights are in infra/trino/rules.json
USERS = ("lake_writer", "analyst", "admin")
SHARED_SECRET_ENV = "HAZCHEM_TRINO_SHARED_SECRET"  # read by config.properties as ${ENV:...}


def server_dir(settings: Settings) -> Path:
    """Return the folder holding Trino's lib/ and plugin/ for the configured version."""
    return settings.trino.home / settings.trino.version


def _run_dir(settings: Settings) -> Path:
    return settings.run_dir / "trino"


def _process(settings: Settings) -> ManagedProcess:
    return ManagedProcess("trino", _run_dir(settings))


def _markers(root: Path, version: str) -> list[Path]:
    return [
        root / "lib" / f"io.trino_trino-main-{version}.jar",
        root / "plugin" / "delta-lake" / f"io.trino_trino-delta-lake-{version}.jar",
        root / "plugin" / "password-authenticators"
        / f"io.trino_trino-password-authenticators-{version}.jar",
    ]  # fmt: skip


def fetch(settings: Settings) -> Path:
    """Download the server tarball with Maven and unpack core + Delta Lake (no-op when there)."""
    version = settings.trino.version
    target = server_dir(settings)
    if all(p.exists() for p in _markers(target, version)):
        return target
    if shutil.which("mvn") is None:
        raise UserError("mvn not found: install Maven (apt-get install maven) to fetch Trino")
    download = settings.trino.home / "download"
    download.mkdir(parents=True, exist_ok=True)
    cmd = [
        "mvn", "-B", "-q", "-f", str(POM), "dependency:copy-dependencies",
        f"-Dtrino.version={version}", f"-DoutputDirectory={download}",
    ]  # fmt: skip
    result = subprocess.run(cmd, capture_output=True, text=True)
    tarball = download / f"trino-server-{version}.tar.gz"
    if result.returncode != 0 or not tarball.exists():
        tail = (result.stdout + result.stderr).strip().splitlines()[-1:] or ["no output"]
        raise UserError(f"fetching Trino {version} with mvn failed: {tail[0]}")
    staging = target.with_name(f"{version}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    unpacked = _unpack(tarball, staging, f"trino-server-{version}")
    if not all(p.exists() for p in _markers(unpacked, version)):
        raise UserError(f"the Trino {version} tarball has no Delta Lake plugin; see {tarball}")
    shutil.rmtree(target, ignore_errors=True)
    unpacked.rename(target)
    shutil.rmtree(staging, ignore_errors=True)
    shutil.rmtree(download, ignore_errors=True)  # Maven's local repository keeps a copy
    return target


def _unpack(tarball: Path, staging: Path, top: str) -> Path:
    """Extract the KEEP folders under the tarball's top folder into staging; return that folder."""
    with tarfile.open(tarball, "r:gz") as tar:
        wanted = tuple(f"{top}/{folder}" for folder in KEEP)
        members = [m for m in tar.getmembers() if m.name.startswith(wanted)]
        # Plugin jars are hard links into lib/ and other plugins; tarfile copies the data of a
        # link whose target is not extracted, so the Delta plugin is complete on its own.
        tar.extractall(staging, members=members, filter="data")
    return staging / top


def _java(settings: Settings) -> Path:
    """Return the java binary of settings.trino.java_home, checking it is Java MIN_JAVA+."""
    home = settings.trino.java_home
    java = home / "bin" / "java"
    if not java.exists():
        raise UserError(
            f"Trino {settings.trino.version} needs Java {MIN_JAVA}+: no JDK at {home} "
            "(install Temurin 25 there or set HAZCHEM_TRINO__JAVA_HOME)"
        )
    release = home / "release"
    text = release.read_text() if release.exists() else ""
    match = re.search(r'^JAVA_VERSION="(\d+)', text, re.M)
    if match and int(match.group(1)) < MIN_JAVA:
        raise UserError(
            f"Trino {settings.trino.version} needs Java {MIN_JAVA}+, but {home} is Java "
            f"{match.group(1)} (set HAZCHEM_TRINO__JAVA_HOME to a newer JDK)"
        )
    return java


def _render(name: str, **values: object) -> str:
    return Template((INFRA / name).read_text()).substitute(**{k: str(v) for k, v in values.items()})


def write_config(settings: Settings) -> Path:
    """Render etc/ (server, node, jvm, log and catalog files) under the run dir; return etc/."""
    run = _run_dir(settings)
    etc = run / "etc"
    catalog_dir = etc / "catalog"
    catalog_dir.mkdir(parents=True, exist_ok=True)
    metastore = run / "metastore"
    metastore.mkdir(parents=True, exist_ok=True)
    (run / "data").mkdir(parents=True, exist_ok=True)  # also holds the JVM's class-data archive
    tls = server_cert(settings, "trino")
    keystore = run / "keystore.pem"  # Trino's PEM keystore: the private key, then the chain
    _write_private(keystore, tls.key.read_bytes() + tls.cert.read_bytes())
    password_file = etc / "password.db"
    _write_private(password_file, _password_db(settings).encode())
    (etc / "password-authenticator.properties").write_text(
        f"password-authenticator.name=file\nfile.password-file={password_file}\n"
    )
    (etc / "access-control.properties").write_text(
        f"access-control.name=file\nsecurity.config-file={INFRA / 'rules.json'}\n"
    )
    values = {
        "host": settings.trino.host,
        "port": settings.trino.port,
        "keystore": keystore,
        "truststore": tls.ca,
        "access_control": etc / "access-control.properties",
        "heap": settings.trino.heap,
        "query_memory": settings.trino.query_memory,
        "data_dir": run / "data",
        "plugin_dir": server_dir(settings) / "plugin",
        "catalog_dir": catalog_dir,
        "catalog": settings.trino.catalog,
        "metastore_dir": metastore,
    }
    (etc / "config.properties").write_text(_render("config.properties.template", **values))
    (etc / "node.properties").write_text(_render("node.properties.template", **values))
    (etc / "jvm.config").write_text(_render("jvm.config.template", **values))
    shutil.copyfile(INFRA / "log.properties", etc / "log.properties")
    for stale in catalog_dir.glob("*.properties"):
        stale.unlink()
    catalog = _render("catalog/delta_lake.properties.template", **values)
    s3_lines = trino_catalog_properties(settings)
    if s3_lines:
        catalog += "# S3 (HAZCHEM_S3__*): tables whose location is an s3:// URI\n"
        catalog += "\n".join(s3_lines) + "\n"
    # the S3 keys are in it: owner-only, like the password file
    _write_private(catalog_dir / f"{settings.trino.catalog}.properties", catalog.encode())
    return etc


def _write_private(path: Path, data: bytes) -> None:
    """Write a file readable by its owner only (mode 0600 from creation)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _password_db(settings: Settings) -> str:
    """Return the password file: `user:bcrypt hash` per USERS entry (Trino wants `$2y$`)."""
    import bcrypt

    lines = []
    for user in USERS:
        hashed = bcrypt.hashpw(password(settings, user).encode(), bcrypt.gensalt(rounds=10))
        lines.append(f"{user}:$2y${hashed.decode()[4:]}")
    return "\n".join(lines) + "\n"


def password(settings: Settings, user: str) -> str:
    """Return the Trino password of `user` (the secret `trino.<user>`)."""
    if user not in USERS:
        raise UserError(f"unknown Trino user {user!r} (known: {', '.join(USERS)})")
    return get_secret(settings, f"trino.{user}")


def _properties(path: Path) -> dict[str, str]:
    """Return the key=value pairs of a .properties file (blank lines and comments skipped)."""
    pairs: dict[str, str] = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            pairs[key.strip()] = value.strip()
    return pairs


def _server_cmd(settings: Settings, etc: Path) -> list[str]:
    """Return the JVM command line (what `launcher run` would build, without the launcher)."""
    jvm = [line.strip() for line in (etc / "jvm.config").read_text().splitlines()]
    node = [f"-D{k}={v}" for k, v in _properties(etc / "node.properties").items()]
    return [
        str(_java(settings)), *[o for o in jvm if o and not o.startswith("#")], *node,
        f"-Dconfig={etc / 'config.properties'}", f"-Dlog.levels-file={etc / 'log.properties'}",
        "-cp", str(server_dir(settings) / "lib" / "*"), "io.trino.server.TrinoServer",
    ]  # fmt: skip


def _url(settings: Settings) -> str:
    return f"https://{settings.trino.host}:{settings.trino.port}"


def is_running(settings: Settings) -> bool:
    """True when our Trino process is alive (says nothing about readiness)."""
    return _process(settings).pid() is not None


def is_healthy(settings: Settings, timeout_s: float = 3.0) -> bool:
    """True when GET /v1/info answers with `starting: false`."""
    try:
        context = ssl.create_default_context(cafile=str(ca_file(settings)))
        with urllib.request.urlopen(
            f"{_url(settings)}/v1/info", timeout=timeout_s, context=context
        ) as response:
            info = json.load(response)
    except (OSError, ValueError, UserError):
        return False
    return info.get("starting") is False


def _port_in_use(settings: Settings) -> bool:
    try:
        socket.create_connection((settings.trino.host, settings.trino.port), timeout=1.0).close()
    except OSError:
        return False
    return True


def start(settings: Settings, wait_s: float = 180.0) -> str:
    """Fetch, configure and start the coordinator; wait until healthy; return a status line."""
    proc = _process(settings)
    if proc.pid() is not None and is_healthy(settings):
        return f"trino: already running at {_url(settings)} (pid {proc.pid()})"
    if proc.pid() is None and _port_in_use(settings):
        raise UserError(
            f"another process already listens on {_url(settings)}; "
            "stop it or set HAZCHEM_TRINO__PORT"
        )
    java = _java(settings)
    fetch(settings)
    etc = write_config(settings)
    if proc.pid() is None:
        env = dict(os.environ, JAVA_HOME=str(settings.trino.java_home))
        env[SHARED_SECRET_ENV] = get_secret(settings, "trino.internal")
        env["PATH"] = f"{java.parent}{os.pathsep}{env.get('PATH', '')}"
        proc.start(_server_cmd(settings, etc), env=env, cwd=_run_dir(settings))
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if proc.pid() is None:
            raise UserError(f"Trino exited during start-up; see {proc.log_file}")
        if is_healthy(settings, timeout_s=2.0):
            return f"trino: started at {_url(settings)} (pid {proc.pid()})"
        time.sleep(1.0)
    raise UserError(f"Trino did not become healthy within {wait_s:.0f}s; see {proc.log_file}")


def stop(settings: Settings) -> str:
    """Stop our coordinator if it runs; return a status line."""
    was_running = _process(settings).stop(timeout_s=30)
    return "trino: stopped" if was_running else "trino: not running"


def connect(settings: Settings, schema: str | None = None, user: str | None = None) -> Connection:
    """Return a `trino.dbapi` connection to the lake catalog (optionally a default schema) over
    HTTPS (the CA of settings), logged in as `user` (default settings.trino.user)."""
    import requests
    from trino.auth import BasicAuthentication
    from trino.dbapi import connect as trino_connect

    user = user or settings.trino.user
    # requests lets REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE replace a session's own `verify` (psf/requests
    # #3829), so the CA is pinned on a session that ignores the environment
    session = requests.Session()
    session.trust_env = False
    session.verify = str(ca_file(settings))
    return trino_connect(
        host=settings.trino.host,
        port=settings.trino.port,
        user=user,
        auth=BasicAuthentication(user, password(settings, user)),
        catalog=settings.trino.catalog,
        schema=schema,
        http_scheme="https",
        http_session=session,
    )


def location(path: str | Path) -> str:
    """Return the Trino location of a lake path: `local:///abs/path`, or an object-store URI."""
    text = str(path)
    if "://" in text:
        return text.rstrip("/")
    return "local://" + str(Path(text).resolve())


def _identifier(name: str) -> str:
    if not _IDENTIFIER.fullmatch(name):
        raise UserError(f"not a valid Trino schema or table name: {name!r} (use [a-z_][a-z0-9_]*)")
    return name


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _query(cursor: Cursor, sql: str) -> list[list[object]]:
    cursor.execute(sql)
    return cursor.fetchall()


def register_delta_tables(settings: Settings, schema: str, tables: dict[str, str]) -> list[str]:
    """Register Delta table paths as `<catalog>.<schema>.<name>`; return the names newly added."""
    catalog = _identifier(settings.trino.catalog)
    schema = _identifier(schema)
    for name, path in tables.items():
        _identifier(name)
        if "://" not in path and not (Path(path) / "_delta_log").is_dir():
            raise UserError(f"not a Delta table (no _delta_log): {path}")
    schema_location = location(f"{settings.lake.root.rstrip('/')}/{schema}")
    registered: list[str] = []
    with closing(connect(settings)) as conn:
        cur = conn.cursor()
        _query(
            cur,
            f"CREATE SCHEMA IF NOT EXISTS {catalog}.{schema} "
            f"WITH (location = {_literal(schema_location)})",
        )
        rows = _query(
            cur,
            f"SELECT table_name FROM {catalog}.information_schema.tables "
            f"WHERE table_schema = {_literal(schema)}",
        )
        existing = {row[0] for row in rows}
        for name, path in tables.items():
            if name in existing:
                continue
            _query(
                cur,
                f"CALL {catalog}.system.register_table(schema_name => {_literal(schema)}, "
                f"table_name => {_literal(name)}, table_location => {_literal(location(path))})",
            )
            registered.append(name)
    return registered
