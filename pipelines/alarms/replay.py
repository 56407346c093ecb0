"""Batch replay (报警回放): the alarm engine over a finite set of readings, plus file readers."""

from __future__ import annotations

import csv
import heapq
from collections.abc import Callable, Container, Iterable, Iterator
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any

from pipelines.alarms.config import TagConfig
from pipelines.alarms.engine import TagAlarmState, Transition, transition_sort_key

Reading = tuple[int, str, float | None]
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MS = timedelta(milliseconds=1)
READING_COLUMNS = ("ts", "tag", "value")


class BadReadingRow(ValueError):
    """A data row of a readings file that cannot be used; the message names file and row."""


def replay(
    configs: dict[str, TagConfig],
    readings: Iterable[Reading],
    end_ms: int | None = None,
) -> list[Transition]:
    """Return all transitions of `readings` (any order), sorted by ts, tag, condition order.

    Readings are sorted by (ts, tag), stable, so equal (ts, tag) keep their input order. STALE is
    evaluated like a Flink event-time timer: `on_time(due)` is called at each tag's due time
    (`next_timer_ms()`) before any reading with ts >= due, and for dues <= `end_ms` at the end.
    Ties on (ts, tag, condition) keep processing order, which puts a raise before its own clear.
    """
    rows = sorted(readings, key=lambda r: (r[0], r[1]))
    for _, tag, _ in rows:
        if tag not in configs:
            raise ValueError(f"unknown tag {tag!r}")
    states = {tag: TagAlarmState(cfg) for tag, cfg in configs.items()}
    # (due_ms, tag): tags whose STALE is due at due_ms; an entry is stale (ignored when popped)
    # once a later reading of its tag has moved the due time.
    timers: list[tuple[int, str]] = []
    out: list[Transition] = []

    def fire(up_to_ms: int) -> None:
        """Call on_time(due) on every tag whose STALE is due at or before up_to_ms."""
        while timers and timers[0][0] <= up_to_ms:
            due, tag = heapq.heappop(timers)
            state = states[tag]
            if state.next_timer_ms() == due:
                out.extend(state.on_time(due))

    i = 0
    while i < len(rows):
        ts = rows[i][0]
        fire(ts)
        while i < len(rows) and rows[i][0] == ts:
            _, tag, value = rows[i]
            state = states[tag]
            due_before = state.next_timer_ms()
            out.extend(state.on_reading(ts, value))
            due = state.next_timer_ms()
            if due is not None and due != due_before:
                heapq.heappush(timers, (due, tag))
            i += 1
    if end_ms is not None:
        fire(end_ms)
    out.sort(key=transition_sort_key)
    return out


def parse_timestamp(text: str) -> tuple[int, timezone]:
    """Return (ms since epoch, UTC offset) of an ISO-8601 time with offset; ValueError if not."""
    try:
        dt = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"unparsable ts {text!r}") from None
    return _datetime_ms(dt, text)


def _datetime_ms(dt: datetime, shown: Any) -> tuple[int, timezone]:
    """Return (ms since epoch, fixed UTC offset) of an aware datetime; ValueError when naive."""
    offset = dt.utcoffset()
    if offset is None:
        raise ValueError(f"ts {str(shown)!r} has no UTC offset")
    # Floor division: sub-millisecond digits are truncated towards the past.
    return (dt - EPOCH) // _ONE_MS, timezone(offset)


def format_timestamp(ts_ms: int, tz: tzinfo) -> str:
    """Return ISO-8601 text in `tz`: whole seconds when ms is 0, else milliseconds."""
    dt = (EPOCH + timedelta(milliseconds=ts_ms)).astimezone(tz)
    return dt.isoformat(timespec="seconds" if ts_ms % 1000 == 0 else "milliseconds")


def _parse_value(raw: Any) -> float | None:
    """Return a reading value: empty/None is missing (None), numbers as float; ValueError else."""
    if raw is None:
        return None
    if isinstance(raw, bool):
        raise ValueError(f"unparsable value {raw!r}")
    if isinstance(raw, int | float):
        return float(raw)
    text = str(raw).strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"unparsable value {text!r}") from None


def _parse_row(
    ts_raw: Any, tag_raw: Any, value_raw: Any, known_tags: Container[str] | None
) -> tuple[Reading, timezone]:
    """Return ((ts_ms, tag, value), offset) for one data row; ValueError naming the problem."""
    if isinstance(ts_raw, datetime):
        ts_ms, offset = _datetime_ms(ts_raw, ts_raw.isoformat())
    elif isinstance(ts_raw, str):
        ts_ms, offset = parse_timestamp(ts_raw)
    else:
        raise ValueError(f"unparsable ts {ts_raw!r}")
    tag = "" if tag_raw is None else str(tag_raw).strip()
    if not tag:
        raise ValueError("empty tag")
    if known_tags is not None and tag not in known_tags:
        raise ValueError(f"unknown tag {tag!r}")
    value = _parse_value(value_raw)
    return (ts_ms, tag, value), offset


def _csv_rows(path: Path) -> Iterator[tuple[int, str | None, Any, Any, Any]]:
    """Yield (data row number, problem or None, ts, tag, value) of a CSV file with a header."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            expected = ",".join(READING_COLUMNS)
            raise ValueError(f"{path.name}: empty file, expected header {expected}")
        names = [name.strip() for name in header]
        missing = [col for col in READING_COLUMNS if col not in names]
        if missing:
            raise ValueError(f"{path.name}: missing column(s) {', '.join(missing)} in header")
        ts_i, tag_i, value_i = (names.index(col) for col in READING_COLUMNS)
        for number, fields in enumerate(reader, start=1):
            if not fields or (len(fields) == 1 and not fields[0].strip()):
                continue  # blank line: it has a row number but carries no reading
            if len(fields) != len(names):
                problem = f"expected {len(names)} fields, got {len(fields)}"
                yield number, problem, None, None, None
                continue
            yield number, None, fields[ts_i], fields[tag_i], fields[value_i]


def _parquet_rows(path: Path) -> Iterator[tuple[int, str | None, Any, Any, Any]]:
    """Yield (row number, None, ts, tag, value) of a Parquet file with columns ts, tag, value."""
    import pyarrow.parquet as pq  # imported here so the streaming job never loads pyarrow

    try:
        schema = pq.read_schema(path)
    except Exception as exc:  # pyarrow raises several types for a non-Parquet file
        problem = type(exc).__name__
        raise ValueError(f"{path.name}: not a readable Parquet file ({problem})") from None
    missing = [col for col in READING_COLUMNS if col not in schema.names]
    if missing:
        raise ValueError(f"{path.name}: missing column(s) {', '.join(missing)}")
    table = pq.read_table(path, columns=list(READING_COLUMNS))
    columns = [table.column(col).to_pylist() for col in READING_COLUMNS]
    for number, (ts, tag, value) in enumerate(zip(*columns, strict=True), start=1):
        yield number, None, ts, tag, value


def read_readings(
    path: str | Path,
    known_tags: Container[str] | None = None,
    on_bad: Callable[[str], None] | None = None,
) -> tuple[list[Reading], timezone | None]:
    """Return (readings in file order, UTC offset of the first good row) from CSV or Parquet.

    Columns ts (ISO-8601 with offset), tag, value (empty = missing). A bad row (wrong field count,
    unparsable ts/value, ts without offset, empty or unknown tag) raises BadReadingRow
    "`<file> row <n>: <problem>`" with n the 1-based data row, unless `on_bad` is given, which is
    called with that message and the row is skipped. FileNotFoundError for a missing file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: file not found")
    rows: list[Reading] = []
    first_offset: timezone | None = None

    def bad(number: int, problem: str) -> None:
        """Report or raise one bad row."""
        message = f"{path.name} row {number}: {problem}"
        if on_bad is None:
            raise BadReadingRow(message)
        on_bad(message)

    parquet = path.suffix.lower() == ".parquet"
    records = _parquet_rows(path) if parquet else _csv_rows(path)
    for number, problem, ts_raw, tag_raw, value_raw in records:
        if problem is not None:
            bad(number, problem)
            continue
        try:
            reading, offset = _parse_row(ts_raw, tag_raw, value_raw, known_tags)
        except ValueError as exc:
            bad(number, str(exc))
            continue
        if first_offset is None:
            first_offset = offset
        rows.append(reading)
    return rows, first_offset
