"""`hazchem audit verify` over an export file and over the lake's bronze Delta table: intact
chains pass with one line per stream; an edit, a deletion or an insertion is named, exit 1."""

from __future__ import annotations

import json
from datetime import date

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake
from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.security import audit_cli
from pipelines.security.chain import Chainer

runner = CliRunner()


def _audit_records() -> list[dict]:
    """Five alarm.audit-like records of two tags, chained per tag as the alarm job does."""
    chainer = Chainer()
    rows = [("PT-1", "acknowledge"), ("PT-2", "comment"), ("PT-1", "shelve"),
            ("PT-1", "unshelve"), ("PT-2", "acknowledge")]  # fmt: skip
    return [
        chainer.link(tag, {"audit_id": f"a{i}", "tag": tag, "action": action, "actor": "op-7",
                           "action_time_ms": 1_800_000_000_000 + i, "result": "applied"})
        for i, (tag, action) in enumerate(rows)
    ]  # fmt: skip


def _export(tmp_path, records) -> str:
    path = tmp_path / "alarm_audit.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return str(path)


def _verify(*args: str):
    return runner.invoke(app, ["audit", "verify", *args])


def test_an_intact_export_verifies_with_a_count_line(tmp_path):
    """GIVEN an export of five chained records WHEN verified THEN exit 0 and one count line."""
    result = _verify("--stream", "alarm.audit", "--file", _export(tmp_path, _audit_records()))
    assert result.exit_code == 0, result.output
    assert result.stdout == "alarm.audit (alarm_audit.jsonl): 5 records, 2 keys, chain intact\n"


@pytest.mark.parametrize(
    ("tamper", "where", "reason"),
    [
        (lambda rs: rs[2].update(actor="someone-else"), "line 3",
         "content does not match its hash (edited)"),
        (lambda rs: rs.pop(2), "line 3",
         "prev_hash is not the previous record's hash (deleted, inserted or reordered)"),
        (lambda rs: rs.insert(3, {**rs[2], "audit_id": "forged"}), "line 4",
         "content does not match its hash (edited)"),
    ],
    ids=["edited", "deleted", "inserted"],
)  # fmt: skip
def test_a_tampered_export_fails_naming_the_first_broken_line(tmp_path, tamper, where, reason):
    """GIVEN the export with one record edited, deleted, or a copy inserted WHEN verified THEN
    exit 1 and the error names the first broken line, its key and why."""
    records = _audit_records()
    tamper(records)
    result = _verify("--stream", "alarm.audit", "--file", _export(tmp_path, records))
    assert result.exit_code == 1
    at = f"alarm_audit.jsonl {where} (key PT-1)"
    line = f"alarm.audit (alarm_audit.jsonl): chain broken at {at}: {reason}"
    assert result.stdout == line + "\n"
    assert result.stderr == f"error: {line}\n"


def test_file_needs_exactly_one_stream(tmp_path):
    """GIVEN --file without --stream WHEN verified THEN a one-line error, exit 2."""
    result = _verify("--file", _export(tmp_path, _audit_records()))
    assert (result.exit_code, result.stderr) == (
        2, "error: --file holds one stream: name it with --stream\n"
    )  # fmt: skip


# -- the lake ---------------------------------------------------------------------------------


@pytest.fixture
def lake(tmp_path, monkeypatch):
    """A lake with a bronze alarm_audit table as the bronze job lands it (typed columns, Kafka
    metadata, raw value), the five chained records in partitions 0 (PT-1) and 1 (PT-2)."""
    from pipelines.settings import Settings

    settings = Settings(_env_file=None, lake={"root": str(tmp_path / "lake")})
    monkeypatch.setattr(audit_cli, "get_settings", lambda: settings)
    records = _audit_records()
    offsets = {"PT-1": 0, "PT-2": 0}
    rows = []
    for r in records:
        part = 0 if r["tag"] == "PT-1" else 1
        rows.append({**{k: r[k] for k in ("tag", "action", "actor", "prev_hash", "hash")},
                     "_partition": part, "_offset": offsets[r["tag"]], "_key": r["tag"],
                     "_value": json.dumps(r), "event_date": date(2027, 1, 15)})  # fmt: skip
        offsets[r["tag"]] += 1
    path = tmp_path / "lake" / "bronze" / "alarm_audit"
    schema = pa.schema(
        [("tag", pa.string()), ("action", pa.string()), ("actor", pa.string()),
         ("prev_hash", pa.string()), ("hash", pa.string()), ("_partition", pa.int32()),
         ("_offset", pa.int64()), ("_key", pa.string()), ("_value", pa.string()),
         ("event_date", pa.date32())]
    )  # fmt: skip
    write_deltalake(str(path), pa.Table.from_pylist(rows, schema), partition_by=["event_date"])
    return path


def test_the_lake_verifies_and_missing_streams_are_skipped(lake):
    """GIVEN the bronze alarm_audit table (no cases or security_audit table) WHEN verify --lake
    THEN exit 0: alarm.audit intact, the two others not found."""
    result = _verify("--lake")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "alarm.audit (lake): 5 records, 2 keys, chain intact",
        "cases (lake): not found, skipped",
        "security.audit (lake): not found, skipped",
    ]


def test_an_edited_bronze_column_is_named(lake):
    """GIVEN the `actor` column of PT-1's second row edited in the Delta table (the raw value left
    alone) WHEN verify --lake THEN exit 1 naming that row and column."""
    DeltaTable(str(lake)).update(
        predicate="_partition = 0 AND _offset = 1", updates={"actor": "'someone-else'"}
    )
    result = _verify("--lake", "--stream", "alarm.audit")
    assert result.exit_code == 1
    assert result.stderr == (
        "error: alarm.audit (lake): chain broken at bronze.alarm_audit row partition 0 offset 1 "
        "(key PT-1): column 'actor' differs from the chained record (edited)\n"
    )


def test_an_edited_raw_value_is_named(lake):
    """GIVEN the raw `_value` of PT-2's first row edited consistently with its columns WHEN
    verify --lake THEN exit 1 naming that row as edited."""
    table = DeltaTable(str(lake))
    row = table.to_pyarrow_table(filters=[("_partition", "=", 1), ("_offset", "=", 0)])
    value = json.loads(row.column("_value")[0].as_py()) | {"actor": "someone-else"}
    table.update(
        predicate="_partition = 1 AND _offset = 0",
        updates={"_value": f"'{json.dumps(value)}'", "actor": "'someone-else'"},
    )
    result = _verify("--lake", "--stream", "alarm.audit")
    assert result.exit_code == 1
    assert result.stderr == (
        "error: alarm.audit (lake): chain broken at bronze.alarm_audit row partition 1 offset 0 "
        "(key PT-2): content does not match its hash (edited)\n"
    )


def test_a_deleted_bronze_row_is_named_at_the_next_row_of_its_key(lake):
    """GIVEN PT-1's second row deleted from the Delta table WHEN verify --lake THEN exit 1 naming
    PT-1's third row (its prev_hash is the deleted row's hash)."""
    DeltaTable(str(lake)).delete("_partition = 0 AND _offset = 1")
    result = _verify("--lake", "--stream", "alarm.audit")
    assert result.exit_code == 1
    assert "chain broken at bronze.alarm_audit row partition 0 offset 2 (key PT-1): prev_hash" in (
        result.stderr
    )


def test_records_from_before_the_chain_are_accepted_only_when_asked(tmp_path):
    """GIVEN an export whose first two records predate chaining (schema v1, no chain fields),
    then the chained records WHEN verified THEN the first is a break; WHEN verified with
    --allow-unchained-head THEN exit 0, the two counted as not chained; GIVEN an unchained record
    after the chain began THEN it is named even so."""
    old = [{"audit_id": f"v1-{i}", "tag": "PT-1", "action": "comment"} for i in range(2)]
    export = _export(tmp_path, old + _audit_records())
    result = _verify("--stream", "alarm.audit", "--file", export)
    assert result.exit_code == 1
    assert "alarm_audit.jsonl line 1 (key PT-1): no chain fields" in result.stderr
    result = _verify("--stream", "alarm.audit", "--file", export, "--allow-unchained-head")
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "alarm.audit (alarm_audit.jsonl): 5 records, 2 keys, chain intact, "
        "2 earlier records not chained\n"
    )
    records = _audit_records()
    records.insert(1, old[0])
    export = _export(tmp_path, records)
    result = _verify("--stream", "alarm.audit", "--file", export, "--allow-unchained-head")
    assert result.exit_code == 1
    assert "chain broken at alarm_audit.jsonl line 2 (key PT-1): no chain fields" in result.stderr
