"""The shelving limit: at most 8 h of shelving per alarm in any 24 h."""

from __future__ import annotations

from pipelines.alarms.shelving import ShelveLedger

H = 3600
H_MS = 3600 * 1000


def test_an_alarm_is_shelved_at_most_8_h_in_24_h():
    """GIVEN an alarm shelved 5 h at 00:00 WHEN 3 h more are asked at 06:00 THEN allowed;
    WHEN 1 s more at 10:00 THEN refused with the seconds used; WHEN 4 h at 24:30 (the first
    shelve out of the window) THEN allowed. Another alarm is not affected."""
    ledger = ShelveLedger()
    key = ShelveLedger.key("PT-1", "hh")
    assert key == "PT-1|HH"
    ledger.add(key, 0, 5 * H)
    assert ledger.refusal(key, 6 * H_MS, 3 * H) is None
    ledger.add(key, 6 * H_MS, 3 * H)
    assert ledger.refusal(key, 10 * H_MS, 1) == (
        "shelving PT-1|HH for 1 s exceeds 8 h in 24 h (28800 s already used)"
    )
    assert ledger.refusal(key, 24 * H_MS + 30 * 60_000, 4 * H) is None
    assert ledger.refusal("PT-2|HH", 10 * H_MS, 8 * H) is None


def test_the_ledger_is_rebuilt_from_shelve_actions():
    """GIVEN alarm_action records (a shelve of 8 h, an acknowledge) WHEN loaded THEN the
    shelve counts and a further shelve within 24 h is refused."""
    ledger = ShelveLedger()
    ledger.load([
        {"action": "shelve", "tag": "PT-1", "condition": "H", "shelve_duration_s": 8 * H,
         "action_time_ms": 1000},
        {"action": "acknowledge", "tag": "PT-1", "condition": "H", "action_time_ms": 2000},
    ])  # fmt: skip
    assert ledger.used_s("PT-1|H", 3000) == 8 * H
    assert ledger.refusal("PT-1|H", 3000, 60) is not None
