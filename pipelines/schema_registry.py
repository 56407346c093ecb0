"""The one schema loader of the platform: schema files, fast validators, compatibility, catalog.

Schemas live in `schemas/<domain>/<record>.v<N>.json` (JSON Schema 2020-12). Producers and
ingest jobs validate with `SchemaRegistry.load().validator("telemetry/sensor_reading")`; a record
that fails raises `SchemaViolation`, whose `kind` and `field` go into the dead-letter envelope.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fastjsonschema
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

SCHEMAS_ROOT: Path = Path(__file__).resolve().parents[1] / "schemas"

ID_PREFIX = "hazchem:"
DEAD_LETTER_RECORD_TYPE = "ingest/dead_letter"  # envelope of every `<topic>.dlq` topic
_DOMAIN_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_FILE_RE = re.compile(r"^(?P<record>[a-z][a-z0-9_]*)\.v(?P<version>[1-9][0-9]*)\.json$")
_VIOLATION_KINDS = ("missing_field", "wrong_type", "schema_violation")
# Keywords whose addition or change can reject records the old schema accepted but whose effect
# we cannot compare structurally; any change to them is reported for review by hand.
_OPAQUE_KEYWORDS = ("allOf", "anyOf", "oneOf", "not", "if", "then", "else", "dependentRequired")
_MAX_VALUE_IN_MESSAGE = 40


class SchemaViolation(ValueError):
    """A record does not match its schema; `kind` and `field` say how and where."""

    def __init__(self, kind: str, field: str, message: str) -> None:
        if kind not in _VIOLATION_KINDS:
            raise ValueError(f"unknown violation kind {kind!r}")
        super().__init__(message)
        self.kind = kind
        self.field = field


@dataclass(frozen=True)
class SchemaVersion:
    """One schema file: record type ("domain/record"), version, path and parsed document."""

    record_type: str
    version: int
    path: Path
    document: dict = field(repr=False, compare=False)

    @property
    def schema_id(self) -> str:
        """Return the `$id` this file must carry, e.g. "hazchem:telemetry/sensor_reading.v1"."""
        return f"{ID_PREFIX}{self.record_type}.v{self.version}"


class SchemaRegistry:
    """All schema versions under one root, with validators compiled once and cached."""

    def __init__(self, root: Path, versions: Iterable[SchemaVersion]) -> None:
        self.root = root
        by_type: dict[str, list[SchemaVersion]] = {}
        for schema in versions:
            by_type.setdefault(schema.record_type, []).append(schema)
        self._versions = {
            record_type: sorted(found, key=lambda s: s.version)
            for record_type, found in sorted(by_type.items())
        }
        self._validators: dict[tuple[str, int], Callable[[dict], None]] = {}

    @classmethod
    def load(cls, root: Path | None = None) -> SchemaRegistry:
        """Return a registry of every `<domain>/<record>.v<N>.json`; ValueError names bad files."""
        root = Path(root) if root is not None else SCHEMAS_ROOT
        if not root.is_dir():
            raise ValueError(f"schema root {root} is not a directory")
        return cls(root, [_load_file(root, path) for path in _schema_files(root)])

    def record_types(self) -> list[str]:
        """Return every record type ("domain/record"), sorted."""
        return list(self._versions)

    def versions(self, record_type: str) -> list[SchemaVersion]:
        """Return the versions of `record_type`, ascending; KeyError when it is unknown."""
        try:
            return list(self._versions[record_type])
        except KeyError:
            known = ", ".join(self._versions) or "none"
            raise KeyError(
                f"unknown record type {record_type!r} (schemas under {self.root}: {known})"
            ) from None

    def latest(self, record_type: str) -> SchemaVersion:
        """Return the highest version of `record_type`; KeyError when it is unknown."""
        return self.versions(record_type)[-1]

    def get(self, record_type: str, version: int | None = None) -> SchemaVersion:
        """Return one version (the latest when `version` is None); KeyError when absent."""
        if version is None:
            return self.latest(record_type)
        for schema in self.versions(record_type):
            if schema.version == version:
                return schema
        raise KeyError(f"{record_type} has no version {version}")

    def validator(self, record_type: str, version: int | None = None) -> Callable[[dict], None]:
        """Return a cached validator that returns None or raises SchemaViolation (kind, field)."""
        schema = self.get(record_type, version)
        cache_key = (schema.record_type, schema.version)
        validate = self._validators.get(cache_key)
        if validate is None:
            validate = _compile(schema)
            self._validators[cache_key] = validate
        return validate


def _schema_files(root: Path) -> list[Path]:
    """Return the schema files under root, sorted; ValueError for any misplaced or misnamed file."""
    found = []
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if path.is_dir() or any(part.startswith(".") for part in relative.parts):
            continue
        if path.suffix.lower() == ".md":
            continue  # READMEs may sit beside the schemas
        if len(relative.parts) != 2 or not _DOMAIN_RE.match(relative.parts[0]):
            raise ValueError(
                f"{relative}: schema files must be <domain>/<record>.v<N>.json "
                "(lower-case domain directory directly under the schema root)"
            )
        if not _FILE_RE.match(path.name):
            raise ValueError(
                f"{relative}: bad schema file name {path.name!r}; expected <record>.v<N>.json "
                "with a lower_snake_case record and a version N >= 1, e.g. sensor_reading.v1.json"
            )
        found.append(path)
    return found


def _load_file(root: Path, path: Path) -> SchemaVersion:
    """Return the parsed SchemaVersion of one file; ValueError naming the file if invalid."""
    relative = path.relative_to(root)
    match = _FILE_RE.match(path.name)
    assert match is not None  # checked by _schema_files
    schema = SchemaVersion(
        record_type=f"{relative.parts[0]}/{match['record']}",
        version=int(match["version"]),
        path=path,
        document={},
    )
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{relative}: not valid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise ValueError(f"{relative}: a schema must be a JSON object")
    try:
        Draft202012Validator.check_schema(document)
    except SchemaError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "(root)"
        raise ValueError(f"{relative}: invalid JSON Schema at {where}: {exc.message}") from None
    if document.get("$id") != schema.schema_id:
        raise ValueError(
            f"{relative}: $id is {document.get('$id')!r} but the file name requires "
            f"{schema.schema_id!r}"
        )
    return SchemaVersion(schema.record_type, schema.version, path, document)


# --------------------------------------------------------------------------- validation


def _compile(schema: SchemaVersion) -> Callable[[dict], None]:
    """Return a validator for one schema version, compiled by fastjsonschema."""
    try:
        # use_default=False: validating must never change the record.
        compiled = fastjsonschema.compile(schema.document, use_default=False)
    except fastjsonschema.JsonSchemaDefinitionException as exc:
        raise ValueError(f"{schema.path.name}: fastjsonschema cannot compile it: {exc}") from None
    label = f"{schema.record_type}.v{schema.version}"
    properties = schema.document.get("properties", {})
    quotable = {name for name, spec in properties.items() if spec.get("x-pii", "none") == "none"}

    def validate(record: dict) -> None:
        try:
            compiled(record)
        except fastjsonschema.JsonSchemaValueException as exc:
            raise _violation(label, exc, quotable) from None

    validate.__doc__ = f"Return None when the record is a valid {label}; raise SchemaViolation."
    validate.__name__ = f"validate_{schema.record_type.replace('/', '__')}_v{schema.version}"
    return validate


def _violation(
    label: str, exc: fastjsonschema.JsonSchemaValueException, quotable: set[str]
) -> SchemaViolation:
    """Return the SchemaViolation (kind, field, one-line message) for a fastjsonschema error."""
    name = exc.name or "data"
    path = name[len("data") :].lstrip(".") if name.startswith("data") else name
    rule = exc.rule
    value = exc.value
    if rule == "required":
        required = exc.rule_definition or []
        present = value if isinstance(value, dict) else {}
        missing = [prop for prop in required if prop not in present] or list(required[:1])
        fields = [_join(path, prop) for prop in missing]
        listed = ", ".join(f"'{f}'" for f in fields)
        noun = "field" if len(fields) == 1 else "fields"
        return SchemaViolation(
            "missing_field", fields[0], f"{label}: missing required {noun} {listed}"
        )
    if rule == "type":
        expected = exc.rule_definition
        if isinstance(expected, list):
            expected = " or ".join(expected)
        where = f"field '{path}'" if path else "record"
        return SchemaViolation(
            "wrong_type", path, f"{label}: {where} must be {expected}, got {_json_type(value)}"
        )
    if rule == "additionalProperties" and isinstance(value, dict):
        extras = sorted(_extra_properties(exc.message))
        if extras:
            fields = [_join(path, extra) for extra in extras]
            listed = ", ".join(f"'{f}'" for f in fields)
            noun = "field" if len(fields) == 1 else "fields"
            return SchemaViolation(
                "schema_violation",
                fields[0],
                f"{label}: unknown {noun} {listed} (not in the schema)",
            )
    detail = exc.message
    if detail.startswith(name):
        detail = detail[len(name) :].strip()
    where = f"field '{path}'" if path else "record"
    top_level = re.split(r"[.\[]", path, maxsplit=1)[0]
    shown = ""
    if path and top_level in quotable and not isinstance(value, dict | list):
        shown = f" (got {_short_repr(value)})"
    return SchemaViolation("schema_violation", path, f"{label}: {where} {detail}{shown}")


def _join(path: str, prop: str) -> str:
    """Return the dotted path of `prop` inside the object at `path`."""
    return f"{path}.{prop}" if path else prop


def _extra_properties(message: str) -> set[str]:
    """Return the property names fastjsonschema lists in "must not contain {...} properties"."""
    match = re.search(r"must not contain (\{.*\}) properties", message)
    if not match:
        return set()
    try:
        parsed = ast.literal_eval(match.group(1))
    except (ValueError, SyntaxError):
        return set()
    return {str(item) for item in parsed}


def _json_type(value: Any) -> str:
    """Return the JSON type name of a Python value ("string", "null", "boolean", ...)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _short_repr(value: Any) -> str:
    """Return repr(value) cut to a length that keeps a message on one readable line."""
    text = " ".join(repr(value).split())
    if len(text) > _MAX_VALUE_IN_MESSAGE:
        text = text[: _MAX_VALUE_IN_MESSAGE - 3] + "..."
    return text


# --------------------------------------------------------------------------- compatibility


def backward_compatibility_problems(old: dict, new: dict) -> list[str]:
    """Return why `new` cannot read every record valid under `old`, one line each; [] if it can."""
    problems: list[str] = []
    _compare(_Resolved(old, old), _Resolved(new, new), "", problems)
    return problems


def compatibility_report(registry: SchemaRegistry) -> dict[str, list[str]]:
    """Return, per record type with more than one version, problems between consecutive versions."""
    report: dict[str, list[str]] = {}
    for record_type in registry.record_types():
        versions = registry.versions(record_type)
        if len(versions) < 2:
            continue
        problems: list[str] = []
        for older, newer in zip(versions, versions[1:], strict=False):
            problems.extend(
                f"v{older.version} -> v{newer.version}: {line}"
                for line in backward_compatibility_problems(older.document, newer.document)
            )
        report[record_type] = problems
    return report


@dataclass(frozen=True)
class _Resolved:
    """A subschema together with the root document its local `$ref`s resolve against."""

    schema: Any
    root: dict

    def deref(self) -> _Resolved:
        """Return this subschema with local `$ref` chains followed (non-local refs are kept)."""
        schema, seen = self.schema, set()
        while isinstance(schema, dict) and isinstance(schema.get("$ref"), str):
            ref = schema["$ref"]
            if not ref.startswith("#") or ref in seen:
                break
            seen.add(ref)
            target: Any = self.root
            for token in ref[1:].split("/")[1:]:
                token = token.replace("~1", "/").replace("~0", "~")
                target = target.get(token) if isinstance(target, dict) else None
            if target is None:
                break
            siblings = {k: v for k, v in schema.items() if k != "$ref"}
            schema = {**target, **siblings} if isinstance(target, dict) else target
        return _Resolved(schema, self.root)

    def child(self, schema: Any) -> _Resolved:
        """Return `schema` as a subschema of the same root."""
        return _Resolved(schema, self.root)


_ALL_TYPES = frozenset({"null", "boolean", "object", "array", "number", "string", "integer"})


def _types(schema: Any) -> frozenset[str] | None:
    """Return the JSON types a subschema allows (None = any); "number" includes "integer"."""
    if schema is False:
        return frozenset()
    if not isinstance(schema, dict) or "type" not in schema:
        return None
    declared = schema["type"]
    names = frozenset([declared] if isinstance(declared, str) else declared)
    return names | {"integer"} if "number" in names else names


def _enum_values(schema: dict) -> list | None:
    """Return the allowed values of `enum`/`const` (None = no such restriction)."""
    if "const" in schema:
        return [schema["const"]]
    if "enum" in schema:
        return list(schema["enum"])
    return None


def _same_value(a: Any, b: Any) -> bool:
    """Return whether two JSON values are equal, telling booleans from numbers."""
    return type(a) is type(b) and a == b if isinstance(a, bool) or isinstance(b, bool) else a == b


def _lower_bound(schema: dict) -> tuple[float, bool] | None:
    """Return (bound, exclusive) of minimum/exclusiveMinimum, the tighter one; None if unbounded."""
    bounds = []
    if isinstance(schema.get("minimum"), int | float):
        bounds.append((schema["minimum"], False))
    if isinstance(schema.get("exclusiveMinimum"), int | float):
        bounds.append((schema["exclusiveMinimum"], True))
    return max(bounds) if bounds else None


def _upper_bound(schema: dict) -> tuple[float, bool] | None:
    """Return (bound, exclusive) of maximum/exclusiveMaximum, the tighter one; None if unbounded."""
    bounds = []
    if isinstance(schema.get("maximum"), int | float):
        bounds.append((schema["maximum"], False))
    if isinstance(schema.get("exclusiveMaximum"), int | float):
        bounds.append((schema["exclusiveMaximum"], True))
    # The tighter upper bound is the smaller value; at equal values the exclusive one.
    return min(bounds, key=lambda b: (b[0], not b[1])) if bounds else None


def _show_bound(bound: tuple[float, bool] | None, low: bool) -> str:
    """Return a bound as text, e.g. "> 0", "<= 100" or "none"."""
    if bound is None:
        return "none"
    value, exclusive = bound
    op = (">" if exclusive else ">=") if low else ("<" if exclusive else "<=")
    return f"{op} {value:g}" if isinstance(value, float) else f"{op} {value}"


def _where(path: str) -> str:
    """Return how a problem line names its location."""
    return f"field '{path}'" if path else "record"


def _compare(old_r: _Resolved, new_r: _Resolved, path: str, problems: list[str]) -> None:
    """Append to `problems` every way `new` rejects values `old` accepted at `path`."""
    old_r, new_r = old_r.deref(), new_r.deref()
    old, new = old_r.schema, new_r.schema
    where = _where(path)
    if new is True or new == {}:
        return
    if old is False:
        return
    if new is False:
        problems.append(f"{where}: new schema rejects every value")
        return
    if not isinstance(old, dict) or not isinstance(new, dict):
        return

    old_types, new_types = _types(old), _types(new)
    if new_types is not None:
        effective_old = _ALL_TYPES if old_types is None else old_types
        lost = sorted(effective_old - new_types)
        if lost:
            before = "any" if old_types is None else "/".join(sorted(_declared(old)))
            after = "/".join(sorted(_declared(new)))
            problems.append(f"{where}: type narrowed from {before} to {after} (drops {lost})")

    old_enum, new_enum = _enum_values(old), _enum_values(new)
    if new_enum is not None:
        if old_enum is None:
            problems.append(f"{where}: new enum {new_enum!r} restricts a field that was open")
        else:
            removed = [v for v in old_enum if not any(_same_value(v, w) for w in new_enum)]
            if removed:
                problems.append(f"{where}: enum values removed: {removed!r}")

    for keyword in ("maxLength", "maxItems", "maxProperties"):
        if keyword in new and (keyword not in old or new[keyword] < old[keyword]):
            before = old.get(keyword, "none")
            problems.append(f"{where}: {keyword} lowered from {before} to {new[keyword]}")
    for keyword in ("minLength", "minItems", "minProperties"):
        if new.get(keyword, 0) > old.get(keyword, 0):
            before = old.get(keyword, 0)
            problems.append(f"{where}: {keyword} raised from {before} to {new[keyword]}")

    old_low, new_low = _lower_bound(old), _lower_bound(new)
    if new_low is not None and (old_low is None or new_low > old_low):
        problems.append(
            f"{where}: lower bound narrowed from {_show_bound(old_low, True)} to "
            f"{_show_bound(new_low, True)}"
        )
    old_high, new_high = _upper_bound(old), _upper_bound(new)
    if new_high is not None and (
        old_high is None
        or new_high[0] < old_high[0]
        or (new_high[0] == old_high[0] and new_high[1] and not old_high[1])
    ):
        problems.append(
            f"{where}: upper bound narrowed from {_show_bound(old_high, False)} to "
            f"{_show_bound(new_high, False)}"
        )

    for keyword in ("pattern", "format", "multipleOf", "uniqueItems"):
        if keyword in new and new[keyword] != old.get(keyword) and new[keyword] is not False:
            problems.append(
                f"{where}: {keyword} changed from {old.get(keyword)!r} to {new[keyword]!r}"
            )

    for keyword in _OPAQUE_KEYWORDS:
        if new.get(keyword) is not None and new.get(keyword) != old.get(keyword):
            problems.append(
                f"{where}: '{keyword}' constraints changed; review compatibility by hand"
            )

    _compare_objects(old_r, new_r, path, problems)

    if "items" in new and isinstance(new["items"], dict | bool):
        old_items = old.get("items", True)
        _compare(old_r.child(old_items), new_r.child(new["items"]), f"{path}[]", problems)


def _declared(schema: dict) -> list[str]:
    """Return the `type` keyword of a subschema as a list."""
    declared = schema["type"]
    return [declared] if isinstance(declared, str) else list(declared)


def _compare_objects(old_r: _Resolved, new_r: _Resolved, path: str, problems: list[str]) -> None:
    """Append problems with properties, required and additionalProperties at `path`."""
    old, new = old_r.schema, new_r.schema
    where = _where(path)
    old_props: dict = old.get("properties", {}) or {}
    new_props: dict = new.get("properties", {}) or {}
    old_required, new_required = set(old.get("required", [])), set(new.get("required", []))

    for name in old_props:
        if name not in new_props:
            problems.append(f"{_where(_join(path, name))}: removed")
    for name in sorted(new_required - old_required, key=_order(new_props)):
        if name in old_props:
            problems.append(f"{_where(_join(path, name))}: became required")
        else:
            problems.append(f"{_where(_join(path, name))}: new required field")

    old_additional = old.get("additionalProperties", True)
    new_additional = new.get("additionalProperties", True)
    if new_additional is False and old_additional is not False:
        problems.append(f"{where}: additionalProperties set to false; unknown fields now rejected")
    for name, new_spec in new_props.items():
        if name in old_props:
            _compare(
                old_r.child(old_props[name]), new_r.child(new_spec), _join(path, name), problems
            )
        elif old_additional is not False and old_additional is not True:
            # The old schema accepted this name through its additionalProperties subschema.
            _compare(
                old_r.child(old_additional), new_r.child(new_spec), _join(path, name), problems
            )
    if isinstance(new_additional, dict) and isinstance(old_additional, dict | bool):
        _compare(old_r.child(old_additional), new_r.child(new_additional), f"{path}.*", problems)


def _order(properties: Mapping[str, Any]) -> Callable[[str], tuple[int, str]]:
    """Return a sort key that lists property names in schema order, unknown names last."""
    index = {name: i for i, name in enumerate(properties)}
    return lambda name: (index.get(name, len(index)), name)


# --------------------------------------------------------------------------- catalog


def render_catalog(
    registry: SchemaRegistry,
    topics: list[dict],
    defaults: Mapping[str, Any] | None = None,
) -> str:
    """Return the Markdown schema catalog: a topic table, then one section per record type."""
    defaults = defaults or {}
    lines = [
        "# Schema catalog",
        "",
        "Generated by `hazchem schemas docs` from `schemas/` and `infra/kafka/topics.yaml`; "
        "do not edit by hand.",
        "",
        "## Topics",
        "",
        "Every topic with a schema has a dead-letter topic `<topic>.dlq` whose records follow "
        f"[{DEAD_LETTER_RECORD_TYPE}]({_anchor(DEAD_LETTER_RECORD_TYPE)}).",
        "",
        "| topic | schema | key | partitions | cleanup policy | description | dead-letter topic |",
        "|---|---|---|---|---|---|---|",
    ]
    topics_by_schema: dict[str, list[str]] = {}
    for topic in topics:
        if topic.get("is_dlq"):
            continue  # dead-letter topics are listed beside their data topic
        name = str(topic.get("name", ""))
        schema = topic.get("schema")
        if schema:
            topics_by_schema.setdefault(str(schema), []).append(name)
            topics_by_schema.setdefault(DEAD_LETTER_RECORD_TYPE, []).append(f"{name}.dlq")
        schema_cell = f"[{schema}]({_anchor(str(schema))})" if schema else ""
        key = ", ".join(f"`{k}`" for k in topic.get("key", []) or [])
        partitions = topic.get("partitions", defaults.get("partitions", "default"))
        cleanup = topic.get("cleanup_policy", defaults.get("cleanup_policy", "delete"))
        dlq = f"`{name}.dlq`" if schema else ""
        lines.append(
            f"| `{name}` | {schema_cell} | {key} | {partitions} | {cleanup} | "
            f"{_cell(topic.get('description', ''))} | {dlq} |"
        )
    lines.append("")

    for record_type in registry.record_types():
        lines.extend(_record_section(registry, record_type, topics_by_schema.get(record_type, [])))
    return "\n".join(lines).rstrip() + "\n"


def _record_section(registry: SchemaRegistry, record_type: str, topics: list[str]) -> list[str]:
    """Return the Markdown lines describing one record type (latest version in full)."""
    versions = registry.versions(record_type)
    latest = versions[-1]
    doc = latest.document
    lines = [
        f"## {record_type}",
        "",
        f"**{_cell(doc.get('title', record_type))}**",
        "",
        _cell(doc.get("description", "")),
        "",
        f"- Grain: {_cell(doc.get('x-grain', 'not stated'))}",
        f"- Key: {', '.join(f'`{k}`' for k in doc.get('x-key', [])) or 'none'}",
        f"- Owner: {_cell(doc.get('x-owner', 'not stated'))}",
        f"- Topics: {', '.join(f'`{t}`' for t in topics) or 'none'}",
        "- Versions:",
    ]
    previous: SchemaVersion | None = None
    for schema in versions:
        relative = _display_path(registry.root, schema.path)
        note = "first version" if previous is None else _version_note(previous, schema)
        lines.append(f"  - v{schema.version} (`{relative}`): {note}")
        previous = schema
    lines += [
        "",
        f"Fields of v{latest.version}:",
        "",
        "| field | type | required | unit | PII | description |",
        "|---|---|---|---|---|---|",
    ]
    for row in _field_rows(_Resolved(doc, doc), "", None):
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    return lines


def _version_note(previous: SchemaVersion, schema: SchemaVersion) -> str:
    """Return what changed between two consecutive versions, in one line."""
    old_props = set(previous.document.get("properties", {}))
    new_props = set(schema.document.get("properties", {}))
    parts = []
    if new_props - old_props:
        parts.append("adds " + ", ".join(f"`{p}`" for p in sorted(new_props - old_props)))
    if old_props - new_props:
        parts.append("removes " + ", ".join(f"`{p}`" for p in sorted(old_props - new_props)))
    problems = backward_compatibility_problems(previous.document, schema.document)
    parts.append(
        f"backward compatible with v{previous.version}"
        if not problems
        else f"NOT backward compatible with v{previous.version} ({len(problems)} problems)"
    )
    return "; ".join(parts)


def _field_rows(node: _Resolved, prefix: str, inherited_pii: str | None) -> Iterator[list[str]]:
    """Yield table rows (field, type, required, unit, PII, description), nested fields dotted."""
    schema = node.deref().schema
    required = set(schema.get("required", []))
    for name, raw in schema.get("properties", {}).items():
        spec = node.child(raw).deref().schema
        if not isinstance(spec, dict):
            continue
        path = _join(prefix, name)
        pii = spec.get("x-pii", inherited_pii or "")
        description = spec.get("description", "")
        values = _enum_values(spec)
        if values is not None:
            shown = ", ".join(f"`{json.dumps(v, ensure_ascii=False)}`" for v in values)
            description = f"{description} Values: {shown}.".strip()
        yield [
            f"`{path}`",
            _cell(_type_text(node.child(spec))),
            "yes" if name in required else "no",
            _cell(spec.get("x-unit", "")),
            pii,
            _cell(description),
        ]
        if isinstance(spec.get("properties"), dict):
            yield from _field_rows(node.child(spec), path, pii)
        items = node.child(spec.get("items")).deref().schema if "items" in spec else None
        if isinstance(items, dict) and isinstance(items.get("properties"), dict):
            yield from _field_rows(node.child(items), f"{path}[]", pii)


def _type_text(node: _Resolved) -> str:
    """Return a short type description such as "string", "number, null" or "array of string"."""
    schema = node.deref().schema
    if not isinstance(schema, dict) or "type" not in schema:
        return "any"
    names = _declared(schema)
    if "array" in names and "items" in schema:
        item_type = _type_text(node.child(schema["items"]))
        names = [f"array of {item_type}" if n == "array" else n for n in names]
    return ", ".join(names)


def _display_path(root: Path, path: Path) -> str:
    """Return `path` as shown in the catalog, relative to the schema root's parent."""
    try:
        return path.relative_to(root.parent).as_posix()
    except ValueError:
        return path.as_posix()


def _anchor(record_type: str) -> str:
    """Return the Markdown heading anchor of a record type's section."""
    return "#" + re.sub(r"[^a-z0-9_\- ]", "", record_type.lower()).replace(" ", "-")


def _cell(text: Any) -> str:
    """Return text safe for one Markdown table cell (one line, pipes escaped)."""
    return " ".join(str(text).split()).replace("|", "\\|")


def write_catalog(out: Path) -> str:
    """Write the readable catalog of topics, record types and fields to `out`; return a summary
    line. Raises ValueError for an invalid schema folder."""
    from dataclasses import asdict

    from pipelines.topics import load_topics

    registry = SchemaRegistry.load()
    topics = [asdict(t) for t in load_topics() if not t.is_dlq]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_catalog(registry, topics))
    return f"wrote {out} ({len(registry.record_types())} record types, {len(topics)} topics)"
