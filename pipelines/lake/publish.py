"""Gate, then publish: the one path by which gold reaches its readers (docs/data_quality.md).

`curate(settings, target)` is what `hazchem lake curate`, the `curate_lakehouse_hourly` DAG and
the demo run. It stops at the first failing step and raises `GateFailed` naming the checks:

1. **bronze gate**: the bronze Great Expectations checkpoint; rows that fail are quarantined
   (kept out of silver and gold for good) and this run publishes nothing;
2. **build**: `dbt build` (seeds, snapshots, models, data and unit tests) with the marts in a
   fresh build schema `gold<suffix>_b<stamp>` instead of `gold`; any failed dbt test stops here;
3. **gold gate**: the gold Great Expectations suites on the build schema;
4. **publish**: every `gold.<mart>` becomes a view over `<build schema>.<mart>`. On DuckDB all
   views are replaced in one transaction; on Trino each view is replaced atomically, one after
   the other. Builds older than the previous published one are dropped.

Readers query `gold.<mart>` and see the last build that passed every check; a failed run leaves
those views untouched and its build schema in place for inspection (dropped by the next publish).
"""

from __future__ import annotations

import json
import logging
import os
import re
import uuid
from collections.abc import Callable, Mapping
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipelines.settings import Settings

log = logging.getLogger("hazchem.lake.publish")

TARGETS = ("duckdb", "trino")
BUILD_MARK = "_b"  # gold<suffix>_b<stamp>: a build schema
BUILD_STAMP = r"\d{8}t\d{6}[0-9a-f]{4}"  # UTC yyyymmddthhmmss and 4 random hex digits


class GateFailed(Exception):
    """A check failed: nothing was published. `step` is bronze_gate, build or gold_gate."""

    def __init__(self, step: str, checks: list[str], detail: str) -> None:
        self.step, self.checks = step, checks
        super().__init__(f"{step} failed, gold not published: {detail}")


@dataclass
class Publication:
    """What one publish changed: the schema readers query and the build it now shows."""

    published_schema: str
    build_schema: str
    previous_build: str | None
    tables: list[str]
    dropped_builds: list[str] = field(default_factory=list)


# ------------------------------------------------------------------------------------- names


def schema_suffix() -> str:
    """Return HAZCHEM_DBT__SCHEMA_SUFFIX (a private copy of silver/gold, e.g. a test's)."""
    return os.environ.get("HAZCHEM_DBT__SCHEMA_SUFFIX", "")


def published_schema() -> str:
    """Return the schema readers query: `gold<suffix>`."""
    return "gold" + schema_suffix()


def new_build_schema(now: datetime | None = None) -> str:
    """Return a fresh build schema name: `gold<suffix>_b<UTC yyyymmddthhmmss><4 hex>`."""
    now = now or datetime.now(UTC)
    return f"{published_schema()}{BUILD_MARK}{now:%Y%m%dt%H%M%S}{uuid.uuid4().hex[:4]}"


def build_schema_pattern(published: str) -> re.Pattern[str]:
    """Return the pattern of the build schemas of a published schema."""
    return re.compile(rf"\b{re.escape(published)}{BUILD_MARK}{BUILD_STAMP}\b")


def builds_to_drop(builds: list[str], published: str, previous: str | None) -> list[str]:
    """Return the build schemas to drop after `published` went live: those older than it (names
    sort by their UTC stamp) except `previous`, which readers may still be querying. A newer
    build (another curate running) is left alone."""
    return sorted(b for b in builds if b < published and b != previous)


# ----------------------------------------------------------------------------------- engines


class DuckDBGold:
    """The gold schemas of the DuckDB file (`settings.lake.duckdb_path`)."""

    def __init__(self, settings: Settings) -> None:
        self.path = Path(settings.lake.duckdb_path)

    def _connect(self) -> Any:
        import duckdb

        self.path.parent.mkdir(parents=True, exist_ok=True)
        return duckdb.connect(str(self.path))

    def prepare(self, build: str) -> None:
        """Nothing to do: dbt-duckdb creates the build schema."""

    def schemas(self) -> list[str]:
        """Return every schema of the file."""
        with self._connect() as con:
            rows = con.execute(
                "select distinct schema_name from information_schema.schemata"
            ).fetchall()
        return sorted(r[0] for r in rows)

    def tables(self, schema: str) -> list[str]:
        """Return the base tables of a schema."""
        with self._connect() as con:
            rows = con.execute(
                "select table_name from information_schema.tables "
                "where table_schema = ? and table_type = 'BASE TABLE' order by 1",
                [schema],
            ).fetchall()
        return [r[0] for r in rows]

    def published_build(self, published: str) -> str | None:
        """Return the build schema the published views show, or None."""
        with self._connect() as con:
            rows = con.execute(
                "select sql from duckdb_views() where schema_name = ? and not internal",
                [published],
            ).fetchall()
        return _build_in([r[0] for r in rows], published)

    def swap(self, published: str, build: str, tables: list[str]) -> None:
        """Point every `published.<t>` at `build.<t>` and drop the others, in one transaction."""
        with self._connect() as con:
            con.execute("begin transaction")
            try:
                con.execute(f'create schema if not exists "{published}"')
                existing = dict(
                    con.execute(
                        "select table_name, table_type from information_schema.tables "
                        "where table_schema = ?",
                        [published],
                    ).fetchall()
                )
                for name, kind in existing.items():
                    if kind == "BASE TABLE" or name not in tables:
                        what = "table" if kind == "BASE TABLE" else "view"
                        con.execute(f'drop {what} "{published}"."{name}"')
                for name in tables:
                    con.execute(
                        f'create or replace view "{published}"."{name}" as '
                        f'select * from "{build}"."{name}"'
                    )
                con.execute("commit")
            except Exception:
                con.execute("rollback")
                raise

    def drop_schema(self, schema: str) -> None:
        """Drop a build schema and everything in it."""
        with self._connect() as con:
            con.execute(f'drop schema if exists "{schema}" cascade')


class TrinoGold:
    """The gold schemas of Trino's lake catalog (tables on the lake, views in the metastore)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.catalog = settings.trino.catalog

    def _run(self, sql: str) -> list[list[Any]]:
        from pipelines.services import trino

        with closing(trino.connect(self.settings)) as conn:
            cur = conn.cursor()
            cur.execute(sql)
            return cur.fetchall()

    def _create_schema(self, schema: str) -> None:
        from pipelines.services import trino

        location = trino.location(f"{str(self.settings.lake.root).rstrip('/')}/{schema}")
        self._run(
            f"create schema if not exists {self.catalog}.{schema} with (location = '{location}')"
        )

    def prepare(self, build: str) -> None:
        """Create the build, silver and published schemas (with their lake locations)."""
        for schema in (build, "silver" + schema_suffix(), published_schema()):
            self._create_schema(schema)

    def schemas(self) -> list[str]:
        """Return every schema of the catalog."""
        return sorted(r[0] for r in self._run(f"show schemas from {self.catalog}"))

    def _objects(self, schema: str) -> dict[str, str]:
        rows = self._run(
            f"select table_name, table_type from {self.catalog}.information_schema.tables "
            f"where table_schema = '{schema}'"
        )
        return {name: kind for name, kind in rows}

    def tables(self, schema: str) -> list[str]:
        """Return the base tables of a schema."""
        return sorted(n for n, k in self._objects(schema).items() if k == "BASE TABLE")

    def published_build(self, published: str) -> str | None:
        """Return the build schema the published views show, or None."""
        rows = self._run(
            f"select view_definition from {self.catalog}.information_schema.views "
            f"where table_schema = '{published}'"
        )
        return _build_in([r[0] for r in rows], published)

    def swap(self, published: str, build: str, tables: list[str]) -> None:
        """Point every `published.<t>` at `build.<t>`, one atomic view replacement per table."""
        existing = self._objects(published)
        for name in tables:
            if existing.get(name) == "BASE TABLE":  # a development build wrote a table here
                self._run(f"drop table {self.catalog}.{published}.{name}")
            self._run(
                f"create or replace view {self.catalog}.{published}.{name} as "
                f"select * from {self.catalog}.{build}.{name}"
            )
        for name, kind in existing.items():
            if name not in tables:
                what = "table" if kind == "BASE TABLE" else "view"
                self._run(f"drop {what} {self.catalog}.{published}.{name}")

    def drop_schema(self, schema: str) -> None:
        """Drop a build schema: its tables and views, then the schema."""
        for name, kind in self._objects(schema).items():
            what = "table" if kind == "BASE TABLE" else "view"
            self._run(f"drop {what} if exists {self.catalog}.{schema}.{name}")
        self._run(f"drop schema if exists {self.catalog}.{schema}")

    def gate_sources(self) -> str:
        """Expose bronze and reference to dbt without quarantined rows; return the source
        schema suffix to build with (`<suffix>_gated`).

        Trino reads bronze as registered Delta tables, so the quarantine is applied by views:
        `bronze<suffix>_gated.<t>` is `bronze<suffix>.<t>` without the rows whose Kafka position
        is in `quarantine<suffix>.<t>`; `reference<suffix>_gated.<t>` passes through.
        """
        from pipelines.lake.quality import load_checkpoint_config, quarantine_path
        from pipelines.lake.storage import is_delta_table
        from pipelines.services import trino

        source_suffix = os.environ.get("HAZCHEM_DBT__SOURCE_SCHEMA_SUFFIX", "")
        gated = f"{source_suffix}_gated"
        quarantines = {
            t: quarantine_path(self.settings, t)
            for t in load_checkpoint_config("bronze")["tables"]
            if is_delta_table(self.settings, quarantine_path(self.settings, t))
        }
        if quarantines:
            trino.register_delta_tables(self.settings, f"quarantine{source_suffix}", quarantines)
        for layer in ("bronze", "reference"):
            self._create_schema(f"{layer}{gated}")
            for name in self.tables(f"{layer}{source_suffix}"):
                source = f"{self.catalog}.{layer}{source_suffix}.{name}"
                body = f"select * from {source}"
                if layer == "bronze" and name in quarantines:
                    body = (
                        f"select b.* from {source} as b where not exists ("
                        f"select 1 from {self.catalog}.quarantine{source_suffix}.{name} as q "
                        "where q._topic = b._topic and q._partition = b._partition "
                        "and q._offset = b._offset)"
                    )
                self._run(f"create or replace view {self.catalog}.{layer}{gated}.{name} as {body}")
        return gated


def _build_in(view_sql: list[str], published: str) -> str | None:
    """Return the one build schema named in the published views' SQL (None when none)."""
    pattern = build_schema_pattern(published)
    found = {m.group(0) for sql in view_sql for m in pattern.finditer(sql or "")}
    if len(found) > 1:  # only a Trino publish interrupted halfway leaves two
        log.warning("published views of %s show several builds: %s", published, sorted(found))
    return max(found) if found else None


def engine(settings: Settings, target: str) -> DuckDBGold | TrinoGold:
    """Return the gold schemas of `target` (duckdb or trino)."""
    if target not in TARGETS:
        raise ValueError(f"unknown target {target!r} (expected one of {', '.join(TARGETS)})")
    return DuckDBGold(settings) if target == "duckdb" else TrinoGold(settings)


# ------------------------------------------------------------------------------ the steps


def gate_bronze(settings: Settings) -> dict[str, Any]:
    """Run the bronze checkpoint; raise GateFailed naming each failing table and check."""
    from pipelines.lake.quality import run_checkpoint

    result = run_checkpoint(settings, "bronze")
    if not result["publish"]:
        failed = {t: e for t, e in result["tables"].items() if not e["success"]}
        checks = [f"bronze.{t}: {c}" for t, e in failed.items() for c in e["failed_expectations"]]
        detail = "; ".join(
            f"bronze.{t}: {', '.join(e['failed_expectations'])}"
            f" ({e['rows_quarantined']} rows quarantined in quarantine/{t})"
            for t, e in failed.items()
        )
        raise GateFailed("bronze gate", checks, detail)
    return result


def dbt_failures(run_results: Mapping[str, Any]) -> list[str]:
    """Return `<test or model> (<status>[, N rows])` for every failed node of a dbt run."""
    failed = []
    for result in run_results.get("results", []):
        if result.get("status") not in ("fail", "error", "runtime error"):
            continue
        kind, _, name = result["unique_id"].partition(".")
        name = name.partition(".")[2]  # drop the project name
        rows = result.get("failures")
        note = f", {rows} rows" if rows else ""
        failed.append(f"{kind} {name} ({result['status']}{note})")
    return failed


def build(
    settings: Settings, build_schema: str, target: str, dbt_vars: Mapping[str, Any] | None
) -> None:
    """`dbt build` with the marts in `build_schema`; raise GateFailed naming failed tests."""
    from pipelines.lake.dbt_runner import dbt_home, run_dbt

    gold = engine(settings, target)
    gold.prepare(build_schema)
    args = ["build", "--quiet"]
    if dbt_vars:
        args += ["--vars", json.dumps(dict(dbt_vars))]
    source_suffix = None
    if isinstance(gold, TrinoGold):
        source_suffix = gold.gate_sources()
    saved = os.environ.get("HAZCHEM_DBT__SOURCE_SCHEMA_SUFFIX")
    if source_suffix is not None:
        os.environ["HAZCHEM_DBT__SOURCE_SCHEMA_SUFFIX"] = source_suffix
    try:
        code = run_dbt(settings, args, target=target, gold_schema=build_schema)
    finally:
        if source_suffix is not None:
            if saved is None:
                os.environ.pop("HAZCHEM_DBT__SOURCE_SCHEMA_SUFFIX", None)
            else:
                os.environ["HAZCHEM_DBT__SOURCE_SCHEMA_SUFFIX"] = saved
    if code == 0:
        return
    results_file = dbt_home(settings, target) / "target" / "run_results.json"
    logs = dbt_home(settings, target) / "logs" / "dbt.log"
    failed = []
    if results_file.is_file():
        failed = dbt_failures(json.loads(results_file.read_text(encoding="utf-8")))
    if not failed:
        raise GateFailed("dbt build", ["dbt"], f"dbt could not run (exit {code}); see {logs}")
    raise GateFailed("dbt build", failed, f"in {build_schema}: {'; '.join(failed)}; see {logs}")


def gate_gold(settings: Settings, build_schema: str, target: str) -> dict[str, Any]:
    """Run the gold suites on the build schema; raise GateFailed naming table and check."""
    from pipelines.lake.quality import run_checkpoint

    result = run_checkpoint(settings, "gold", gold_schema=build_schema, target=target)
    if not result["publish"]:
        failed = {t: e for t, e in result["tables"].items() if not e["success"]}
        checks = [f"gold.{t}: {c}" for t, e in failed.items() for c in e["failed_expectations"]]
        detail = "; ".join(
            f"gold.{t}: "
            + ", ".join(f"{c} ({e['failed_reasons'].get(c, c)})" for c in e["failed_expectations"])
            for t, e in failed.items()
        )
        raise GateFailed("gold gate", checks, f"in {build_schema}: {detail}")
    return result


def publish(settings: Settings, build_schema: str, target: str) -> Publication:
    """Make `build_schema` what readers of `gold` see; drop builds older than the previous."""
    gold = engine(settings, target)
    published = published_schema()
    tables = gold.tables(build_schema)
    if not tables:
        raise GateFailed("publish", ["tables"], f"build schema {build_schema} has no tables")
    previous = gold.published_build(published)
    gold.swap(published, build_schema, tables)
    pattern = build_schema_pattern(published)
    builds = [s for s in gold.schemas() if pattern.fullmatch(s)]
    dropped = builds_to_drop(builds, build_schema, previous)
    for schema in dropped:
        gold.drop_schema(schema)
    return Publication(published, build_schema, previous, tables, dropped)


def curate(
    settings: Settings,
    target: str = "duckdb",
    run_id: str | None = None,
    dbt_vars: Mapping[str, Any] | None = None,
    say: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Bronze gate, dbt build into a build schema, gold gate, publish; return what happened.

    Raises GateFailed (nothing published; `gold` unchanged) when a check fails.
    """
    from pipelines.lake.maintenance import publish_marker

    say = say or log.info
    engine(settings, target)  # an unknown target fails before any work
    say("bronze gate: Great Expectations on bronze (failing rows are quarantined)")
    bronze = gate_bronze(settings)
    build_schema = new_build_schema()
    say(f"build: dbt build on {target}, marts into {build_schema}")
    build(settings, build_schema, target, dbt_vars)
    say(f"gold gate: Great Expectations gold suites on {build_schema}")
    gold = gate_gold(settings, build_schema, target)
    publication = publish(settings, build_schema, target)
    say(
        f"published: {publication.published_schema} now shows {build_schema}"
        f" ({len(publication.tables)} tables; previous {publication.previous_build or 'none'})"
    )
    marker = None
    if target == "duckdb":
        marker = publish_marker(settings, run_id or build_schema)
    return {
        "run_id": run_id,
        "target": target,
        "build_schema": build_schema,
        "published_schema": publication.published_schema,
        "previous_build": publication.previous_build,
        "tables": publication.tables,
        "dropped_builds": publication.dropped_builds,
        "bronze_run": bronze["run_id"],
        "gold_run": gold["run_id"],
        "marker": marker,
    }
