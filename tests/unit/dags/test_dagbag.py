"""Every DAG file imports cleanly through Airflow's DagBag and follows the conventions."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest

DAGS_DIR = Path(__file__).resolve().parents[3] / "dags"

# Before airflow is imported: no example DAGs, our DAGs folder (on sys.path for `common`), and a
# throw-away AIRFLOW_HOME unless one is configured already.
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(DAGS_DIR)
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="hazchem-airflow-"))
os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "True")
# The dag processor and task runner put the DAG bundle's folder on sys.path (BundleDagBag);
# a plain DagBag does not, so do it here for `from common import ...`.
if str(DAGS_DIR) not in sys.path:
    sys.path.append(str(DAGS_DIR))

DAG_FILES = sorted(p for p in DAGS_DIR.glob("*.py") if p.name != "common.py")


@pytest.fixture(scope="module")
def dagbag():
    """Parse the DAGs folder once (include_examples where this Airflow still accepts it)."""
    import inspect

    from airflow.dag_processing.dagbag import DagBag

    kwargs = {}
    if "include_examples" in inspect.signature(DagBag.__init__).parameters:
        kwargs["include_examples"] = False
    return DagBag(dag_folder=str(DAGS_DIR), **kwargs)


def test_dags_folder_has_dag_files():
    """GIVEN the repo WHEN listing dags/ THEN the three lakehouse DAG files are there."""
    assert {p.stem for p in DAG_FILES} >= {
        "curate_lakehouse_hourly",
        "maintain_lakehouse_daily",
        "publish_catalog_daily",
    }


def test_no_import_errors(dagbag):
    """GIVEN dags/ WHEN parsed by DagBag THEN no file has an import error."""
    assert dagbag.import_errors == {}


def test_one_dag_per_file_named_after_it(dagbag):
    """GIVEN every DAG file WHEN parsed THEN it defines one DAG whose id is its file name."""
    by_file: dict[str, list[str]] = {}
    for dag_id, dag in dagbag.dags.items():
        by_file.setdefault(Path(dag.fileloc).stem, []).append(dag_id)
    assert by_file == {p.stem: [p.stem] for p in DAG_FILES}


@pytest.mark.parametrize("dag_file", DAG_FILES, ids=lambda p: p.stem)
def test_dag_conventions(dagbag, dag_file):
    """GIVEN one DAG WHEN inspected THEN owner, retries >= 1 on every task, tags, doc_md, no cycle,
    catchup off and one active run at a time."""
    dag = dagbag.dags[dag_file.stem]
    dag.check_cycle()  # raises AirflowDagCycleException on a cycle
    assert dag.tags, "tags"
    assert dag.doc_md and dag.doc_md.startswith(f"# {dag.dag_id}")
    assert dag.catchup is False
    assert dag.max_active_runs == 1
    assert dag.default_args["owner"] == "hazchem-data"
    assert dag.tasks
    for task in dag.tasks:
        assert task.owner == "hazchem-data", task.task_id
        assert task.retries >= 1, task.task_id
        assert task.on_failure_callback, task.task_id


def test_curate_lakehouse_hourly_order(dagbag):
    """GIVEN curate_lakehouse_hourly WHEN reading its edges THEN bronze and reference feed the
    one gate-and-publish step (pipelines.lake.publish.curate, as `hazchem lake curate`)."""
    dag = dagbag.dags["curate_lakehouse_hourly"]
    upstream = {t.task_id: set(t.upstream_task_ids) for t in dag.tasks}
    assert upstream == {
        "bronze_available_now": set(),
        "write_reference_tables": set(),
        "gate_and_publish": {"bronze_available_now", "write_reference_tables"},
    }


def test_no_dag_swallows_an_import_error():
    """GIVEN every DAG file WHEN read as text THEN none catches ImportError: a task that cannot
    import what it needs fails instead of logging a line and passing."""
    offenders = [p.name for p in DAG_FILES if "except ImportError" in p.read_text()]
    assert offenders == []


def test_failure_callback_logs_one_line(caplog):
    """GIVEN a failed task context WHEN the shared callback runs THEN it logs exactly one line."""
    import importlib.util
    import logging

    spec = importlib.util.spec_from_file_location("hazchem_dags_common", DAGS_DIR / "common.py")
    common = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(common)

    class TI:
        dag_id, task_id, run_id = "d", "t", "r"

    with caplog.at_level(logging.ERROR, logger="hazchem.dags"):
        common.on_failure({"task_instance": TI(), "exception": ValueError("boom\nsecond line")})

    assert [r.getMessage() for r in caplog.records] == [
        "hazchem task failed: dag=d task=t run=r error=boom second line"
    ]


def test_curate_topics_param_refuses_anything_but_topic_names(dagbag):
    """GIVEN the curate DAG's `topics` param, which is rendered into a shell command WHEN given
    topic names THEN they pass; WHEN given shell syntax THEN validation refuses it."""
    from airflow.sdk.definitions.param import ParamValidationError

    param = dagbag.dags["curate_lakehouse_hourly"].params.get_param("topics")
    assert param.resolve("") == ""
    assert param.resolve("readings,alarm.audit") == "readings,alarm.audit"
    for bad in ("readings; rm -rf /", "$(id)", "readings,", "a b", "`x`"):
        with pytest.raises(ParamValidationError):
            param.resolve(bad)


def test_every_string_param_is_validated_by_a_pattern_or_an_enum(dagbag):
    """GIVEN every DAG's params WHEN their JSON schemas are read THEN each string param has a
    `pattern` or an `enum` (a free-form string could reach a command line)."""
    loose = [
        f"{dag_id}.{name}"
        for dag_id, dag in dagbag.dags.items()
        for name, param in dag.params.items()
        if param.schema.get("type") == "string"
        and "pattern" not in param.schema
        and "enum" not in param.schema
    ]

    assert loose == []


def test_catalog_out_param_refuses_shell_syntax_and_no_bash_task_renders_it(dagbag):
    """GIVEN publish_catalog_daily's `out` param WHEN given a .md path THEN it passes; WHEN given
    shell syntax or a parent-folder escape THEN validation refuses it; and no task of the DAG is
    a shell command."""
    from airflow.sdk.definitions.param import ParamValidationError

    dag = dagbag.dags["publish_catalog_daily"]
    param = dag.params.get_param("out")
    assert param.resolve("/tmp/catalog/schema_catalog.md") == "/tmp/catalog/schema_catalog.md"
    for bad in ("x.md; rm -rf /", "$(id).md", "`id`.md", "a b.md", "../../etc/x.md", "x.txt"):
        with pytest.raises(ParamValidationError):
            param.resolve(bad)
    assert [t.task_type for t in dag.tasks] == ["_PythonDecoratedOperator"] * 2
