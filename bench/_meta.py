"""What every bench result file says about how it was made: the machine, the git commit, the date
and the settings used (naming those that differ from the shipped defaults).

Used by every bench (`from _meta import bench_meta, write_result`; the bench folder is on
sys.path when a bench runs as `python bench/<name>.py`):

    result = {"meta": bench_meta({"backlog": 1_500_000}, {"watermark_ms": 200}), ...}
    write_result("alarms", result)          # bench/results/alarms.json, folder created

`settings_diff(settings)` lists the project settings (pipelines.settings) that differ from the
shipped defaults of their profile, e.g. a bench's `HAZCHEM_TRINO__HEAP=4g`.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = PROJECT_ROOT / "bench" / "results"


def _cpu_model() -> str | None:
    """The CPU model name from /proc/cpuinfo (None where there is none)."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def _memory_bytes() -> int | None:
    """Physical memory (MemTotal of /proc/meminfo, else sysconf)."""
    try:
        for line in Path("/proc/meminfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (OSError, ValueError, AttributeError):
        return None


def machine() -> dict[str, Any]:
    """Cores (os.cpu_count()), memory, CPU model, load when the bench started, OS and Python."""
    memory = _memory_bytes()
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = None
    return {
        "cores": os.cpu_count(),
        "memory_bytes": memory,
        "memory_gib": None if memory is None else round(memory / 2**30, 1),
        "cpu_model": _cpu_model(),
        "load_avg_1_5_15_at_start": load,
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def git_state() -> dict[str, Any]:
    """Commit checked out, and whether the tree had uncommitted changes (results files aside)."""
    status = _git("status", "--porcelain", "--", ".", ":!bench/results")
    return {
        "commit": _git("rev-parse", "HEAD"),
        "branch": _git("rev-parse", "--abbrev-ref", "HEAD"),
        "dirty": None if status is None else bool(status),
    }


def hazchem_environment() -> dict[str, str]:
    """HAZCHEM_* variables set in the environment (credentials and tokens masked)."""
    secret = ("TOKEN", "SECRET", "PASSWORD", "KEY")
    return {
        k: ("***" if any(s in k for s in secret) else v)
        for k, v in sorted(os.environ.items())
        if k.startswith("HAZCHEM_")
    }


_ADDRESS_KEYS = ("port", "host", "bootstrap_servers", "endpoint")


def settings_diff(settings: Any, ignore_addresses: bool = True) -> dict[str, dict[str, Any]]:
    """Settings (dotted names) whose value differs from the shipped default of the same profile:
    {"trino.heap": {"used": "4g", "default": "2g"}}. Ports, hosts and endpoints (where a service
    listens, not how fast it is) are left out unless ignore_addresses is False; the environment
    that set them is in bench_meta's `hazchem_environment`."""
    from pipelines.settings import Settings

    class _Shipped(Settings):
        @classmethod
        def settings_customise_sources(cls, settings_cls, init_settings, *_: Any, **__: Any):  # type: ignore[no-untyped-def, override]
            return (init_settings,)  # no environment, no .env: the code's defaults

    shipped = _Shipped(profile=settings.profile).model_dump(mode="json")
    used = settings.model_dump(mode="json")
    out: dict[str, dict[str, Any]] = {}

    def walk(a: Any, b: Any, prefix: str) -> None:
        if isinstance(a, dict) and isinstance(b, dict):
            for key in sorted(set(a) | set(b)):
                walk(a.get(key), b.get(key), f"{prefix}.{key}" if prefix else key)
        elif a != b:
            last = prefix.rsplit(".", 1)[-1]
            if ignore_addresses and (last in _ADDRESS_KEYS or last.endswith("_port")):
                return
            masked = any(s in prefix.lower() for s in ("token", "secret", "password", "key"))
            out[prefix] = {"used": "***" if masked else a, "default": "***" if masked else b}

    walk(used, shipped, "")
    return out


def bench_meta(settings_used: dict[str, Any], non_defaults: dict[str, Any]) -> dict[str, Any]:
    """The `meta` block of a bench result: date, machine, git commit and the settings used.

    settings_used: every knob that shapes the run (sizes, rates, engine settings), by name.
    non_defaults: those of them that differ from what a user gets by default, each with why or
    with its default (an empty dict says the run used the shipped defaults throughout).
    """
    return {
        "date_utc": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": machine(),
        "git": git_state(),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "settings_used": settings_used,
        "non_defaults": non_defaults,
        "shipped_defaults": not non_defaults,
        "hazchem_environment": hazchem_environment(),
    }


def write_result(name: str, result: dict[str, Any]) -> Path:
    """Write bench/results/<name>.json (creating the folder); return its path."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path
