"""`hazard grade` CLI: JSON on stdout, one-line errors on stderr with exit code 2."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from pipelines.hazard.cli import app

FIXTURES = Path(__file__).parent / "fixtures"
runner = CliRunner()

WORKED_EXAMPLE = {
    "unit_id": "TF-CL-01",
    "s": 8.6,
    "is_major_hazard": True,
    "r": 48.9,
    "level": 3,
    "level_zh": "三级",
    "alpha": 1.5,
    "substances": [
        {
            "name": "液氯",
            "matched_as": "table1:#12 氯",
            "critical_quantity_t": 5.0,
            "beta": 4.0,
            "beta_source": "table3:氯",
            "q_design_over_q": 8.0,
            "q_actual_over_q": 8.0,
        },
        {
            "name": "甲醇",
            "matched_as": "table1:#65 甲醇",
            "critical_quantity_t": 500.0,
            "beta": 1.0,
            "beta_source": "table2:W5.3",
            "q_design_over_q": 0.6,
            "q_actual_over_q": 0.6,
        },
    ],
}


def test_grade_prints_the_result_json_on_stdout() -> None:
    """GIVEN the worked-example tank farm file WHEN graded THEN exit 0 and the result JSON."""
    result = runner.invoke(app, ["grade", str(FIXTURES / "worked_example_tank_farm.json")])

    assert result.exit_code == 0
    assert result.stderr == ""
    assert json.loads(result.stdout) == WORKED_EXAMPLE
    assert '"level_zh": "三级"' in result.stdout  # ensure_ascii=False
    assert '\n  "unit_id"' in result.stdout  # indent 2


def test_grade_reads_stdin_when_given_a_dash() -> None:
    """GIVEN the unit JSON on stdin and '-' WHEN graded THEN the same result."""
    text = (FIXTURES / "worked_example_tank_farm.json").read_text(encoding="utf-8")

    result = runner.invoke(app, ["grade", "-"], input=text)

    assert result.exit_code == 0
    assert json.loads(result.stdout) == WORKED_EXAMPLE


def test_bad_unit_is_one_line_on_stderr_with_exit_code_2() -> None:
    """GIVEN a unit with unit_type 'tank' WHEN graded THEN exit 2 and one `error:` line."""
    result = runner.invoke(app, ["grade", str(FIXTURES / "bad_unit_type.json")])

    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == ('error: unit_type must be "production" or "storage", got \'tank\'\n')


def test_missing_file_is_one_line_on_stderr(tmp_path: Path) -> None:
    """GIVEN a path that does not exist WHEN graded THEN exit 2 and one `error:` line."""
    missing = tmp_path / "nope.json"

    result = runner.invoke(app, ["grade", str(missing)])

    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == f"error: cannot read {missing}: No such file or directory\n"


def test_invalid_json_is_one_line_on_stderr(tmp_path: Path) -> None:
    """GIVEN a file that is not JSON WHEN graded THEN exit 2 and one `error:` line."""
    broken = tmp_path / "broken.json"
    broken.write_text('{"unit_id": ', encoding="utf-8")

    result = runner.invoke(app, ["grade", str(broken)])

    assert result.exit_code == 2
    assert result.stderr == (
        f"error: invalid JSON in {broken}: Expecting value at line 1 column 13\n"
    )


def test_help_lists_the_grade_command() -> None:
    """GIVEN --help WHEN invoked THEN the grade command is listed."""
    result = runner.invoke(app, ["--help"])

    assert result.exit_code == 0
    assert "grade" in result.stdout
