"""The demo's example questions on a tiny gold table (DuckDB, no dbt)."""

from __future__ import annotations

from pipelines.lake.demo_queries import QUERIES


def test_busiest_tags_rank_priority_by_severity_not_text() -> None:
    """GIVEN a tag whose episodes are critical and high (the text max is 'high'), one low + medium
    and one without priority WHEN the demo asks for the busiest tags THEN top_priority is
    critical, medium and null: ranked by priority_rank (critical > high > medium > low)."""
    import duckdb

    with duckdb.connect() as con:
        con.execute("create schema gold")
        con.execute(
            "create table gold.fct_alarm_episodes (episode_id varchar, tag varchar, "
            "priority varchar, priority_rank integer, active_duration_s double)"
        )
        con.executemany(
            "insert into gold.fct_alarm_episodes values (?, ?, ?, ?, ?)",
            [
                ("e1", "GD-RX01", "critical", 0, 10.0),
                ("e2", "GD-RX01", "high", 1, 20.0),
                ("e3", "GD-RX01", "high", 1, 30.0),
                ("e4", "LI-501", "low", 3, 5.0),
                ("e5", "LI-501", "medium", 2, None),
                ("e6", "GD-RX05", None, None, None),
            ],
        )
        cur = con.execute(QUERIES["busiest tags (alarm episodes)"])
        columns, rows = [d[0] for d in cur.description], cur.fetchall()
    assert columns == ["tag", "episodes", "top_priority", "avg_active_s"]
    assert rows == [("GD-RX01", 3, "critical", 20.0), ("LI-501", 2, "medium", 5.0),
                    ("GD-RX05", 1, None, None)]  # fmt: skip
