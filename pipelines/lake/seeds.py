"""dbt seeds generated from Python definitions, so SQL reads the constants Python defines.

`write_kpi_seeds()` writes the seeds of `pipelines.alarms.kpi.seed_tables()` (ISA-18.2 windows,
flood, chattering, stale, top-N and alarm-rate bands) to `dbt_project/seeds/`; `hazchem kpi seeds`
runs it, `hazchem kpi seeds --check` only compares. tests/unit/lake/test_seeds.py keeps the
committed files equal to what the generator writes.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pipelines.settings import PROJECT_ROOT

SEEDS_DIR: Path = PROJECT_ROOT / "dbt_project" / "seeds"


def render_csv(rows: Sequence[Mapping[str, Any]]) -> str:
    """Return rows as seed CSV text: header from the first row, None as an empty field, LF ends."""
    if not rows:
        raise ValueError("a seed needs at least one row")
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def kpi_seed_texts() -> dict[str, str]:
    """Return file name -> CSV text of every seed generated from pipelines.alarms.kpi."""
    from pipelines.alarms.kpi import seed_tables

    return {f"{name}.csv": render_csv(rows) for name, rows in seed_tables().items()}


def write_kpi_seeds(seeds_dir: Path = SEEDS_DIR, check: bool = False) -> list[Path]:
    """Write the KPI seeds to `seeds_dir` (check=True: only compare); return those that differed."""
    differing = []
    for name, text in kpi_seed_texts().items():
        path = seeds_dir / name
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current != text:
            differing.append(path)
            if not check:
                path.write_text(text, encoding="utf-8")
    return differing
