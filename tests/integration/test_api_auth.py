"""The API's authentication and authorisation on real Kafka and PostgreSQL: logins and lockout,
one role matrix for every route, the actor is the caller, gateways write input topics only, and
every refusal and state change lands on security.audit, chained per principal."""

from __future__ import annotations

import time
import uuid

import orjson
import pytest
from fastapi.testclient import TestClient

from pipelines.kafka_stats import read_since, topic_record_counts
from pipelines.security.chain import verify
from tests.conftest import prefix_of

pytestmark = pytest.mark.integration

TOPICS = ("readings", "alarm.audit", "cases", "risk.current", "unit.states", "alarm.actions",
          "case.actions", "cases.current")  # fmt: skip


@pytest.fixture
def api(kafka, postgres, fresh_topics, http_producer, make_api):
    from pipelines.security.identity import IdentityStore

    specs = fresh_topics(*TOPICS)
    producer = http_producer(kafka, list(specs.values()), {"TT-1"})
    identity = IdentityStore(postgres)
    app, audit_spec = make_api(kafka, producer, prefix_of(specs["readings"]), identity=identity)
    return TestClient(app), specs, producer, identity, audit_spec


def _audit(kafka, client, audit_spec) -> list[dict]:
    """Every security.audit record so far (after Kafka confirmed them), in log order."""
    audit = client.app.state.audit
    client.app.state.producer.wait(audit.submissions, 10.0)
    return [orjson.loads(v) for _ts, v in read_since(kafka, audit_spec.name, 0, 15.0) if v]


def test_no_token_is_401_and_the_docs_need_a_login(api, bearer):
    """GIVEN the API WHEN /v1/topics, /docs and /openapi.json are read without a token THEN 401
    (with WWW-Authenticate: Bearer); with an analyst token the docs answer 200 but /v1/topics
    is 403; /healthz needs nothing."""
    client, *_ = api
    for path in ("/v1/topics", "/docs", "/openapi.json"):
        resp = client.get(path)
        assert (resp.status_code, resp.headers["WWW-Authenticate"]) == (401, "Bearer"), path
    analyst = bearer("A001", "analyst")
    assert client.get("/openapi.json", headers=analyst).json()["info"]["title"] == "HazChem API"
    assert client.get("/docs", headers=analyst).status_code == 200
    assert client.get("/v1/topics", headers=analyst).status_code == 403
    assert client.get("/healthz").status_code == 200


def test_login_refresh_revoke_and_lockout_after_5_bad_passwords_all_audited(kafka, api):
    """GIVEN a person with a password WHEN it logs in THEN an access token that opens the docs
    and a refresh token that gives a new pair once; revoked, it is refused. WHEN 5 wrong
    passwords follow THEN 401 each and the 5th locks; the right password is then refused too.
    THEN security.audit holds each event for that principal, in order, and its chain verifies."""
    client, _, _, identity, audit_spec = api
    name = f"P-{uuid.uuid4().hex[:8]}"
    identity.create(name, "person", ["operator"])
    identity.set_password(name, "right password 1")
    ok = client.post("/v1/auth/token", json={"username": name, "password": "right password 1"})
    assert ok.status_code == 200
    pair = ok.json()
    assert (pair["token_type"], pair["expires_in"]) == ("Bearer", 300)
    headers = {"Authorization": f"Bearer {pair['access_token']}"}
    assert client.get("/openapi.json", headers=headers).status_code == 200
    renewed = client.post("/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert renewed.status_code == 200
    spent = client.post("/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert spent.status_code == 401
    new_refresh = renewed.json()["refresh_token"]
    assert client.post("/v1/auth/revoke", json={"refresh_token": new_refresh}).json() == {
        "revoked": True
    }
    assert client.post("/v1/auth/refresh", json={"refresh_token": new_refresh}).status_code == 401

    form = {"grant_type": "password", "username": name, "password": "wrong password"}
    bad = [client.post("/v1/auth/token", data=form) for _ in range(5)]
    assert [r.status_code for r in bad] == [401] * 5
    assert bad[4].json()["detail"] == f"principal {name!r} locked for 900 s after 5 failed logins"
    locked = client.post("/v1/auth/token", json={"username": name, "password": "right password 1"})
    assert locked.status_code == 401
    assert locked.json()["detail"] == f"principal {name!r} is locked after failed logins"

    records = _audit(kafka, client, audit_spec)
    mine = [(r["action"], r["outcome"], r["status"]) for r in records if r["principal"] == name]
    assert mine == [
        ("login_ok", "ok", 200), ("refresh", "ok", 200), ("revoke", "ok", 200),
        *[("login_failed", "refused", 401)] * 4, ("lockout", "refused", 401),
        ("login_locked", "refused", 401),
    ]  # fmt: skip
    refused_refresh = [r for r in records if r["action"] == "refresh_refused"]
    assert [r["principal"] for r in refused_refresh] == ["anonymous", "anonymous"]
    assert all(r["source_address"] == "testclient" for r in records)
    checked, broken = verify((str(i), r["principal"], r) for i, r in enumerate(records))
    assert (checked, broken) == (len(records), None)


def _record(topic: str, now: int) -> dict:
    return {"tag": "TT-1", "event_time_ms": now, "topic": topic}


def test_a_gateway_is_refused_on_alarm_actions_and_on_output_audit_and_state_topics(
    kafka, api, bearer
):
    """GIVEN a gateway token WHEN it posts an alarm action THEN 403; WHEN it posts to
    alarm.audit, cases, risk.current and unit.states THEN 403 each and none of those topics
    (nor their dead-letter topics) gains a record; its own input topic still works (200)."""
    client, specs, _, _, _ = api
    gateway = bearer("gw-1", "gateway")
    action = {"tag": "TT-1", "condition": "H", "action": "acknowledge"}
    resp = client.post("/v1/alarms/actions", json=action, headers=gateway)
    assert resp.status_code == 403
    assert resp.json()["detail"].startswith("alarm.acknowledge (acknowledge TT-1 H) is not granted")
    names = [n for t in ("alarm.audit", "cases", "risk.current", "unit.states")
             for n in (specs[t].name, specs[t].dlq)]  # fmt: skip
    before = topic_record_counts(kafka, names)
    now = int(time.time() * 1000)
    for topic in ("alarm.audit", "cases", "risk.current", "unit.states"):
        resp = client.post(f"/v1/ingest/{specs[topic].name}", json=[_record(topic, now)],
                           headers=gateway)  # fmt: skip
        assert (resp.status_code, resp.json()["detail"]) == (
            403, f"'gw-1' may not write topic {topic!r}"
        )  # fmt: skip
    assert topic_record_counts(kafka, names) == before == dict.fromkeys(names, 0)
    reading = {"enterprise_code": "E1", "hazard_source_code": "HS1", "unit_code": "U1",
               "tag": "TT-1", "metric_code": "temperature", "value": 1.0, "unit": "°C",
               "quality": "good", "event_time_ms": now}  # fmt: skip
    ok = client.post(f"/v1/ingest/{specs['readings'].name}", json=[reading], headers=gateway)
    assert (ok.status_code, ok.json()["accepted"]) == (200, 1)


def test_the_actor_is_the_caller_and_another_name_is_403_and_audited(kafka, api, bearer):
    """GIVEN operator P012 WHEN it acknowledges as P013 THEN 403, audited as actor_mismatch of
    P012; WHEN it acknowledges without naming an actor THEN 202 and the queued action's actor
    is P012."""
    client, specs, _, _, audit_spec = api
    op = bearer("P012", "operator")
    action = {"tag": "TT-1", "condition": "H", "action": "acknowledge"}
    other = client.post("/v1/alarms/actions", json=action | {"actor": "P013"}, headers=op)
    assert other.status_code == 403
    assert other.json()["detail"] == "actor 'P013' is not the authenticated principal 'P012'"
    assert client.post("/v1/alarms/actions", json=action, headers=op).status_code == 202
    queued = [orjson.loads(v) for _t, v in read_since(kafka, specs["alarm.actions"].name, 0) if v]
    assert [(a["action"], a["actor"]) for a in queued] == [("acknowledge", "P012")]
    audited = [(r["principal"], r["action"], r["outcome"], r["object"])
               for r in _audit(kafka, client, audit_spec)]  # fmt: skip
    assert audited == [
        ("P012", "actor_mismatch", "refused", "/v1/alarms/actions"),
        ("P012", "POST /v1/alarms/actions", "ok", "/v1/alarms/actions"),
    ]


def test_hh_shelving_needs_a_supervisor_with_a_reason_and_at_most_8_h_a_day(api, bearer):
    """GIVEN an HH alarm WHEN an operator shelves it THEN 403; WHEN a shift supervisor shelves
    it without a reason THEN 400; for 8 h with a reason THEN 202; 60 s more THEN 403 (limit)."""
    client, *_ = api
    shelve = {"tag": "TT-1", "condition": "HH", "action": "shelve", "shelve_duration_s": 8 * 3600}
    assert client.post("/v1/alarms/actions", json=shelve | {"reason": "sensor swap"},
                       headers=bearer("P012", "operator")).status_code == 403  # fmt: skip
    boss = bearer("P020", "shift_supervisor")
    assert client.post("/v1/alarms/actions", json=shelve, headers=boss).status_code == 400
    ok = client.post("/v1/alarms/actions", json=shelve | {"reason": "sensor swap"}, headers=boss)
    assert ok.status_code == 202
    more = client.post("/v1/alarms/actions", headers=boss,
                       json=shelve | {"reason": "again", "shelve_duration_s": 60})  # fmt: skip
    assert more.status_code == 403
    assert more.json()["detail"].startswith("shelving TT-1|HH for 60 s exceeds 8 h in 24 h")


def test_an_analyst_cannot_act_on_a_case_its_chain_and_a_safety_manager_can(kafka, api, bearer):
    """GIVEN an open case of HS-01 whose chain is P010, P004, P001 WHEN an analyst acks it THEN
    403 and nothing is queued; WHEN P010 (in the chain) acks THEN 202; WHEN P010 closes THEN 403
    (only safety managers close); a safety manager's comment THEN 202."""
    from confluent_kafka import Producer

    from pipelines.kafka_client import client_config

    client, specs, _, _, _ = api
    case = {"case_id": "CASE-1", "status": "open", "responsibility_chain": ["P010", "P004", "P001"],
            "opened_ms": int(time.time() * 1000)}  # fmt: skip
    producer = Producer(client_config(kafka, "risk-job"))  # the writer of cases.current
    producer.produce(specs["cases.current"].name, key=b"CASE-1", value=orjson.dumps(case))
    producer.flush(10)
    url = "/v1/cases/CASE-1/actions"
    refused = client.post(url, json={"action": "ack"}, headers=bearer("A001", "analyst"))
    assert refused.status_code == 403
    assert (
        client.post(url, json={"action": "ack"}, headers=bearer("P010", "operator")).status_code
        == 202
    )
    assert (
        client.post(url, json={"action": "close"}, headers=bearer("P010", "operator")).status_code
        == 403
    )
    comment = {"action": "comment", "comment": "seen"}
    assert (
        client.post(url, json=comment, headers=bearer("P006", "safety_manager")).status_code == 202
    )
    queued = [orjson.loads(v) for _t, v in read_since(kafka, specs["case.actions"].name, 0) if v]
    assert [(a["action"], a["actor"]) for a in queued] == [("ack", "P010"), ("comment", "P006")]


def test_a_restarted_api_continues_each_principals_chain(kafka, api, bearer):
    """GIVEN audit records of two principals WHEN a new AuditLog recovers its chainer from the
    topic (as the API does on start) and writes one more record for each THEN the whole topic
    still verifies: each new record's prev_hash is its principal's last hash."""
    from pipelines.security.audit import AuditLog

    client, _, producer, _, audit_spec = api
    client.get("/v1/topics")  # anonymous 401
    client.get("/v1/topics", headers=bearer("A001", "analyst"))  # 403
    before = _audit(kafka, client, audit_spec)
    recovered = AuditLog.recover(kafka, audit_spec.name)
    assert recovered.last == {r["principal"]: r["hash"] for r in before}
    restarted = AuditLog(producer, audit_spec.name, recovered)
    subs = [
        restarted.record("A001", "127.0.0.1", "forbidden", "/x", "refused"),
        restarted.record("anonymous", "127.0.0.1", "token_missing", "/x", "refused"),
    ]
    producer.wait(subs, 10.0)
    records = [orjson.loads(v) for _t, v in read_since(kafka, audit_spec.name, 0) if v]
    assert len(records) == 4
    assert verify((str(i), r["principal"], r) for i, r in enumerate(records)) == (4, None)
