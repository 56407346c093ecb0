"""The three example questions the demo answers from the gold tables (DuckDB and Trino alike)."""

from __future__ import annotations

from pathlib import Path

QUERIES: dict[str, str] = {
    "alarm KPIs per area (ISA-18.2, per plant day)": """
        select area_code, report_date, annunciated, max_per_10min, flood_windows, flood_pct,
               alarm_rate_band
        from gold.fct_alarm_kpis_daily
        order by annunciated desc, area_code
        limit 8""",
    # top_priority: the most severe priority of the tag's episodes by priority_rank (0 critical,
    # 3 low; the alarm_priorities seed), never the alphabetical max of the text
    "busiest tags (alarm episodes)": """
        with per_tag as (
            select tag, count(*) as episodes, min(priority_rank) as top_priority_rank,
                   round(avg(active_duration_s), 1) as avg_active_s
            from gold.fct_alarm_episodes
            group by tag
        ),
        ranks as (
            select distinct priority, priority_rank
            from gold.fct_alarm_episodes
            where priority_rank is not null
        )
        select per_tag.tag, per_tag.episodes, ranks.priority as top_priority,
               per_tag.avg_active_s
        from per_tag
        left join ranks on per_tag.top_priority_rank = ranks.priority_rank
        order by per_tag.episodes desc, per_tag.tag
        limit 5""",
    "dead-letter reasons per source": """
        select source_topic, reason_code, sum(dead_letter_count) as dead_letters
        from gold.fct_dead_letters_daily
        group by source_topic, reason_code
        order by dead_letters desc, source_topic, reason_code
        limit 10""",
}


def run_duckdb(duckdb_path: Path) -> dict[str, tuple[list[str], list[tuple]]]:
    """Return (columns, rows) of every example query on the embedded DuckDB gold tables."""
    import duckdb

    out: dict[str, tuple[list[str], list[tuple]]] = {}
    with duckdb.connect(str(duckdb_path), read_only=True) as con:
        for title, sql in QUERIES.items():
            cur = con.execute(sql)
            out[title] = ([d[0] for d in cur.description], cur.fetchall())
    return out


def format_table(columns: list[str], rows: list[tuple]) -> list[str]:
    """Return a small fixed-width text table."""
    cells = [[str(c) for c in columns]] + [["" if v is None else str(v) for v in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    lines = ["   " + "  ".join(c.ljust(w) for c, w in zip(cells[0], widths, strict=True))]
    lines += [
        "   " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells[1:]
    ]
    return lines
