"""Verify the tamper-evident streams (审计链校验) where they are kept: Kafka, the lake, an export.

The audited streams are `alarm.audit` (chained per tag by the alarm job), `cases` (per case id,
risk job) and `security.audit` (per principal, the API). Each reader yields (where, key, record) in
log order, one Kafka partition at a time (a key lives in one partition), and
`pipelines.security.chain.verify` recomputes the chains. `where` names a record so that a person
can find it: `alarm.audit partition 0 offset 17`, `bronze.alarm_audit row partition 0 offset 17`,
`export.jsonl line 3`.

A partition whose head was deleted by retention (its first retained offset is not 0) is verified
with `anchored_start`: the first retained record of each key is taken as it is (its own hash is
still checked). The lake is also checked against itself: each typed bronze column must equal the
field of the raw record (`_value`) it was parsed from, so an edit of either is named.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from pipelines.kafka_client import READER_GROUP, client_config
from pipelines.lake.bronze_schema import METADATA_COLUMNS, PARTITION_COLUMN, table_name
from pipelines.security.chain import Break, verify
from pipelines.settings import Settings

# Audited stream -> the record field its records are chained (and keyed) by.
AUDITED_STREAMS: dict[str, str] = {
    "alarm.audit": "tag",
    "cases": "case_id",
    "security.audit": "principal",
}
Located = tuple[str, str, dict | None]  # (where, stream key, record or None if not JSON)
Partitions = list[tuple[bool, list[Located]]]  # (head deleted by retention?, records in order)


@dataclass(frozen=True)
class StreamCheck:
    """The verdict on one stream in one place: records and keys checked, first break or None."""

    stream: str
    source: str  # "kafka", "lake" or the export file
    records: int
    keys: int
    brk: Break | None
    found: bool = True  # False: the topic or table does not exist (nothing to verify)
    unchained: int = 0  # records written before the stream was chained (schema v1)
    duplicates: int = 0  # exact re-emissions (an at-least-once sink after a restart)

    def line(self) -> str:
        """Return the one-line summary printed by `hazchem audit verify`."""
        if not self.found:
            return f"{self.stream} ({self.source}): not found, skipped"
        if self.brk is None:
            extra = f", {self.duplicates} re-emitted copies" if self.duplicates else ""
            if self.unchained:
                extra += f", {self.unchained} earlier records not chained"
            counts = f"{_plural(self.records, 'record')}, {_plural(self.keys, 'key')}"
            return f"{self.stream} ({self.source}): {counts}, chain intact{extra}"
        return (
            f"{self.stream} ({self.source}): chain broken at {self.brk.where} "
            f"(key {self.brk.key}): {self.brk.reason}"
        )


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _parse(value: bytes | str | None) -> dict | None:
    """Return the JSON object of a raw value, or None when it is not one."""
    if value is None:
        return None
    try:
        record = orjson.loads(value)
    except orjson.JSONDecodeError:
        return None
    return record if isinstance(record, dict) else None


def check(
    stream: str, source: str, partitions: Iterable[tuple[bool, list[Located]]],
    notes: dict[str, str] | None = None, *, unchained_head: bool = False,
) -> StreamCheck:  # fmt: skip
    """Verify a stream given per partition; `notes` (where -> why) explain a known edit better
    than the chain can (a lake row whose typed column disagrees with its raw record).

    `unchained_head`: records before a partition's first chained record were written before the
    stream was chained (schema v1, an upgraded deployment) and are counted, not a break; from
    that record on every record must be chained. Off by default: then every record must be.
    """
    total, keys, unchained = 0, set(), 0
    copies: list[str] = []
    for truncated, records in partitions:
        start = 0
        if unchained_head:
            start = next(
                (i for i, (_, _, r) in enumerate(records) if r is not None and "hash" in r),
                len(records),
            )
        unchained += start
        chained = records[start:]
        n, brk = verify(
            chained, anchored_start=truncated, on_duplicate=lambda where, _: copies.append(where)
        )
        total += n
        if brk is not None:
            if notes and brk.where in notes:
                brk = Break(brk.where, brk.key, notes[brk.where])
            return StreamCheck(stream, source, total, len(keys), brk, unchained=unchained)
        keys.update(key for _, key, _ in chained)
    return StreamCheck(
        stream, source, total, len(keys), None, unchained=unchained, duplicates=len(copies)
    )


# -- Kafka ----------------------------------------------------------------------------------------


def kafka_partitions(
    settings: Settings,
    topic: str,
    timeout_s: float = 60.0,
    principal: str = "cli",
    group_prefix: str = READER_GROUP,
) -> Partitions | None:
    """Return every retained record of `topic`, per partition from the log start, read as
    `principal` (its consumer groups start with group_prefix); None when the topic does not
    exist."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer(
        client_config(
            settings, principal,
            **{"group.id": f"{group_prefix}audit-{time.time_ns()}",
               "enable.auto.commit": False, "log_level": 0},
        )
    )  # fmt: skip
    try:
        meta = consumer.list_topics(timeout=10)
        if topic not in meta.topics or meta.topics[topic].error is not None:
            return None
        out: list[tuple[bool, list[Located]]] = []
        for pid in sorted(meta.topics[topic].partitions):
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, pid), timeout=10)
            records: list[Located] = []
            if high > low:
                consumer.assign([TopicPartition(topic, pid, low)])
                deadline = time.monotonic() + timeout_s
                next_offset = low
                while next_offset < high:
                    if time.monotonic() > deadline:
                        raise TimeoutError(
                            f"{topic} partition {pid}: read {next_offset - low} of "
                            f"{high - low} records in {timeout_s:.0f} s"
                        )
                    for msg in consumer.consume(5000, timeout=1.0):
                        if msg.error() or msg.offset() >= high:
                            continue
                        key = (msg.key() or b"").decode("utf-8", "replace")
                        where = f"{topic} partition {pid} offset {msg.offset()}"
                        records.append((where, key, _parse(msg.value())))
                        next_offset = msg.offset() + 1
                consumer.unassign()
            out.append((low > 0, records))
        return out
    finally:
        consumer.close()


def chain_heads(
    settings: Settings, topic: str, principal: str = "cli", group_prefix: str = READER_GROUP
) -> dict[str, str]:
    """Return the last `hash` per key in `topic` ({} when it does not exist): where a producer
    started without its state continues each key's chain."""
    heads: dict[str, str] = {}
    for _, records in kafka_partitions(settings, topic, 60.0, principal, group_prefix) or []:
        for _, key, record in records:
            if record is not None and isinstance(record.get("hash"), str):
                heads[key] = record["hash"]
    return heads


# -- the lake -------------------------------------------------------------------------------------

_METADATA = {name for name, _ in METADATA_COLUMNS} | {PARTITION_COLUMN}


def _column_differs(column: Any, value: Any) -> bool:
    """True when a typed bronze column does not hold the raw record's field it was parsed from."""
    if isinstance(value, dict | list):
        return False  # kept as JSON text by bronze: its formatting is Spark's, not compared
    if value is None or column is None:
        return (value is None) != (column is None)
    if isinstance(value, bool) or isinstance(column, bool):
        return value != column
    if isinstance(value, int | float) and isinstance(column, int | float):
        return float(value) != float(column)
    return str(value) != str(column)


def lake_partitions(settings: Settings, stream: str) -> tuple[Partitions, dict[str, str]] | None:
    """Return the rows of the stream's bronze table per Kafka partition in offset order, and the
    rows whose typed columns disagree with their `_value` (where -> why); None when the table does
    not exist. Such a row is given with a hash that cannot match, so the chain check stops there."""
    from pipelines.lake.maintenance import bronze_tables
    from pipelines.lake.storage import read_delta

    table = table_name(stream)
    location = bronze_tables(settings).get(table)
    if location is None:
        return None
    rows = read_delta(settings, location).to_pylist()
    rows.sort(key=lambda r: (r["_partition"], r["_offset"]))
    by_partition: dict[int, list[Located]] = {}
    first: dict[int, int] = {}
    notes: dict[str, str] = {}
    for row in rows:
        part, offset = row["_partition"], row["_offset"]
        first.setdefault(part, offset)
        where = f"bronze.{table} row partition {part} offset {offset}"
        record = _parse(row["_value"])
        if record is not None:
            edited = [
                c
                for c, v in row.items()
                if c not in _METADATA and _column_differs(v, record.get(c))
            ]
            if edited:
                # The typed columns are what Trino and dbt read: an edit there is an edit.
                record = {**record, "hash": ""}
                notes[where] = f"column {edited[0]!r} differs from the chained record (edited)"
        by_partition.setdefault(part, []).append((where, row["_key"] or "", record))
    return [(first[p] > 0, by_partition[p]) for p in sorted(by_partition)], notes


# -- a JSON-lines export --------------------------------------------------------------------------


def file_partitions(path: Path, stream: str) -> Partitions:
    """Return the records of a JSON-lines export of one stream (one record a line, log order),
    keyed by the stream's key field, as one partition starting at the chain's head."""
    field = AUDITED_STREAMS[stream]
    records: list[Located] = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            record = _parse(line)
            key = "" if record is None else str(record.get(field, ""))
            records.append((f"{path.name} line {number}", key, record))
    return [(False, records)]


def export_lines(partitions: Partitions) -> Iterator[str]:
    """Yield the JSON lines of an export (records only, log order per partition)."""
    for _, records in partitions:
        for _, _, record in records:
            if record is not None:
                yield json.dumps(record, ensure_ascii=False, separators=(",", ":"))
