"""Plant reference tables (基础信息): the plant model written as Delta tables for dbt and Trino.

`build_reference_tables(plant, loaded_at)` is pure (plant model in, Arrow tables out);
`write_reference_tables(root)` writes each one, replacing it whole, under
`<lake root>/reference/<table>`. dbt reads them as the `reference` source
(`dbt_project/models/staging/reference/`). Objects and lists are stored as JSON text, as in bronze.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from pipelines.hazard.gb18218 import grade_unit
from pipelines.plant import Plant, load_plant
from pipelines.settings import Settings, get_settings

REFERENCE_DIR = "reference"
LOADED_AT_COLUMN = "_loaded_at"

_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "bigint": pa.int64(),
    "double": pa.float64(),
    "boolean": pa.bool_(),
}

# table -> ordered (column, type); every table also gets `_loaded_at timestamp` (UTC) last.
TABLE_COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "hazard_sources": (
        ("hazard_source_code", "string"),
        ("enterprise_code", "string"),
        ("name", "string"),
        ("name_en", "string"),
        ("kind", "string"),
        ("unit_code", "string"),
        ("residents_within_500m", "bigint"),
        ("operations_lead", "string"),
        ("technical_lead", "string"),
        ("principal_head", "string"),
        ("gb18218_s", "double"),
        ("is_major_hazard", "boolean"),
        ("gb18218_r", "double"),
        ("gb18218_level", "bigint"),
        ("gb18218_level_zh", "string"),
        ("gb18218_alpha", "double"),
    ),
    "substances": (
        ("hazard_source_code", "string"),
        ("substance_seq", "bigint"),
        ("enterprise_code", "string"),
        ("name_zh", "string"),
        ("name_en", "string"),
        ("cas_no", "string"),
        ("hazard_categories", "string"),
        ("design_max_t", "double"),
        ("actual_t", "double"),
    ),
    "units": (
        ("unit_code", "string"),
        ("enterprise_code", "string"),
        ("name", "string"),
        ("name_en", "string"),
        ("unit_type", "string"),
        ("hazard_source_code", "string"),
    ),
    "areas": (
        ("area_code", "string"),
        ("enterprise_code", "string"),
        ("name", "string"),
        ("name_en", "string"),
        ("unit_code", "string"),
        ("hazard_source_code", "string"),
        ("headcount_limit", "bigint"),
        ("is_fire_explosion_area", "boolean"),
        ("floor", "bigint"),
        ("polygon", "string"),
    ),
    "people": (
        ("person_id", "string"),
        ("enterprise_code", "string"),
        ("name", "string"),
        ("tag_id", "string"),
        ("role", "string"),
        ("person_type", "string"),
        ("contractor_id", "string"),
        ("home_area", "string"),
        ("post_x_m", "double"),
        ("post_y_m", "double"),
    ),
    "contractors": (
        ("contractor_id", "string"),
        ("enterprise_code", "string"),
        ("name", "string"),
        ("name_en", "string"),
    ),
    "cameras": (
        ("camera_id", "string"),
        ("enterprise_code", "string"),
        ("name", "string"),
        ("area_code", "string"),
        ("x_m", "double"),
        ("y_m", "double"),
    ),
    "equipment": (
        ("equipment_id", "string"),
        ("enterprise_code", "string"),
        ("unit_code", "string"),
        ("area_code", "string"),
        ("hazard_source_code", "string"),
        ("tag_count", "bigint"),
    ),
    "inspection_points": (
        ("point_id", "string"),
        ("enterprise_code", "string"),
        ("route_id", "string"),
        ("route_name", "string"),
        ("area_code", "string"),
        ("inspector", "string"),
        ("period_h", "double"),
        ("point_seq", "bigint"),
        ("name", "string"),
        ("x_m", "double"),
        ("y_m", "double"),
    ),
    "tags": (
        # the tag_metadata.v1 record (Plant.tag_records()) typed like the bronze `tags` table ...
        ("enterprise_code", "string"),
        ("hazard_source_code", "string"),
        ("unit_code", "string"),
        ("area_code", "string"),
        ("tag", "string"),
        ("description", "string"),
        ("kind", "string"),
        ("metric_code", "string"),
        ("unit", "string"),
        ("gas", "string"),
        ("range_low", "double"),
        ("range_high", "double"),
        ("limits", "string"),
        ("deadband", "double"),
        ("delay_on_s", "double"),
        ("delay_off_s", "double"),
        ("roc_per_min", "double"),
        ("priority", "string"),
        ("expected_interval_s", "double"),
        ("stale_after_s", "double"),
        ("flatline_after_s", "double"),
        ("x_m", "double"),
        ("y_m", "double"),
        # ... plus what only the plant model knows
        ("equipment_id", "string"),
        ("normal_value", "double"),
    ),
}


def _json(value: Any) -> str:
    """Return value as compact JSON text (the bronze rule for objects and arrays)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _hazard_sources(plant: Plant) -> Iterable[dict[str, Any]]:
    for hs in plant.hazard_sources.values():
        graded = grade_unit(hs.grading_input())
        yield {
            "hazard_source_code": hs.code,
            "name": hs.name,
            "name_en": hs.name_en,
            "kind": hs.kind,
            "unit_code": hs.unit_code,
            "residents_within_500m": hs.residents_within_500m,
            **{role: hs.responsibility.get(role) for role in hs.responsibility},
            "gb18218_s": graded["s"],
            "is_major_hazard": graded["is_major_hazard"],
            "gb18218_r": graded["r"],
            "gb18218_level": graded["level"],
            "gb18218_level_zh": graded["level_zh"],
            "gb18218_alpha": graded["alpha"],
        }


def _substances(plant: Plant) -> Iterable[dict[str, Any]]:
    for hs in plant.hazard_sources.values():
        for seq, s in enumerate(hs.substances, start=1):
            yield {
                "hazard_source_code": hs.code,
                "substance_seq": seq,
                "name_zh": s.name_zh,
                "name_en": s.name_en,
                "cas_no": s.cas_no,
                "hazard_categories": _json(list(s.hazard_categories)),
                "design_max_t": s.design_max_t,
                "actual_t": s.actual_t,
            }


def _units(plant: Plant) -> Iterable[dict[str, Any]]:
    for u in plant.units.values():
        yield {
            "unit_code": u.unit_code,
            "name": u.name,
            "name_en": u.name_en,
            "unit_type": u.unit_type,
            "hazard_source_code": u.hazard_source_code,
        }


def _areas(plant: Plant) -> Iterable[dict[str, Any]]:
    for a in plant.areas.values():
        yield {
            "area_code": a.area_code,
            "name": a.name,
            "name_en": a.name_en,
            "unit_code": a.unit_code,
            "hazard_source_code": a.hazard_source_code,
            "headcount_limit": a.headcount_limit,
            "is_fire_explosion_area": a.is_fire_explosion_area,
            "floor": a.floor,
            "polygon": _json([list(p) for p in a.polygon]),
        }


def _people(plant: Plant) -> Iterable[dict[str, Any]]:
    for p in plant.people.values():
        yield {
            "person_id": p.person_id,
            "name": p.name,
            "tag_id": p.tag_id,
            "role": p.role,
            "person_type": p.person_type,
            "contractor_id": p.contractor_id,
            "home_area": p.home_area,
            "post_x_m": p.post_x_m,
            "post_y_m": p.post_y_m,
        }


def _contractors(plant: Plant) -> Iterable[dict[str, Any]]:
    for c in plant.contractors.values():
        yield {"contractor_id": c.contractor_id, "name": c.name, "name_en": c.name_en}


def _cameras(plant: Plant) -> Iterable[dict[str, Any]]:
    for c in plant.cameras.values():
        yield {
            "camera_id": c.camera_id,
            "name": c.name,
            "area_code": c.area_code,
            "x_m": c.x_m,
            "y_m": c.y_m,
        }


def _equipment(plant: Plant) -> Iterable[dict[str, Any]]:
    """Equipment named by tags (设备), located by its first tag in YAML order."""
    first: dict[str, Any] = {}
    counts: dict[str, int] = {}
    for t in plant.tags.values():
        if t.equipment is None:
            continue
        first.setdefault(t.equipment, t)
        counts[t.equipment] = counts.get(t.equipment, 0) + 1
    for equipment_id, t in first.items():
        yield {
            "equipment_id": equipment_id,
            "unit_code": t.unit_code,
            "area_code": t.area_code,
            "hazard_source_code": t.hazard_source_code,
            "tag_count": counts[equipment_id],
        }


def _inspection_points(plant: Plant) -> Iterable[dict[str, Any]]:
    for r in plant.routes.values():
        for seq, pt in enumerate(r.points, start=1):
            yield {
                "point_id": pt.point_id,
                "route_id": r.route_id,
                "route_name": r.name,
                "area_code": r.area_code,
                "inspector": r.inspector,
                "period_h": r.period_h,
                "point_seq": seq,
                "name": pt.name,
                "x_m": pt.x_m,
                "y_m": pt.y_m,
            }


def _tags(plant: Plant) -> Iterable[dict[str, Any]]:
    for record, tag in zip(plant.tag_records(), plant.tags.values(), strict=True):
        row = {k: _json(v) if isinstance(v, dict | list) else v for k, v in record.items()}
        row["equipment_id"] = tag.equipment
        row["normal_value"] = tag.normal
        yield row


_ROWS: dict[str, Callable[[Plant], Iterable[dict[str, Any]]]] = {
    "hazard_sources": _hazard_sources,
    "substances": _substances,
    "units": _units,
    "areas": _areas,
    "people": _people,
    "contractors": _contractors,
    "cameras": _cameras,
    "equipment": _equipment,
    "inspection_points": _inspection_points,
    "tags": _tags,
}


def arrow_schema(table: str) -> pa.Schema:
    """Return the Arrow schema of one reference table (all columns nullable)."""
    fields = [pa.field(name, _TYPES[kind]) for name, kind in TABLE_COLUMNS[table]]
    fields.append(pa.field(LOADED_AT_COLUMN, pa.timestamp("us", tz="UTC")))
    return pa.schema(fields)


def _table(
    table: str, rows: Iterable[Mapping[str, Any]], enterprise_code: str, loaded_at: datetime
) -> pa.Table:
    schema = arrow_schema(table)
    columns: dict[str, list[Any]] = {f.name: [] for f in schema}
    for row in rows:
        unknown = set(row) - set(columns)
        if unknown:
            raise ValueError(f"reference table {table}: unexpected column(s) {sorted(unknown)}")
        for name in columns:
            if name == "enterprise_code":
                columns[name].append(row.get(name, enterprise_code))
            elif name == LOADED_AT_COLUMN:
                columns[name].append(loaded_at)
            else:
                columns[name].append(row.get(name))
    return pa.table(columns, schema=schema)


def build_reference_tables(plant: Plant, loaded_at: datetime) -> dict[str, pa.Table]:
    """Return every reference table of the plant model as an Arrow table, keyed by table name."""
    if loaded_at.utcoffset() is None:
        raise ValueError("loaded_at must be timezone-aware")
    return {
        name: _table(name, rows(plant), plant.enterprise_code, loaded_at)
        for name, rows in _ROWS.items()
    }


def table_path(lake_root: str, table: str) -> str:
    """Return the location of a reference table under the lake root (local folder or URI)."""
    return f"{str(lake_root).rstrip('/')}/{REFERENCE_DIR}/{table}"


def write_reference_tables(
    lake_root: str,
    plant: Plant | None = None,
    loaded_at: datetime | None = None,
    storage_options: dict[str, str] | None = None,
) -> dict[str, int]:
    """Replace every reference table under `<lake_root>/reference/`; return rows per table."""
    from deltalake import write_deltalake

    tables = build_reference_tables(plant or load_plant(), loaded_at or datetime.now(UTC))
    for name, table in tables.items():
        write_deltalake(
            table_path(lake_root, name),
            table,
            mode="overwrite",
            schema_mode="overwrite",
            storage_options=storage_options,
        )
    return {name: table.num_rows for name, table in tables.items()}


def main(settings: Settings | None = None) -> dict[str, int]:
    """Write the reference tables of the configured plant under the configured lake root."""
    from pipelines.lake.storage import delta_storage_options

    settings = settings or get_settings()
    plant = load_plant(settings.simulator.plant_file)
    counts = write_reference_tables(
        settings.lake.root, plant, storage_options=delta_storage_options(settings)
    )
    for name, n in counts.items():
        print(f"reference.{name}: {n} rows -> {table_path(settings.lake.root, name)}")
    return counts


if __name__ == "__main__":
    main()
