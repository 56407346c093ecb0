"""Real `curate_lakehouse_hourly` runs (Airflow's in-process `dag.test()`) on a tmp lake: a good
batch is published, a bad one fails the run and leaves that gold in place, then a good one
publishes again.

Kafka is the real broker of the `kafka` fixture; the readings go to a fresh topic declared in a
tmp topics file, so bronze ingests only that topic. The bronze tables dbt reads are created empty
first, and `bronze/readings` is a symlink to the fresh topic's table, so the gold marts are built
from exactly what this run ingested. Airflow runs in a subprocess with its own AIRFLOW_HOME and
SQLite database, so its configuration never mixes with other tests'.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from pipelines.settings import PROJECT_ROOT

pytestmark = pytest.mark.integration

DAGS_DIR = PROJECT_ROOT / "dags"
MINUTE_MS = 60_000

RUNNER = """
import importlib.util, json, sys
from airflow.utils.db import initdb

initdb()
sys.path.insert(0, {dags!r})
spec = importlib.util.spec_from_file_location("curate_lakehouse_hourly", {dag_file!r})
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
for task in module.dag.tasks:
    task.retries = 0  # dag.test() would wait retry_delay (5 min) before each retry
run = module.dag.test(run_conf={conf!r})
states = {{ti.task_id: str(ti.state) for ti in run.get_task_instances()}}
print("RESULT " + json.dumps({{"state": str(run.state), "run_id": run.run_id, "tasks": states}}))
"""


def _readings(now_ms: int) -> list[dict]:
    """Return 3 readings per minute over 3 past minutes for the first 4 tags of the plant."""
    from pipelines.plant import load_plant

    plant = load_plant()
    start = (now_ms // MINUTE_MS - 4) * MINUTE_MS
    records = []
    for tag in list(plant.tags.values())[:4]:
        for i in range(9):
            records.append(
                {
                    "enterprise_code": plant.enterprise_code,
                    "hazard_source_code": tag.hazard_source_code,
                    "unit_code": tag.unit_code,
                    "tag": tag.tag,
                    "metric_code": tag.metric_code,
                    "value": float(tag.normal if tag.normal is not None else 1.0) + i * 0.01,
                    "unit": tag.unit,
                    "quality": "good",
                    "event_time_ms": start + i * 20_000,
                }
            )
    return records


def _lel_readings(now_ms: int, values: list[float]) -> list[dict]:
    """Return one combustible-gas (%LEL) reading per value, 10 s apart, in the last minute."""
    from pipelines.plant import load_plant

    plant = load_plant()
    tag = next(t for t in plant.tags.values() if t.unit == "%LEL")
    start = (now_ms // MINUTE_MS - 1) * MINUTE_MS
    return [
        {
            "enterprise_code": plant.enterprise_code,
            "hazard_source_code": tag.hazard_source_code,
            "unit_code": tag.unit_code,
            "tag": tag.tag,
            "metric_code": tag.metric_code,
            "value": value,
            "unit": tag.unit,
            "quality": "good",
            "event_time_ms": start + i * 10_000,
        }
        for i, value in enumerate(values)
    ]


class _Curation:
    """A tmp lake fed from a fresh readings topic, and `dag.test()` runs of the curate DAG."""

    def __init__(self, kafka, topic, tmp_path) -> None:  # noqa: ANN001
        from pipelines.ingest import IngestProducer, RecordValidator
        from tests.integration.dbt_lake import BronzeLake

        self.topic, self.tmp_path = topic, tmp_path
        self.producer = IngestProducer(
            kafka,
            "test",
            validator=RecordValidator(kafka.ingest, topics=[topic]),
            ledger_dir=tmp_path,
        )
        self.lake = tmp_path / "lake"
        BronzeLake(self.lake).create_all()  # every bronze table dbt reads, empty
        self.table = topic.name.replace(".", "_")
        for name in ("readings", "readings_dlq"):
            target = self.lake / "bronze" / name
            subprocess.run(["rm", "-rf", str(target)], check=True)
            target.symlink_to(self.lake / "bronze" / name.replace("readings", self.table, 1))
        topics_file = tmp_path / "topics.yaml"
        topics_file.write_text(
            f"topics:\n  - name: {topic.name}\n    schema: telemetry/sensor_reading\n"
            "    key: [tag]\n    partitions: 4\n"
        )
        airflow_home = tmp_path / "airflow"
        self.env = os.environ | {
            "HAZCHEM_LAKE__ROOT": str(self.lake),
            "HAZCHEM_LAKE__CHECKPOINT_ROOT": str(tmp_path / "checkpoints"),
            "HAZCHEM_LAKE__DUCKDB_PATH": str(self.lake / "hazchem.duckdb"),
            "HAZCHEM_CACHE_DIR": str(tmp_path / "cache"),
            "HAZCHEM_KAFKA__TOPICS_FILE": str(topics_file),
            "AIRFLOW_HOME": str(airflow_home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_DIR),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{airflow_home / 'airflow.db'}",
            "PYTHONPATH": os.pathsep.join(
                p for p in (os.environ.get("PYTHONPATH"), str(PROJECT_ROOT)) if p
            ),
        }

    def land(self, records: list[dict]) -> None:
        """Send records through validated ingest; every one must be accepted."""
        before = self.producer.counts.accepted[self.topic.name]
        for record in records:
            self.producer.submit(self.topic.name, record=record)
        self.producer.flush()
        assert self.producer.counts.accepted[self.topic.name] - before == len(records)

    def run(self) -> tuple[dict, str]:
        """Run the DAG once; return its outcome (state, run id, task states) and its output."""
        conf = {"topics": f"{self.topic.name},{self.topic.dlq}"}
        script = RUNNER.format(
            dags=str(DAGS_DIR), dag_file=str(DAGS_DIR / "curate_lakehouse_hourly.py"), conf=conf
        )
        runner = self.tmp_path / "run_dag.py"  # a file, not `-c`: pyspark.sql.connect exits on
        runner.write_text(script)  # a __main__ without __file__ (it takes it for a doctest run)
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, str(runner)],
            cwd=PROJECT_ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        print(f"dag run took {time.monotonic() - started:.0f}s")
        output = result.stdout + result.stderr
        if "needs a discriminator field" in output:
            pytest.fail(
                "Airflow 3.2.2's execution API cannot start with fastapi 0.165 / cadwyn 9 "
                "(see docs/airflow.md, 'Known problems'): pin fastapi 0.136.3, cadwyn 7.0.0, "
                "starlette 1.5.0, svcs 26.1.0"
            )
        lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
        assert lines, f"exit {result.returncode}\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
        return json.loads(lines[-1][len("RESULT ") :]), output

    def gold(self) -> dict:
        """Read what readers of the published gold see (a read-only connection)."""
        import duckdb

        from pipelines.lake.publish import build_schema_pattern

        with duckdb.connect(str(self.lake / "hazchem.duckdb"), read_only=True) as con:
            objects = con.execute(
                "select table_name, table_type from information_schema.tables "
                "where table_schema = 'gold' order by 1"
            ).fetchall()
            shown = {
                build
                for (sql,) in con.execute(
                    "select sql from duckdb_views() where schema_name = 'gold'"
                ).fetchall()
                for build in build_schema_pattern("gold").findall(sql)
            }
            minutes = con.execute(
                "select tag, minute_start_ms, reading_count, value_max"
                " from gold.fct_readings_1min order by tag, minute_start_ms"
            ).fetchall()
        return {"objects": dict(objects), "builds": shown, "minutes": minutes}


def test_bad_batch_fails_the_run_and_keeps_the_last_good_gold(kafka, fresh_topics, tmp_path):
    """GIVEN 36 readings of 4 plant tags, curated and published by a first run
    WHEN a batch with one combustible-gas reading at 150 %LEL lands and the DAG runs again
    THEN that run fails in gate_and_publish (no retry), naming bronze.readings and
    lel_pct_range; the reading is quarantined; readers still see the first run's gold, row for
    row; WHEN a good batch lands and the DAG runs a third time THEN it publishes the good
    readings of both batches and never the quarantined one."""
    from deltalake import DeltaTable

    topic = fresh_topics("readings")["readings"]
    lake = _Curation(kafka, topic, tmp_path)
    now_ms = int(time.time() * 1000)
    readings = _readings(now_ms)
    lake.land(readings)

    first, output = lake.run()

    errors = [line for line in output.splitlines() if "Error" in line or "failed" in line]
    assert first["state"] == "success", "\n".join([json.dumps(first), *errors[-20:]])
    assert set(first["tasks"].values()) == {"success"}, first
    bronze = DeltaTable(str(lake.lake / "bronze" / lake.table)).to_pyarrow_table()
    assert bronze.num_rows == len(readings)
    assert set(bronze.column("_topic").to_pylist()) == {topic.name}
    good = lake.gold()
    assert {"fct_readings_1min", "fct_readings_1h", "dim_tags", "mart_due_dates"} <= set(
        good["objects"]
    )
    assert set(good["objects"].values()) == {"VIEW"}  # views over the build that passed
    assert len(good["builds"]) == 1
    assert len(good["minutes"]) == 4 * 3  # 4 tags x 3 minutes
    assert sum(m[2] for m in good["minutes"]) == len(readings)  # every reading counted
    marker = json.loads((lake.lake / "_published").read_text())
    assert marker["run_id"] == first["run_id"]
    assert marker["counts"]["bronze"][lake.table] == len(readings)
    assert marker["counts"]["gold"]["fct_readings_1min"] == 12

    bad_batch = _lel_readings(now_ms, [10.0, 150.0, 12.0])
    lake.land(bad_batch)

    second, output = lake.run()

    assert second["state"] == "failed", second
    assert second["tasks"] == {
        "bronze_available_now": "success",
        "write_reference_tables": "success",
        "gate_and_publish": "failed",
    }
    assert (
        "bronze gate failed, gold not published: bronze.readings: lel_pct_range"
        " (1 rows quarantined in quarantine/readings)"
    ) in output
    assert lake.gold() == good  # same build, same rows: the last good gold is still what is read
    quarantined = DeltaTable(str(lake.lake / "quarantine" / "readings")).to_pyarrow_table()
    assert quarantined.column("value").to_pylist() == [150.0]
    assert json.loads((lake.lake / "_published").read_text())["run_id"] == first["run_id"]

    good_batch = _lel_readings(int(time.time() * 1000), [11.0])  # a later minute: runs take >1 min
    lake.land(good_batch)

    third, output = lake.run()

    errors = [line for line in output.splitlines() if "Error" in line or "failed" in line]
    assert third["state"] == "success", "\n".join([json.dumps(third), *errors[-20:]])
    after = lake.gold()
    assert len(after["builds"]) == 1 and after["builds"] != good["builds"]
    lel_tag = bad_batch[0]["tag"]
    new_minutes = [m for m in after["minutes"] if m[0] == lel_tag]
    assert [(m[2], m[3]) for m in new_minutes] == [(2, 12.0), (1, 11.0)]  # 150 %LEL never shown
    assert [m for m in after["minutes"] if m[0] != lel_tag] == good["minutes"]
    assert json.loads((lake.lake / "_published").read_text())["run_id"] == third["run_id"]
