"""The local PostgreSQL server: Airflow's metadata database (`hazchem airflow --postgres`) and the
identity store (database `hazchem`, role `identity`, see pipelines/security/identity.py).

The server comes from Debian's `postgresql` package (`apt-get install postgresql`); this module
only runs its binaries: `initdb` once into `HAZCHEM_AIRFLOW__PG_DATA_DIR`, then `pg_ctl start` on
`127.0.0.1:HAZCHEM_AIRFLOW__PG_PORT`, and creates the `airflow` and `identity` roles and their
databases. Every connection authenticates with `scram-sha-256` (pg_hba.conf has no `trust`), the
server listens on 127.0.0.1 only, and the passwords are the secrets `postgres.superuser`,
`postgres.airflow` and `postgres.identity` (passed through a 0600 file or the environment, never
on a command line). A data folder initialised by an older version with `trust` is refused with a
one-line error (remove it: Airflow's metadata there is rebuilt by `airflow db migrate`). PostgreSQL
refuses to run as root, so under root the data folder belongs to the `postgres` system user and
the binaries run as that user (`runuser`). Production points `HAZCHEM_AIRFLOW__POSTGRES_URL` at
the company's managed PostgreSQL instead.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

from pipelines.cli_support import UserError
from pipelines.security.secrets import get_secret
from pipelines.settings import Settings

PG_ROOT = Path("/usr/lib/postgresql")
# written into the data folder by this module's initdb: the folder's pg_hba.conf is ours
SCRAM_MARKER = "hazchem-scram"
PG_HBA = """# written by pipelines/services/postgres.py: scram-sha-256 for all, loopback only
local   all   all                  scram-sha-256
host    all   all   127.0.0.1/32   scram-sha-256
"""
_SAFE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def bin_dir(settings: Settings) -> Path:
    """Return the folder of PostgreSQL's server binaries (the newest Debian one by default)."""
    configured = settings.airflow.pg_bin_dir
    if configured is not None:
        candidates = [Path(configured)]
    else:
        versions = [p for p in PG_ROOT.glob("*/bin") if p.parent.name.isdigit()]
        candidates = sorted(versions, key=lambda p: int(p.parent.name), reverse=True)
    for candidate in candidates:
        if (candidate / "pg_ctl").exists() and (candidate / "initdb").exists():
            return candidate
    raise UserError(
        "PostgreSQL server binaries not found: apt-get install postgresql "
        "(or set HAZCHEM_AIRFLOW__PG_BIN_DIR to the folder holding initdb and pg_ctl)"
    )


def _as_server_user(argv: list[str]) -> list[str]:
    """Run as the `postgres` system user when we are root (PostgreSQL refuses root)."""
    if os.geteuid() != 0:
        return argv
    return ["runuser", "-u", "postgres", "--", *argv]


def _run(argv: list[str], what: str) -> str:
    result = subprocess.run(_as_server_user(argv), capture_output=True, text=True)
    if result.returncode != 0:
        tail = (result.stdout + result.stderr).strip().splitlines()[-1:] or ["no output"]
        raise UserError(f"PostgreSQL {what} failed: {tail[0]}")
    return result.stdout


def _data_dir(settings: Settings) -> Path:
    return Path(settings.airflow.pg_data_dir)


def is_healthy(settings: Settings) -> bool:
    """True when the server accepts TCP connections on its port."""
    try:
        socket.create_connection(("127.0.0.1", settings.airflow.pg_port), timeout=1.0).close()
    except OSError:
        return False
    return True


def url(settings: Settings) -> str:
    """Return the SQLAlchemy URL of the local server's `airflow` database (with its password)."""
    from urllib.parse import quote

    a = settings.airflow
    password = quote(get_secret(settings, "postgres.airflow"), safe="")
    return f"postgresql+psycopg2://{a.pg_user}:{password}@127.0.0.1:{a.pg_port}/{a.pg_database}"


def identity_dsn(settings: Settings) -> dict:
    """Return psycopg2 connection arguments of the identity store (role `identity`)."""
    return {
        "host": "127.0.0.1", "port": settings.airflow.pg_port, "dbname": settings.auth.database,
        "user": settings.auth.db_user, "password": get_secret(settings, "postgres.identity"),
        "connect_timeout": 5,
    }  # fmt: skip


def _init(settings: Settings, bins: Path) -> None:
    data = _data_dir(settings)
    if (data / "PG_VERSION").exists():
        return
    data.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(data, user.pw_uid, user.pw_gid)
    data.chmod(0o700)
    # the superuser's password reaches initdb through a 0600 file, never the command line
    folder = Path(tempfile.mkdtemp(prefix="hazchem-initdb-"))  # mode 0700
    pwfile = folder / "pw"
    fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(get_secret(settings, "postgres.superuser") + "\n")
    if os.geteuid() == 0:  # initdb runs as `postgres` and must read it
        user = pwd.getpwnam("postgres")
        os.chown(folder, user.pw_uid, user.pw_gid)
        os.chown(pwfile, user.pw_uid, user.pw_gid)
    try:
        _run(
            [str(bins / "initdb"), "-D", str(data), "-U", "postgres", "--auth=scram-sha-256",
             f"--pwfile={pwfile}", "-E", "UTF8"],
            "initdb",
        )  # fmt: skip
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    (data / "pg_hba.conf").write_text(PG_HBA)
    (data / SCRAM_MARKER).write_text("pg_hba.conf written by pipelines/services/postgres.py\n")


def start(settings: Settings, wait_s: float = 60.0) -> str:
    """Initialise (first time) and start the server, create Airflow's role and database."""
    bins = bin_dir(settings)
    if not is_healthy(settings):
        if os.geteuid() == 0 and shutil.which("runuser") is None:
            raise UserError("running as root needs `runuser` (util-linux) to start PostgreSQL")
        _init(settings, bins)
        data = _data_dir(settings)
        if not (data / SCRAM_MARKER).exists():
            raise UserError(
                f"PostgreSQL data folder {data} was initialised with `trust` authentication by an"
                " older version: remove it (Airflow's metadata is rebuilt by `airflow db migrate`)"
            )
        options = f"-h 127.0.0.1 -p {settings.airflow.pg_port} -k {data}"
        _run(
            [str(bins / "pg_ctl"), "-D", str(data), "-l", str(data / "server.log"),
             "-o", options, "-w", "-t", str(int(wait_s)), "start"],
            "start",
        )  # fmt: skip
        status = f"postgres: started on 127.0.0.1:{settings.airflow.pg_port}"
    else:
        status = f"postgres: already running on 127.0.0.1:{settings.airflow.pg_port}"
    _ensure_database(settings, bins)
    return status


def _psql(settings: Settings, bins: Path, sql: str, database: str = "postgres") -> str:
    """Run SQL as the superuser; SQL on stdin and the password in the environment (both may
    hold passwords, which must not appear in the process list)."""
    psql = bins / "psql" if (bins / "psql").exists() else Path(shutil.which("psql") or "psql")
    argv = [
        str(psql), "-h", "127.0.0.1", "-p", str(settings.airflow.pg_port), "-U", "postgres",
        "-d", database, "-v", "ON_ERROR_STOP=1", "-tA", "-f", "-",
    ]  # fmt: skip
    env = os.environ | {"PGPASSWORD": get_secret(settings, "postgres.superuser")}
    result = subprocess.run(argv, input=sql, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        tail = result.stderr.strip().splitlines()[-1:] or ["no output"]
        raise UserError(f"psql failed: {tail[0]}")
    return result.stdout.strip()


def _ensure_database(settings: Settings, bins: Path) -> None:
    """Create (or re-password) the Airflow and identity roles and their databases."""
    a = settings.airflow
    pairs = (
        (a.pg_user, a.pg_database, "postgres.airflow"),
        (settings.auth.db_user, settings.auth.database, "postgres.identity"),
    )
    for user, database, secret in pairs:
        for name in (user, database):
            if not _SAFE.fullmatch(name):
                raise UserError(
                    f"not a valid PostgreSQL name: {name!r} (use [A-Za-z_][A-Za-z0-9_]*)"
                )
        password = get_secret(settings, secret).replace("'", "''")
        verb = "ALTER" if _psql(
            settings, bins, f"SELECT 1 FROM pg_roles WHERE rolname = '{user}'"
        ) == "1" else "CREATE"  # fmt: skip
        # re-set on every start: a rotated secret takes effect with the next `hazchem up`
        _psql(settings, bins, f"{verb} ROLE {user} LOGIN PASSWORD '{password}'")
        if _psql(settings, bins, f"SELECT 1 FROM pg_database WHERE datname = '{database}'") != "1":
            _psql(settings, bins, f"CREATE DATABASE {database} OWNER {user}")


def stop(settings: Settings) -> str:
    """Stop the server if it runs (data kept); return a status line."""
    data = _data_dir(settings)
    if not (data / "postmaster.pid").exists():
        return "postgres: not running"
    bins = bin_dir(settings)
    _run([str(bins / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"], "stop")
    return "postgres: stopped"
