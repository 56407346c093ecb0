"""Who may do what: the one matrix role -> permissions that every API route asks (see the table
in docs/security.md, which a test keeps equal to this module).

A principal holds roles; a permission is granted when any of its roles has it. Two rights depend
on the object as well as the role: writing a topic (`may_write_topic`: gateways write only the
plant's input topics, further narrowed per gateway; never job outputs, audit, current state or
control topics) and acting on a case (`case_action_allowed`: the case's 包保 responsibility chain
acts on its own hazard source's cases, a safety manager on any).
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class Role(StrEnum):
    """Roles a principal may hold (角色)."""

    GATEWAY = "gateway"  # edge gateway (数据采集网关): ingest to its input topics only
    OPERATOR = "operator"  # control-room / field operator (操作员)
    SHIFT_SUPERVISOR = "shift_supervisor"  # 班长/值班长: critical shelving, unit states
    SAFETY_MANAGER = "safety_manager"  # 安全管理人员: verify and close cases, risk model
    ANALYST = "analyst"  # read-only
    DATA_ENGINEER = "data_engineer"  # Airflow, topic list
    EXCHANGE = "exchange"  # the data-exchange service (数据交换)
    REGULATOR = "regulator"  # the regulator's platform (监管部门): read risk and cases
    ADMIN = "admin"  # manages principals


class Permission(StrEnum):
    """Actions the API authorises."""

    INGEST = "ingest"  # POST /v1/ingest/{topic} (the topic is checked by may_write_topic)
    TOPICS_READ = "topics.read"
    ALARM_ACKNOWLEDGE = "alarm.acknowledge"
    ALARM_COMMENT = "alarm.comment"
    ALARM_SHELVE = "alarm.shelve"  # non-critical, non-HH/LL alarms
    ALARM_SHELVE_CRITICAL = "alarm.shelve_critical"  # critical priority, HH or LL
    ALARM_UNSHELVE = "alarm.unshelve"
    ALARM_CLOSE = "alarm.close"
    UNIT_STATES_WRITE = "unit_states.write"
    RISK_READ = "risk.read"
    RISK_MODEL = "risk.model"
    CASE_READ = "case.read"
    CASE_ACT = "case.act"  # acknowledge, handle, comment on ANY case (the 包保 chain: its own)
    CASE_VERIFY = "case.verify"
    CASE_CLOSE = "case.close"
    SQL_GOLD = "sql.gold"  # read-only SQL on the gold schema (Trino)
    AIRFLOW = "airflow"
    EXCHANGE_PUBLISH = "exchange.publish"
    API_DOCS = "api.docs"  # GET /docs, /openapi.json
    PRINCIPALS_MANAGE = "principals.manage"


P = Permission
_READ = {P.RISK_READ, P.CASE_READ, P.API_DOCS}
MATRIX: dict[Role, frozenset[Permission]] = {
    Role.GATEWAY: frozenset({P.INGEST, P.TOPICS_READ, P.API_DOCS}),
    Role.OPERATOR: frozenset(
        {
            *_READ,
            P.ALARM_ACKNOWLEDGE,
            P.ALARM_COMMENT,
            P.ALARM_SHELVE,
            P.ALARM_UNSHELVE,
            P.ALARM_CLOSE,
        }
    ),  # fmt: skip
    Role.SHIFT_SUPERVISOR: frozenset(
        {
            *_READ,
            P.ALARM_ACKNOWLEDGE,
            P.ALARM_COMMENT,
            P.ALARM_SHELVE,
            P.ALARM_SHELVE_CRITICAL,
            P.ALARM_UNSHELVE,
            P.ALARM_CLOSE,
            P.UNIT_STATES_WRITE,
            P.INGEST,
        }
    ),  # fmt: skip
    Role.SAFETY_MANAGER: frozenset(
        {*_READ, P.CASE_ACT, P.CASE_VERIFY, P.CASE_CLOSE, P.RISK_MODEL, P.ALARM_COMMENT}
    ),
    Role.ANALYST: frozenset({*_READ, P.SQL_GOLD}),
    Role.DATA_ENGINEER: frozenset({*_READ, P.AIRFLOW, P.TOPICS_READ, P.SQL_GOLD}),
    Role.EXCHANGE: frozenset({*_READ, P.EXCHANGE_PUBLISH}),
    Role.REGULATOR: frozenset(_READ),
    Role.ADMIN: frozenset({P.API_DOCS, P.PRINCIPALS_MANAGE, P.TOPICS_READ}),
}

# Topics an edge gateway may write (the plant's inputs). Everything else - job outputs
# (alarms, risk.levels, cases...), audit (alarm.audit, security.audit), current state
# (*.current, unit.states) and control topics (alarm.actions, case.actions) - is refused to it.
GATEWAY_TOPICS: frozenset[str] = frozenset(
    {"readings", "tags", "video.events", "positions", "work.permits", "work.gas_analyses",
     "inspections", "hidden_dangers", "certificates", "equipment"}
)  # fmt: skip
# Topics other roles write through the ingest endpoint (a shift supervisor sets unit states).
ROLE_TOPICS: dict[Role, frozenset[str]] = {
    Role.GATEWAY: GATEWAY_TOPICS,
    Role.SHIFT_SUPERVISOR: frozenset({"unit.states"}),
}
# Alarm conditions whose shelving needs a shift supervisor, whatever the tag's priority.
CRITICAL_CONDITIONS = frozenset({"HH", "LL"})
MAX_SHELVE_S_PER_DAY = 8 * 3600  # per alarm (tag + condition), in any 24 h
ALARM_PERMISSION = {
    "acknowledge": P.ALARM_ACKNOWLEDGE,
    "comment": P.ALARM_COMMENT,
    "shelve": P.ALARM_SHELVE,
    "unshelve": P.ALARM_UNSHELVE,
    "close": P.ALARM_CLOSE,
}
CASE_PERMISSION = {
    "ack": P.CASE_ACT,
    "handle": P.CASE_ACT,
    "comment": P.CASE_ACT,
    "verify": P.CASE_VERIFY,
    "close": P.CASE_CLOSE,
}
# what the 包保 chain of a case's hazard source may do on that case (close stays with safety)
CHAIN_CASE_ACTIONS = frozenset({"ack", "handle", "comment", "verify"})


def parse_roles(names: Iterable[str]) -> list[Role]:
    """Return the roles named (ValueError naming an unknown one)."""
    out = []
    for name in names:
        try:
            out.append(Role(name))
        except ValueError:
            known = ", ".join(r.value for r in Role)
            raise ValueError(f"unknown role {name!r} (known: {known})") from None
    return out


def permissions(roles: Iterable[str]) -> frozenset[Permission]:
    """Return every permission the roles grant (unknown role names grant nothing)."""
    out: set[Permission] = set()
    for name in roles:
        if name in Role._value2member_map_:
            out |= MATRIX[Role(name)]
    return frozenset(out)


def allowed(roles: Iterable[str], permission: Permission) -> bool:
    """True when any of the roles grants `permission`."""
    return permission in permissions(roles)


def may_write_topic(
    roles: Iterable[str], topic: str, own_topics: Iterable[str] | None = None
) -> bool:
    """True when a principal with these roles may post records to `topic` (its declared name).

    own_topics narrows a gateway to some of the input topics (None: all of them)."""
    roles = list(roles)
    if not allowed(roles, P.INGEST):
        return False
    for name in roles:
        if name not in Role._value2member_map_:
            continue
        topics = ROLE_TOPICS.get(Role(name), frozenset())
        if Role(name) is Role.GATEWAY and own_topics is not None:
            topics = topics & frozenset(own_topics)
        if topic in topics:
            return True
    return False


def case_action_allowed(
    roles: Iterable[str], principal: str, action: str, responsibility_chain: Iterable[str]
) -> bool:
    """True when `principal` may take `action` on a case whose 包保 chain is given."""
    permission = CASE_PERMISSION.get(action)
    if permission is None:
        return False
    if allowed(roles, permission):
        return True
    return action in CHAIN_CASE_ACTIONS and principal in set(responsibility_chain)


def case_refusal_reason(principal: str, action: str, responsibility_chain: Iterable[str]) -> str:
    """Say why `case_action_allowed` refused (for the 403 and its audit record)."""
    if action not in CASE_PERMISSION:
        return f"unknown case action {action!r}"
    if principal in set(responsibility_chain):
        return (
            f"its 包保 chain may {', '.join(sorted(CHAIN_CASE_ACTIONS))}; {action} needs the"
            f" permission {CASE_PERMISSION[action].value}"
        )
    chain = list(responsibility_chain)
    return f"not in its 包保 chain {chain} and without {CASE_PERMISSION[action].value}"


def shelve_permission(condition: str, priority: str | None) -> Permission:
    """Return the permission shelving this alarm needs: critical, HH and LL need a supervisor."""
    if condition.upper() in CRITICAL_CONDITIONS or priority == "critical":
        return P.ALARM_SHELVE_CRITICAL
    return P.ALARM_SHELVE
