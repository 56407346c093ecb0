"""A local PostgreSQL server for Airflow's metadata database (`hazchem airflow --postgres`).

The server comes from Debian's `postgresql` package (`apt-get install postgresql`); this module
only runs its binaries: `initdb` once into `HAZCHEM_AIRFLOW__PG_DATA_DIR`, then `pg_ctl start` on
`127.0.0.1:HAZCHEM_AIRFLOW__PG_PORT`, and creates the `airflow` role and database. PostgreSQL
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
from pathlib import Path

from pipelines.cli_support import UserError
from pipelines.settings import Settings

PG_ROOT = Path("/usr/lib/postgresql")
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
    """Return the SQLAlchemy URL of the local server's `airflow` database."""
    a = settings.airflow
    return (
        f"postgresql+psycopg2://{a.pg_user}:{a.pg_password}@127.0.0.1:{a.pg_port}/{a.pg_database}"
    )


def _init(settings: Settings, bins: Path) -> None:
    data = _data_dir(settings)
    if (data / "PG_VERSION").exists():
        return
    data.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(data, user.pw_uid, user.pw_gid)
    data.chmod(0o700)
    _run(
        [str(bins / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"],
        "initdb",
    )


def start(settings: Settings, wait_s: float = 60.0) -> str:
    """Initialise (first time) and start the server, create Airflow's role and database."""
    bins = bin_dir(settings)
    if not is_healthy(settings):
        if os.geteuid() == 0 and shutil.which("runuser") is None:
            raise UserError("running as root needs `runuser` (util-linux) to start PostgreSQL")
        _init(settings, bins)
        data = _data_dir(settings)
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
    psql = bins / "psql" if (bins / "psql").exists() else Path(shutil.which("psql") or "psql")
    argv = [
        str(psql), "-h", "127.0.0.1", "-p", str(settings.airflow.pg_port), "-U", "postgres",
        "-d", database, "-v", "ON_ERROR_STOP=1", "-tAc", sql,
    ]  # fmt: skip
    result = subprocess.run(argv, capture_output=True, text=True)
    if result.returncode != 0:
        tail = result.stderr.strip().splitlines()[-1:] or ["no output"]
        raise UserError(f"psql failed: {tail[0]}")
    return result.stdout.strip()


def _ensure_database(settings: Settings, bins: Path) -> None:
    a = settings.airflow
    for name in (a.pg_user, a.pg_database):
        if not _SAFE.fullmatch(name):
            raise UserError(f"not a valid PostgreSQL name: {name!r} (use [A-Za-z_][A-Za-z0-9_]*)")
    password = a.pg_password.replace("'", "''")
    if _psql(settings, bins, f"SELECT 1 FROM pg_roles WHERE rolname = '{a.pg_user}'") != "1":
        _psql(settings, bins, f"CREATE ROLE {a.pg_user} LOGIN PASSWORD '{password}'")
    if _psql(settings, bins, f"SELECT 1 FROM pg_database WHERE datname = '{a.pg_database}'") != "1":
        _psql(settings, bins, f"CREATE DATABASE {a.pg_database} OWNER {a.pg_user}")


def stop(settings: Settings) -> str:
    """Stop the server if it runs (data kept); return a status line."""
    data = _data_dir(settings)
    if not (data / "postmaster.pid").exists():
        return "postgres: not running"
    bins = bin_dir(settings)
    _run([str(bins / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"], "stop")
    return "postgres: stopped"
