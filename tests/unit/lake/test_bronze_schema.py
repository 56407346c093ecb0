"""The bronze contract (docs/lakehouse.md) as code: table names, typed columns, event-date field."""

from __future__ import annotations

import pytest

from pipelines.lake.bronze_schema import (
    METADATA_COLUMNS,
    BronzeColumn,
    bronze_spec,
    column_type,
    event_time_field,
    payload_columns,
    table_name,
    table_path,
)
from pipelines.schema_registry import SchemaRegistry
from pipelines.topics import TopicSpec, load_topics

METADATA = [
    ("_topic", "string"),
    ("_partition", "int"),
    ("_offset", "bigint"),
    ("_kafka_timestamp", "timestamp"),
    ("_key", "string"),
    ("_value", "string"),
    ("_ingested_at", "timestamp"),
]


def _topic(name: str, schema: str | None) -> TopicSpec:
    return TopicSpec(name=name, schema=schema, key=(), partitions=1, retention_ms=1)


def test_metadata_columns_are_the_contract_ones_in_order():
    """GIVEN the module's metadata columns WHEN listed THEN they are the contract's, in order."""
    assert list(METADATA_COLUMNS) == METADATA


@pytest.mark.parametrize(
    ("topic", "table"),
    [
        ("readings", "readings"),
        ("readings.dlq", "readings_dlq"),
        ("video.events", "video_events"),
        ("dp.risk_units", "dp_risk_units"),
        ("work.gas_analyses.dlq", "work_gas_analyses_dlq"),
    ],
)
def test_table_name_replaces_dots_with_underscores(topic, table):
    """GIVEN a topic name WHEN mapped to its bronze table THEN every '.' becomes '_'."""
    assert table_name(topic) == table


def test_table_path_sits_under_bronze_for_folders_and_uris():
    """GIVEN a lake root with or without a trailing slash WHEN a table path is built
    THEN it is <root>/bronze/<table>."""
    assert table_path("/lake", "readings") == "/lake/bronze/readings"
    assert table_path("s3://bucket/lake/", "readings_dlq") == "s3://bucket/lake/bronze/readings_dlq"


@pytest.mark.parametrize(
    ("prop", "expected"),
    [
        ({"type": "string"}, "string"),
        ({"type": "integer"}, "bigint"),
        ({"type": "number"}, "double"),
        ({"type": "boolean"}, "boolean"),
        ({"type": "object", "properties": {"a": {"type": "integer"}}}, "string"),
        ({"type": "array", "items": {"type": "string"}}, "string"),
        ({"type": ["string", "null"]}, "string"),
        ({"type": ["null", "integer"]}, "bigint"),
        ({"type": ["number", "null"]}, "double"),
        ({"type": ["boolean", "null"]}, "boolean"),
        ({"type": ["object", "null"]}, "string"),
        ({"type": ["integer", "number"]}, "double"),
        ({"type": ["string", "integer"]}, "string"),
        ({"enum": ["a", "b"]}, "string"),
        (True, "string"),
    ],
)
def test_json_schema_types_map_to_spark_types(prop, expected):
    """GIVEN a property schema WHEN typed THEN the contract's Spark type results
    (nullable unions take the non-null type; objects, arrays and untyped keep JSON text)."""
    assert column_type(prop) == expected


def test_local_ref_is_followed_to_its_type():
    """GIVEN a property that is a local $ref to an integer definition WHEN typed THEN bigint."""
    document = {"$defs": {"ms": {"type": "integer"}}, "properties": {"t": {"$ref": "#/$defs/ms"}}}
    assert column_type(document["properties"]["t"], document) == "bigint"


def test_event_time_ms_wins_over_x_event_time():
    """GIVEN a schema with event_time_ms and an x-event-time WHEN resolved THEN event_time_ms."""
    document = {
        "x-event-time": "action_time_ms",
        "properties": {"action_time_ms": {"type": "integer"}, "event_time_ms": {"type": "integer"}},
    }
    assert event_time_field(document) == "event_time_ms"


def test_x_event_time_names_the_first_matching_time_field():
    """GIVEN x-event-time listing an unknown field, a non-time name and two time fields
    WHEN resolved THEN the first *_time_ms/*_at_ms field present in the schema is used."""
    document = {
        "x-event-time": ["missing_time_ms", "code", "sampled_at_ms", "checkin_time_ms"],
        "properties": {
            "code": {"type": "string"},
            "sampled_at_ms": {"type": "integer"},
            "checkin_time_ms": {"type": "integer"},
        },
    }
    assert event_time_field(document) == "sampled_at_ms"


def test_x_event_time_as_a_string_and_a_nullable_integer():
    """GIVEN x-event-time naming a nullable integer *_time_ms field WHEN resolved THEN it."""
    document = {
        "x-event-time": "action_time_ms",
        "properties": {"action_time_ms": {"type": ["integer", "null"]}},
    }
    assert event_time_field(document) == "action_time_ms"


def test_without_event_time_ms_or_x_event_time_the_kafka_timestamp_is_used():
    """GIVEN a schema with only other *_time_ms fields and no x-event-time WHEN resolved
    THEN None (event_date comes from _kafka_timestamp), as the contract says."""
    document = {"properties": {"checkin_time_ms": {"type": "integer"}}}
    assert event_time_field(document) is None


def test_x_event_time_naming_a_non_integer_field_is_ignored():
    """GIVEN x-event-time naming a string *_at_ms field WHEN resolved THEN None."""
    document = {"x-event-time": "seen_at_ms", "properties": {"seen_at_ms": {"type": "string"}}}
    assert event_time_field(document) is None


def test_sensor_reading_spec_has_typed_payload_metadata_and_event_date():
    """GIVEN the readings topic WHEN its bronze spec is built THEN the columns are the schema's
    properties in order with contract types, then the Kafka metadata, then event_date."""
    spec = bronze_spec(_topic("readings", "telemetry/sensor_reading"))
    assert spec.table == "readings"
    assert spec.record_type == "telemetry/sensor_reading"
    assert spec.schema_version == 1
    assert spec.event_time_field == "event_time_ms"
    assert [(c.name, c.type) for c in spec.columns] == [
        ("enterprise_code", "string"),
        ("hazard_source_code", "string"),
        ("unit_code", "string"),
        ("tag", "string"),
        ("metric_code", "string"),
        ("value", "double"),
        ("unit", "string"),
        ("quality", "string"),
        ("event_time_ms", "bigint"),
        *METADATA,
        ("event_date", "date"),
    ]


def test_dead_letter_spec_has_the_envelope_columns_and_uses_the_kafka_timestamp():
    """GIVEN a dead-letter topic WHEN its bronze spec is built THEN its payload columns are the
    envelope's fields and event_date falls back to the Kafka timestamp (no event_time_ms)."""
    spec = bronze_spec(_topic("readings.dlq", "ingest/dead_letter"))
    assert spec.table == "readings_dlq"
    assert [(c.name, c.type) for c in spec.payload] == [
        ("source_topic", "string"),
        ("reason_code", "string"),
        ("reason", "string"),
        ("source", "string"),
        ("key", "string"),
        ("original_b64", "string"),
        ("original_text", "string"),
        ("original_size_bytes", "bigint"),
        ("received_at_ms", "bigint"),
    ]
    assert spec.event_time_field is None


def test_table_override_keeps_the_topic():
    """GIVEN a test-only topic name WHEN a table is given explicitly THEN it is used as-is."""
    spec = bronze_spec(_topic("t1a2b3c4.readings", "telemetry/sensor_reading"), table="readings")
    assert (spec.topic, spec.table) == ("t1a2b3c4.readings", "readings")


def test_topic_without_schema_gets_only_metadata_columns():
    """GIVEN a topic with no schema WHEN specced THEN only metadata columns and event_date."""
    spec = bronze_spec(_topic("raw.stuff", None))
    assert spec.payload == ()
    assert [(c.name, c.type) for c in spec.columns] == [*METADATA, ("event_date", "date")]


def test_every_declared_topic_including_dead_letters_has_a_bronze_spec():
    """GIVEN infra/kafka/topics.yaml WHEN every topic is specced THEN each has a distinct table
    named after it, with a payload column per schema property."""
    registry = SchemaRegistry.load()
    topics = load_topics()
    specs = [bronze_spec(t, registry) for t in topics]
    assert [s.table for s in specs] == [t.name.replace(".", "_") for t in topics]
    assert len({s.table for s in specs}) == len(specs)
    assert "readings_dlq" in {s.table for s in specs}
    for topic, spec in zip(topics, specs, strict=True):
        properties = registry.latest(topic.schema).document["properties"]
        assert [c.name for c in spec.payload] == list(properties)


def test_property_clashing_with_metadata_is_rejected():
    """GIVEN a schema with a property named like a metadata column WHEN specced THEN ValueError."""
    with pytest.raises(ValueError, match="property '_offset' clashes with a bronze metadata"):
        payload_columns({"properties": {"_offset": {"type": "integer"}}})
    with pytest.raises(ValueError, match="property 'event_date' clashes"):
        payload_columns({"properties": {"event_date": {"type": "string"}}})


def test_properties_differing_only_in_case_are_rejected():
    """GIVEN two properties 'Tag' and 'tag' WHEN specced THEN ValueError (Delta is case-blind)."""
    with pytest.raises(ValueError, match="properties 'Tag' and 'tag' differ only in case"):
        payload_columns({"properties": {"Tag": {"type": "string"}, "tag": {"type": "string"}}})


def test_ddl_quotes_names_and_upper_cases_types():
    """GIVEN the readings spec WHEN rendered as DDL THEN the from_json schema string is exact."""
    spec = bronze_spec(_topic("readings", "telemetry/sensor_reading"))
    assert spec.payload_ddl() == (
        "`enterprise_code` STRING, `hazard_source_code` STRING, `unit_code` STRING, "
        "`tag` STRING, `metric_code` STRING, `value` DOUBLE, `unit` STRING, "
        "`quality` STRING, `event_time_ms` BIGINT"
    )
    assert BronzeColumn("odd`name", "bigint").ddl() == "`odd``name` BIGINT"
    assert spec.ddl().endswith("`_ingested_at` TIMESTAMP, `event_date` DATE")


def test_structs_are_nullable_spark_types():
    """GIVEN the readings spec WHEN turned into Spark StructTypes (no JVM needed)
    THEN field names, types and nullability match the contract."""
    spec = bronze_spec(_topic("readings", "telemetry/sensor_reading"))
    table = spec.table_struct()
    assert [(f.name, f.dataType.simpleString(), f.nullable) for f in table.fields] == [
        (c.name, c.type, True) for c in spec.columns
    ]
    assert [f.name for f in spec.payload_struct().fields] == [c.name for c in spec.payload]


def test_the_chained_streams_land_their_chain_fields_in_bronze():
    """GIVEN the declared alarm.audit and cases topics WHEN their bronze specs are built THEN they
    come from the v2 schemas and carry prev_hash and hash as string columns, beside `_key`,
    `_partition`, `_offset` and the raw `_value` that `hazchem audit verify --lake` recomputes."""
    declared = {t.name: t for t in load_topics()}
    for topic, table in (("alarm.audit", "alarm_audit"), ("cases", "cases")):
        spec = bronze_spec(declared[topic])
        columns = {c.name: c.type for c in spec.columns}
        assert (spec.table, spec.schema_version) == (table, 2)
        assert (columns["prev_hash"], columns["hash"]) == ("string", "string")
        assert {"_key", "_partition", "_offset", "_value"} <= set(columns)
