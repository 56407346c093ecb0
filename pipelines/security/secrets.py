"""Named secrets: generated on first use in `local`, required (and never a default) in `ci` and
`cluster`.

A secret `kafka.alarms-job` is read from the environment variable
`HAZCHEM_SECRET__KAFKA__ALARMS_JOB` when set, else from the file `<secrets_dir>/kafka.alarms-job`.
In `local` a missing one is generated (random, URL-safe) into that file, mode 0600 in a folder of
mode 0700. In `ci` and `cluster` a missing secret, or one equal to a known default, is refused with
one line naming it: whoever deploys provides them (`hazchem secrets init` writes a fresh set for a
CI run or a single machine). Values never go on a command line or into a log.
"""

from __future__ import annotations

import os
import re
import secrets as _random
from pathlib import Path

from pipelines.cli_support import UserError
from pipelines.settings import Settings

# values that shipped as defaults once, or that anyone would guess: never accepted outside `local`
KNOWN_DEFAULTS = frozenset(
    {"", "dev-token-change-me", "hazchem-local-only", "airflow", "hazchem", "admin", "password",
     "changeme", "change-me", "secret", "postgres", "trino", "minioadmin"}
)  # fmt: skip
# every secret the platform reads; `hazchem secrets init` generates the missing ones
SECRET_NAMES: tuple[str, ...] = (
    "postgres.superuser",  # the local PostgreSQL server's superuser
    "postgres.airflow",  # Airflow's metadata database role
    "postgres.identity",  # the identity store's database role
    # Kafka principals (SCRAM-SHA-512), see pipelines/kafka_client.py and docs/security.md
    "kafka.admin",
    "kafka.gateway",
    "kafka.api",
    "kafka.alarms-job",
    "kafka.risk-job",
    "kafka.notifier",
    "kafka.lake",
    "kafka.cli",
    "kafka.analyst",
    "trino.lake_writer",  # Trino user of the lake writer (registration, dbt, publish, quality)
    "trino.analyst",  # Trino user that reads gold and reference only
    "trino.admin",  # Trino administrator (reads everything, writes neither bronze nor gold)
    "trino.internal",  # Trino's internal-communication shared secret
    "s3.access-key",  # the local S3 server's access key (`hazchem up --with s3`)
    "s3.secret-key",  # ... and its secret key
    "airflow.secret-key",  # Airflow API server's session signing key
    "airflow.jwt-secret",  # Airflow's JWT signing key (API and task execution tokens)
)
_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,80}")


def secrets_dir(settings: Settings) -> Path:
    """Return the folder of this profile's secret files (created mode 0700)."""
    path = settings.secrets_dir or settings.run_dir.parent / "secrets" / settings.profile
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.chmod(0o700)
    return path


def env_name(name: str) -> str:
    """Return the environment variable that may hold secret `name`."""
    return "HAZCHEM_SECRET__" + re.sub(r"[^A-Za-z0-9]", "_", name.replace(".", "__")).upper()


def _check_name(name: str) -> None:
    if not _NAME.fullmatch(name):
        raise ValueError(f"bad secret name {name!r}")


def write_secret(settings: Settings, name: str, value: str) -> Path:
    """Store `value` as secret `name` (file mode 0600, written without a readable window)."""
    _check_name(name)
    path = secrets_dir(settings) / name
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value)
    os.replace(tmp, path)
    return path


def get_secret(settings: Settings, name: str) -> str:
    """Return secret `name`: from the environment, else its file; generated only in `local`.

    Raises UserError (one line) in `ci`/`cluster` when it is missing or a known default.
    """
    _check_name(name)
    value = os.environ.get(env_name(name))
    path = secrets_dir(settings) / name
    if value is None and path.exists():
        value = path.read_text().strip()
    if value is None:
        if settings.profile != "local":
            raise UserError(
                f"secret {name!r} is not set in profile {settings.profile!r}: set"
                f" {env_name(name)} or run `hazchem secrets init`"
            )
        value = _random.token_urlsafe(24)
        write_secret(settings, name, value)
    if settings.profile != "local" and value in KNOWN_DEFAULTS:
        raise UserError(
            f"secret {name!r} is a default value, refused in profile {settings.profile!r}"
        )
    return value


def init_secrets(settings: Settings, names: list[str], rotate: bool = False) -> list[str]:
    """Generate the named secrets that do not exist yet (all of them with rotate); return those
    written."""
    written = []
    for name in names:
        path = secrets_dir(settings) / name
        if rotate or not path.exists():
            write_secret(settings, name, _random.token_urlsafe(24))
            written.append(name)
    return written
