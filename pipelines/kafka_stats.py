"""Read-only views of what is in Kafka: records per topic and the ingest reconciliation."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

from pipelines.kafka_client import READER_GROUP, client_config
from pipelines.settings import Settings
from pipelines.topics import load_topics


def topic_record_counts(
    settings: Settings, topics: list[str] | None = None, principal: str = "cli"
) -> dict[str, int]:
    """Return the number of records retained in each topic (sum of partition offset ranges)."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer(
        client_config(settings, principal, **{"group.id": f"{READER_GROUP}status", "log_level": 0})
    )
    try:
        meta = consumer.list_topics(timeout=10)
        names = topics or [t.name for t in load_topics(settings.kafka.topics_file)]
        counts: dict[str, int] = {}
        for name in names:
            if name not in meta.topics:
                continue
            total = 0
            for pid in meta.topics[name].partitions:
                low, high = consumer.get_watermark_offsets(TopicPartition(name, pid), timeout=10)
                total += max(0, high - low)
            counts[name] = total
        return counts
    finally:
        consumer.close()


def ledger_totals(ledger_dir: Path) -> dict:
    """Sum every ingest session recorded in the ledger: submitted, accepted, dead-lettered,
    reasons."""
    totals = {
        "submitted": Counter(),
        "accepted": Counter(),
        "dead_lettered": Counter(),
        "reasons": Counter(),
    }
    if not ledger_dir.exists():
        return {k: {} for k in totals}
    for path in sorted(ledger_dir.glob("*.jsonl")):
        for line in path.read_text().splitlines():
            entry = json.loads(line)
            for k in totals:
                totals[k].update(entry.get(k, {}))
    return {k: dict(v) for k, v in totals.items()}


def reconciliation(settings: Settings) -> list[dict]:
    """Per ingested topic: submitted = accepted + dead-lettered (ledger) and accepted vs Kafka."""
    ledger = ledger_totals(settings.run_dir / "ingest-ledger")
    topics = sorted(ledger["submitted"])
    kafka_counts = (
        topic_record_counts(settings, topics + [f"{t}.dlq" for t in topics]) if topics else {}
    )
    rows = []
    for t in topics:
        sub = ledger["submitted"].get(t, 0)
        acc = ledger["accepted"].get(t, 0)
        dlq = ledger["dead_lettered"].get(t, 0)
        rows.append(
            {
                "topic": t,
                "submitted": sub,
                "accepted": acc,
                "dead_lettered": dlq,
                "balanced": sub == acc + dlq,
                "in_topic": kafka_counts.get(t),
                "in_dlq": kafka_counts.get(f"{t}.dlq"),
            }
        )
    return rows


def read_since(
    settings: Settings, topic: str, since_ms: int, timeout_s: float = 30.0, principal: str = "cli"
) -> list[tuple[int, bytes]]:
    """Return (Kafka timestamp ms, value) of every record of `topic` written at or after
    since_ms, read as `principal`."""
    from confluent_kafka import OFFSET_END, Consumer, TopicPartition

    consumer = Consumer(
        client_config(
            settings,
            principal,
            **{
                "group.id": f"{READER_GROUP}{time.time_ns()}",
                "enable.auto.commit": False,
                "log_level": 0,
            },
        )
    )
    try:
        meta = consumer.list_topics(topic, timeout=10)
        parts = [TopicPartition(topic, p, since_ms) for p in meta.topics[topic].partitions]
        starts = consumer.offsets_for_times(parts, timeout=10)
        ends = {}
        for tp in starts:
            _, high = consumer.get_watermark_offsets(
                TopicPartition(topic, tp.partition), timeout=10
            )
            ends[tp.partition] = high
        todo = [
            tp
            for tp in starts
            if tp.offset != OFFSET_END and tp.offset >= 0 and tp.offset < ends[tp.partition]
        ]
        if not todo:
            return []
        consumer.assign(todo)
        remaining = {tp.partition: ends[tp.partition] for tp in todo}
        out: list[tuple[int, bytes]] = []
        deadline = time.monotonic() + timeout_s
        while remaining and time.monotonic() < deadline:
            for msg in consumer.consume(5000, timeout=1.0):
                if msg.error():
                    continue
                out.append((msg.timestamp()[1], msg.value()))
                if msg.offset() + 1 >= remaining.get(msg.partition(), 0):
                    remaining.pop(msg.partition(), None)
        return out
    finally:
        consumer.close()


def committed_lag(settings: Settings, group: str, topic: str) -> int | None:
    """Return records of `topic` not yet committed by consumer `group`
    (None if it never committed)."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer(client_config(settings, "cli", **{"group.id": group, "log_level": 0}))
    try:
        meta = consumer.list_topics(topic, timeout=10)
        parts = [TopicPartition(topic, p) for p in meta.topics[topic].partitions]
        committed = consumer.committed(parts, timeout=10)
        lag = 0
        for tp in committed:
            _, high = consumer.get_watermark_offsets(
                TopicPartition(topic, tp.partition), timeout=10
            )
            if tp.offset < 0:
                return None
            lag += max(0, high - tp.offset)
        return lag
    finally:
        consumer.close()
