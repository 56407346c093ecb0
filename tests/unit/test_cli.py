"""The `hazchem` command line: help everywhere, one-line errors with a non-zero exit code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

HAZCHEM = [str(Path(sys.executable).parent / "hazchem")]
COMMANDS = [
    [], ["up"], ["down"], ["status"], ["simulate"], ["demo"], ["schemas", "docs"],
    ["schemas", "check"], ["jobs", "run"], ["jobs", "stop"], ["ingest", "serve"],
    ["alarms", "replay"], ["alarms", "ack"], ["alarms", "shelve"], ["alarms", "unshelve"],
    ["alarms", "close"], ["alarms", "comment"], ["alarms", "notify"], ["kpi", "alarms"],
    ["hazard", "grade"], ["airflow"], ["risk", "model"], ["risk", "replay"], ["cases", "list"],
    ["cases", "show"], ["cases", "ack"], ["cases", "handle"], ["cases", "verify"],
    ["cases", "close"],
]  # fmt: skip


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(HAZCHEM + list(args), capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "hazchem")
def test_every_command_has_help(command):
    """GIVEN any command WHEN called with --help THEN it exits 0 and shows its usage."""
    result = run(*command, "--help")
    assert result.returncode == 0
    assert "Usage:" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope"], "error: No such command 'nope'. (see 'hazchem --help')"),
        (
            ["alarms", "shelve", "PI-1", "H", "--actor", "op", "--duration", "5"],
            "error: Missing option '--reason'. (see 'hazchem alarms shelve --help')",
        ),
        (
            ["hazard", "grade", "/no/such/unit.json"],
            "error: cannot read /no/such/unit.json: No such file or directory",
        ),
        (["jobs", "run", "nosuchjob"], "error: unknown job 'nosuchjob' (known: alarms, risk)"),
        (["risk", "replay"], "error: give --day, or both --since and --until"),
        (
            ["risk", "replay", "--day", "28.11.2026"],
            "error: --day: not a date (YYYY-MM-DD): '28.11.2026'",
        ),
        (
            ["risk", "replay", "--since", "2026-11-28T00:00", "--until", "2026-11-29T00:00+08:00"],
            "error: --since: give a UTC offset, e.g. 2026-11-28T00:00+08:00",
        ),
    ],
)
def test_errors_are_one_line_with_non_zero_exit(args, message):
    """GIVEN bad usage or input WHEN run THEN stderr is exactly one error line, exit code 2."""
    result = run(*args)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [message]
