"""Bronze table contract (docs/lakehouse.md): table name, typed columns and event date per topic.

Pure functions over JSON Schema documents; only `BronzeSpec.payload_struct` / `table_struct`
touch pyspark, and only its type classes (no JVM), so everything here is unit-testable.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pipelines.schema_registry import SchemaRegistry
from pipelines.topics import TopicSpec

if TYPE_CHECKING:
    from pyspark.sql.types import StructType

# JSON Schema type -> Spark SQL type of the bronze column; objects and arrays keep their JSON text.
JSON_TO_SPARK: dict[str, str] = {
    "string": "string",
    "integer": "bigint",
    "number": "double",
    "boolean": "boolean",
    "object": "string",
    "array": "string",
}
# Kafka metadata columns, in table order, after the payload columns.
METADATA_COLUMNS: tuple[tuple[str, str], ...] = (
    ("_topic", "string"),
    ("_partition", "int"),
    ("_offset", "bigint"),
    ("_kafka_timestamp", "timestamp"),
    ("_key", "string"),
    ("_value", "string"),
    ("_ingested_at", "timestamp"),
)
PARTITION_COLUMN = "event_date"
DEFAULT_EVENT_TIME_FIELD = "event_time_ms"
_EVENT_TIME_SUFFIXES = ("_time_ms", "_at_ms")
_RESERVED = {name for name, _ in METADATA_COLUMNS} | {PARTITION_COLUMN}


@dataclass(frozen=True)
class BronzeColumn:
    """One bronze column: name and Spark SQL type name (string, bigint, double, ...)."""

    name: str
    type: str

    def ddl(self) -> str:
        """Return the column as Spark DDL, e.g. "`value` DOUBLE"."""
        return f"`{self.name.replace('`', '``')}` {self.type.upper()}"


@dataclass(frozen=True)
class BronzeSpec:
    """What the bronze job needs for one topic: table, payload columns and event-time field."""

    topic: str
    table: str
    record_type: str | None
    schema_version: int | None
    payload: tuple[BronzeColumn, ...]
    event_time_field: str | None  # None: event_date comes from the Kafka timestamp

    @property
    def columns(self) -> tuple[BronzeColumn, ...]:
        """Return every table column in order: payload, Kafka metadata, then event_date."""
        metadata = tuple(BronzeColumn(name, kind) for name, kind in METADATA_COLUMNS)
        return self.payload + metadata + (BronzeColumn(PARTITION_COLUMN, "date"),)

    def payload_ddl(self) -> str:
        """Return the payload columns as a Spark DDL struct body (the from_json schema)."""
        return ", ".join(column.ddl() for column in self.payload)

    def ddl(self) -> str:
        """Return the full table schema as Spark DDL."""
        return ", ".join(column.ddl() for column in self.columns)

    def payload_struct(self) -> StructType:
        """Return the payload columns as a nullable Spark StructType."""
        return _struct(self.payload)

    def table_struct(self) -> StructType:
        """Return every table column as a nullable Spark StructType."""
        return _struct(self.columns)


def table_name(topic: str) -> str:
    """Return the bronze table of a topic: its name with '.' replaced by '_'."""
    return topic.replace(".", "_")


def table_path(lake_root: str, table: str) -> str:
    """Return the location of a bronze table under the lake root (local folder or URI)."""
    return f"{str(lake_root).rstrip('/')}/bronze/{table}"


def column_type(prop: Any, document: dict | None = None) -> str:
    """Return the Spark type of one property: nullable unions take the non-null type."""
    prop = _deref(prop, document or {})
    if not isinstance(prop, dict) or "type" not in prop:
        return "string"  # untyped (enum/const only, or true): keep the JSON text
    declared = prop["type"]
    names = {declared} if isinstance(declared, str) else set(declared)
    names.discard("null")
    if names == {"integer", "number"}:
        return "double"
    if len(names) == 1:
        return JSON_TO_SPARK.get(names.pop(), "string")
    return "string"  # a union of several value types: keep the JSON text


def event_time_field(document: dict) -> str | None:
    """Return the field event_date is derived from: event_time_ms, else x-event-time, else None."""
    properties = document.get("properties", {}) or {}
    if DEFAULT_EVENT_TIME_FIELD in properties:
        return DEFAULT_EVENT_TIME_FIELD
    declared = document.get("x-event-time")
    names = [declared] if isinstance(declared, str) else list(declared or [])
    for name in names:
        if (
            name in properties
            and name.endswith(_EVENT_TIME_SUFFIXES)
            and column_type(properties[name], document) == "bigint"
        ):
            return name
    return None


def payload_columns(document: dict) -> tuple[BronzeColumn, ...]:
    """Return one column per top-level property, in schema order; ValueError on a name clash."""
    columns: list[BronzeColumn] = []
    seen: dict[str, str] = {}
    for name, prop in (document.get("properties", {}) or {}).items():
        if name in _RESERVED:
            raise ValueError(f"property '{name}' clashes with a bronze metadata column")
        folded = name.lower()  # Spark and Delta resolve column names case-insensitively
        if folded in seen:
            raise ValueError(f"properties '{seen[folded]}' and '{name}' differ only in case")
        seen[folded] = name
        columns.append(BronzeColumn(name, column_type(prop, document)))
    return tuple(columns)


def bronze_spec(
    topic: TopicSpec, registry: SchemaRegistry | None = None, table: str | None = None
) -> BronzeSpec:
    """Return the bronze spec of a topic from its schema's latest version (table from its name)."""
    name = table or table_name(topic.name)
    if not topic.schema:
        return BronzeSpec(topic.name, name, None, None, (), None)
    schema = (registry or SchemaRegistry.load()).latest(topic.schema)
    try:
        payload = payload_columns(schema.document)
    except ValueError as exc:
        raise ValueError(f"{schema.record_type}.v{schema.version}: {exc}") from None
    return BronzeSpec(
        topic=topic.name,
        table=name,
        record_type=schema.record_type,
        schema_version=schema.version,
        payload=payload,
        event_time_field=event_time_field(schema.document),
    )


def bronze_specs(
    topics: Iterable[TopicSpec], registry: SchemaRegistry | None = None
) -> list[BronzeSpec]:
    """Return the bronze spec of every topic, in the given order."""
    registry = registry or SchemaRegistry.load()
    return [bronze_spec(topic, registry) for topic in topics]


def _deref(prop: Any, document: dict) -> Any:
    """Return a property schema with local `#/...` $ref chains followed."""
    seen: set[str] = set()
    while isinstance(prop, dict) and isinstance(prop.get("$ref"), str):
        ref = prop["$ref"]
        if not ref.startswith("#/") or ref in seen:
            return prop
        seen.add(ref)
        target: Any = document
        for token in ref[2:].split("/"):
            token = token.replace("~1", "/").replace("~0", "~")
            target = target.get(token) if isinstance(target, dict) else None
        if not isinstance(target, dict):
            return prop
        prop = {**target, **{k: v for k, v in prop.items() if k != "$ref"}}
    return prop


def _struct(columns: Iterable[BronzeColumn]) -> StructType:
    """Return a StructType of nullable fields for the given columns."""
    from pyspark.sql import types as T

    spark_types: dict[str, T.DataType] = {
        "string": T.StringType(),
        "bigint": T.LongType(),
        "int": T.IntegerType(),
        "double": T.DoubleType(),
        "boolean": T.BooleanType(),
        "timestamp": T.TimestampType(),
        "date": T.DateType(),
    }
    return T.StructType([T.StructField(c.name, spark_types[c.type], True) for c in columns])
