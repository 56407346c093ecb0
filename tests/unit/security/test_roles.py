"""The role matrix: who may do what, decided in one place (pipelines/security/roles.py)."""

from __future__ import annotations

import re

import pytest

from pipelines.security import roles
from pipelines.security.roles import MATRIX, Permission, Role
from pipelines.settings import PROJECT_ROOT


@pytest.mark.parametrize("topic", ["alarm.audit", "cases", "risk.current", "unit.states",
                                   "alarms", "security.audit", "alarm.actions", "case.actions",
                                   "alarms.current", "cases.current", "risk.levels"])  # fmt: skip
def test_a_gateway_may_not_write_outputs_audit_state_or_control_topics(topic):
    """GIVEN a gateway WHEN it asks to write a job output, audit, current-state or control
    topic THEN it is refused."""
    assert roles.may_write_topic(["gateway"], topic) is False


def test_a_gateway_writes_input_topics_narrowed_to_its_own():
    """GIVEN a gateway limited to `readings` WHEN it asks for readings and positions THEN
    readings only; without a limit both; other roles write no input topic, and a shift
    supervisor writes unit.states."""
    assert roles.may_write_topic(["gateway"], "readings", ["readings"]) is True
    assert roles.may_write_topic(["gateway"], "positions", ["readings"]) is False
    assert roles.may_write_topic(["gateway"], "positions") is True
    assert roles.may_write_topic(["operator", "analyst", "admin"], "readings") is False
    assert roles.may_write_topic(["shift_supervisor"], "unit.states") is True
    assert roles.may_write_topic(["shift_supervisor"], "readings") is False


def test_critical_hh_and_ll_shelving_needs_a_shift_supervisor():
    """GIVEN an operator and a shift supervisor WHEN shelving an HH, an LL, a critical-priority
    H and a high-priority H alarm THEN the operator may shelve only the last; the supervisor
    all."""
    cases = [("HH", "high"), ("LL", None), ("H", "critical"), ("H", "high")]
    needed = [roles.shelve_permission(c, p) for c, p in cases]
    assert [roles.allowed(["operator"], n) for n in needed] == [False, False, False, True]
    assert [roles.allowed(["shift_supervisor"], n) for n in needed] == [True] * 4


def test_case_actions_go_to_the_chain_and_safety_managers_never_to_analysts():
    """GIVEN a case whose 包保 chain is P010, P004, P001 WHEN P010 (no case role), an analyst
    outside the chain and a safety manager act THEN P010 may ack, handle and verify but not
    close, the analyst nothing, the safety manager everything."""
    chain = ["P010", "P004", "P001"]
    acts = ["ack", "handle", "comment", "verify", "close"]
    assert [roles.case_action_allowed(["operator"], "P010", a, chain) for a in acts] == [
        True, True, True, True, False,
    ]  # fmt: skip
    assert [roles.case_action_allowed(["analyst"], "P099", a, chain) for a in acts] == [False] * 5
    assert [roles.case_action_allowed(["safety_manager"], "P006", a, chain) for a in acts] == [
        True
    ] * 5


def test_unknown_role_names_grant_nothing_and_are_refused_by_name():
    """GIVEN a token naming a role that does not exist WHEN asked THEN no permission; parsing
    it names it."""
    assert roles.permissions(["root"]) == frozenset()
    with pytest.raises(ValueError, match=r"unknown role 'root'"):
        roles.parse_roles(["operator", "root"])


def test_docs_matrix_equals_the_code():
    """GIVEN docs/security.md's role matrix WHEN parsed THEN each role row marks exactly the
    permissions MATRIX grants it."""
    text = (PROJECT_ROOT / "docs" / "security.md").read_text()
    header = next(line for line in text.splitlines() if line.startswith("| permission |"))
    columns = [c.strip().strip("`") for c in header.strip("|").split("|")][1:]
    assert columns == [r.value for r in Role]
    documented: dict[str, set[str]] = {r.value: set() for r in Role}
    for line in text.splitlines():
        m = re.match(r"\| `([a-z_.]+)` \|(.*)\|$", line)
        if m and m.group(1) in Permission._value2member_map_:
            for role, cell in zip(columns, m.group(2).split("|"), strict=True):
                if cell.strip() == "x":
                    documented[role].add(m.group(1))
    assert documented == {r.value: {p.value for p in MATRIX[r]} for r in Role}


def test_a_case_refusal_says_why():
    """GIVEN a chain member closing, and an outsider acknowledging WHEN refused THEN the reason
    names what the chain may do, or that the caller is outside the chain."""
    from pipelines.security.roles import case_refusal_reason

    chain = ["P010", "P004", "P001"]
    assert case_refusal_reason("P004", "close", chain) == (
        "its 包保 chain may ack, comment, handle, verify; close needs the permission case.close"
    )
    assert case_refusal_reason("A001", "ack", chain) == (
        "not in its 包保 chain ['P010', 'P004', 'P001'] and without case.act"
    )
