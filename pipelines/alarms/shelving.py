"""How long each alarm was shelved recently (搁置时长台账), for the API's shelving limit.

Rule (docs/security.md): the shelve durations requested for one alarm (tag + condition) within
the last 24 h, this one included, add up to at most `MAX_SHELVE_S_PER_DAY` (8 h); unshelving
early gives nothing back. The ledger is kept in the API's memory, filled on start from the
shelve actions of the last 24 h on `alarm.actions` (the topic every accepted shelve goes to), so
a restart does not reset it.
"""

from __future__ import annotations

from collections.abc import Iterable

from pipelines.security.roles import MAX_SHELVE_S_PER_DAY

DAY_MS = 24 * 3600 * 1000


class ShelveLedger:
    """Shelves requested per alarm key `tag|condition`: (time ms, duration s)."""

    def __init__(self, limit_s: float = MAX_SHELVE_S_PER_DAY) -> None:
        self.limit_s = limit_s
        self._shelves: dict[str, list[tuple[int, float]]] = {}

    @staticmethod
    def key(tag: str, condition: str) -> str:
        """Return the ledger key of one alarm."""
        return f"{tag}|{condition.upper()}"

    def used_s(self, key: str, now_ms: int) -> float:
        """Return the shelve seconds requested for `key` within the 24 h before now_ms."""
        return sum(d for t, d in self._shelves.get(key, ()) if now_ms - t < DAY_MS)

    def refusal(self, key: str, now_ms: int, duration_s: float) -> str | None:
        """Return why a shelve of duration_s would break the limit, or None when it fits."""
        used = self.used_s(key, now_ms)
        if used + duration_s > self.limit_s:
            return (
                f"shelving {key} for {duration_s:.0f} s exceeds {self.limit_s / 3600:.0f} h in"
                f" 24 h ({used:.0f} s already used)"
            )
        return None

    def add(self, key: str, now_ms: int, duration_s: float) -> None:
        """Record a shelve (and forget the key's shelves older than 24 h)."""
        kept = [(t, d) for t, d in self._shelves.get(key, ()) if now_ms - t < DAY_MS]
        self._shelves[key] = [*kept, (now_ms, duration_s)]

    def load(self, actions: Iterable[dict]) -> None:
        """Add the shelve actions among alarm_action records."""
        for a in actions:
            if a.get("action") == "shelve" and a.get("shelve_duration_s"):
                key = self.key(a["tag"], a["condition"])
                self._shelves.setdefault(key, []).append(
                    (int(a["action_time_ms"]), float(a["shelve_duration_s"]))
                )
