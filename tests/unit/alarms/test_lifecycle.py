"""Rules of the per-tag alarm lifecycle (ISA-18.2); every expected output is derived by hand."""

from __future__ import annotations

import pickle
from typing import Any

import pytest

from pipelines.alarms.engine import Transition
from pipelines.alarms.lifecycle import (
    ConditionState,
    LifecycleOutput,
    LifecyclePolicy,
    TagLifecycle,
    notification_message,
)

S = 1000  # ms per second
T0 = 1_714_521_600_000  # 2024-05-01T08:00:00+08:00
TAG = "PT-101"
EP_H = f"{TAG}:H:{T0}"  # episode of the H raise at T0
MAX_SHELVE_MSG = "shelve_duration_s must be > 0 and <= 28800 (max_shelve_s), got "


def tr(
    cond: str,
    event: str,
    ts: int,
    value: float | None = 2.1,
    limit: float | None = 2.0,
    priority: str | None = "medium",
    raised_ts: int | None = None,
) -> Transition:
    """Return a transition of PT-101; a clear names its raise time in `raised_ts`."""
    return Transition(TAG, cond, event, ts, value, limit, priority, "process", raised_ts)


def raise_h(ts: int = T0) -> Transition:
    """Return the H raise of PT-101 at `ts` (value 2.1, limit 2.0, medium)."""
    return tr("H", "raised", ts)


def clear_h(ts: int, raised: int = T0) -> Transition:
    """Return the H clear at `ts` of the episode raised at `raised` (value 1.9)."""
    return tr("H", "cleared", ts, value=1.9, raised_ts=raised)


def act(action: str, ts: int, condition: str = "H", **fields: Any) -> dict[str, Any]:
    """Return an alarm_action.v1 record on PT-101 by operator op1."""
    return {
        "action_id": f"{action}-{ts}",
        "enterprise_code": "E001",
        "tag": TAG,
        "condition": condition,
        "action": action,
        "actor": "op1",
        "action_time_ms": ts,
        **fields,
    }


def alarm(
    t: Transition, annunciated: bool, suppressed_by: str | None, state_after: str
) -> LifecycleOutput:
    """Return the expected enriched alarm output of `t`."""
    return LifecycleOutput(
        "alarm",
        {
            "tag": t.tag,
            "condition": t.condition,
            "event": t.event,
            "ts_ms": t.ts_ms,
            "value": t.value,
            "limit": t.limit,
            "priority": t.priority,
            "alarm_class": t.alarm_class,
            "episode_id": t.episode_id,
            "event_id": t.event_id,
            "annunciated": annunciated,
            "suppressed_by": suppressed_by,
            "state_after": state_after,
        },
    )


def audit(
    a: dict[str, Any],
    result: str,
    detail: str,
    state_before: str,
    state_after: str,
    episode_id: str | None,
) -> LifecycleOutput:
    """Return the expected audit output of action `a`."""
    return LifecycleOutput(
        "action" if result == "applied" else "rejected_action",
        {
            "audit_id": a["action_id"],
            "tag": TAG,
            "condition": a["condition"],
            "episode_id": episode_id,
            "action": a["action"],
            "actor": "op1",
            "reason": a.get("reason"),
            "comment": a.get("comment"),
            "cause": a.get("cause"),
            "measures": a.get("measures"),
            "result": result,
            "detail": detail,
            "state_before": state_before,
            "state_after": state_after,
            "action_time_ms": a["action_time_ms"],
        },
    )


def rejected(a: dict[str, Any], detail: str, state: str, episode_id: str | None) -> LifecycleOutput:
    """Return the expected rejection of `a`, state unchanged."""
    return audit(a, "rejected", detail, state, state, episode_id)


def auto_unshelve(
    cond: str, until: int, episode_id: str | None, state: str, reannunciate: bool
) -> LifecycleOutput:
    """Return the expected auto-unshelve output of `cond` whose shelve ends at `until`."""
    return LifecycleOutput(
        "auto_unshelve",
        {
            "audit_id": f"{TAG}:{cond}:auto_unshelve:{until}",
            "tag": TAG,
            "condition": cond,
            "episode_id": episode_id,
            "action": "unshelve",
            "actor": "system",
            "reason": "shelve expired",
            "comment": None,
            "cause": None,
            "measures": None,
            "result": "applied",
            "detail": f"shelve expired at {until}",
            "state_before": state,
            "state_after": state,
            "action_time_ms": until,
            "reannunciate": reannunciate,
        },
    )


def shelve(ts: int, seconds: float, condition: str = "H") -> dict[str, Any]:
    """Return a shelve action with a reason."""
    return act("shelve", ts, condition, reason="nuisance", shelve_duration_s=seconds)


def state_of(lc: TagLifecycle, cond: str = "H") -> str:
    """Return the state of one condition from current()."""
    return next(r["state"] for r in lc.current() if r["condition"] == cond)


# -- raises and clears ---------------------------------------------------------------------------


def test_raise_is_annunciated_and_enriched() -> None:
    """GIVEN a fresh lifecycle WHEN H (medium) is raised THEN one annunciated alarm record, AU."""
    lc = TagLifecycle(TAG)
    assert lc.on_transition(raise_h()) == [
        LifecycleOutput(
            "alarm",
            {
                "tag": "PT-101",
                "condition": "H",
                "event": "raised",
                "ts_ms": T0,
                "value": 2.1,
                "limit": 2.0,
                "priority": "medium",
                "alarm_class": "process",
                "episode_id": f"PT-101:H:{T0}",
                "event_id": f"PT-101:H:{T0}:raised",
                "annunciated": True,
                "suppressed_by": None,
                "state_after": "active_unacknowledged",
            },
        )
    ]


def test_hh_raise_emits_notification() -> None:
    """GIVEN unit MPa WHEN HH is raised at 2.35 over 2.2 THEN alarm, then bilingual notification."""
    lc = TagLifecycle(TAG, unit="MPa")
    t = tr("HH", "raised", T0, value=2.35, limit=2.2, priority="high")
    assert lc.on_transition(t) == [
        alarm(t, True, None, "active_unacknowledged"),
        LifecycleOutput(
            "notification",
            {
                "notification_id": f"PT-101:HH:{T0}:notification",
                "tag": "PT-101",
                "condition": "HH",
                "priority": "high",
                "value": 2.35,
                "limit": 2.2,
                "event_time_ms": T0,
                "episode_id": f"PT-101:HH:{T0}",
                "message": "高高报 HH PT-101 = 2.35 MPa (limit 2.2)",
            },
        ),
    ]


def test_ll_raise_emits_notification() -> None:
    """GIVEN no unit WHEN LL (high) is raised at 0.5 under 1.0 THEN a notification follows."""
    lc = TagLifecycle(TAG)
    out = lc.on_transition(tr("LL", "raised", T0, value=0.5, limit=1.0, priority="high"))
    assert [o.kind for o in out] == ["alarm", "notification"]
    assert out[1].record["message"] == "低低报 LL PT-101 = 0.5 (limit 1)"


def test_critical_priority_raise_of_any_condition_emits_notification() -> None:
    """GIVEN a critical H raise WHEN annunciated THEN it is notified even though it is not HH/LL."""
    lc = TagLifecycle(TAG, unit="%LEL")
    out = lc.on_transition(tr("H", "raised", T0, value=30.0, limit=25.0, priority="critical"))
    assert [o.kind for o in out] == ["alarm", "notification"]
    assert out[1].record["notification_id"] == f"{EP_H}:notification"
    assert out[1].record["message"] == "高报 H PT-101 = 30 %LEL (limit 25)"


def test_high_priority_h_raise_is_not_notified() -> None:
    """GIVEN an H raise of priority high WHEN annunciated THEN no notification (not critical)."""
    lc = TagLifecycle(TAG)
    out = lc.on_transition(tr("H", "raised", T0, priority="high"))
    assert [o.kind for o in out] == ["alarm"]


def test_notification_message_without_value_or_limit() -> None:
    """GIVEN STALE (no value, no limit) THEN the message names only the condition and tag."""
    assert notification_message(TAG, "STALE", None, None, "MPa") == "数据停更 STALE PT-101"


def test_clear_of_unacknowledged_alarm_returns_unacknowledged() -> None:
    """GIVEN H active_unacknowledged WHEN it clears THEN returned_unacknowledged, annunciated."""
    lc = TagLifecycle(TAG)
    lc.on_transition(raise_h())
    c = clear_h(T0 + 60 * S)
    assert lc.on_transition(c) == [alarm(c, True, None, "returned_unacknowledged")]
    assert c.episode_id == EP_H


def test_clear_of_acknowledged_alarm_returns_to_normal() -> None:
    """GIVEN H acknowledged WHEN it clears THEN normal."""
    lc = TagLifecycle(TAG)
    lc.on_transition(raise_h())
    lc.on_action(act("acknowledge", T0 + 10 * S))
    c = clear_h(T0 + 60 * S)
    assert lc.on_transition(c) == [alarm(c, True, None, "normal")]


def test_duplicate_raise_and_orphan_clear_are_ignored_and_counted() -> None:
    """GIVEN H active WHEN the same raise repeats, or a clear of another episode comes THEN []."""
    lc = TagLifecycle(TAG)
    lc.on_transition(raise_h())
    assert lc.on_transition(raise_h()) == []
    assert lc.on_transition(clear_h(T0 + 5 * S, raised=T0 - 99 * S)) == []
    assert lc.on_transition(tr("L", "cleared", T0 + 6 * S, raised_ts=T0)) == []
    assert lc.ignored_transitions == 3
    assert state_of(lc) == "active_unacknowledged"


def test_new_raise_starts_a_new_episode_and_resets_ack_and_close() -> None:
    """GIVEN a closed, acknowledged H episode WHEN H is raised again THEN fresh episode state."""
    lc = TagLifecycle(TAG)
    lc.on_transition(raise_h())
    lc.on_action(act("acknowledge", T0 + 1 * S))
    lc.on_transition(clear_h(T0 + 2 * S))
    lc.on_action(act("close", T0 + 3 * S, cause="valve", measures="fixed"))
    lc.on_transition(raise_h(T0 + 10 * S))
    (rec,) = lc.current()
    assert rec["episode_id"] == f"{TAG}:H:{T0 + 10 * S}"
    assert (rec["state"], rec["acked_by"], rec["acked_at_ms"], rec["closed"]) == (
        "active_unacknowledged",
        None,
        None,
        False,
    )


def test_transition_of_another_tag_is_a_value_error() -> None:
    """GIVEN the lifecycle of PT-101 WHEN a TI-1 transition is fed THEN ValueError."""
    lc = TagLifecycle(TAG)
    with pytest.raises(ValueError, match="transition of tag TI-1 fed to the lifecycle of PT-101"):
        lc.on_transition(Transition("TI-1", "H", "raised", T0, 1.0, 0.5, "low", "process"))


def test_unknown_transition_event_is_a_value_error() -> None:
    """GIVEN a transition whose event is 'flapped' WHEN fed THEN ValueError, nothing recorded."""
    lc = TagLifecycle(TAG)
    with pytest.raises(ValueError, match="unknown transition event 'flapped'"):
        lc.on_transition(tr("H", "flapped", T0))
    assert lc.current() == []
    assert lc.next_timer_ms() is None


# -- acknowledge ---------------------------------------------------------------------------------


def test_acknowledge_active_unacknowledged_full_audit_record() -> None:
    """GIVEN H active_unacknowledged WHEN op1 acknowledges THEN active_acknowledged, audited."""
    lc = TagLifecycle(TAG)
    lc.on_transition(raise_h())
    a = act("acknowledge", T0 + 30 * S, episode_id=EP_H, comment="seen")
    assert lc.on_action(a) == [
        LifecycleOutput(
            "action",
            {
                "audit_id": f"acknowledge-{T0 + 30 * S}",
                "tag": "PT-101",
                "condition": "H",
                "episode_id": EP_H,
                "action": "acknowledge",
                "actor": "op1",
                "reason": None,
                "comment": "seen",
                "cause": None,
                "measures": None,
                "result": "applied",
                "detail": "acknowledged",
                "state_before": "active_unacknowledged",
                "state_after": "active_acknowledged",
                "action_time_ms": T0 + 30 * S,
            },
        )
    ]
    (rec,) = lc.current()
    assert (rec["acked_by"], rec["acked_at_ms"]) == ("op1", T0 + 30 * S)


def test_acknowledge_returned_unacknowledged_goes_to_normal() -> None:
    """GIVEN H returned_unacknowledged WHEN acknowledged (no episode named) THEN normal."""
    lc = TagLifecycle(TAG)
    lc.on_transition(raise_h())
    lc.on_transition(clear_h(T0 + 60 * S))
    a = act("acknowledge", T0 + 90 * S)
    assert lc.on_action(a) == [
        audit(a, "applied", "acknowledged", "returned_unacknowledged", "normal", EP_H)
    ]


@pytest.mark.parametrize("acked_then_cleared", [False, True])
def test_acknowledge_in_acknowledged_or_normal_is_rejected(acked_then_cleared: bool) -> None:
    """GIVEN H active_acknowledged (or normal) WHEN acknowledged again THEN rejected."""
    lc = TagLifecycle(TAG)
    lc.on_transition(raise_h())
    lc.on_action(act("acknowledge", T0 + 1 * S))
    if acked_then_cleared:
        lc.on_transition(clear_h(T0 + 2 * S))
    state = "normal" if acked_then_cleared else "active_acknowledged"
    a = act("acknowledge", T0 + 3 * S)
    assert lc.on_action(a) == [
        rejected(a, f"nothing to acknowledge: state is {state}", state, EP_H)
    ]


def test_acknowledge_of_stale_episode_is_rejected() -> None:
    """GIVEN H raised twice WHEN the ack names the first episode THEN rejected 'stale episode'."""
    lc = TagLifecycle(TAG)
    lc.on_transition(raise_h())
    lc.on_transition(clear_h(T0 + 1 * S))
    lc.on_transition(raise_h(T0 + 5 * S))
    a = act("acknowledge", T0 + 6 * S, episode_id=EP_H)
    new_ep = f"{TAG}:H:{T0 + 5 * S}"
    assert lc.on_action(a) == [
        rejected(
            a,
            f"stale episode {EP_H}: current episode is {new_ep}",
            "active_unacknowledged",
            EP_H,
        )
    ]


def test_acknowledge_of_unknown_condition_is_rejected() -> None:
    """GIVEN only H ever seen WHEN HH is acknowledged THEN rejected, and HH stays unknown."""
    lc = TagLifecycle(TAG)
    lc.on_transition(raise_h())
    a = act("acknowledge", T0 + 1 * S, condition="HH")
    assert lc.on_action(a) == [
        rejected(a, "unknown condition HH: never raised on PT-101", "normal", None)
    ]
    assert [r["condition"] for r in lc.current()] == ["H"]


def test_action_on_another_tag_is_a_value_error() -> None:
    """GIVEN the lifecycle of PT-101 WHEN an action on TI-1 is fed THEN ValueError."""
    with pytest.raises(ValueError, match="action on tag TI-1 fed to the lifecycle of PT-101"):
        TagLifecycle(TAG).on_action({**act("comment", T0), "tag": "TI-1"})


def test_unknown_action_or_condition_name_is_rejected() -> None:
    """GIVEN H seen WHEN action 'silence' or condition 'XX' arrives THEN rejected, not raised."""
    lc = TagLifecycle(TAG)
    lc.on_transition(raise_h())
    a = act("silence", T0 + 1 * S)
    assert lc.on_action(a) == [
        rejected(a, "unknown action 'silence'", "active_unacknowledged", EP_H)
    ]
    b = act("shelve", T0 + 1 * S, condition="XX", reason="r", shelve_duration_s=60)
    assert lc.on_action(b) == [rejected(b, "unknown condition 'XX'", "normal", None)]


# -- comment -------------------------------------------------------------------------------------


def test_comment_is_recorded_in_any_state_without_changing_it() -> None:
    """GIVEN H returned_unacknowledged WHEN commented on an older episode THEN applied, as is."""
    lc = TagLifecycle(TAG)
    lc.on_transition(raise_h())
    lc.on_transition(clear_h(T0 + 1 * S))
    a = act("comment", T0 + 2 * S, episode_id=f"{TAG}:H:1", comment="pump swap")
    assert lc.on_action(a) == [
        audit(
            a,
            "applied",
            "comment recorded",
            "returned_unacknowledged",
            "returned_unacknowledged",
            f"{TAG}:H:1",
        )
    ]


def test_comment_on_unknown_condition_is_rejected() -> None:
    """GIVEN a fresh lifecycle WHEN a comment on H arrives THEN rejected (unknown condition)."""
    a = act("comment", T0, comment="hello")
    assert TagLifecycle(TAG).on_action(a) == [
        rejected(a, "unknown condition H: never raised on PT-101", "normal", None)
    ]


# -- shelve / unshelve ---------------------------------------------------------------------------


def test_shelve_sets_shelved_until_and_timer() -> None:
    """GIVEN H active WHEN shelved for 600 s THEN shelved_until = action time + 600 s."""
    lc = TagLifecycle(TAG)
    lc.on_transition(raise_h())
    a = shelve(T0 + 10 * S, 600)
    until = T0 + 610 * S
    assert lc.on_action(a) == [
        audit(
            a,
            "applied",
            f"shelved until {until} (600 s)",
            "active_unacknowledged",
            "active_unacknowledged",
            EP_H,
        )
    ]
    assert lc.next_timer_ms() == until
    (rec,) = lc.current()
    assert (rec["shelved"], rec["shelved_until_ms"]) == (True, until)


def test_shelve_without_reason_is_rejected() -> None:
    """GIVEN the default policy WHEN shelving without a reason THEN rejected, nothing shelved."""
    lc = TagLifecycle(TAG)
    lc.on_transition(raise_h())
    a = act("shelve", T0 + 1 * S, shelve_duration_s=60, reason=None)
    assert lc.on_action(a) == [
        rejected(a, "shelve requires a reason", "active_unacknowledged", EP_H)
    ]
    assert lc.next_timer_ms() is None


def test_shelve_without_reason_allowed_when_policy_says_so() -> None:
    """GIVEN require_reason_to_shelve=False WHEN shelving without reason THEN applied."""
    lc = TagLifecycle(TAG, LifecyclePolicy(require_reason_to_shelve=False))
    a = act("shelve", T0, shelve_duration_s=60)
    assert lc.on_action(a)[0].kind == "action"
    assert lc.next_timer_ms() == T0 + 60 * S


@pytest.mark.parametrize(
    ("seconds", "shown"), [(0, "0"), (-5, "-5"), (28800.5, "28800.5"), (None, "None")]
)
def test_shelve_duration_outside_limit_is_rejected_with_the_limit(
    seconds: float | None, shown: str
) -> None:
    """GIVEN max_shelve_s 8 h WHEN duration <= 0, > 28800 or missing THEN rejected naming 28800."""
    lc = TagLifecycle(TAG)
    lc.on_transition(raise_h())
    a = shelve(T0 + 1 * S, seconds)  # type: ignore[arg-type]
    assert lc.on_action(a) == [rejected(a, MAX_SHELVE_MSG + shown, "active_unacknowledged", EP_H)]


def test_shelve_of_exactly_max_is_allowed_and_custom_max_is_named() -> None:
    """GIVEN max 28800 s WHEN shelving 28800 s THEN applied; GIVEN max 600 WHEN 601 THEN named."""
    lc = TagLifecycle(TAG)
    lc.on_transition(raise_h())
    assert lc.on_action(shelve(T0, 28800))[0].kind == "action"
    assert lc.next_timer_ms() == T0 + 28800 * S
    short = TagLifecycle(TAG, LifecyclePolicy(max_shelve_s=600))
    short.on_transition(raise_h())
    a = shelve(T0, 601)
    assert short.on_action(a)[0].record["detail"] == (
        "shelve_duration_s must be > 0 and <= 600 (max_shelve_s), got 601"
    )


def test_shelve_ahead_of_first_raise_is_allowed() -> None:
    """GIVEN HH never seen WHEN shelved THEN applied; current() lists HH normal, no episode."""
    lc = TagLifecycle(TAG)
    a = shelve(T0, 3600, condition="HH")
    assert lc.on_action(a) == [
        audit(a, "applied", f"shelved until {T0 + 3600 * S} (3600 s)", "normal", "normal", None)
    ]
    assert lc.current() == [
        {
            "tag": "PT-101",
            "condition": "HH",
            "state": "normal",
            "episode_id": None,
            "shelved": True,
            "shelved_until_ms": T0 + 3600 * S,
            "suppressed": False,
            "acked_by": None,
            "acked_at_ms": None,
            "last_event_time_ms": None,
            "closed": False,
        }
    ]


def test_shelved_raise_follows_state_but_is_not_annunciated_or_notified() -> None:
    """GIVEN HH shelved ahead WHEN HH is raised THEN AU, annunciated False, no notification."""
    lc = TagLifecycle(TAG)
    lc.on_action(shelve(T0, 3600, condition="HH"))
    t = tr("HH", "raised", T0 + 60 * S, value=2.35, limit=2.2, priority="critical")
    assert lc.on_transition(t) == [alarm(t, False, "shelve", "active_unacknowledged")]


def test_clear_while_shelved_is_not_annunciated() -> None:
    """GIVEN H raised then shelved WHEN it clears THEN returned_unacknowledged, not annunciated."""
    lc = TagLifecycle(TAG)
    lc.on_transition(raise_h())
    lc.on_action(shelve(T0 + 1 * S, 600))
    c = clear_h(T0 + 2 * S)
    assert lc.on_transition(c) == [alarm(c, False, "shelve", "returned_unacknowledged")]


def test_reshelve_replaces_the_expiry() -> None:
    """GIVEN H shelved for 600 s WHEN shelved again for 60 s later THEN the new expiry wins."""
    lc = TagLifecycle(TAG)
    lc.on_transition(raise_h())
    lc.on_action(shelve(T0, 600))
    lc.on_action(shelve(T0 + 100 * S, 60))
    assert lc.next_timer_ms() == T0 + 160 * S


def test_unshelve_only_when_shelved() -> None:
    """GIVEN H shelved WHEN unshelved THEN applied; WHEN unshelved again THEN rejected."""
    lc = TagLifecycle(TAG)
    lc.on_transition(raise_h())
    lc.on_action(shelve(T0, 600))
    a = act("unshelve", T0 + 10 * S)
    au = "active_unacknowledged"
    assert lc.on_action(a) == [audit(a, "applied", "unshelved", au, au, EP_H)]
    assert lc.next_timer_ms() is None
    b = act("unshelve", T0 + 20 * S)
    assert lc.on_action(b) == [rejected(b, "not shelved", au, EP_H)]


def test_unshelve_of_unknown_condition_is_rejected() -> None:
    """GIVEN a fresh lifecycle WHEN L is unshelved THEN rejected as unknown."""
    a = act("unshelve", T0, condition="L")
    assert TagLifecycle(TAG).on_action(a) == [
        rejected(a, "unknown condition L: never raised on PT-101", "normal", None)
    ]


def test_on_time_auto_unshelves_at_expiry_exactly() -> None:
    """GIVEN H active, shelved until T0+60 s WHEN time reaches 59.999 s, then 60 s THEN unshelve."""
    lc = TagLifecycle(TAG)
    lc.on_transition(raise_h())
    lc.on_action(shelve(T0, 60))
    until = T0 + 60 * S
    assert lc.on_time(until - 1) == []
    assert lc.on_time(until) == [
        auto_unshelve("H", until, EP_H, "active_unacknowledged", reannunciate=True)
    ]
    assert lc.next_timer_ms() is None
    assert lc.on_time(until + 1) == []


def test_auto_unshelve_of_normal_condition_does_not_reannunciate() -> None:
    """GIVEN LL shelved ahead (normal) WHEN the shelve expires late THEN reannunciate False."""
    lc = TagLifecycle(TAG)
    lc.on_action(shelve(T0, 60, condition="LL"))
    assert lc.on_time(T0 + 3600 * S) == [
        auto_unshelve("LL", T0 + 60 * S, None, "normal", reannunciate=False)
    ]


def test_expiries_are_emitted_earliest_first_then_condition_order() -> None:
    """GIVEN HH until +30 s, L and H until +60 s WHEN time passes both THEN HH, L, H in order."""
    lc = TagLifecycle(TAG)
    lc.on_action(shelve(T0, 60, condition="H"))
    lc.on_action(shelve(T0, 60, condition="L"))
    lc.on_action(shelve(T0, 30, condition="HH"))
    assert lc.next_timer_ms() == T0 + 30 * S
    out = lc.on_time(T0 + 60 * S)
    assert [(o.record["condition"], o.record["action_time_ms"]) for o in out] == [
        ("HH", T0 + 30 * S),
        ("L", T0 + 60 * S),
        ("H", T0 + 60 * S),
    ]


def test_raise_at_or_after_expiry_unshelves_first_without_on_time() -> None:
    """GIVEN H shelved until T0+60 s, no timer fired WHEN raised at T0+60 s THEN annunciated."""
    lc = TagLifecycle(TAG)
    lc.on_action(shelve(T0, 60))
    t = raise_h(T0 + 60 * S)
    assert lc.on_transition(t) == [
        auto_unshelve("H", T0 + 60 * S, None, "normal", reannunciate=False),
        alarm(t, True, None, "active_unacknowledged"),
    ]
    assert lc.on_time(T0 + 61 * S) == []


def test_unshelve_action_after_expiry_is_rejected_after_auto_unshelve() -> None:
    """GIVEN H shelved until T0+60 s WHEN op unshelves at T0+70 s THEN auto-unshelve, rejected."""
    lc = TagLifecycle(TAG)
    lc.on_transition(raise_h())
    lc.on_action(shelve(T0, 60))
    a = act("unshelve", T0 + 70 * S)
    au = "active_unacknowledged"
    assert lc.on_action(a) == [
        auto_unshelve("H", T0 + 60 * S, EP_H, au, reannunciate=True),
        rejected(a, "not shelved", au, EP_H),
    ]


# -- unit state suppression ----------------------------------------------------------------------


@pytest.mark.parametrize("unit_state", ["shutdown", "maintenance"])
def test_raise_in_shutdown_or_maintenance_is_recorded_not_annunciated(unit_state: str) -> None:
    """GIVEN unit shutdown/maintenance WHEN HH is raised THEN AU, not annunciated/notified."""
    lc = TagLifecycle(TAG)
    assert lc.on_unit_state(unit_state, T0) == []
    t = tr("HH", "raised", T0 + 1 * S, value=2.35, limit=2.2, priority="critical")
    assert lc.on_transition(t) == [alarm(t, False, "unit_state", "active_unacknowledged")]
    assert lc.current()[0]["suppressed"] is True


@pytest.mark.parametrize("unit_state", ["running", "startup"])
def test_raise_in_running_or_startup_is_annunciated(unit_state: str) -> None:
    """GIVEN the unit back in running/startup after shutdown WHEN H is raised THEN annunciated."""
    lc = TagLifecycle(TAG)
    lc.on_unit_state("shutdown", T0 - 10 * S)
    lc.on_unit_state(unit_state, T0 - 1 * S)
    t = raise_h()
    assert lc.on_transition(t) == [alarm(t, True, None, "active_unacknowledged")]
    assert lc.current()[0]["suppressed"] is False


def test_unit_state_takes_precedence_over_shelve_in_suppressed_by() -> None:
    """GIVEN H shelved AND unit in maintenance WHEN H is raised THEN suppressed_by unit_state."""
    lc = TagLifecycle(TAG)
    lc.on_action(shelve(T0, 600))
    lc.on_unit_state("maintenance", T0)
    t = raise_h(T0 + 1 * S)
    assert lc.on_transition(t) == [alarm(t, False, "unit_state", "active_unacknowledged")]


def test_unit_state_change_expires_due_shelves_and_rejects_unknown_states() -> None:
    """GIVEN H shelved until +60 s WHEN unit state at +60 s THEN auto-unshelve; 'idle' errors."""
    lc = TagLifecycle(TAG)
    lc.on_action(shelve(T0, 60))
    assert lc.on_unit_state("shutdown", T0 + 60 * S) == [
        auto_unshelve("H", T0 + 60 * S, None, "normal", reannunciate=False)
    ]
    with pytest.raises(ValueError, match="unknown unit state 'idle'"):
        lc.on_unit_state("idle", T0)


# -- notifications held back while shelved or suppressed (rule 2) -------------------------------


def raise_hh(ts: int) -> Transition:
    """Return the HH raise (critical, 2.35 over 2.2) of PT-101 at `ts`."""
    return tr("HH", "raised", ts, value=2.35, limit=2.2, priority="critical")


def held_notification(raised: int, held: str) -> LifecycleOutput:
    """Return the notification of the HH episode raised at `raised`, held back by `held`."""
    return LifecycleOutput(
        "notification",
        {
            "notification_id": f"{TAG}:HH:{raised}:notification",
            "tag": TAG,
            "condition": "HH",
            "priority": "critical",
            "value": 2.35,
            "limit": 2.2,
            "event_time_ms": raised,
            "episode_id": f"{TAG}:HH:{raised}",
            "message": f"高高报 HH PT-101 = 2.35 MPa (limit 2.2) ({held})",
        },
    )


def test_hh_raised_while_shelved_is_notified_when_unshelved() -> None:
    """GIVEN HH shelved ahead and raised while shelved WHEN the operator unshelves it THEN the
    unshelve audit record, then the episode's notification (raise time, 'raised while shelved')."""
    lc = TagLifecycle(TAG, unit="MPa")
    lc.on_action(shelve(T0, 3600, condition="HH"))
    t = raise_hh(T0 + 60 * S)
    assert [o.kind for o in lc.on_transition(t)] == ["alarm"]
    a = act("unshelve", T0 + 120 * S, condition="HH")
    au = "active_unacknowledged"
    assert lc.on_action(a) == [
        audit(a, "applied", "unshelved", au, au, t.episode_id),
        held_notification(T0 + 60 * S, "raised while shelved"),
    ]
    # notified once: a later shelve and unshelve of the same episode sends nothing more
    lc.on_action(shelve(T0 + 130 * S, 60, condition="HH"))
    assert [o.kind for o in lc.on_action(act("unshelve", T0 + 140 * S, condition="HH"))] == [
        "action"
    ]


def test_hh_raised_while_shelved_is_notified_at_auto_unshelve() -> None:
    """GIVEN HH raised while shelved until T0+600 s WHEN time reaches the expiry THEN the
    auto-unshelve (reannunciate) followed by the notification."""
    lc = TagLifecycle(TAG, unit="MPa")
    lc.on_action(shelve(T0, 600, condition="HH"))
    lc.on_transition(raise_hh(T0 + 60 * S))
    until = T0 + 600 * S
    ep = f"{TAG}:HH:{T0 + 60 * S}"
    assert lc.on_time(until) == [
        auto_unshelve("HH", until, ep, "active_unacknowledged", reannunciate=True),
        held_notification(T0 + 60 * S, "raised while shelved"),
    ]
    assert lc.on_time(until + 60 * S) == []


def test_acknowledged_while_shelved_is_still_notified_at_unshelve() -> None:
    """GIVEN HH raised and acknowledged while shelved WHEN the shelve expires (still active)
    THEN it is notified: the notification follows the episode's first annunciation, as
    `reannunciate` does, whatever the acknowledgement."""
    lc = TagLifecycle(TAG, unit="MPa")
    lc.on_action(shelve(T0, 600, condition="HH"))
    lc.on_transition(raise_hh(T0 + 60 * S))
    lc.on_action(act("acknowledge", T0 + 70 * S, condition="HH"))
    out = lc.on_time(T0 + 600 * S)
    assert [o.kind for o in out] == ["auto_unshelve", "notification"]
    assert out[1] == held_notification(T0 + 60 * S, "raised while shelved")


def test_hh_cleared_while_shelved_is_never_notified() -> None:
    """GIVEN HH raised and cleared while shelved WHEN the shelve expires THEN only the
    auto-unshelve: the episode returned before it was shown."""
    lc = TagLifecycle(TAG, unit="MPa")
    lc.on_action(shelve(T0, 600, condition="HH"))
    lc.on_transition(raise_hh(T0 + 60 * S))
    lc.on_transition(tr("HH", "cleared", T0 + 90 * S, value=2.0, limit=2.2, raised_ts=T0 + 60 * S))
    ep = f"{TAG}:HH:{T0 + 60 * S}"
    assert lc.on_time(T0 + 600 * S) == [
        auto_unshelve("HH", T0 + 600 * S, ep, "returned_unacknowledged", reannunciate=False)
    ]


@pytest.mark.parametrize("unit_state", ["shutdown", "maintenance"])
def test_hh_raised_while_suppressed_is_notified_when_the_unit_runs_again(unit_state: str) -> None:
    """GIVEN the unit in shutdown/maintenance and HH raised WHEN the unit goes to startup THEN
    the held notification, naming the unit state it was raised in; once only."""
    lc = TagLifecycle(TAG, unit="MPa")
    lc.on_unit_state(unit_state, T0)
    lc.on_transition(raise_hh(T0 + 60 * S))
    assert lc.on_unit_state("startup", T0 + 120 * S) == [
        held_notification(T0 + 60 * S, f"raised while the unit was in {unit_state}")
    ]
    assert lc.on_unit_state("running", T0 + 180 * S) == []


def test_hh_cleared_while_suppressed_is_never_notified() -> None:
    """GIVEN HH raised and cleared during shutdown WHEN the unit runs again THEN nothing."""
    lc = TagLifecycle(TAG, unit="MPa")
    lc.on_unit_state("shutdown", T0)
    lc.on_transition(raise_hh(T0 + 60 * S))
    lc.on_transition(tr("HH", "cleared", T0 + 90 * S, value=2.0, limit=2.2, raised_ts=T0 + 60 * S))
    assert lc.on_unit_state("running", T0 + 120 * S) == []


def test_shelve_ending_during_suppression_holds_until_the_unit_runs() -> None:
    """GIVEN HH raised while shelved AND the unit in maintenance WHEN the shelve expires THEN
    no notification yet (still suppressed); WHEN the unit runs THEN it is notified."""
    lc = TagLifecycle(TAG, unit="MPa")
    lc.on_action(shelve(T0, 600, condition="HH"))
    lc.on_unit_state("maintenance", T0 + 10 * S)
    lc.on_transition(raise_hh(T0 + 60 * S))
    ep = f"{TAG}:HH:{T0 + 60 * S}"
    assert lc.on_time(T0 + 600 * S) == [
        auto_unshelve("HH", T0 + 600 * S, ep, "active_unacknowledged", reannunciate=False)
    ]
    assert lc.on_unit_state("running", T0 + 700 * S) == [
        held_notification(T0 + 60 * S, "raised while the unit was in maintenance")
    ]


def test_unit_running_while_still_shelved_holds_until_unshelved() -> None:
    """GIVEN HH raised in shutdown and shelved WHEN the unit runs THEN nothing (still shelved);
    WHEN the shelve expires THEN the notification."""
    lc = TagLifecycle(TAG, unit="MPa")
    lc.on_unit_state("shutdown", T0)
    lc.on_transition(raise_hh(T0 + 60 * S))
    lc.on_action(shelve(T0 + 70 * S, 600, condition="HH"))
    assert lc.on_unit_state("running", T0 + 120 * S) == []
    out = lc.on_time(T0 + 670 * S)
    assert [o.kind for o in out] == ["auto_unshelve", "notification"]
    assert out[1] == held_notification(T0 + 60 * S, "raised while the unit was in shutdown")


def test_held_notification_survives_a_pickle_round_trip() -> None:
    """GIVEN HH raised while shelved WHEN the lifecycle is pickled and restored THEN the
    restored one notifies at expiry."""
    lc = TagLifecycle(TAG, unit="MPa")
    lc.on_action(shelve(T0, 600, condition="HH"))
    lc.on_transition(raise_hh(T0 + 60 * S))
    restored = pickle.loads(pickle.dumps(lc))
    assert [o.kind for o in restored.on_time(T0 + 600 * S)] == ["auto_unshelve", "notification"]


def test_condition_state_pickled_before_held_notifications_restores() -> None:
    """GIVEN a ConditionState pickled by a version without pending_notification (a checkpoint)
    WHEN restored THEN it has the default None and its other fields."""
    cs = ConditionState(state="active_unacknowledged", episode_id=EP_H)
    old_state = (
        None,
        {k: v for k, v in cs.__reduce_ex__(4)[2][1].items() if k != "pending_notification"},
    )
    restored = ConditionState.__new__(ConditionState)
    restored.__setstate__(old_state)
    assert restored == ConditionState(state="active_unacknowledged", episode_id=EP_H)


def test_medium_h_raised_while_shelved_is_not_notified_at_unshelve() -> None:
    """GIVEN a medium H raised while shelved WHEN unshelved THEN no notification (not one that
    notifies when annunciated either)."""
    lc = TagLifecycle(TAG)
    lc.on_action(shelve(T0, 600))
    lc.on_transition(raise_h(T0 + 1 * S))
    assert [o.kind for o in lc.on_action(act("unshelve", T0 + 2 * S))] == ["action"]


# -- close ---------------------------------------------------------------------------------------


def close(ts: int, **fields: Any) -> dict[str, Any]:
    """Return a close action with cause and measures unless overridden."""
    return act("close", ts, **{"cause": "seal leak", "measures": "seal replaced", **fields})


def test_close_after_return_is_applied_once() -> None:
    """GIVEN H returned_unacknowledged WHEN closed twice THEN first applied, second rejected."""
    lc = TagLifecycle(TAG)
    lc.on_transition(raise_h())
    lc.on_transition(clear_h(T0 + 60 * S))
    ru = "returned_unacknowledged"
    a = close(T0 + 120 * S, episode_id=EP_H)
    assert lc.on_action(a) == [audit(a, "applied", "episode closed", ru, ru, EP_H)]
    assert lc.current()[0]["closed"] is True
    b = close(T0 + 130 * S)
    assert lc.on_action(b) == [rejected(b, f"episode {EP_H} is already closed", ru, EP_H)]


def test_close_of_active_episode_is_rejected() -> None:
    """GIVEN H active_acknowledged WHEN closed THEN rejected: close it after it returns."""
    lc = TagLifecycle(TAG)
    lc.on_transition(raise_h())
    lc.on_action(act("acknowledge", T0 + 1 * S))
    a = close(T0 + 2 * S)
    aa = "active_acknowledged"
    detail = f"episode {EP_H} is still active (state {aa}): close it after it returns"
    assert lc.on_action(a) == [rejected(a, detail, aa, EP_H)]
    assert lc.current()[0]["closed"] is False


def test_close_of_active_episode_allowed_when_policy_says_so() -> None:
    """GIVEN close_requires_return=False WHEN an active episode is closed THEN applied, still AU."""
    lc = TagLifecycle(TAG, LifecyclePolicy(close_requires_return=False))
    lc.on_transition(raise_h())
    a = close(T0 + 2 * S)
    au = "active_unacknowledged"
    assert lc.on_action(a) == [audit(a, "applied", "episode closed", au, au, EP_H)]


@pytest.mark.parametrize(
    "missing", [{"cause": None}, {"measures": None}, {"cause": "", "measures": ""}]
)
def test_close_requires_cause_and_measures(missing: dict[str, Any]) -> None:
    """GIVEN H back to normal WHEN closed without cause or measures THEN rejected."""
    lc = TagLifecycle(TAG)
    lc.on_transition(raise_h())
    lc.on_action(act("acknowledge", T0 + 1 * S))
    lc.on_transition(clear_h(T0 + 2 * S))
    a = close(T0 + 3 * S, **missing)
    assert lc.on_action(a) == [rejected(a, "close requires cause and measures", "normal", EP_H)]


def test_close_of_unknown_condition_or_without_episode_is_rejected() -> None:
    """GIVEN L never seen and H only shelved ahead WHEN either is closed THEN rejected."""
    lc = TagLifecycle(TAG)
    a = close(T0, condition="L")
    assert lc.on_action(a) == [
        rejected(a, "unknown condition L: never raised on PT-101", "normal", None)
    ]
    lc.on_action(shelve(T0, 60))
    b = close(T0 + 1 * S)
    assert lc.on_action(b) == [rejected(b, "no episode to close", "normal", None)]


def test_close_of_stale_episode_is_rejected() -> None:
    """GIVEN H's first episode returned and a second raised WHEN the first is closed THEN stale."""
    lc = TagLifecycle(TAG)
    lc.on_transition(raise_h())
    lc.on_transition(clear_h(T0 + 1 * S))
    lc.on_transition(raise_h(T0 + 5 * S))
    a = close(T0 + 6 * S, episode_id=EP_H)
    new_ep = f"{TAG}:H:{T0 + 5 * S}"
    detail = f"stale episode {EP_H}: current episode is {new_ep}"
    assert lc.on_action(a) == [rejected(a, detail, "active_unacknowledged", EP_H)]


# -- current, determinism and pickling -----------------------------------------------------------


def test_current_lists_every_condition_in_condition_order() -> None:
    """GIVEN HH, L raised and H shelved ahead WHEN current() THEN L, H, HH with their state."""
    lc = TagLifecycle(TAG)
    lc.on_transition(tr("HH", "raised", T0, value=2.35, limit=2.2, priority="high"))
    lc.on_transition(tr("L", "raised", T0 + 1 * S, value=0.9, limit=1.0))
    lc.on_action(act("acknowledge", T0 + 2 * S, condition="L"))
    lc.on_action(shelve(T0 + 3 * S, 60))
    assert lc.current() == [
        {
            "tag": TAG,
            "condition": "L",
            "state": "active_acknowledged",
            "episode_id": f"{TAG}:L:{T0 + 1 * S}",
            "shelved": False,
            "shelved_until_ms": None,
            "suppressed": False,
            "acked_by": "op1",
            "acked_at_ms": T0 + 2 * S,
            "last_event_time_ms": T0 + 1 * S,
            "closed": False,
        },
        {
            "tag": TAG,
            "condition": "H",
            "state": "normal",
            "episode_id": None,
            "shelved": True,
            "shelved_until_ms": T0 + 63 * S,
            "suppressed": False,
            "acked_by": None,
            "acked_at_ms": None,
            "last_event_time_ms": None,
            "closed": False,
        },
        {
            "tag": TAG,
            "condition": "HH",
            "state": "active_unacknowledged",
            "episode_id": f"{TAG}:HH:{T0}",
            "shelved": False,
            "shelved_until_ms": None,
            "suppressed": False,
            "acked_by": None,
            "acked_at_ms": None,
            "last_event_time_ms": T0,
            "closed": False,
        },
    ]


SCRIPT: list[tuple[str, Any]] = [
    ("unit", ("running", T0 - 1 * S)),
    ("transition", tr("HH", "raised", T0, value=2.35, limit=2.2, priority="critical")),
    ("action", act("shelve", T0 + 1 * S, condition="H", reason="known", shelve_duration_s=30)),
    ("transition", raise_h(T0 + 2 * S)),
    ("action", act("acknowledge", T0 + 3 * S, condition="HH")),
    ("time", T0 + 31 * S),
    ("unit", ("maintenance", T0 + 40 * S)),
    ("transition", tr("HH", "cleared", T0 + 41 * S, value=2.0, limit=2.2, raised_ts=T0)),
    ("transition", clear_h(T0 + 42 * S, raised=T0 + 2 * S)),
    ("action", act("close", T0 + 43 * S, condition="HH", cause="c", measures="m")),
    ("action", act("acknowledge", T0 + 44 * S, condition="H")),
    ("action", act("close", T0 + 45 * S, condition="H", cause="c", measures="m")),
]


def run(lc: TagLifecycle, script: list[tuple[str, Any]]) -> list[LifecycleOutput]:
    """Return every output of feeding `script` to `lc` in order."""
    out: list[LifecycleOutput] = []
    for kind, item in script:
        if kind == "transition":
            out.extend(lc.on_transition(item))
        elif kind == "action":
            out.extend(lc.on_action(item))
        elif kind == "unit":
            out.extend(lc.on_unit_state(*item))
        else:
            out.extend(lc.on_time(item))
    return out


def test_script_outputs_are_as_derived_by_hand() -> None:
    """GIVEN the mixed script WHEN run THEN the kinds and final states are the hand-derived ones."""
    out = run(TagLifecycle(TAG), SCRIPT)
    assert [(o.kind, o.record.get("condition"), o.record.get("state_after")) for o in out] == [
        ("alarm", "HH", "active_unacknowledged"),
        ("notification", "HH", None),
        ("action", "H", "normal"),  # shelve ahead
        ("alarm", "H", "active_unacknowledged"),  # not annunciated: shelved
        ("action", "HH", "active_acknowledged"),
        ("auto_unshelve", "H", "active_unacknowledged"),
        ("alarm", "HH", "normal"),
        ("alarm", "H", "returned_unacknowledged"),
        ("action", "HH", "normal"),  # close
        ("action", "H", "normal"),  # acknowledge
        ("action", "H", "normal"),  # close
    ]
    assert [o.record["annunciated"] for o in out if o.kind == "alarm"] == [
        True,
        False,
        False,
        False,
    ]


def test_same_inputs_in_same_order_give_same_outputs() -> None:
    """GIVEN two fresh lifecycles WHEN fed the same script THEN outputs and current() are equal."""
    a, b = TagLifecycle(TAG), TagLifecycle(TAG)
    assert run(a, SCRIPT) == run(b, SCRIPT)
    assert a.current() == b.current()
    assert [(r["condition"], r["closed"]) for r in a.current()] == [("H", True), ("HH", True)]


@pytest.mark.parametrize("cut", [2, 4, 6, 9])
def test_pickle_round_trip_mid_episode_continues_identically(cut: int) -> None:
    """GIVEN the script cut at `cut` WHEN the state is pickled and restored THEN same outputs."""
    whole = run(TagLifecycle(TAG), SCRIPT)
    lc = TagLifecycle(TAG)
    first = run(lc, SCRIPT[:cut])
    restored = pickle.loads(pickle.dumps(lc))
    assert first + run(restored, SCRIPT[cut:]) == whole
    assert restored.current() == run_current(SCRIPT)


def run_current(script: list[tuple[str, Any]]) -> list[dict[str, Any]]:
    """Return current() after feeding `script` to a fresh lifecycle."""
    lc = TagLifecycle(TAG)
    run(lc, script)
    return lc.current()
