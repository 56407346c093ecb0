"""What the risk job reads, checked before the engine sees it: a poison record is a dead letter.

Each input topic's records are parsed and validated against the topic's schema (the latest
version, as producers validate); the readings that only drive the risk clock need just a JSON
object with an integer `event_time_ms`. A record that fails (not JSON, not an object, a wrong or
missing field, a tombstone with no value) gets a `Verdict` with its reason, and the job writes it to
`<topic>.dlq` in the dead-letter envelope of `pipelines.ingest` instead of applying it.
"""

from __future__ import annotations

from collections.abc import Callable

from pipelines.alarms.processor import Routed
from pipelines.ingest import Verdict, dead_letter, parse_json_object
from pipelines.risk.engine import TOPIC_KINDS, RiskEngine
from pipelines.schema_registry import SchemaRegistry, SchemaViolation
from pipelines.topics import DLQ_SUFFIX

DEAD_LETTER_SOURCE = "risk-job"  # the envelope's `source`: who rejected the record
CLOCK_TOPIC = "readings"


def clock_verdict(raw: bytes | None) -> Verdict:
    """Return the verdict on a reading used as the risk clock (needs an integer event_time_ms)."""
    record = parse_json_object(raw)
    if isinstance(record, Verdict):
        return record
    if "event_time_ms" not in record or record["event_time_ms"] is None:
        return Verdict(None, "missing_field", "field 'event_time_ms' is missing")
    ts = record["event_time_ms"]
    if isinstance(ts, bool) or not isinstance(ts, int):
        return Verdict(
            None, "wrong_type", f"field 'event_time_ms' must be integer, got {type(ts).__name__}"
        )
    return Verdict(record)


class InputChecker:
    """Validates the risk job's business inputs by kind against their topics' schemas."""

    def __init__(self, schemas: dict[str, str], registry: SchemaRegistry | None = None) -> None:
        registry = registry or SchemaRegistry.load()
        self._validate: dict[str, Callable[[dict], None]] = {
            kind: registry.validator(record_type) for kind, record_type in schemas.items()
        }

    @classmethod
    def for_topics(cls) -> InputChecker:
        """Return a checker with the schema of every risk input topic (infra/kafka/topics.yaml)."""
        from pipelines.topics import load_topics

        specs = {t.name: t for t in load_topics()}
        return cls({kind: specs[topic].schema for topic, kind in TOPIC_KINDS.items()})

    def check(self, kind: str, raw: bytes | None) -> Verdict:
        """Return the verdict on one input of this kind (accepted: `record` holds it parsed)."""
        record = parse_json_object(raw)
        if isinstance(record, Verdict):
            return record
        try:
            self._validate[kind](record)
        except SchemaViolation as exc:
            return Verdict(None, exc.kind, str(exc))
        return Verdict(record)


def dead_letter_of(topic: str, raw: bytes | None, verdict: Verdict, key: str | None) -> dict:
    """Return the dead-letter envelope of a rejected input (a tombstone keeps zero bytes)."""
    return dead_letter(topic, raw or b"", verdict, DEAD_LETTER_SOURCE, key)


class InputRouter:
    """Turns what the risk job reads into engine calls and routed records (no Flink, no I/O).

    `topics` maps each topic name read (a test prefix included) to its declared name. A business
    input is applied at once (late or not: see `pipelines.risk.engine`); a reading moves the
    engine clock to its event time minus `clock_lag_ms`; a poison record becomes a dead letter
    routed to `<declared topic>.dlq`.
    """

    def __init__(self, topics: dict[str, str], checker: InputChecker, clock_lag_ms: int) -> None:
        self.topics = topics
        self.checker = checker
        self.clock_lag_ms = clock_lag_ms

    def on_clock(self, engine: RiskEngine, reading_time_ms: int) -> list[Routed]:
        """Let time-based changes due by the readings' clock (minus the lag) happen."""
        return engine.on_time(reading_time_ms - self.clock_lag_ms)

    def on_record(
        self, engine: RiskEngine, topic: str, key: str | None, raw: bytes | None
    ) -> list[Routed]:
        """Apply one record read from topic, or return its dead letter."""
        declared = self.topics[topic]
        if declared == CLOCK_TOPIC:
            verdict = clock_verdict(raw)
            if verdict.accepted:
                return self.on_clock(engine, verdict.record["event_time_ms"])
        else:
            kind = TOPIC_KINDS[declared]
            verdict = self.checker.check(kind, raw)
            if verdict.accepted:
                try:
                    return engine.on_input(kind, verdict.record)
                except Exception as exc:  # noqa: BLE001  valid yet unusable: kept, job lives
                    verdict = Verdict(
                        None, "schema_violation", f"the risk engine cannot apply it: {exc!r}"
                    )
        envelope = dead_letter_of(topic, raw, verdict, key)
        return [Routed(declared + DLQ_SUFFIX, key, envelope)]
