"""`hazchem`: the platform's command line. Every command has --help; errors are one line."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer

from pipelines.cli_support import UserError, fail, info
from pipelines.settings import get_settings

app = typer.Typer(
    help="HazChem Safety Platform: run the local engines, simulate a plant, run streaming jobs.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
schemas_app = typer.Typer(help="Schema files: catalog and compatibility.", no_args_is_help=True)
jobs_app = typer.Typer(help="PyFlink streaming jobs on a local mini-cluster.", no_args_is_help=True)
ingest_app = typer.Typer(
    help="Validated ingest: HTTP endpoint for edge gateways.", no_args_is_help=True
)
lake_app = typer.Typer(
    help="The lakehouse: gate and publish gold (docs/data_quality.md).", no_args_is_help=True
)
app.add_typer(schemas_app, name="schemas")
app.add_typer(jobs_app, name="jobs")
app.add_typer(ingest_app, name="ingest")
app.add_typer(lake_app, name="lake")


def _mount_optional() -> None:
    """Mount the domain command groups (alarms, kpi, hazard, risk, cases)."""
    from pipelines.alarms.cli import app as alarms_app
    from pipelines.alarms.cli import kpi_app
    from pipelines.hazard.cli import app as hazard_app
    from pipelines.risk.cli import cases_app, risk_app
    from pipelines.security.audit_cli import audit_app
    from pipelines.security.cli import auth_app, secrets_app

    app.add_typer(alarms_app, name="alarms")
    app.add_typer(kpi_app, name="kpi")
    app.add_typer(hazard_app, name="hazard")
    app.add_typer(risk_app, name="risk")
    app.add_typer(cases_app, name="cases")
    app.add_typer(secrets_app, name="secrets")
    app.add_typer(auth_app, name="auth")
    app.add_typer(audit_app, name="audit")


_mount_optional()


@app.command()
def up(
    topics: Annotated[bool, typer.Option(help="Create/sync the declared topics.")] = True,
    with_: Annotated[
        list[str] | None,
        typer.Option(
            "--with",
            help="Also start: trino (serves the lake), s3 (a local S3 server), postgres (the "
            "identity store and Airflow's database).",
        ),
    ] = None,
) -> None:
    """Fetch (first time) and start the local Kafka broker, then create the declared topics."""
    from pipelines.services import kafka
    from pipelines.topics import ensure_topics

    settings = get_settings()
    extras = set(with_ or [])
    unknown = extras - {"trino", "s3", "postgres"}
    if unknown:
        fail(f"unknown service '{sorted(unknown)[0]}' for --with (known: postgres, s3, trino)")
    try:
        info("kafka: starting (the first run downloads the broker from Maven Central)...")
        typer.echo(kafka.start(settings))
        if topics:
            actions = ensure_topics(settings)
            created = sum(1 for a in actions.values() if a == "created")
            typer.echo(f"topics: {len(actions)} declared, {created} created")
        if settings.auth.tls:
            from pipelines.security.pki import server_cert

            server_cert(settings, "api")  # the HTTP API's certificate, from the local CA
        if "postgres" in extras:
            from pipelines.security.identity import IdentityStore
            from pipelines.services import postgres

            typer.echo(postgres.start(settings))
            IdentityStore(settings)  # its tables
        if "s3" in extras:
            from pipelines.services import s3

            info("s3: starting (the first run builds the server with go install)...")
            typer.echo(s3.start(settings))
        if "trino" in extras:
            from pipelines.services import trino

            info("trino: starting (the first run downloads Trino from Maven Central)...")
            typer.echo(trino.start(settings))
            _register_lake(settings)
    except UserError as exc:
        fail(str(exc))


def _register_lake(settings) -> None:  # noqa: ANN001
    """Register the lake's Delta tables (bronze, reference, catalog) in Trino's `lake` catalog."""
    from pipelines.lake.storage import delta_tables, join
    from pipelines.services import trino

    for schema in ("bronze", "reference", "catalog"):
        tables = delta_tables(settings, join(settings.lake.root, schema))
        if tables:
            added = trino.register_delta_tables(settings, schema, tables)
            typer.echo(f"trino: {schema}: {len(tables)} tables ({len(added)} newly registered)")


@app.command()
def down() -> None:
    """Stop the jobs, Trino, the local S3 and PostgreSQL servers and Kafka (data is kept)."""
    from pipelines.services import flink, kafka

    settings = get_settings()
    for name in flink.JOBS:
        if flink.stop_job(settings, name):
            typer.echo(f"job {name}: stopped")
    from pipelines.services import trino

    typer.echo(trino.stop(settings))
    from pipelines.services import postgres, s3

    typer.echo(s3.stop(settings))
    typer.echo(postgres.stop(settings))
    typer.echo(kafka.stop(settings))


@app.command()
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Health of the broker and jobs, records per topic, and the ingest count reconciliation."""
    from pipelines.kafka_stats import reconciliation, topic_record_counts
    from pipelines.services import flink, kafka

    settings = get_settings()
    healthy = kafka.is_healthy(settings)
    report: dict = {
        "kafka": {"bootstrap_servers": settings.kafka.bootstrap_servers, "healthy": healthy},
        "jobs": {name: flink.job_process(settings, name).pid() is not None for name in flink.JOBS},
    }
    if healthy:
        report["topics"] = topic_record_counts(settings)
        report["ingest"] = reconciliation(settings)
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    typer.echo(f"kafka {settings.kafka.bootstrap_servers}: {'up' if healthy else 'DOWN'}")
    for name, running in report["jobs"].items():
        typer.echo(f"job {name}: {'running' if running else 'stopped'}")
    if not healthy:
        raise typer.Exit(1)
    typer.echo("\nrecords per topic:")
    for name, n in report["topics"].items():
        if n:
            typer.echo(f"  {name:<28} {n:>10}")
    typer.echo("\ningest reconciliation (submitted = accepted + dead-lettered):")
    for row in report["ingest"]:
        mark = "ok" if row["balanced"] else "MISMATCH"
        typer.echo(
            f"  {row['topic']:<22} submitted {row['submitted']:>8} = accepted {row['accepted']:>8}"
            f" + dead-lettered {row['dead_lettered']:>6}  [{mark}]"
            f"  (in Kafka: {row['in_topic']} / dlq {row['in_dlq']})"
        )


@schemas_app.command("docs")
def schemas_docs(
    out: Annotated[Path, typer.Option(help="Markdown file to write.")] = Path(
        "docs/schema_catalog.md"
    ),
) -> None:
    """Write a readable catalog of topics, record types and fields (units, PII tags)."""
    from pipelines.schema_registry import write_catalog

    try:
        typer.echo(write_catalog(out))
    except ValueError as exc:
        fail(str(exc))


@schemas_app.command("check")
def schemas_check() -> None:
    """Fail when a newer schema version cannot read records of the previous one."""
    from pipelines.schema_registry import SchemaRegistry, compatibility_report

    problems = {k: v for k, v in compatibility_report(SchemaRegistry.load()).items() if v}
    if problems:
        first = next(iter(problems.items()))
        fail(f"{first[0]} is not backward compatible: {first[1][0]}")
    typer.echo("all schema versions are backward compatible")


@app.command()
def simulate(
    scenario: Annotated[
        str, typer.Option(help="normal|leak|overpressure|offpost|crowding|mixed")
    ] = "mixed",
    duration: Annotated[float, typer.Option(help="Seconds of plant time to stream.")] = 60.0,
    rate: Annotated[
        float | None, typer.Option(help="Sensor readings per second (all tags).")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed (same seed, same plant).")] = None,
    malformed_rate: Annotated[
        float, typer.Option(help="Share of readings sent invalid on purpose.")
    ] = 0.0,
    duplicate_rate: Annotated[float, typer.Option(help="Share of readings sent twice.")] = 0.0,
    late_rate: Annotated[
        float, typer.Option(help="Share of readings delayed (late events).")
    ] = 0.0,
    out_of_order_rate: Annotated[float, typer.Option(help="Share of readings reordered.")] = 0.0,
    fast: Annotated[bool, typer.Option(help="Do not pace to the wall clock.")] = False,
) -> None:
    """Stream a simulated plant into Kafka through validated ingest
    (invalid records dead-lettered)."""
    from pipelines.simulate import run_simulation
    from pipelines.simulator import TransportFaults

    settings = get_settings()
    faults = TransportFaults(
        duplicate_rate=duplicate_rate,
        late_rate=late_rate,
        out_of_order_rate=out_of_order_rate,
        malformed_rate=malformed_rate,
    )

    def progress(at_s: float, counts) -> None:  # noqa: ANN001
        if int(at_s) % 10 == 0:
            info(
                f"  {at_s:>5.0f}/{duration:.0f} s  submitted {sum(counts.submitted.values()):>8}"
                f"  dead-lettered {sum(counts.dead_lettered.values()):>6}"
            )

    try:
        counts, facts = run_simulation(
            settings,
            scenario,
            duration,
            rate or settings.simulator.rate,
            settings.simulator.seed if seed is None else seed,
            faults,
            realtime=not fast,
            on_progress=progress,
        )
    except (ValueError, UserError) as exc:
        fail(str(exc))
    except Exception as exc:  # noqa: BLE001 - Kafka down etc.: one line, not a traceback
        fail(f"simulation failed: {exc}")
    typer.echo(
        json.dumps({"facts": facts, "counts": counts.as_dict()}, indent=2, ensure_ascii=False)
    )


@jobs_app.command("run")
def jobs_run(
    name: Annotated[str, typer.Argument(help="Job name: alarms or risk")],
    background: Annotated[
        bool, typer.Option(help="Start detached; stop with `hazchem jobs stop`.")
    ] = False,
    from_timestamp_ms: Annotated[
        int | None, typer.Option(help="Read input from this time.")
    ] = None,
    from_checkpoint: Annotated[
        str | None, typer.Option(help="Resume from a retained checkpoint dir, or 'latest'.")
    ] = None,
) -> None:
    """Run a streaming job in a local Flink mini-cluster
    (foreground until Ctrl-C, or --background)."""
    import subprocess

    from pipelines.services import flink

    settings = get_settings()
    extra = ["--from-timestamp-ms", str(from_timestamp_ms)] if from_timestamp_ms else []
    try:
        if from_checkpoint:
            path = (
                flink.latest_checkpoint(settings, "main" if name == "alarms" else "risk-main")
                if from_checkpoint == "latest"
                else from_checkpoint
            )
            if path is None:
                raise UserError(f"no retained checkpoint under {settings.flink.checkpoint_dir}")
            extra += ["--from-checkpoint", str(path)]
        if background:
            pid = flink.start_job(settings, name, extra)
            typer.echo(
                f"job {name}: started (pid {pid}); log {flink.job_process(settings, name).log_file}"
            )
            return
        flink.fetch_jars(settings)
        argv = flink.job_argv(name, extra)
    except UserError as exc:
        fail(str(exc))
    raise typer.Exit(subprocess.call(argv, env=flink.job_env()))


@jobs_app.command("stop")
def jobs_stop(name: Annotated[str, typer.Argument(help="Job name: alarms")]) -> None:
    """Stop a job started with --background."""
    from pipelines.services import flink

    stopped = flink.stop_job(get_settings(), name)
    typer.echo(f"job {name}: {'stopped' if stopped else 'not running'}")


@ingest_app.command("serve")
def ingest_serve(
    host: Annotated[str | None, typer.Option(help="Bind address.")] = None,
    port: Annotated[int | None, typer.Option(help="Port.")] = None,
) -> None:
    """Serve the HTTP API over HTTPS (certificate from the local CA, or the configured files in
    `cluster`; plain HTTP only with HAZCHEM_AUTH__TLS=false); callers log in at /v1/auth/token."""
    import uvicorn

    from pipelines.ingest_api import create_app, tls_options

    settings = get_settings()
    try:
        tls = tls_options(settings)
        api = create_app(settings)
    except UserError as exc:
        fail(str(exc))
    uvicorn.run(
        api,
        host=host or settings.ingest.http_host,
        port=port or settings.ingest.http_port,
        log_level="info",
        **tls,
    )


@app.command()
def airflow(
    postgres: Annotated[
        bool,
        typer.Option(
            help="Use PostgreSQL instead of SQLite: HAZCHEM_AIRFLOW__POSTGRES_URL, or a local "
            "server started from Debian's postgresql package."
        ),
    ] = False,
) -> None:
    """Start the Airflow UI and scheduler locally with the project's DAGs (Ctrl-C stops it)."""
    from pipelines.airflow_local import start_airflow

    try:
        start_airflow(get_settings(), postgres=postgres)
    except (UserError, RuntimeError, ValueError) as exc:
        fail(str(exc))


@lake_app.command("curate")
def lake_curate(
    target: Annotated[str, typer.Option(help="Engine to build and publish on: duckdb, trino.")] = (
        "duckdb"
    ),
    as_of: Annotated[
        str | None, typer.Option(help="dbt var as_of (YYYY-MM-DD; default: today).")
    ] = None,
    run_id: Annotated[
        str | None, typer.Option(help="Run id written to <lake>/_published (e.g. Airflow's).")
    ] = None,
) -> None:
    """Bronze gate, dbt build into a build schema, gold gate, then publish gold (one swap)."""
    from pipelines.lake.publish import TARGETS, GateFailed, curate

    if target not in TARGETS:
        fail(f"unknown target '{target}' (known: {', '.join(TARGETS)})")
    try:
        result = curate(
            get_settings(),
            target=target,
            run_id=run_id,
            dbt_vars={"as_of": as_of} if as_of else None,
            say=info,
        )
    except GateFailed as exc:
        fail(str(exc), code=1)
    except UserError as exc:
        fail(str(exc))
    typer.echo(json.dumps({k: v for k, v in result.items() if k != "marker"}))


@app.command()
def demo(
    duration: Annotated[float, typer.Option(help="Seconds of simulated plant to stream.")] = 200.0,
    rate: Annotated[float, typer.Option(help="Sensor readings per second.")] = 1000.0,
    malformed_rate: Annotated[float, typer.Option(help="Share of readings sent invalid.")] = 0.002,
) -> None:
    """The whole flow: Kafka up, alarm job, `mixed` scenario through validated ingest, summary."""
    from pipelines.demo import run_demo

    started = time.monotonic()
    try:
        summary_text = run_demo(
            get_settings(), duration_s=duration, rate=rate, malformed_rate=malformed_rate
        )
    except UserError as exc:
        fail(str(exc))
    except Exception as exc:  # noqa: BLE001 - one clear line, the log files hold the details
        fail(f"demo failed: {type(exc).__name__}: {exc}")
    typer.echo(summary_text)
    info(f"demo finished in {time.monotonic() - started:.0f} s")


def main() -> None:
    """Console-script entry point: usage errors become one line with exit code 2."""
    import sys

    from typer._click.exceptions import ClickException  # typer vendors click

    try:
        code = app(standalone_mode=False)
    except ClickException as exc:
        ctx = getattr(exc, "ctx", None)
        where = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
        typer.echo(f"error: {' '.join(exc.format_message().split())}{where}", err=True)
        sys.exit(exc.exit_code)
    except typer.Abort:
        typer.echo("error: aborted", err=True)
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
