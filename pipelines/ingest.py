"""Validated ingest: every record is checked against its schema and rules before it reaches a topic.

A record that fails goes to `<topic>.dlq` as a dead-letter envelope
(schemas/ingest/dead_letter.v1.json) with the original bytes, the reason and the source; nothing
is dropped silently, and the counts reconcile: submitted = accepted + dead-lettered.
"""

from __future__ import annotations

import base64
import json
import math
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from pipelines.schema_registry import SchemaRegistry, SchemaViolation
from pipelines.settings import IngestSettings, Settings
from pipelines.topics import TopicSpec, load_topics

REASON_CODES = (
    "malformed_json",
    "wrong_type",
    "missing_field",
    "schema_violation",
    "unknown_tag",
    "non_finite_value",
    "future_timestamp",
    "expired_timestamp",
    "oversized",
    "duplicate",
)

# Field holding a record's event time, per topic; checked against clock skew and retention.
EVENT_TIME_FIELDS = ("event_time_ms", "action_time_ms", "checkin_time_ms", "sampled_at_ms")
# Record types whose duplicates are a re-sent measurement (same key and event time), not payload.
DEDUPE_BY_KEY_AND_TIME = {
    "telemetry/sensor_reading": ("tag", "event_time_ms"),
    "positioning/personnel_position": ("person_id", "event_time_ms"),
}
# Record types that must name a tag the plant model knows.
TAG_CHECKED_RECORDS = {"telemetry/sensor_reading", "alarm/alarm_action"}


@dataclass(frozen=True)
class Verdict:
    """Outcome of validating one record: the parsed record when accepted, else a reason."""

    record: dict | None
    reason_code: str | None = None
    reason: str | None = None

    @property
    def accepted(self) -> bool:
        return self.reason_code is None


class _Seen:
    """Bounded memory of recently accepted keys, oldest forgotten first."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._keys: OrderedDict[object, None] = OrderedDict()

    def add(self, key: object) -> bool:
        """Remember key; return False when it was already there."""
        if key in self._keys:
            return False
        self._keys[key] = None
        if len(self._keys) > self.capacity:
            self._keys.popitem(last=False)
        return True


def _find_non_finite(value: object, path: str = "") -> str | None:
    """Return the dotted path of the first NaN/inf number inside value, else None."""
    if isinstance(value, float):
        return None if math.isfinite(value) else (path or "value")
    if isinstance(value, dict):
        for k, v in value.items():
            found = _find_non_finite(v, f"{path}.{k}" if path else k)
            if found:
                return found
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found = _find_non_finite(v, f"{path}[{i}]")
            if found:
                return found
    return None


class RecordValidator:
    """Checks records for one or more topics: size, JSON, finiteness, schema, tag, time,
    duplicates."""

    def __init__(
        self,
        settings: IngestSettings,
        known_tags: Iterable[str] | None = None,
        registry: SchemaRegistry | None = None,
        topics: Iterable[TopicSpec] | None = None,
        clock_ms: Callable[[], int] | None = None,
    ) -> None:
        self.settings = settings
        self.registry = registry or SchemaRegistry.load()
        self.topics = {t.name: t for t in (topics or load_topics()) if not t.is_dlq}
        self.known_tags = frozenset(known_tags) if known_tags is not None else None
        self.clock_ms = clock_ms or (lambda: int(time.time() * 1000))
        self._validators: dict[str, Callable[[dict], None]] = {}
        self._seen: dict[str, _Seen] = {}

    def _validator(self, spec: TopicSpec) -> Callable[[dict], None]:
        fn = self._validators.get(spec.name)
        if fn is None:
            fn = self._validators[spec.name] = self.registry.validator(spec.schema)
        return fn

    def check_bytes(self, topic: str, raw: bytes) -> Verdict:
        """Validate raw bytes as sent by a producer."""
        if len(raw) > self.settings.max_record_bytes:
            return Verdict(
                None,
                "oversized",
                f"record is {len(raw)} bytes,"
                f" above the {self.settings.max_record_bytes}-byte limit",
            )
        try:
            record = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            return self._classify_bad_json(raw, exc)
        if not isinstance(record, dict):
            return Verdict(
                None, "wrong_type", f"record must be a JSON object, got {type(record).__name__}"
            )
        return self.check_record(topic, record, size_checked=True)

    def _classify_bad_json(self, raw: bytes, exc: Exception) -> Verdict:
        # NaN/Infinity are not JSON; Python's json module parses them, which tells the two apart.
        try:
            lenient = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            return Verdict(None, "malformed_json", f"not valid JSON: {str(exc).splitlines()[0]}")
        where = _find_non_finite(lenient)
        if where:
            return Verdict(None, "non_finite_value", f"field '{where}' is not a finite number")
        return Verdict(None, "malformed_json", f"not valid JSON: {str(exc).splitlines()[0]}")

    def check_record(self, topic: str, record: dict, size_checked: bool = False) -> Verdict:
        """Validate an already parsed record."""
        spec = self.topics.get(topic)
        if spec is None or spec.schema is None:
            raise KeyError(f"topic '{topic}' takes no ingested records")
        where = _find_non_finite(record)
        if where:
            return Verdict(None, "non_finite_value", f"field '{where}' is not a finite number")
        if not size_checked:
            size = len(orjson.dumps(record, option=orjson.OPT_SERIALIZE_NUMPY))
            if size > self.settings.max_record_bytes:
                return Verdict(
                    None,
                    "oversized",
                    f"record is {size} bytes,"
                    f" above the {self.settings.max_record_bytes}-byte limit",
                )
        try:
            self._validator(spec)(record)
        except SchemaViolation as exc:
            return Verdict(None, exc.kind, str(exc))
        if self.known_tags is not None and spec.schema in TAG_CHECKED_RECORDS:
            tag = record.get("tag")
            if tag not in self.known_tags:
                return Verdict(
                    None, "unknown_tag", f"tag '{tag}' is not configured for this enterprise"
                )
        verdict = self._check_time(record)
        if verdict is not None:
            return verdict
        return self._check_duplicate(spec, record)

    def _check_time(self, record: dict) -> Verdict | None:
        for name in EVENT_TIME_FIELDS:
            ts = record.get(name)
            if ts is None:
                continue
            now = self.clock_ms()
            if ts > now + self.settings.max_future_skew_s * 1000:
                ahead = (ts - now) / 1000
                return Verdict(
                    None,
                    "future_timestamp",
                    f"'{name}' is {ahead:.0f} s in the future"
                    f" (limit {self.settings.max_future_skew_s} s)",
                )
            if ts < now - self.settings.max_age_s * 1000:
                age_h = (now - ts) / 3_600_000
                return Verdict(
                    None,
                    "expired_timestamp",
                    f"'{name}' is {age_h:.1f} h old, older than the retention of "
                    f"{self.settings.max_age_s / 3600:.0f} h",
                )
            return None
        return None

    def _check_duplicate(self, spec: TopicSpec, record: dict) -> Verdict:
        seen = self._seen.get(spec.name)
        if seen is None:
            seen = self._seen[spec.name] = _Seen(self.settings.dedupe_window)
        fields = DEDUPE_BY_KEY_AND_TIME.get(spec.schema)
        key: object = (
            tuple(record.get(f) for f in fields)
            if fields
            else orjson.dumps(record, option=orjson.OPT_SORT_KEYS)
        )
        if not seen.add(key):
            what = (
                ", ".join(f"{f}={record.get(f)}" for f in fields) if fields else "identical payload"
            )
            return Verdict(None, "duplicate", f"duplicate of an accepted record ({what})")
        return Verdict(record)


def dead_letter(topic: str, raw: bytes, verdict: Verdict, source: str, key: str | None) -> dict:
    """Return the dead-letter envelope of a rejected record, keeping its exact bytes."""
    try:
        text: str | None = raw.decode("utf-8")[:4096]
    except UnicodeDecodeError:
        text = None
    return {
        "source_topic": topic,
        "reason_code": verdict.reason_code,
        "reason": verdict.reason,
        "source": source,
        "key": key,
        "original_b64": base64.b64encode(raw).decode("ascii"),
        "original_text": text,
        "original_size_bytes": len(raw),
        "received_at_ms": int(time.time() * 1000),
    }


@dataclass
class IngestCounts:
    """Per-topic counts of one ingest session; submitted always equals accepted + dead-lettered."""

    submitted: Counter = field(default_factory=Counter)
    accepted: Counter = field(default_factory=Counter)
    dead_lettered: Counter = field(default_factory=Counter)
    reasons: Counter = field(default_factory=Counter)  # (topic, reason_code) -> n

    def as_dict(self) -> dict:
        return {
            "submitted": dict(self.submitted),
            "accepted": dict(self.accepted),
            "dead_lettered": dict(self.dead_lettered),
            "reasons": {f"{t}:{r}": n for (t, r), n in self.reasons.items()},
        }


def record_key(spec: TopicSpec, record: dict | None) -> str | None:
    """Return the Kafka key of a record from the topic's key fields (None when unknown)."""
    if record is None or not spec.key:
        return None
    parts = [record.get(k) for k in spec.key]
    if any(p is None for p in parts):
        return None
    return "|".join(str(p) for p in parts)


def _key_from_raw(spec: TopicSpec, raw: bytes) -> str | None:
    """Best-effort key of a rejected record so its dead letter stays with its tag/person/permit."""
    try:
        record = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    return record_key(spec, record) if isinstance(record, dict) else None


class IngestProducer:
    """Validates and produces records; rejected ones go to `<topic>.dlq` with their reason."""

    def __init__(
        self,
        settings: Settings,
        source: str,
        known_tags: Iterable[str] | None = None,
        validator: RecordValidator | None = None,
        ledger_dir: Path | None = None,
    ) -> None:
        from confluent_kafka import Producer

        self.settings = settings
        self.source = source
        self.validator = validator or RecordValidator(settings.ingest, known_tags=known_tags)
        self.counts = IngestCounts()
        self.ledger_dir = ledger_dir or settings.run_dir / "ingest-ledger"
        self._lock = threading.Lock()
        self._delivery_errors: list[str] = []
        self._ledger_written: dict = {}
        self._producer = Producer(
            {
                "bootstrap.servers": settings.kafka.bootstrap_servers,
                "enable.idempotence": True,  # no duplicates from producer retries
                "acks": "all",
                "linger.ms": 20,
                "batch.num.messages": 10000,
                "compression.type": "lz4",
                "queue.buffering.max.messages": 500000,
                "log_level": 2,  # connection noise is reported through delivery callbacks
            }
        )

    def _on_delivery(self, err, msg) -> None:  # noqa: ANN001 - confluent callback signature
        if err is not None:
            self._delivery_errors.append(f"{msg.topic()}: {err}")

    def _produce(self, topic: str, value: bytes, key: str | None) -> None:
        while True:
            try:
                self._producer.produce(
                    topic,
                    value=value,
                    key=key.encode() if key else None,
                    on_delivery=self._on_delivery,
                )
                return
            except BufferError:
                self._producer.poll(0.05)  # local queue full: wait for deliveries, never drop

    def submit(
        self,
        topic: str,
        record: dict | None = None,
        raw: bytes | None = None,
        source: str | None = None,
    ) -> Verdict:
        """Validate one record (parsed or raw bytes) and produce it or its dead letter."""
        spec = self.validator.topics[topic]
        if raw is not None:
            verdict = self.validator.check_bytes(topic, raw)
        else:
            verdict = self.validator.check_record(topic, record)
        with self._lock:
            self.counts.submitted[topic] += 1
            if verdict.accepted:
                self.counts.accepted[topic] += 1
                out = (
                    raw
                    if raw is not None
                    else orjson.dumps(verdict.record, option=orjson.OPT_SERIALIZE_NUMPY)
                )
                self._produce(topic, out, record_key(spec, verdict.record))
            else:
                self.counts.dead_lettered[topic] += 1
                self.counts.reasons[(topic, verdict.reason_code)] += 1
                original = raw if raw is not None else _safe_dumps(record)
                key = record_key(spec, record) if raw is None else _key_from_raw(spec, raw)
                envelope = dead_letter(topic, original, verdict, source or self.source, key)
                self._produce(spec.dlq, orjson.dumps(envelope), key)
        return verdict

    def poll(self) -> None:
        """Serve delivery callbacks (call regularly in long loops)."""
        self._producer.poll(0)

    def flush(self, timeout_s: float = 60.0) -> None:
        """Wait for every produced record to be acknowledged; raise if any delivery failed."""
        remaining = self._producer.flush(timeout_s)
        if remaining:
            raise RuntimeError(
                f"{remaining} records not delivered to Kafka within {timeout_s:.0f}s"
            )
        if self._delivery_errors:
            raise RuntimeError(f"Kafka delivery failed: {self._delivery_errors[0]}")

    def write_ledger(self, run_id: str) -> Path:
        """Append the counts since the last write to the ingest ledger read by `hazchem status`."""
        self.ledger_dir.mkdir(parents=True, exist_ok=True)
        path = self.ledger_dir / f"{self.source.replace(':', '_').replace('/', '_')}.jsonl"
        entry = {"run_id": run_id, "source": self.source, "at_ms": int(time.time() * 1000)}
        with self._lock:
            now = self.counts.as_dict()
            for k, values in now.items():
                before = self._ledger_written.get(k, {})
                entry[k] = {
                    t: n - before.get(t, 0) for t, n in values.items() if n != before.get(t, 0)
                }
            self._ledger_written = now
        with path.open("a") as fh:
            fh.write(json.dumps(entry, ensure_ascii=False) + "\n")
        return path


def _safe_dumps(record: object) -> bytes:
    """Serialise a rejected parsed record as faithfully as possible (NaN kept as NaN)."""
    try:
        return json.dumps(record, allow_nan=True, ensure_ascii=False).encode()
    except (TypeError, ValueError):
        return repr(record).encode()
