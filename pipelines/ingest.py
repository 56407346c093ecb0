"""Validated ingest: every record is checked against its schema and rules before it reaches a topic.

A record that fails goes to `<topic>.dlq` as a dead-letter envelope
(schemas/ingest/dead_letter.v3.json) with the original bytes, the reason and the source; nothing
is dropped silently, and the counts reconcile: submitted = accepted + dead-lettered, both counted
when Kafka confirms the write (a record Kafka did not confirm is counted as undelivered and its
sender is told so). Every input gets exactly one verdict: validation never raises on bad input.
"""

from __future__ import annotations

import base64
import functools
import json
import math
import re
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
    "too_deep",
)
# Every reason a dead letter can carry: ingest's, the notifier's and the streaming jobs' (what the
# lake's dead_letter_reasons seed lists).
DEAD_LETTER_REASONS = (*REASON_CODES, "delivery_failed", "tombstone", "wrong_key", "unknown_unit")

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
    """Outcome of validating one record: the parsed record when accepted, else a reason.

    `resent` marks a duplicate identical to the record already accepted (a sender's retry), as
    opposed to a different record that reuses an accepted key. `dedupe` is the (key, fingerprint)
    that is remembered once Kafka confirms the record."""

    record: dict | None
    reason_code: str | None = None
    reason: str | None = None
    resent: bool = False
    dedupe: tuple | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        # A reason may quote what was sent (a field name, a tag): lone surrogates are escaped so
        # that it can always be written to a dead letter and an HTTP answer (both UTF-8).
        if self.reason is not None:
            object.__setattr__(self, "reason", _utf8_safe(self.reason))

    @property
    def accepted(self) -> bool:
        return self.reason_code is None


def _utf8_safe(text: str) -> str:
    """Return text with any lone surrogate written as a backslash escape (valid UTF-8)."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


class _Seen:
    """Bounded memory of keys Kafka confirmed, with each one's payload fingerprint; oldest
    forgotten first."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._keys: OrderedDict[object, object] = OrderedDict()

    def get(self, key: object, default: object = None) -> object:
        return self._keys.get(key, default)

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def put(self, key: object, fingerprint: object) -> None:
        self._keys[key] = fingerprint
        self._keys.move_to_end(key)
        if len(self._keys) > self.capacity:
            self._keys.popitem(last=False)


# A JSON string (escapes included) or one structural character; a lone quote is an unterminated
# string. Scanning these tokens finds nesting depth and array elements without a recursive parse.
_JSON_TOKENS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{},"]', re.DOTALL)
# The same, plus a whole object holding no object or array, matched at once (a flat record).
_ARRAY_TOKENS = re.compile(
    rb'\{(?:[^{}\[\]"]|"[^"\\]*(?:\\.[^"\\]*)*")*\}|' + _JSON_TOKENS.pattern, re.DOTALL
)
_OPENERS = {ord("["): ord("]"), ord("{"): ord("}")}
_CLOSERS = frozenset(_OPENERS.values())


def json_nesting_depth(raw: bytes, stop_above: int | None = None) -> int:
    """Return how deeply objects/arrays nest in JSON text (0 for a scalar), counting brackets
    outside strings; stops early once above `stop_above`. Never recurses, never raises."""
    depth = deepest = 0
    for match in _JSON_TOKENS.finditer(raw):
        char = raw[match.start()]
        if char in _OPENERS:
            depth += 1
            if depth > deepest:
                deepest = depth
                if stop_above is not None and deepest > stop_above:
                    break
        elif char in _CLOSERS:
            depth -= 1
    return deepest


def split_json_array(body: bytes) -> list[bytes] | None:
    """Return the exact bytes of each element of a top-level JSON array, without parsing them;
    None when the body is not one array whose strings and brackets balance."""
    start = len(body) - len(body.lstrip())
    if body[start : start + 1] != b"[":
        return None
    stack: list[int] = []
    items: list[bytes] = []
    element_start = start + 1
    end = None
    for match in _ARRAY_TOKENS.finditer(body, start):
        at = match.start()
        char = body[at]
        if char == ord('"'):
            if match.end() - at == 1:
                return None  # unterminated string
        elif match.end() - at > 1:
            continue  # a whole flat object: balanced, no top-level comma inside
        elif char in _OPENERS:
            stack.append(_OPENERS[char])
        elif char in _CLOSERS:
            if not stack or stack.pop() != char:
                return None
            if not stack:
                items.append(body[element_start:at])
                end = match.end()
                break
        elif len(stack) == 1:  # a comma between two elements of the top-level array
            items.append(body[element_start:at])
            element_start = match.end()
    if end is None or body[end:].strip():
        return None
    items = [item.strip() for item in items]
    return [] if items == [b""] else items


def _inspect(value: object, max_depth: int) -> tuple[str, str] | None:
    """Return (reason_code, path) of the first non-finite number or of a container nested deeper
    than max_depth inside a parsed value, else None. Iterative: any depth is safe."""
    stack: list[tuple[object, str, int]] = [(value, "", 1)]
    while stack:
        node, path, depth = stack.pop()
        if isinstance(node, float):
            if not math.isfinite(node):
                return "non_finite_value", path or "value"
            continue
        is_dict = isinstance(node, dict)
        if not is_dict and not isinstance(node, list | tuple):
            continue
        if depth > max_depth:
            return "too_deep", path or "record"
        nested = []
        for k, child in node.items() if is_dict else enumerate(node):
            if isinstance(child, str | int) or child is None:  # most fields: skip fast
                continue
            if isinstance(child, float):
                if not math.isfinite(child):
                    return "non_finite_value", _child_path(path, k, is_dict)
            elif isinstance(child, dict | list | tuple):
                nested.append((child, _child_path(path, k, is_dict), depth + 1))
        stack.extend(reversed(nested))
    return None


def _child_path(path: str, key: object, in_dict: bool) -> str:
    if not in_dict:
        return f"{path}[{key}]"
    if not isinstance(key, str):  # only a parsed Python dict has them; JSON keys are strings
        key = f"<{type(key).__name__} key>"
    return f"{path}.{key}" if path else key


def _too_deep(max_depth: int, where: str) -> Verdict:
    return Verdict(
        None,
        "too_deep",
        f"objects/arrays nest deeper than the {max_depth}-level limit (at '{where[:200]}')",
    )


def _payload_fingerprint(record: dict) -> int:
    return hash(orjson.dumps(record, option=orjson.OPT_SORT_KEYS))


class RecordValidator:
    """Checks records for one or more topics: size, JSON, nesting depth, finiteness, schema, tag,
    time, duplicates. Every input gets a Verdict; bad input never raises.

    Duplicates are judged against keys Kafka confirmed (`confirm`) and keys in flight (`hold`),
    so a record whose delivery failed (`release`) is accepted again when it is re-sent."""

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
        self._in_flight: dict[str, dict[object, object]] = {}

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
        return self.check_record(topic, record, size_checked=True)

    def _classify_bad_json(self, raw: bytes, exc: Exception) -> Verdict:
        max_depth = self.settings.max_json_depth
        # Checked on the bytes first: Python's json parser recurses and would overflow the stack.
        if json_nesting_depth(raw, stop_above=max_depth) > max_depth:
            return _too_deep(max_depth, "record")
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as bad:
            at = bad.start
            return Verdict(
                None, "malformed_json", f"not valid JSON: not UTF-8 (byte 0x{raw[at]:02x} at {at})"
            )
        # NaN/Infinity are not JSON; Python's json module parses them, which tells the two apart.
        try:
            lenient = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            return Verdict(None, "malformed_json", f"not valid JSON: {str(exc).splitlines()[0]}")
        found = _inspect(lenient, max_depth)
        if found and found[0] == "non_finite_value":
            return Verdict(None, "non_finite_value", f"field '{found[1]}' is not a finite number")
        return Verdict(None, "malformed_json", f"not valid JSON: {str(exc).splitlines()[0]}")

    def check_record(self, topic: str, record: object, size_checked: bool = False) -> Verdict:
        """Validate an already parsed record (KeyError only for a topic that takes no records)."""
        spec = self.topics.get(topic)
        if spec is None or spec.schema is None:
            raise KeyError(f"topic '{topic}' takes no ingested records")
        found = _inspect(record, self.settings.max_json_depth)
        if found:
            code, where = found
            if code == "too_deep":
                return _too_deep(self.settings.max_json_depth, where)
            return Verdict(None, code, f"field '{where}' is not a finite number")
        if not isinstance(record, dict):
            return Verdict(
                None, "wrong_type", f"record must be a JSON object, got {type(record).__name__}"
            )
        if not size_checked:
            try:
                size = len(orjson.dumps(record, option=orjson.OPT_SERIALIZE_NUMPY))
            except orjson.JSONEncodeError as exc:
                # e.g. an int beyond 64 bits, a non-string key, an object JSON cannot hold
                return Verdict(None, "wrong_type", f"record cannot be written as JSON: {exc}")
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
            if isinstance(ts, bool) or not isinstance(ts, int | float):
                return Verdict(
                    None,
                    "wrong_type",
                    f"field '{name}' must be ms since the epoch, got {type(ts).__name__}",
                )
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
        fields = DEDUPE_BY_KEY_AND_TIME.get(spec.schema)
        if fields:
            key: object = tuple(record.get(f) for f in fields)
            fingerprint: object = _payload_fingerprint(record)
        else:
            key, fingerprint = orjson.dumps(record, option=orjson.OPT_SORT_KEYS), None
        seen = self._seen.get(spec.name)
        missing = object()
        earlier = seen.get(key, missing) if seen is not None else missing
        if earlier is missing:
            earlier = self._in_flight.get(spec.name, {}).get(key, missing)
        if earlier is missing:
            return Verdict(record, dedupe=(key, fingerprint))
        what = ", ".join(f"{f}={record.get(f)}" for f in fields) if fields else "identical payload"
        if earlier == fingerprint:
            return Verdict(
                None,
                "duplicate",
                f"duplicate of an accepted record ({what})",
                resent=True,
                dedupe=(key, fingerprint),
            )
        return Verdict(
            None, "duplicate", f"duplicate of an accepted record ({what}) with different values"
        )

    def hold(self, topic: str, verdict: Verdict) -> None:
        """Mark an accepted record as on its way to Kafka: a repeat of it is a duplicate."""
        if verdict.dedupe is not None:
            key, fingerprint = verdict.dedupe
            self._in_flight.setdefault(topic, {})[key] = fingerprint

    def confirm(self, topic: str, verdict: Verdict) -> None:
        """Remember an accepted record Kafka confirmed, for duplicate detection."""
        if verdict.dedupe is None:
            return
        key, fingerprint = verdict.dedupe
        self._in_flight.get(topic, {}).pop(key, None)
        seen = self._seen.get(topic)
        if seen is None:
            seen = self._seen[topic] = _Seen(self.settings.dedupe_window)
        seen.put(key, fingerprint)

    def is_confirmed(self, topic: str, verdict: Verdict) -> bool:
        """True when Kafka confirmed the record this verdict is about (the original of a resent
        duplicate), with the same payload."""
        if verdict.dedupe is None:
            return False
        key, fingerprint = verdict.dedupe
        seen = self._seen.get(topic)
        return seen is not None and key in seen and seen.get(key) == fingerprint

    def release(self, topic: str, verdict: Verdict) -> None:
        """Forget an accepted record Kafka did not take, so that re-sending it is accepted."""
        if verdict.dedupe is not None:
            self._in_flight.get(topic, {}).pop(verdict.dedupe[0], None)


# A dead letter must fit in one Kafka message (the broker's message.max.bytes is 1 MiB): of a
# larger original only the first bytes are kept; original_size_bytes still gives its full size.
DEAD_LETTER_MAX_ORIGINAL_BYTES = 512 * 1024


TOMBSTONE_VERDICT = Verdict(None, "tombstone", "a null value (tombstone): no JSON object")


def parse_json_object(raw: bytes | str | None) -> dict | Verdict:
    """Return the JSON object a consumed record holds, or the Verdict that rejects it (the
    streaming jobs' one check of a raw input record: tombstone, not JSON, not an object)."""
    if raw is None:
        return TOMBSTONE_VERDICT
    try:
        record = orjson.loads(raw)
    except (orjson.JSONDecodeError, RecursionError) as exc:
        return Verdict(None, "malformed_json", f"not valid JSON: {str(exc).splitlines()[0]}")
    if not isinstance(record, dict):
        return Verdict(
            None, "wrong_type", f"record must be a JSON object, got {type(record).__name__}"
        )
    return record


def dead_letter(topic: str, raw: bytes, verdict: Verdict, source: str, key: str | None) -> dict:
    """Return the dead-letter envelope of a rejected record, keeping its exact bytes (the first
    DEAD_LETTER_MAX_ORIGINAL_BYTES of a larger one, which the reason then says)."""
    kept = raw[:DEAD_LETTER_MAX_ORIGINAL_BYTES]
    reason = verdict.reason
    if len(kept) < len(raw):
        reason = f"{reason} (first {len(kept)} of {len(raw)} bytes kept)"
    text: str | None = None
    # A cut can split a UTF-8 character: drop up to 3 trailing bytes of a truncated original.
    for cut in range(4 if len(kept) < len(raw) else 1):
        try:
            text = kept[: len(kept) - cut].decode("utf-8")[:4096]
            break
        except UnicodeDecodeError:
            continue
    return {
        "source_topic": topic,
        "reason_code": verdict.reason_code,
        "reason": reason,
        "source": _utf8_safe(source),
        "key": None if key is None else _utf8_safe(key),
        "original_b64": base64.b64encode(kept).decode("ascii"),
        "original_text": text,
        "original_size_bytes": len(raw),
        "received_at_ms": int(time.time() * 1000),
    }


@dataclass
class IngestCounts:
    """Per-topic counts of one ingest session, counted when Kafka confirms the write: submitted
    always equals accepted + dead-lettered. Records Kafka did not confirm (broker down) are
    counted apart as undelivered; their sender was told to re-send them."""

    submitted: Counter = field(default_factory=Counter)
    accepted: Counter = field(default_factory=Counter)
    dead_lettered: Counter = field(default_factory=Counter)
    reasons: Counter = field(default_factory=Counter)  # (topic, reason_code) -> n
    undelivered: Counter = field(default_factory=Counter)

    def as_dict(self) -> dict:
        return {
            "submitted": dict(self.submitted),
            "accepted": dict(self.accepted),
            "dead_lettered": dict(self.dead_lettered),
            "reasons": {f"{t}:{r}": n for (t, r), n in self.reasons.items()},
            "undelivered": dict(self.undelivered),
        }


def record_key(spec: TopicSpec, record: dict | None) -> str | None:
    """Return the Kafka key of a record from the topic's key fields (None when unknown or when
    the fields cannot make a UTF-8 key)."""
    if not isinstance(record, dict) or not spec.key:
        return None
    parts = [record.get(k) for k in spec.key]
    if any(p is None or not isinstance(p, str | int | float) for p in parts):
        return None
    try:
        key = "|".join(str(p) for p in parts)
        key.encode()
    except (ValueError, UnicodeEncodeError):  # a 5,000-digit int, a lone surrogate
        return None
    return key


def _key_from_raw(spec: TopicSpec, raw: bytes, max_depth: int) -> str | None:
    """Best-effort key of a rejected record so its dead letter stays with its tag/person/permit."""
    if json_nesting_depth(raw, stop_above=max_depth) > max_depth:
        return None  # Python's json parser would recurse past the stack
    try:
        record = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    return record_key(spec, record)


def dead_letter_message(
    spec: TopicSpec,
    verdict: Verdict,
    source: str,
    raw: bytes | None = None,
    record: object = None,
    max_depth: int = 32,
) -> tuple[str | None, bytes]:
    """Return the Kafka key and value of the dead letter of a rejected input (raw bytes, else
    a parsed record) for `spec.dlq`; whatever the input holds, this never raises."""
    if raw is not None:
        original, key = raw, _key_from_raw(spec, raw, max_depth)
    else:
        original = _safe_dumps(record, verdict)
        key = None if verdict.reason_code == "too_deep" else record_key(spec, record)
    return key, orjson.dumps(dead_letter(spec.name, original, verdict, source, key))


@dataclass
class Submission:
    """One submitted record: its verdict, and whether Kafka confirmed the write of the record
    (accepted) or of its dead letter (rejected). `delivered` is None until Kafka answers."""

    topic: str
    verdict: Verdict
    delivered: bool | None = None
    error: str | None = None


class IngestProducer:
    """Validates and produces records; rejected ones go to `<topic>.dlq` with their reason.

    `delivery_timeout_s` bounds how long Kafka may take to confirm a record (librdkafka's
    message.timeout.ms): a record still unconfirmed then fails for sure, so a caller that waited
    that long knows the outcome of every record (the HTTP endpoint relies on it)."""

    def __init__(
        self,
        settings: Settings,
        source: str,
        known_tags: Iterable[str] | None = None,
        validator: RecordValidator | None = None,
        ledger_dir: Path | None = None,
        delivery_timeout_s: float | None = None,
        principal: str = "gateway",
    ) -> None:
        from pipelines.kafka_client import client_config

        self.settings = settings
        self.source = source
        self.validator = validator or RecordValidator(settings.ingest, known_tags=known_tags)
        self.counts = IngestCounts()
        self.ledger_dir = ledger_dir or settings.run_dir / "ingest-ledger"
        # Re-entrant: delivery callbacks run inside poll(), which _produce calls holding it.
        self._lock = threading.RLock()
        self._failures_since_flush = 0
        self._first_failure: str | None = None
        self._fatal: str | None = None
        self._ledger_written: dict = {}
        self._config = client_config(
            settings,
            principal,
            **{
                "enable.idempotence": True,  # no duplicates from producer retries
                "acks": "all",
                "linger.ms": 20,
                "batch.num.messages": 10000,
                "compression.type": "lz4",
                "queue.buffering.max.messages": 500000,
                "reconnect.backoff.max.ms": 1000,  # a restarted broker is found within a second
                "log_level": 2,  # connection noise is reported through delivery callbacks
                "error_cb": self._on_error,
            },
        )
        if delivery_timeout_s is not None:
            self._config["message.timeout.ms"] = max(1, int(delivery_timeout_s * 1000))
        self._producer = self._new_producer()

    def _new_producer(self):  # noqa: ANN202 - confluent_kafka.Producer
        from confluent_kafka import Producer

        return Producer(self._config)

    def _on_error(self, err) -> None:  # noqa: ANN001 - confluent callback signature
        if err.fatal():
            self._fatal = str(err)

    def _renew_if_fatal(self) -> None:
        """Replace a producer that hit a fatal (idempotence) error: it would refuse every record
        until restart. Its unsent records fail now, so their senders are told."""
        if self._fatal is None:
            return
        with self._lock:
            if self._fatal is None:
                return
            old, self._producer, self._fatal = self._producer, self._new_producer(), None
        old.purge()
        old.flush(0)

    def _on_delivery(self, sub: Submission, err, msg) -> None:  # noqa: ANN001 - confluent's
        with self._lock:
            if err is not None:
                self._failed(sub, f"{msg.topic()}: {err.str()}", err.fatal())
                return
            sub.delivered = True
            self.counts.submitted[sub.topic] += 1
            if sub.verdict.accepted:
                self.validator.confirm(sub.topic, sub.verdict)
                self.counts.accepted[sub.topic] += 1
            else:
                self.counts.dead_lettered[sub.topic] += 1
                self.counts.reasons[(sub.topic, sub.verdict.reason_code)] += 1

    def _failed(self, sub: Submission, error: str, fatal: bool) -> None:
        with self._lock:
            if sub.verdict.accepted:
                self.validator.release(sub.topic, sub.verdict)
            sub.delivered = False
            sub.error = error
            self.counts.undelivered[sub.topic] += 1
            self._failures_since_flush += 1
            self._first_failure = self._first_failure or error
            if fatal:
                self._fatal = error

    def _produce(self, topic: str, value: bytes, key: str | None, sub: Submission) -> None:
        """Queue one message; its outcome lands in `sub` (a refusal at once, e.g. too large)."""
        from confluent_kafka import KafkaException

        on_delivery = functools.partial(self._on_delivery, sub)
        while True:
            try:
                self._producer.produce(
                    topic,
                    value=value,
                    key=key.encode() if key else None,
                    on_delivery=on_delivery,
                )
                return
            except BufferError:
                self._producer.poll(0.05)  # local queue full: wait for deliveries, never drop
            except KafkaException as exc:
                err = exc.args[0]
                self._failed(sub, f"{topic}: {err.str()}", err.fatal())
                return

    def submit(
        self,
        topic: str,
        record: dict | None = None,
        raw: bytes | None = None,
        source: str | None = None,
    ) -> Verdict:
        """Validate one record (parsed or raw bytes) and produce it or its dead letter."""
        return self.submit_tracked(topic, record=record, raw=raw, source=source).verdict

    def submit_tracked(
        self,
        topic: str,
        record: dict | None = None,
        raw: bytes | None = None,
        source: str | None = None,
    ) -> Submission:
        """Like submit, returning a Submission that says once Kafka answered (see `wait`)."""
        self._renew_if_fatal()
        spec = self.validator.topics[topic]
        if raw is not None:
            verdict = self.validator.check_bytes(topic, raw)
        else:
            verdict = self.validator.check_record(topic, record)
        sub = Submission(topic, verdict)
        with self._lock:
            if verdict.accepted:
                out = (
                    raw
                    if raw is not None
                    else orjson.dumps(verdict.record, option=orjson.OPT_SERIALIZE_NUMPY)
                )
                self.validator.hold(topic, verdict)
                self._produce(topic, out, record_key(spec, verdict.record), sub)
            else:
                key, value = dead_letter_message(
                    spec,
                    verdict,
                    source or self.source,
                    raw=raw,
                    record=record,
                    max_depth=self.validator.settings.max_json_depth,
                )
                self._produce(spec.dlq, value, key, sub)
        return sub

    def wait(self, submissions: Iterable[Submission], timeout_s: float) -> bool:
        """Wait until Kafka answered for every submission, at most timeout_s; return True when
        every record (or its dead letter) was confirmed."""
        subs = list(submissions)
        deadline = time.monotonic() + timeout_s
        while any(s.delivered is None for s in subs):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self._producer.flush(min(left, 0.1))  # sends now (no linger) and serves callbacks
        self._renew_if_fatal()
        return all(s.delivered for s in subs)

    def is_original_confirmed(self, sub: Submission) -> bool:
        """True when the record a resent duplicate repeats is confirmed by Kafka (not only in
        flight, where it could still fail)."""
        with self._lock:
            return self.validator.is_confirmed(sub.topic, sub.verdict)

    def poll(self) -> None:
        """Serve delivery callbacks (call regularly in long loops)."""
        self._producer.poll(0)

    def flush(self, timeout_s: float = 60.0) -> None:
        """Wait for every produced record to be acknowledged; raise if any delivery failed since
        the last flush (each failure is reported once, so the producer recovers with Kafka)."""
        remaining = self._producer.flush(timeout_s)
        with self._lock:
            failures, first = self._failures_since_flush, self._first_failure
            self._failures_since_flush, self._first_failure = 0, None
        self._renew_if_fatal()
        if remaining:
            raise RuntimeError(
                f"{remaining} records not delivered to Kafka within {timeout_s:.0f}s"
            )
        if failures:
            raise RuntimeError(f"Kafka delivery failed for {failures} records: {first}")

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


def _safe_dumps(record: object, verdict: Verdict) -> bytes:
    """Serialise a rejected parsed record as faithfully as possible (NaN kept as NaN)."""
    if verdict.reason_code == "too_deep":  # the encoders below recurse
        return f"<{type(record).__name__} nested too deeply to serialise>".encode()
    for dump in (
        lambda: json.dumps(record, allow_nan=True, ensure_ascii=False),
        lambda: repr(record),
    ):
        try:
            return dump().encode("utf-8", "surrogatepass")
        except (TypeError, ValueError):  # a non-JSON object; an int past the digit limit
            continue
    return f"<{type(record).__name__} that cannot be serialised>".encode()
