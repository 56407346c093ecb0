"""Tamper-evident streams: each record carries the hash of the previous record of its stream key.

`link(record, prev_hash)` returns the record with `prev_hash` (GENESIS for a key's first record)
and `hash` = SHA-256 over the canonical JSON of everything else in the record. `verify` walks
records in log order and names the first whose hash does not match its content (an edit) or whose
`prev_hash` is not the hash of the key's previous record (a deletion, insertion or reordering).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import orjson

GENESIS = "0" * 64
CHAIN_FIELDS = ("prev_hash", "hash")


def record_hash(record: dict) -> str:
    """Return the SHA-256 (hex) of the record's canonical JSON, its `hash` field left out."""
    body = {k: v for k, v in record.items() if k != "hash"}
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


def link(record: dict, prev_hash: str | None) -> dict:
    """Return a copy of `record` chained after `prev_hash` (None: the first of its key)."""
    out = {k: v for k, v in record.items() if k not in CHAIN_FIELDS}
    out["prev_hash"] = prev_hash or GENESIS
    out["hash"] = record_hash(out)
    return out


class Chainer:
    """Links records per stream key, remembering each key's last hash (seed it on restart)."""

    def __init__(self, last: dict[str, str] | None = None) -> None:
        self.last: dict[str, str] = dict(last or {})

    def link(self, key: str, record: dict) -> dict:
        """Return `record` chained after the previous record of `key`."""
        out = link(record, self.last.get(key))
        self.last[key] = out["hash"]
        return out


@dataclass(frozen=True)
class Break:
    """The first record that breaks its key's chain: where it is, its key and why."""

    where: str
    key: str
    reason: str


def verify(
    records: Iterable[tuple[str, str, dict | None]],
    *,
    anchored_start: bool = False,
    on_duplicate: Callable[[str, str], None] | None = None,
) -> tuple[int, Break | None]:
    """Check (where, key, record) in log order; return (records checked, first break or None).

    `anchored_start`: the log's head was deleted by retention, so the first record of each key
    may follow a record no longer there; its own hash is still checked (None: not a JSON object).
    An exact re-emission of a record already in its key's chain (same hash, same prev_hash: what
    an at-least-once sink writes again after a restart from a checkpoint) is accepted and leaves
    the chain where it was; `on_duplicate(where, key)` is told of each.
    """
    last: dict[str, str] = {}
    chained: dict[str, dict[str, str]] = {}  # key -> {hash: prev_hash} of its accepted records
    n = 0
    for where, key, record in records:
        n += 1
        if not isinstance(record, dict):
            return n, Break(where, key, "not a JSON object")
        got = record.get("hash")
        if not isinstance(got, str) or "prev_hash" not in record:
            return n, Break(where, key, "no chain fields (prev_hash, hash)")
        if record_hash(record) != got:
            return n, Break(where, key, "content does not match its hash (edited)")
        expected = last.get(key, record["prev_hash"] if anchored_start else GENESIS)
        if record["prev_hash"] != expected and chained.get(key, {}).get(got) == record["prev_hash"]:
            if on_duplicate is not None:
                on_duplicate(where, key)
            continue
        if record["prev_hash"] != expected:
            why = (
                "first record of its key does not start the chain"
                if key not in last
                else "prev_hash is not the previous record's hash (deleted, inserted or reordered)"
            )
            return n, Break(where, key, why)
        last[key] = got
        chained.setdefault(key, {})[got] = record["prev_hash"]
    return n, None
