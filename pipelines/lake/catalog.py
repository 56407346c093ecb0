"""Data catalog of the platform: every topic and lake table, its fields, lineage and quality.

`build_catalog(settings)` assembles three row sets from the sources of truth: topics
(`infra/kafka/topics.yaml`), schemas and their version history (`SchemaRegistry`), the bronze
contract (`pipelines.lake.bronze_schema`), the dbt manifest (`<cache>/dbt/duckdb/target/
manifest.json`; parsed with `dbt parse` when missing) and the latest quality-gate results
(`pipelines.lake.quality.latest_results`). `publish_catalog(settings)` writes them as Delta
tables `<lake>/catalog/{datasets,fields,lineage}` and as browsable Markdown/HTML.

Dataset ids: `kafka.<topic>`, `bronze.<table>`, `reference.<table>`, `silver.<model>`,
`gold.<model>` (the Trino schema of the table, or `kafka` for a topic).
"""

from __future__ import annotations

import html
import json
import re
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipelines.settings import PROJECT_ROOT, Settings

DOCS_CATALOG_DIR: Path = PROJECT_ROOT / "docs" / "catalog"
CATALOG_TABLES = ("datasets", "fields", "lineage")
DBT_OWNER = "data platform (dbt_project)"
_GRAIN_RE = re.compile(r"grain:\s*(.+?)(?:\.\s*$|\.\s+[A-Z]|$)", re.IGNORECASE | re.DOTALL)
_PII_ORDER = ("none", "indirect", "personal", "sensitive")

DATASET_COLUMNS = (
    "dataset_id", "layer", "name", "kind", "description", "owner", "grain", "key",
    "record_type", "schema_version", "schema_history", "location", "upstream_count",
    "quality_status", "quality_checked_at", "quality_failed_expectations", "generated_at",
)  # fmt: skip
FIELD_COLUMNS = (
    "dataset_id", "field", "ordinal", "data_type", "required", "unit", "pii", "description",
    "origin",
)  # fmt: skip
LINEAGE_COLUMNS = ("upstream_id", "downstream_id", "relation")


# ----------------------------------------------------------------------------------- inputs


def manifest_path(settings: Settings, target: str = "duckdb") -> Path:
    """Return where dbt_runner keeps the manifest: `<cache>/dbt/<target>/target/manifest.json`."""
    return Path(settings.cache_dir) / "dbt" / target / "target" / "manifest.json"


def load_manifest(settings: Settings, parse_if_missing: bool = True) -> dict[str, Any]:
    """Return the dbt manifest, running `dbt parse` first when it is missing ({} if it fails)."""
    path = manifest_path(settings)
    if not path.is_file() and parse_if_missing:
        from pipelines.lake.dbt_runner import run_dbt

        run_dbt(settings, ["parse"])
    if not path.is_file():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))


def _grain(description: str) -> str:
    """Return the grain stated in a description ("Grain: one row per ..."), else ''."""
    match = _GRAIN_RE.search(" ".join(description.split()))
    return match.group(1).strip().rstrip(".") if match else ""


def _schema_fields(document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Yield the fields of a schema (nested ones dotted) with type, unit, PII and description."""

    def walk(schema: dict[str, Any], prefix: str, inherited: str | None) -> Iterator[dict]:
        required = set(schema.get("required", []))
        for name, spec in (schema.get("properties") or {}).items():
            spec = _deref(spec, document)
            if not isinstance(spec, dict):
                continue
            path = f"{prefix}.{name}" if prefix else name
            pii = spec.get("x-pii", inherited or "none")
            declared = spec.get("type", "any")
            data_type = ", ".join(declared) if isinstance(declared, list) else str(declared)
            description = spec.get("description", "")
            if "enum" in spec:
                values = ", ".join(json.dumps(v, ensure_ascii=False) for v in spec["enum"])
                description = f"{description} Values: {values}.".strip()
            yield {
                "field": path,
                "data_type": data_type,
                "required": name in required,
                "unit": spec.get("x-unit"),
                "pii": pii,
                "description": description,
            }
            if isinstance(spec.get("properties"), dict):
                yield from walk(spec, path, pii)
            items = _deref(spec.get("items"), document)
            if isinstance(items, dict) and isinstance(items.get("properties"), dict):
                yield from walk(items, f"{path}[]", pii)

    yield from walk(document, "", None)


def _deref(spec: Any, document: dict[str, Any]) -> Any:
    """Return a subschema with a local `$ref` ("#/$defs/x") followed, siblings kept."""
    seen: set[str] = set()
    while isinstance(spec, dict) and isinstance(spec.get("$ref"), str):
        ref = spec["$ref"]
        if not ref.startswith("#/") or ref in seen:
            break
        seen.add(ref)
        target: Any = document
        for token in ref[2:].split("/"):
            target = target.get(token) if isinstance(target, dict) else None
        if not isinstance(target, dict):
            break
        spec = {**target, **{k: v for k, v in spec.items() if k != "$ref"}}
    return spec


def _max_pii(values: list[str]) -> str:
    """Return the most sensitive PII tag among values (unknown tags rank highest)."""
    rank = {tag: i for i, tag in enumerate(_PII_ORDER)}
    return max(values, key=lambda v: rank.get(v, len(_PII_ORDER)), default="none")


def _schema_history(registry: Any, record_type: str) -> str:
    """Return "v1 (first version); v2 (adds `x`; backward compatible with v1)" for a type."""
    from pipelines.schema_registry import backward_compatibility_problems

    parts, previous = [], None
    for schema in registry.versions(record_type):
        if previous is None:
            note = "first version"
        else:
            old = set(previous.document.get("properties", {}))
            new = set(schema.document.get("properties", {}))
            notes = []
            if new - old:
                notes.append("adds " + ", ".join(sorted(new - old)))
            if old - new:
                notes.append("removes " + ", ".join(sorted(old - new)))
            problems = backward_compatibility_problems(previous.document, schema.document)
            notes.append(
                f"backward compatible with v{previous.version}"
                if not problems
                else f"NOT backward compatible with v{previous.version}"
            )
            note = "; ".join(notes)
        parts.append(f"v{schema.version} ({note})")
        previous = schema
    return "; ".join(parts)


# ------------------------------------------------------------------------------------ build


def build_catalog(settings: Settings) -> dict[str, list[dict[str, Any]]]:
    """Return {"datasets": [...], "fields": [...], "lineage": [...]} rows, sorted by id."""
    from pipelines.lake.bronze_schema import METADATA_COLUMNS, PARTITION_COLUMN, bronze_specs
    from pipelines.lake.quality import latest_results
    from pipelines.schema_registry import SchemaRegistry
    from pipelines.topics import load_topics

    generated_at = datetime.now(UTC).replace(microsecond=0)
    registry = SchemaRegistry.load()
    topics = {t.name: t for t in load_topics()}
    specs = {s.topic: s for s in bronze_specs(topics.values(), registry)}
    lake_root = str(settings.lake.root).rstrip("/")
    datasets: dict[str, dict[str, Any]] = {}
    fields: list[dict[str, Any]] = []
    lineage: set[tuple[str, str, str]] = set()

    def add_fields(dataset_id: str, rows: list[dict[str, Any]], origin: str) -> None:
        for ordinal, row in enumerate(rows, start=1):
            fields.append({"dataset_id": dataset_id, "ordinal": ordinal, "origin": origin, **row})

    for name, topic in sorted(topics.items()):
        doc = registry.latest(topic.schema).document if topic.schema else {}
        topic_id = f"kafka.{name}"
        datasets[topic_id] = {
            "dataset_id": topic_id,
            "layer": "kafka",
            "name": name,
            "kind": "dead-letter topic" if topic.is_dlq else "topic",
            "description": topic.description or doc.get("description", ""),
            "owner": doc.get("x-owner", ""),
            "grain": doc.get("x-grain", ""),
            "key": ", ".join(topic.key),
            "record_type": topic.schema,
            "schema_version": registry.latest(topic.schema).version if topic.schema else None,
            "schema_history": _schema_history(registry, topic.schema) if topic.schema else "",
            "location": f"kafka topic {name}",
        }
        schema_rows = list(_schema_fields(doc)) if doc else []
        add_fields(topic_id, schema_rows, f"schema {topic.schema}" if topic.schema else "")
        if topic.is_dlq:
            source = name.removesuffix(".dlq")
            if source in topics:
                lineage.add((f"kafka.{source}", topic_id, "dead letters"))
        spec = specs.get(name)
        if spec is None:
            continue
        bronze_id = f"bronze.{spec.table}"
        lineage.add((topic_id, bronze_id, "landed by bronze job"))
        top = {row["field"]: row for row in schema_rows if "." not in row["field"]}
        key_pii = _max_pii([top[k]["pii"] for k in topic.key if k in top]) if topic.key else "none"
        value_pii = _max_pii([row["pii"] for row in schema_rows])
        metadata = {
            "_topic": ("Kafka topic the record was read from.", "none"),
            "_partition": ("Kafka partition.", "none"),
            "_offset": ("Kafka offset; (_topic, _partition, _offset) is unique.", "none"),
            "_kafka_timestamp": ("Kafka record timestamp (UTC).", "none"),
            "_key": ("Kafka record key (" + ", ".join(topic.key) + ").", key_pii),
            "_value": ("The record's JSON text, exactly as consumed.", value_pii),
            "_ingested_at": ("When the bronze job wrote the row (UTC).", "none"),
        }
        bronze_rows = []
        for column in spec.payload:
            source_row = top.get(column.name, {})
            bronze_rows.append(
                {
                    "field": column.name,
                    "data_type": column.type,
                    "required": bool(source_row.get("required", False)),
                    "unit": source_row.get("unit"),
                    "pii": source_row.get("pii", "none"),
                    "description": source_row.get("description", ""),
                }
            )
        for column_name, column_type in METADATA_COLUMNS:
            text, pii = metadata[column_name]
            bronze_rows.append(
                {
                    "field": column_name,
                    "data_type": column_type,
                    "required": True,
                    "unit": None,
                    "pii": pii,
                    "description": text,
                }
            )
        bronze_rows.append(
            {
                "field": PARTITION_COLUMN,
                "data_type": "date",
                "required": True,
                "unit": "UTC date",
                "pii": "none",
                "description": f"UTC date of {spec.event_time_field or '_kafka_timestamp'}; "
                "partition column.",
            }
        )
        datasets[bronze_id] = {
            "dataset_id": bronze_id,
            "layer": "bronze",
            "name": spec.table,
            "kind": "delta table (append-only)",
            "description": f"Topic `{name}` landed exactly-once: "
            + (topic.description or doc.get("description", "")),
            "owner": doc.get("x-owner", ""),
            "grain": "one row per Kafka record (topic, partition, offset)",
            "key": "_topic, _partition, _offset",
            "record_type": topic.schema,
            "schema_version": spec.schema_version,
            "schema_history": datasets[topic_id]["schema_history"],
            "location": f"{lake_root}/bronze/{spec.table}",
        }
        add_fields(bronze_id, bronze_rows, "bronze contract (docs/lakehouse.md)")

    _add_dbt(settings, datasets, fields, lineage, lake_root)

    upstream_count: dict[str, int] = {}
    for _, downstream, _ in lineage:
        upstream_count[downstream] = upstream_count.get(downstream, 0) + 1
    quality = latest_results(settings)
    for dataset in datasets.values():
        dataset.setdefault("record_type", None)
        dataset.setdefault("schema_version", None)
        dataset.setdefault("schema_history", "")
        dataset["upstream_count"] = upstream_count.get(dataset["dataset_id"], 0)
        result = quality.get(dataset["dataset_id"])
        dataset["quality_status"] = (
            "not checked" if result is None else "passed" if result["success"] else "failed"
        )
        dataset["quality_checked_at"] = result.get("checked_at") if result else None
        dataset["quality_failed_expectations"] = (
            ", ".join(result.get("failed_expectations", [])) if result else ""
        )
        dataset["generated_at"] = generated_at
    return {
        "datasets": [{c: datasets[k].get(c) for c in DATASET_COLUMNS} for k in sorted(datasets)],
        "fields": sorted(
            ({c: row.get(c) for c in FIELD_COLUMNS} for row in fields),
            key=lambda r: (r["dataset_id"], r["ordinal"]),
        ),
        "lineage": [dict(zip(LINEAGE_COLUMNS, edge, strict=True)) for edge in sorted(lineage)],
    }


def published_name(schema: str) -> str:
    """Return the schema readers use for a dbt schema: a gate's build schema (`gold_b<stamp>`,
    pipelines/lake/publish.py) is read as the `gold` views over it."""
    from pipelines.lake.publish import BUILD_MARK, BUILD_STAMP

    found = re.fullmatch(rf"(gold\w*?){BUILD_MARK}{BUILD_STAMP}", schema)
    return found.group(1) if found else schema


def _dbt_id(node: dict[str, Any]) -> str:
    """Return the dataset id of a manifest node or source (`<schema>.<name>`)."""
    if node.get("resource_type") == "source":
        return f"{node['source_name']}.{node['name']}"
    return f"{node['schema']}.{node.get('alias') or node['name']}"


def _add_dbt(
    settings: Settings,
    datasets: dict[str, dict[str, Any]],
    fields: list[dict[str, Any]],
    lineage: set[tuple[str, str, str]],
    lake_root: str,
) -> None:
    """Add dbt sources (reference tables), models, seeds and snapshots with their lineage."""
    manifest = load_manifest(settings)
    if not manifest:
        return
    sources = manifest.get("sources", {})
    nodes = {
        key: {**node, "schema": published_name(node.get("schema", ""))}
        for key, node in manifest.get("nodes", {}).items()
        if node.get("resource_type") in ("model", "seed", "snapshot")
    }
    columns_by_table = _duckdb_columns(settings)
    for source in sources.values():
        dataset_id = _dbt_id(source)
        if dataset_id in datasets:
            continue  # bronze tables are described from their topic
        datasets[dataset_id] = {
            "dataset_id": dataset_id,
            "layer": source["source_name"],
            "name": source["name"],
            "kind": "delta table",
            "description": source.get("description", ""),
            "owner": (source.get("meta") or {}).get("owner", "plant model (pipelines.plant)"),
            "grain": _grain(source.get("description", "")),
            "key": "",
            "location": f"{lake_root}/{source['source_name']}/{source['name']}",
        }
    for node in nodes.values():
        dataset_id = _dbt_id(node)
        description = " ".join((node.get("description") or "").split())
        config = node.get("config", {})
        kind = node["resource_type"]
        if kind == "model":
            kind = f"dbt model ({config.get('materialized', 'view')})"
        else:
            kind = f"dbt {kind}"
        meta = config.get("meta") or node.get("meta") or {}
        datasets[dataset_id] = {
            "dataset_id": dataset_id,
            "layer": node["schema"],
            "name": node["name"],
            "kind": kind,
            "description": description,
            "owner": meta.get("owner", DBT_OWNER),
            "grain": _grain(description),
            "key": ", ".join(config.get("unique_key") or [])
            if isinstance(config.get("unique_key"), list)
            else (config.get("unique_key") or ""),
            "location": f"{node['schema']}.{node['name']} (DuckDB file / Trino lake catalog)",
        }
        documented = node.get("columns", {})
        actual = columns_by_table.get((node["schema"], node["name"]), [])
        names = [name for name, _ in actual] or list(documented)
        types = dict(actual)
        rows = []
        for name in names + [n for n in documented if n not in names]:
            column = documented.get(name, {})
            column_meta = column.get("meta") or {}
            rows.append(
                {
                    "field": name,
                    "data_type": types.get(name) or column.get("data_type"),
                    "required": None,
                    "unit": column_meta.get("unit"),
                    "pii": column_meta.get("pii"),
                    "description": " ".join((column.get("description") or "").split()),
                }
            )
        for ordinal, row in enumerate(rows, start=1):
            fields.append({"dataset_id": dataset_id, "ordinal": ordinal, "origin": "dbt", **row})
        for upstream in node.get("depends_on", {}).get("nodes", []):
            parent = sources.get(upstream) or nodes.get(upstream)
            if parent is None or parent.get("resource_type") not in (
                "source",
                "model",
                "seed",
                "snapshot",
            ):
                continue
            relation = "dbt source" if parent.get("resource_type") == "source" else "dbt ref"
            lineage.add((_dbt_id(parent), dataset_id, relation))


def _duckdb_columns(settings: Settings) -> dict[tuple[str, str], list[tuple[str, str]]]:
    """Return {(schema, table): [(column, type), ...]} of the DuckDB file ({} without one)."""
    path = Path(settings.lake.duckdb_path)
    if not path.is_file():
        return {}
    import duckdb

    try:
        with duckdb.connect(str(path), read_only=True) as con:
            rows = con.execute(
                "select table_schema, table_name, column_name, data_type "
                "from information_schema.columns order by table_schema, table_name, "
                "ordinal_position"
            ).fetchall()
    except duckdb.Error:
        return {}  # locked by a running dbt: fall back to the manifest's columns
    found: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for schema, table, column, data_type in rows:
        found.setdefault((schema, table), []).append((column, data_type))
    return found


# ---------------------------------------------------------------------------------- publish


def _arrow(rows: list[dict[str, Any]], table: str) -> Any:
    """Return catalog rows as an Arrow table with a fixed schema."""
    import pyarrow as pa

    types = {
        "datasets": {
            "schema_version": pa.int64(),
            "upstream_count": pa.int64(),
            "generated_at": pa.timestamp("us", tz="UTC"),
        },
        "fields": {"ordinal": pa.int64(), "required": pa.bool_()},
        "lineage": {},
    }[table]
    names = {"datasets": DATASET_COLUMNS, "fields": FIELD_COLUMNS, "lineage": LINEAGE_COLUMNS}
    schema = pa.schema([(name, types.get(name, pa.string())) for name in names[table]])
    return pa.Table.from_pylist(rows, schema=schema)


def catalog_path(settings: Settings, table: str) -> str:
    """Return the Delta location of a catalog table: `<lake>/catalog/<table>`."""
    return f"{str(settings.lake.root).rstrip('/')}/catalog/{table}"


def publish_catalog(settings: Settings, docs_dir: Path | None = DOCS_CATALOG_DIR) -> list[str]:
    """Write the catalog as Delta tables and Markdown/HTML; return every path written.

    The full browsable catalog goes to `<cache>/run/catalog/`; its index (Markdown and HTML) is
    copied to `docs_dir` (default `docs/catalog/`; None skips the copy).
    """
    from deltalake import write_deltalake

    from pipelines.lake.storage import delta_storage_options

    catalog = build_catalog(settings)
    written: list[str] = []
    for table in CATALOG_TABLES:
        path = catalog_path(settings, table)
        write_deltalake(
            path,
            _arrow(catalog[table], table),
            mode="overwrite",
            schema_mode="overwrite",
            storage_options=delta_storage_options(settings),
        )
        written.append(path)
    out = Path(settings.cache_dir) / "run" / "catalog"
    written += _write_pages(catalog, out)
    if docs_dir is not None:
        docs_dir.mkdir(parents=True, exist_ok=True)
        for name in ("index.md", "index.html"):
            shutil.copyfile(out / name, docs_dir / name)
            written.append(str(docs_dir / name))
    return written


def _cell(value: Any) -> str:
    """Return a value safe for one Markdown table cell."""
    return "" if value is None else " ".join(str(value).split()).replace("|", "\\|")


def _page_name(dataset_id: str) -> str:
    """Return the file name of a dataset's page."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", dataset_id) + ".md"


def _write_pages(catalog: dict[str, list[dict[str, Any]]], out: Path) -> list[str]:
    """Write index.md, index.html and one Markdown page per dataset under `out`."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "datasets").mkdir(exist_ok=True)
    by_dataset: dict[str, list[dict[str, Any]]] = {}
    for row in catalog["fields"]:
        by_dataset.setdefault(row["dataset_id"], []).append(row)
    upstream: dict[str, list[str]] = {}
    downstream: dict[str, list[str]] = {}
    for edge in catalog["lineage"]:
        upstream.setdefault(edge["downstream_id"], []).append(edge["upstream_id"])
        downstream.setdefault(edge["upstream_id"], []).append(edge["downstream_id"])
    written = []
    index = [
        "# Data catalog",
        "",
        "Generated by `pipelines.lake.catalog.publish_catalog` — do not edit. Delta tables: "
        "`catalog.datasets`, `catalog.fields`, `catalog.lineage`. See docs/catalog.md.",
        "",
        "| dataset | layer | kind | grain | owner | quality | description |",
        "|---|---|---|---|---|---|---|",
    ]
    for dataset in catalog["datasets"]:
        dataset_id = dataset["dataset_id"]
        page = _page_name(dataset_id)
        index.append(
            f"| [{dataset_id}](datasets/{page}) | {dataset['layer']} | {_cell(dataset['kind'])} "
            f"| {_cell(dataset['grain'])} | {_cell(dataset['owner'])} "
            f"| {dataset['quality_status']} | {_cell(dataset['description'])} |"
        )
        lines = [
            f"# {dataset_id}",
            "",
            _cell(dataset["description"]),
            "",
            *(
                f"- {label}: {_cell(dataset[key]) or '—'}"
                for label, key in (
                    ("Layer", "layer"),
                    ("Kind", "kind"),
                    ("Grain", "grain"),
                    ("Key", "key"),
                    ("Owner", "owner"),
                    ("Location", "location"),
                    ("Record type", "record_type"),
                    ("Schema versions", "schema_history"),
                    ("Quality", "quality_status"),
                    ("Failed expectations", "quality_failed_expectations"),
                )
            ),
            "- Upstream: "
            + (", ".join(f"`{u}`" for u in sorted(upstream.get(dataset_id, []))) or "—"),
            "- Downstream: "
            + (", ".join(f"`{d}`" for d in sorted(downstream.get(dataset_id, []))) or "—"),
            "",
            "| # | field | type | required | unit | PII | description |",
            "|---|---|---|---|---|---|---|",
        ]
        for row in by_dataset.get(dataset_id, []):
            required = "" if row["required"] is None else "yes" if row["required"] else "no"
            lines.append(
                f"| {row['ordinal']} | `{row['field']}` | {_cell(row['data_type'])} | {required} "
                f"| {_cell(row['unit'])} | {_cell(row['pii'])} | {_cell(row['description'])} |"
            )
        (out / "datasets" / page).write_text("\n".join(lines) + "\n", encoding="utf-8")
        written.append(str(out / "datasets" / page))
    index += ["", "## Lineage", "", "| upstream | downstream | relation |", "|---|---|---|"]
    index += [
        f"| `{e['upstream_id']}` | `{e['downstream_id']}` | {e['relation']} |"
        for e in catalog["lineage"]
    ]
    (out / "index.md").write_text("\n".join(index) + "\n", encoding="utf-8")
    (out / "index.html").write_text(_html(catalog), encoding="utf-8")
    return [str(out / "index.md"), str(out / "index.html"), *written]


def _html(catalog: dict[str, list[dict[str, Any]]]) -> str:
    """Return a self-contained HTML page: datasets, their fields (collapsible) and lineage."""
    e = html.escape
    by_dataset: dict[str, list[dict[str, Any]]] = {}
    for row in catalog["fields"]:
        by_dataset.setdefault(row["dataset_id"], []).append(row)
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>HazChem data catalog</title>",
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:2px 6px;font-size:13px;vertical-align:top}"
        ".failed{color:#b00}.passed{color:#070}</style></head><body>",
        "<h1>HazChem data catalog</h1><p>Generated; see docs/catalog.md.</p>",
    ]
    for dataset in catalog["datasets"]:
        status = dataset["quality_status"]
        parts.append(
            f"<details id='{e(dataset['dataset_id'])}'><summary><b>{e(dataset['dataset_id'])}"
            f"</b> — {e(dataset['kind'] or '')} — <span class='{status.split()[0]}'>"
            f"{e(status)}</span> — {e(dataset['grain'] or '')}</summary>"
            f"<p>{e(dataset['description'] or '')}</p><p>Owner: {e(dataset['owner'] or '')}; "
            f"location: {e(dataset['location'] or '')}; schema: "
            f"{e(dataset['schema_history'] or '')}</p><table><tr><th>field</th><th>type</th>"
            "<th>unit</th><th>PII</th><th>description</th></tr>"
        )
        for row in by_dataset.get(dataset["dataset_id"], []):
            parts.append(
                f"<tr><td>{e(row['field'])}</td><td>{e(str(row['data_type'] or ''))}</td>"
                f"<td>{e(str(row['unit'] or ''))}</td><td>{e(str(row['pii'] or ''))}</td>"
                f"<td>{e(row['description'] or '')}</td></tr>"
            )
        parts.append("</table></details>")
    parts.append(
        "<h2>Lineage</h2><table><tr><th>upstream</th><th>downstream</th><th>relation</th></tr>"
    )
    parts += [
        f"<tr><td><a href='#{e(x['upstream_id'])}'>{e(x['upstream_id'])}</a></td>"
        f"<td><a href='#{e(x['downstream_id'])}'>{e(x['downstream_id'])}</a></td>"
        f"<td>{e(x['relation'])}</td></tr>"
        for x in catalog["lineage"]
    ]
    parts.append("</table></body></html>\n")
    return "".join(parts)
