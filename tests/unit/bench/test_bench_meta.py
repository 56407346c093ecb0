"""Every bench result says which machine, commit and settings made it."""

from __future__ import annotations

import json
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[3] / "bench"
sys.path.insert(0, str(BENCH))
import _meta  # noqa: E402  (bench/_meta.py, a script folder, not a package)

from pipelines.settings import Settings  # noqa: E402


def test_meta_names_machine_commit_date_and_settings() -> None:
    meta = _meta.bench_meta({"backlog": 1000}, {"watermark_ms": {"used": 200, "default": 20}})
    assert meta["machine"]["cores"] >= 1
    assert meta["machine"]["memory_bytes"] > 0
    assert meta["machine"]["cpu_model"]
    assert len(meta["git"]["commit"]) == 40 and isinstance(meta["git"]["dirty"], bool)
    assert meta["date_utc"].endswith("Z")
    assert meta["settings_used"] == {"backlog": 1000}
    assert meta["non_defaults"] == {"watermark_ms": {"used": 200, "default": 20}}
    assert meta["shipped_defaults"] is False
    json.dumps(meta)  # serialisable as it is


def test_settings_diff_names_what_differs_from_the_shipped_defaults(monkeypatch) -> None:
    for name in [k for k in __import__("os").environ if k.startswith("HAZCHEM_")]:
        monkeypatch.delenv(name)
    settings = Settings(trino={"heap": "4g", "port": 36080}, _env_file=None)
    # a port says where a service listens, not how fast it is: left out by default
    assert _meta.settings_diff(settings) == {"trino.heap": {"used": "4g", "default": "2g"}}
    assert "trino.port" in _meta.settings_diff(settings, ignore_addresses=False)


def test_write_result_creates_the_results_folder(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(_meta, "RESULTS_DIR", tmp_path / "fresh" / "results")
    path = _meta.write_result("demo", {"a": 1})
    assert json.loads(path.read_text()) == {"a": 1}
