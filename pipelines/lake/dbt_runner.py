"""Run the dbt project (`dbt_project/`) in-process with paths and hosts from the settings.

`run_dbt(settings, ["build"])` is the one way the platform (CLI, Airflow, tests) invokes dbt: it
exports the environment variables `dbt_project/profiles.yml` and the sources read (lake root,
DuckDB file, Trino host/port/catalog, S3 endpoint and keys), points dbt at the project and
profiles by path, keeps dbt's target/ and logs/ under the cache directory, and returns dbt's
exit code.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from pipelines.settings import Settings, get_settings

DBT_PROJECT_DIR: Path = Path(__file__).resolve().parents[2] / "dbt_project"
TARGETS = ("duckdb", "trino")
# dbt flags that take a path; given by the caller they win over the defaults set here.
_PATH_FLAGS = {"--target-path": "DBT_TARGET_PATH", "--log-path": "DBT_LOG_PATH"}


def dbt_home(settings: Settings, target: str = "duckdb") -> Path:
    """Return the folder holding dbt's target/ and logs/ for one target: `<cache>/dbt/<target>`."""
    return Path(settings.cache_dir) / "dbt" / target


def dbt_env(settings: Settings, target: str = "duckdb") -> dict[str, str]:
    """Return the environment variables the dbt project reads, from the settings (the Trino
    login only for the trino target: its password is a secret, read when needed)."""
    home = dbt_home(settings, target)
    trino_login: dict[str, str] = {}
    if target == "trino":
        from pipelines.security.pki import ca_file
        from pipelines.services.trino import password

        trino_login = {
            "HAZCHEM_TRINO__USER": settings.trino.user,
            "HAZCHEM_TRINO__CA_FILE": str(ca_file(settings)),
            # requests prefers this variable to the profile's `cert` (psf/requests#3829): while dbt
            # runs it must name the CA that signed Trino's certificate
            "REQUESTS_CA_BUNDLE": str(ca_file(settings)),
            "DBT_ENV_SECRET_TRINO_PASSWORD": password(settings, settings.trino.user),
        }
    return {
        **trino_login,
        "HAZCHEM_DBT__TARGET": target,
        "HAZCHEM_LAKE__ROOT": str(settings.lake.root),
        "HAZCHEM_LAKE__DUCKDB_PATH": str(settings.lake.duckdb_path),
        "HAZCHEM_TRINO__HOST": settings.trino.host,
        "HAZCHEM_TRINO__PORT": str(settings.trino.port),
        "HAZCHEM_TRINO__CATALOG": settings.trino.catalog,
        # an s3:// lake root: how dbt-duckdb's Delta plugin reaches the bucket
        "HAZCHEM_S3__ENDPOINT": settings.s3.endpoint or "",
        "HAZCHEM_S3__REGION": settings.s3.region,
        **_s3_env(settings),
        "HAZCHEM_S3__PATH_STYLE": str(settings.s3.path_style).lower(),
        "DBT_PROJECT_DIR": str(DBT_PROJECT_DIR),
        "DBT_PROFILES_DIR": str(DBT_PROJECT_DIR),
        "DBT_TARGET_PATH": str(home / "target"),
        "DBT_LOG_PATH": str(home / "logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }


def _s3_env(settings: Settings) -> dict[str, str]:
    """Return the S3 keys for dbt-duckdb's Delta plugin (only when the lake is on S3)."""
    from pipelines.lake.storage import is_s3, s3_keys

    keys = s3_keys(settings) if is_s3(settings.lake.root) else None
    access, secret = keys or ("", "")
    return {"HAZCHEM_S3__ACCESS_KEY": access, "HAZCHEM_S3__SECRET_KEY": secret}


@contextmanager
def _environ(values: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables for the duration of the block, then restore the old ones."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, old in saved.items():
            if old is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = old


def _release_duckdb() -> None:
    """Close dbt-duckdb's process-wide database handle so the file is free for other readers.

    dbt-duckdb keeps one DuckDB instance per process (class attribute) after an invocation ends;
    another connection to the same file, or a later run against another file, must not find it
    open.
    """
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    with DuckDBConnectionManager._LOCK:
        env = DuckDBConnectionManager._ENV
        DuckDBConnectionManager._ENV = None
        if env is not None:
            env.close()


def with_vars(args: Sequence[str], extra: Mapping[str, object]) -> list[str]:
    """Return dbt `args` with `extra` merged into their `--vars` (added when absent)."""
    import yaml

    args = list(args)
    for i, arg in enumerate(args):
        if arg == "--vars" and i + 1 < len(args):
            merged = {**(yaml.safe_load(args[i + 1]) or {}), **extra}
            return [*args[: i + 1], json.dumps(merged), *args[i + 2 :]]
        if arg.startswith("--vars="):
            merged = {**(yaml.safe_load(arg[len("--vars=") :]) or {}), **extra}
            return [*args[:i], f"--vars={json.dumps(merged)}", *args[i + 1 :]]
    return [*args, "--vars", json.dumps(dict(extra))]


def run_dbt(
    settings: Settings,
    args: Sequence[str],
    target: str = "duckdb",
    gold_schema: str | None = None,
) -> int:
    """Run `dbt <args>` on `target` (duckdb or trino); return 0 ok, 1 failures, 2 dbt error.

    Example: `run_dbt(settings, ["build", "--vars", "{as_of: '2026-01-01'}"])`. `gold_schema`
    builds the marts in that schema instead of `gold` (pipelines/lake/publish.py's build schema):
    it is passed as the dbt var `gold_schema`, merged into `--vars`. (A var, not an environment
    variable: dbt 1.10's partial parsing fails with "None is not of type 'string'" when an
    env_var() read by generate_schema_name changes between runs; changed vars re-parse cleanly.)
    """
    if target not in TARGETS:
        raise ValueError(f"unknown dbt target {target!r} (expected one of {', '.join(TARGETS)})")
    if not args:
        raise ValueError("no dbt command given (e.g. ['build'])")
    from dbt.cli.main import dbtRunner

    if gold_schema:
        args = with_vars(args, {"gold_schema": gold_schema})
    env = dbt_env(settings, target)
    for flag, variable in _PATH_FLAGS.items():
        if any(a == flag or a.startswith(flag + "=") for a in args):
            env.pop(variable)
    if target == "duckdb":
        Path(settings.lake.duckdb_path).parent.mkdir(parents=True, exist_ok=True)
    command = [
        *args,
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
        "--target",
        target,
    ]
    with _environ(env):
        try:
            result = dbtRunner().invoke(command)
        finally:
            if target == "duckdb":
                _release_duckdb()
    if result.exception is not None:
        return 2
    return 0 if result.success else 1


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m pipelines.lake.dbt_runner [--target trino] <dbt args>`; returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    target = "duckdb"
    if args[:1] == ["--target"] and len(args) >= 2:
        target, args = args[1], args[2:]
    if not args:
        print("usage: python -m pipelines.lake.dbt_runner [--target duckdb|trino] <dbt args>")
        return 2
    return run_dbt(get_settings(), args, target=target)


if __name__ == "__main__":
    sys.exit(main())
