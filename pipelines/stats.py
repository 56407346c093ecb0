"""Small statistics shared by the demo summary and the benchmarks."""

from __future__ import annotations


def percentile(values: list[float], q: float) -> float | None:
    """Return the nearest-rank q-th percentile (0-100) of values, None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]
