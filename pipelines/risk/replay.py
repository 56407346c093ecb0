"""Replay the risk model over recorded inputs: the same `RiskEngine`, in `input_order`.

`replay()` is what `hazchem risk replay` runs over lake history (bronze tables) or Kafka topics;
given the inputs the streaming risk job read, it returns the same risk and case records when
they arrived in order (see the ordering rule in `pipelines.risk.engine`), and with
`arrival_order=True` in the order they arrived, late ones included.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import orjson

from pipelines.alarms.processor import Routed
from pipelines.plant import PLANT_TZ
from pipelines.risk.engine import TOPIC_KINDS, RiskEngine, RiskPlant, event_time, input_order
from pipelines.risk.model import RiskModel

if TYPE_CHECKING:
    from pipelines.settings import Settings


def replay(
    inputs: Iterable[tuple[str, dict[str, Any]]],
    plant: RiskPlant,
    model: RiskModel,
    end_ms: int | None = None,
    arrival_order: bool = False,
) -> list[Routed]:
    """Return every routed record of the engine fed `inputs` ((kind, record)) in input order.

    Time-based changes are let happen up to end_ms (None: until nothing is left to happen).
    With arrival_order, inputs are applied in the order given, as the streaming job applies them
    as they arrive (an input older than what was applied is late: applied at the engine clock).
    """
    engine = RiskEngine(plant, model)
    out: list[Routed] = []
    ordered = list(inputs) if arrival_order else sorted(inputs, key=lambda kr: input_order(*kr))
    for kind, record in ordered:
        if end_ms is not None and event_time(kind, record) > end_ms:
            if arrival_order:
                continue
            break
        out += engine.on_input(kind, record)
    out += engine.on_time(end_ms if end_ms is not None else 2**62)
    return out


def plant_day_bounds(day: date) -> tuple[int, int]:
    """Return [start, end) of a plant day (UTC+8) in ms since the epoch."""
    start = datetime(day.year, day.month, day.day, tzinfo=PLANT_TZ)
    return int(start.timestamp() * 1000), int((start + timedelta(days=1)).timestamp() * 1000)


def lake_inputs(settings: Settings, since_ms: int, until_ms: int) -> Iterator[tuple[str, dict]]:
    """Yield (kind, record) of every risk input kept in the bronze tables in [since, until)."""
    import pyarrow.dataset as pa_ds
    from deltalake.exceptions import TableNotFoundError

    from pipelines.lake.bronze_schema import PARTITION_COLUMN, table_name, table_path
    from pipelines.lake.storage import read_delta

    first = datetime.fromtimestamp(since_ms / 1000, UTC).date() - timedelta(days=1)
    last = datetime.fromtimestamp(until_ms / 1000, UTC).date() + timedelta(days=1)
    days = (pa_ds.field(PARTITION_COLUMN) >= first) & (pa_ds.field(PARTITION_COLUMN) <= last)
    for topic, kind in TOPIC_KINDS.items():
        try:
            table = read_delta(
                settings, table_path(settings.lake.root, table_name(topic)), ["_value"], days
            )
        except TableNotFoundError:
            continue
        for value in table.column("_value").to_pylist():
            record = orjson.loads(value)
            if since_ms <= event_time(kind, record) < until_ms:
                yield kind, record


def kafka_inputs(
    settings,  # noqa: ANN001
    since_ms: int,
    until_ms: int,
    prefix: str = "",
    written_since_ms: int | None = None,
    arrival_order: bool = False,
) -> Iterator[tuple]:
    """Yield (kind, record) of every risk input in Kafka with event time in [since, until).

    With written_since_ms, read what was written to Kafka from then on instead (as a job started
    with --from-timestamp-ms reads), whatever its event time, up to until_ms. With arrival_order,
    yield them in the order Kafka appended them (its timestamps, stable per topic): the order a
    job reading live saw them, for `replay(..., arrival_order=True)`.
    """
    from pipelines.kafka_stats import read_since

    found = []
    for topic, kind in TOPIC_KINDS.items():
        for ts, value in read_since(settings, prefix + topic, written_since_ms or 0):
            record = orjson.loads(value)
            at = event_time(kind, record)
            if (written_since_ms is not None or since_ms <= at) and at < until_ms:
                found.append((ts, kind, record))
    if arrival_order:
        found.sort(key=lambda f: f[0])
    for _ts, kind, record in found:
        yield kind, record


def timeline(routed: Iterable[Routed], start_ms: int | None = None) -> list[dict[str, Any]]:
    """Return the color timeline: one row per level change at or after start_ms, in time order."""
    rows = []
    for r in routed:
        if r.topic != "risk.levels":
            continue
        rec = r.record
        if start_ms is not None and rec["event_time_ms"] < start_ms:
            continue
        rows.append(
            {
                "event_time_ms": rec["event_time_ms"],
                "object_type": rec["object_type"],
                "object_code": rec["object_code"],
                "previous_level": rec["previous_level"],
                "level": rec["level"],
                "score": rec["score"],
                "causes": sorted({c for f in rec["factors"] for c in f.get("causes", [])}),
            }
        )
    return rows
