"""The platform's HTTP API: edge gateways post batches of records and get per-record verdicts;
people act on alarms and cases; everyone logs in first.

Every endpoint but /healthz and /v1/auth/* needs an access token (`Authorization: Bearer`, from
`POST /v1/auth/token`), and every route names the permission it needs from the one role matrix
(pipelines/security/roles.py). The actor of an alarm or case action IS the authenticated
principal: a body naming someone else is refused (403) and audited. Every state-changing request
and every refusal (401, 403) is written to `security.audit`, chained per principal.

A batch is answered only with what Kafka confirmed: 200 when every record was written (to its
topic, or to the dead-letter topic with its reason), 503 with per-record statuses when Kafka did not
confirm some of them within `ingest.http_delivery_timeout_s`. Re-sending the same batch is safe:
records Kafka confirmed come back `duplicate` (already accepted, nothing new written to the
topic), the others are processed again.
"""

# no `from __future__ import annotations`: FastAPI reads the `Annotated[..., Depends(...)]` of
# each route when it is defined, and those name dependencies local to create_app
import time
import urllib.parse
import uuid
from collections import Counter
from functools import cache
from typing import Annotated

import orjson
from fastapi import Depends, FastAPI, Header, HTTPException, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from pipelines.alarms.shelving import ShelveLedger
from pipelines.ingest import IngestProducer, Submission, split_json_array
from pipelines.security import roles
from pipelines.security.audit import TOPIC as AUDIT_TOPIC
from pipelines.security.audit import AuditLog, outcome_of
from pipelines.security.roles import Permission
from pipelines.security.tokens import Claims, TokenError, TokenService
from pipelines.settings import Settings

# librdkafka checks message timeouts about once a second: waiting this much longer than the
# producer's delivery timeout means every record has its outcome when the batch is answered.
DELIVERY_TIMEOUT_MARGIN_S = 1.5
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class AuditMiddleware:
    """Writes one security.audit record per state-changing request and per refused one (401,
    403), after the answer: principal, source address, action, object, outcome, status."""

    def __init__(self, app, audit: AuditLog) -> None:  # noqa: ANN001 - an ASGI app
        self.app = app
        self.audit = audit

    async def __call__(self, scope, receive, send) -> None:  # noqa: ANN001 - ASGI
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        seen = {"status": 500}

        async def send_status(message: dict) -> None:
            if message["type"] == "http.response.start":
                seen["status"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            status = seen["status"]
            if scope["method"] not in READ_METHODS or status in (401, 403):
                client = scope.get("client")
                self.audit.record(
                    principal=state.get("principal") or "anonymous",
                    source_address=client[0] if client else "unknown",
                    action=state.get("audit_action") or f"{scope['method']} {scope['path']}",
                    obj=scope["path"],
                    outcome=outcome_of(status),
                    status=status,
                    detail=state.get("audit_detail"),
                )


def tls_options(settings: Settings) -> dict[str, str]:
    """Return uvicorn's TLS arguments: the API's certificate from the local CA (`local`, `ci`)
    or the configured files (`cluster`); none when `auth.tls` is off."""
    from pipelines.security.pki import server_cert

    if not settings.auth.tls:
        return {}
    cert = server_cert(settings, "api")
    return {"ssl_certfile": str(cert.cert), "ssl_keyfile": str(cert.key)}


def _refuse(request: Request, status: int, action: str, detail: str) -> HTTPException:
    """Return the HTTPException to raise, with what the audit record says about it."""
    request.state.audit_action = action
    request.state.audit_detail = detail
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return HTTPException(status, detail, headers=headers)


def create_app(
    settings: Settings,
    producer: IngestProducer | None = None,
    topic_prefix: str = "",
    tokens: TokenService | None = None,
    identity=None,  # noqa: ANN001 - an IdentityStore; None: opened on the first login
    audit: AuditLog | None = None,
) -> FastAPI:
    """Return the API bound to one validating producer (topic_prefix: tests, whose topics are
    `<prefix><declared name>`)."""
    in_production = producer is None  # tests and benches bring their own producer
    if producer is None:
        from pipelines.plant import load_plant

        plant = load_plant(settings.simulator.plant_file)
        producer = IngestProducer(
            settings,
            source="http",
            principal="api",
            known_tags=plant.tags.keys(),
            delivery_timeout_s=settings.ingest.http_delivery_timeout_s,
        )
    tokens = tokens or TokenService.from_settings(settings)
    audit_topic = topic_prefix + AUDIT_TOPIC
    if audit is None:
        audit = AuditLog(producer, audit_topic, AuditLog.recover(settings, audit_topic))
    wait_s = settings.ingest.http_delivery_timeout_s + DELIVERY_TIMEOUT_MARGIN_S
    app = FastAPI(
        title="HazChem API",
        description="Edge gateways post batches of records; each record is validated against its "
        "topic's schema and either accepted into Kafka or dead-lettered with its reason. People "
        "act on alarms and cases. Log in with POST /v1/auth/token.",
        version="1",
        docs_url=None,
        openapi_url=None,
        redoc_url=None,
    )
    app.add_middleware(AuditMiddleware, audit=audit)
    app.state.producer = producer
    app.state.audit = audit
    app.state.tokens = tokens
    run_id = uuid.uuid4().hex[:12]
    ingest_topics = sorted(producer.validator.topics)
    shelves = ShelveLedger()
    store: dict = {"identity": identity}

    def identity_store():  # noqa: ANN202 - an IdentityStore
        if store["identity"] is None:
            from pipelines.security.identity import IdentityStore

            store["identity"] = IdentityStore(settings)
        return store["identity"]

    def authenticated(request: Request) -> Claims:
        header = request.headers.get("authorization")
        if not header or not header.startswith("Bearer "):
            raise _refuse(request, 401, "token_missing", "missing bearer token")
        try:
            claims = tokens.verify(header[7:].strip())
        except TokenError as exc:
            raise _refuse(request, 401, "token_refused", str(exc)) from None
        request.state.principal = claims.principal
        return claims

    # the one token check; a bench overrides it (dependency_overrides) to time what it adds
    app.state.authenticated = authenticated

    def require(permission: Permission):  # noqa: ANN202 - a FastAPI dependency
        """The one dependency every route names: a valid token whose roles grant permission."""

        def check(request: Request, claims: Annotated[Claims, Depends(authenticated)]) -> Claims:
            if not roles.allowed(claims.roles, permission):
                raise _refuse(
                    request, 403, "forbidden",
                    f"{permission.value} is not granted to roles {list(claims.roles)}",
                )  # fmt: skip
            return claims

        return check

    def same_actor(request: Request, claims: Claims, body: dict) -> str:
        """Return the actor of an action: the principal; 403 when the body names another."""
        named = body.get("actor")
        if named is not None and named != claims.principal:
            raise _refuse(
                request, 403, "actor_mismatch",
                f"actor {str(named)[:64]!r} is not the authenticated principal"
                f" {claims.principal!r}",
            )  # fmt: skip
        return claims.principal

    @app.get("/healthz")
    def healthz() -> dict:
        return {"status": "ok"}

    @app.get("/openapi.json", include_in_schema=False)
    def openapi(_: Annotated[Claims, Depends(require(Permission.API_DOCS))]) -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False)
    def docs(_: Annotated[Claims, Depends(require(Permission.API_DOCS))]):  # noqa: ANN202
        return get_swagger_ui_html(openapi_url="/openapi.json", title=app.title)

    async def _body(request: Request) -> dict:
        raw = await request.body()
        if "application/x-www-form-urlencoded" in request.headers.get("content-type", ""):
            return {k: v[-1] for k, v in urllib.parse.parse_qs(raw.decode()).items()}
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise HTTPException(400, f"body is not JSON: {exc}") from None
        if not isinstance(body, dict):
            raise HTTPException(400, "body must be a JSON object")
        return body

    def _token_answer(principal) -> dict:  # noqa: ANN001 - an identity Principal
        access, lifetime = tokens.issue(
            principal.name, list(principal.roles),
            list(principal.topics) if principal.topics is not None else None,
        )  # fmt: skip
        return {
            "access_token": access, "token_type": "Bearer", "expires_in": lifetime,
            "refresh_token": identity_store().new_refresh_token(principal.name),
        }  # fmt: skip

    @app.post("/v1/auth/token")
    async def login(request: Request) -> dict:
        """Password grant: {"username", "password"} (JSON or form) -> a short-lived access token
        and a refresh token. 401 when refused; 5 failed logins in a row lock the principal."""
        from pipelines.security.identity import AuthError

        body = await _body(request)
        name, password = body.get("username"), body.get("password")
        if not isinstance(name, str) or not isinstance(password, str):
            raise HTTPException(400, "username and password are required")
        if body.get("grant_type", "password") != "password":
            raise HTTPException(400, "only grant_type=password is supported")
        request.state.principal = name[:128]
        try:
            principal = await run_in_threadpool(identity_store().authenticate, name, password)
        except AuthError as exc:
            raise _refuse(request, 401, exc.event, str(exc)) from None
        request.state.audit_action = "login_ok"
        return await run_in_threadpool(_token_answer, principal)

    @app.post("/v1/auth/refresh")
    async def refresh(request: Request) -> dict:
        """{"refresh_token"} -> a new access token and a new refresh token (the old one is
        spent). 401 when it is unknown, expired, revoked or its principal disabled."""
        from pipelines.security.identity import AuthError

        token = (await _body(request)).get("refresh_token")
        if not isinstance(token, str):
            raise HTTPException(400, "refresh_token is required")
        try:
            principal = await run_in_threadpool(identity_store().use_refresh_token, token)
        except AuthError as exc:
            raise _refuse(request, 401, exc.event, str(exc)) from None
        request.state.principal = principal.name
        request.state.audit_action = "refresh"
        return await run_in_threadpool(_token_answer, principal)

    @app.post("/v1/auth/revoke")
    async def revoke(request: Request) -> dict:
        """{"refresh_token"}: revoke it (always 200, as RFC 7009 says)."""
        token = (await _body(request)).get("refresh_token")
        if not isinstance(token, str):
            raise HTTPException(400, "refresh_token is required")
        owner = await run_in_threadpool(identity_store().revoke_refresh_token, token)
        request.state.principal = owner
        request.state.audit_action = "revoke"
        return {"revoked": owner is not None}

    @app.get("/v1/auth/jwks")
    def jwks() -> dict:
        """The public keys that sign access tokens (JWKS)."""
        return tokens.jwks()

    @app.get("/v1/topics")
    def topics(_: Annotated[Claims, Depends(require(Permission.TOPICS_READ))]) -> dict:
        return {"topics": ingest_topics}

    @app.post("/v1/alarms/actions")
    async def alarm_action(
        request: Request, claims: Annotated[Claims, Depends(authenticated)]
    ) -> JSONResponse:
        """Apply an action (ack, comment, shelve, unshelve, close) to an alarm as the caller.

        Body: {"tag", "condition", "action", optional "actor" (must be the caller),
        "episode_id", "reason", "comment", "shelve_duration_s", "cause", "measures"}. Shelving
        a critical, HH or LL alarm needs a shift supervisor; a shelve needs a reason, and an
        alarm is shelved at most 8 h in any 24 h. The record is queued on `alarm.actions`; the
        alarm job applies it and audits the result on `alarm.audit`.
        """
        from pipelines.alarms.actions import ACTION_NAMES, build_action

        try:
            body = orjson.loads(await request.body())
            action = ACTION_NAMES.get(body["action"])
            tag, condition = body["tag"], str(body["condition"]).upper()
        except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
            raise HTTPException(400, f"bad action: {exc}") from None
        if action is None:
            raise HTTPException(400, f"bad action: unknown action {body['action']!r}")
        permission = roles.ALARM_PERMISSION[action]
        if action == "shelve":
            permission = roles.shelve_permission(condition, tag_priority(tag, condition))
        if not roles.allowed(claims.roles, permission):
            raise _refuse(
                request, 403, "forbidden",
                f"{permission.value} ({action} {tag} {condition}) is not granted to roles"
                f" {list(claims.roles)}",
            )  # fmt: skip
        actor = same_actor(request, claims, body)
        now = int(time.time() * 1000)
        ledger_key = ShelveLedger.key(str(tag), condition)
        if action == "shelve":
            duration = body.get("shelve_duration_s")
            if not body.get("reason") or not isinstance(duration, int | float) or duration <= 0:
                raise HTTPException(400, "bad action: shelve needs a reason and shelve_duration_s")
            refusal = shelves.refusal(ledger_key, now, float(duration))
            if refusal:
                raise _refuse(request, 403, "shelve_limit", refusal)
        try:
            fields = {k: body.get(k) for k in (
                "episode_id", "reason", "comment", "shelve_duration_s", "cause", "measures",
            )}  # fmt: skip
            record = build_action(
                plant_enterprise(), tag, condition, action, actor, action_time_ms=now, **fields
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise HTTPException(400, f"bad action: {exc}") from None
        sub = producer.submit_tracked(
            topic_prefix + "alarm.actions", record=record, source="http:alarm-action"
        )
        await confirm_one(sub)
        verdict = sub.verdict
        if not verdict.accepted:
            raise HTTPException(422, f"{verdict.reason_code}: {verdict.reason}")
        if action == "shelve":
            shelves.add(ledger_key, now, float(record["shelve_duration_s"]))
        return JSONResponse({"status": "queued", "action_id": record["action_id"]}, status_code=202)

    @app.get("/v1/risk/current")
    def risk_current(_: Annotated[Claims, Depends(require(Permission.RISK_READ))]) -> dict:
        """Current four-color level of every hazard source, area and the enterprise, with the
        factors and causes behind it (latest record per object of `risk.current`)."""
        from pipelines.kafka_stats import read_since

        latest: dict[str, dict] = {}
        for _ts, value in read_since(
            settings, topic_prefix + "risk.current", 0, 15.0, principal="api"
        ):
            if value:
                rec = orjson.loads(value)
                latest[f"{rec['object_type']}|{rec['object_code']}"] = rec
        return {"objects": [latest[k] for k in sorted(latest)]}

    @app.get("/v1/cases")
    def list_cases(
        _: Annotated[Claims, Depends(require(Permission.CASE_READ))], status: str | None = None
    ) -> dict:
        """Warning cases, newest first; status filters (open, acknowledged, handled, verified,
        closed, or active = not closed)."""
        from pipelines.risk.service import current_cases

        cases = list(current_cases(settings, topic_prefix).values())
        if status == "active":
            cases = [c for c in cases if c["status"] != "closed"]
        elif status:
            cases = [c for c in cases if c["status"] == status]
        return {"cases": sorted(cases, key=lambda c: c["opened_ms"], reverse=True)}

    @app.get("/v1/cases/{case_id}")
    def show_case(
        case_id: str, _: Annotated[Claims, Depends(require(Permission.CASE_READ))]
    ) -> dict:
        """One case with its audit trail (every event: who, when, what, why)."""
        from pipelines.risk.service import case_history, current_cases

        case = current_cases(settings, topic_prefix).get(case_id)
        if case is None:
            raise HTTPException(404, f"no case '{case_id}'")
        return {**case, "history": case_history(settings, case_id, topic_prefix)}

    @app.post("/v1/cases/{case_id}/actions")
    async def case_action(
        case_id: str, request: Request, claims: Annotated[Claims, Depends(authenticated)]
    ) -> JSONResponse:
        """Act on a case as the caller: {"action": ack|handle|verify|close|comment, optional
        "actor" (must be the caller), "comment", "cause", "measures", "attachments"}. The case's
        包保 chain may ack, handle, comment and verify its own cases, a safety manager any case
        (and only a safety manager closes). Queued on `case.actions`; the risk job applies it
        and records the result (or `action_rejected` with the reason, e.g. verifier = handler)
        on `cases`."""
        from pipelines.risk.service import build_case_action, current_cases

        try:
            body = orjson.loads(await request.body())
            action = body["action"]
        except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
            raise HTTPException(400, f"bad action: {exc}") from None
        case = current_cases(settings, topic_prefix).get(case_id)
        if case is None:
            raise HTTPException(404, f"no case '{case_id}'")
        chain = case.get("responsibility_chain") or []
        if not roles.case_action_allowed(claims.roles, claims.principal, str(action), chain):
            raise _refuse(
                request, 403, "forbidden",
                f"{claims.principal!r} (roles {list(claims.roles)}) may not {action} case"
                f" {case_id}: " + roles.case_refusal_reason(claims.principal, str(action), chain),
            )  # fmt: skip
        actor = same_actor(request, claims, body)
        try:
            record = build_case_action(
                case_id, action, actor,
                **{k: body.get(k) for k in ("comment", "cause", "measures", "attachments")},
            )  # fmt: skip
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise HTTPException(400, f"bad action: {exc}") from None
        sub = producer.submit_tracked(
            topic_prefix + "case.actions", record=record, source="http:case-action"
        )
        await confirm_one(sub)
        verdict = sub.verdict
        if not verdict.accepted:
            raise HTTPException(422, f"{verdict.reason_code}: {verdict.reason}")
        return JSONResponse({"status": "queued", "action_id": record["action_id"]}, status_code=202)

    async def confirm_one(sub: Submission) -> None:
        """Wait (off the event loop) for Kafka to confirm one action; 503 when it did not."""
        await run_in_threadpool(producer.wait, [sub], wait_s)
        producer.write_ledger(run_id)
        if not sub.delivered:
            raise HTTPException(
                503,
                f"Kafka did not confirm the action: {sub.error or 'no answer'}; send it again",
                headers={"Retry-After": "5"},
            )

    @cache
    def plant():  # noqa: ANN202 - the plant model, loaded once
        from pipelines.plant import load_plant

        return load_plant(settings.simulator.plant_file)

    def plant_enterprise() -> str:
        return plant().enterprise_code

    def tag_priority(tag: str, condition: str) -> str | None:
        """Return the configured priority of a tag's condition (None: unknown tag)."""
        config = plant().tags.get(tag)
        return config.priority.get(condition.lower()) if config is not None else None

    if in_production:
        # production: the 24 h shelve history survives a restart (read back from the topic)
        from pipelines.kafka_stats import read_since

        try:
            since = int(time.time() * 1000) - 24 * 3600 * 1000
            shelves.load(
                orjson.loads(v) for _ts, v in read_since(
                    settings, "alarm.actions", since, 15.0, principal="api"
                )
                if v
            )  # fmt: skip
        except KeyError:
            pass

    @app.post("/v1/ingest/{topic}")
    async def ingest(
        topic: str,
        request: Request,
        claims: Annotated[Claims, Depends(require(Permission.INGEST))],
        x_source: str | None = Header(default=None),
    ) -> JSONResponse:
        """Validate a batch: a JSON array, one JSON object, or NDJSON (one record per line).

        Each record's exact bytes are kept (in its dead letter when rejected). 200: every record
        is `accepted`, `duplicate` (already accepted earlier) or `rejected` (dead-lettered with
        its reason). 503: Kafka did not confirm some records (status `unavailable`); re-send the
        batch. 413: body over `ingest.max_batch_bytes` (refused from its Content-Length, unread)
        or more than `ingest.max_batch_records` records. 403: the caller may not write the topic
        (a gateway writes only input topics allowed to it)."""
        if topic not in producer.validator.topics:
            raise HTTPException(404, f"unknown topic '{topic}'")
        base_topic = topic.removeprefix(topic_prefix)
        if not roles.may_write_topic(claims.roles, base_topic, claims.topics):
            raise _refuse(
                request, 403, "forbidden",
                f"{claims.principal!r} may not write topic {base_topic!r}",
            )  # fmt: skip
        limit = settings.ingest.max_batch_bytes
        declared = request.headers.get("content-length")
        if declared is not None:
            if not declared.isdigit():
                raise HTTPException(400, f"bad Content-Length {declared[:40]!r}")
            if int(declared) > limit:
                raise HTTPException(413, f"batch of {int(declared)} bytes exceeds {limit} bytes")
        body = await _read_body(request, limit)
        client = request.client.host if request.client else "unknown"
        source = f"http:{x_source or client}"
        ndjson = "ndjson" in request.headers.get("content-type", "")
        return await run_in_threadpool(ingest_batch, topic, body, source, ndjson)

    def ingest_batch(topic: str, body: bytes, source: str, ndjson: bool) -> JSONResponse:
        """Submit every record of a batch, wait for Kafka, answer per record (runs in a thread:
        the event loop keeps serving /healthz while Kafka is slow or down)."""
        if ndjson:
            raws: list[bytes] | None = [line for line in body.split(b"\n") if line.strip()]
        else:
            stripped = body.strip()
            raws = [stripped] if stripped.startswith(b"{") else split_json_array(body)
        if raws is None:
            # The whole batch is unreadable: keep it as one dead letter, answer 400.
            sub = producer.submit_tracked(topic, raw=body, source=source)
            producer.wait([sub], wait_s)
            producer.write_ledger(run_id)
            if not sub.delivered:
                return _answer(producer, [sub], wait_s)
            raise HTTPException(
                400, f"batch is not a JSON array, a JSON object or NDJSON: {sub.verdict.reason}"
            )
        if len(raws) > settings.ingest.max_batch_records:
            raise HTTPException(
                413, f"batch of {len(raws)} records exceeds {settings.ingest.max_batch_records}"
            )
        subs = [producer.submit_tracked(topic, raw=raw, source=source) for raw in raws]
        producer.wait(subs, wait_s)
        producer.write_ledger(run_id)
        return _answer(producer, subs, wait_s)

    return app


async def _read_body(request: Request, limit: int) -> bytes:
    """Return the body, refusing with 413 as soon as it grows past limit (chunked uploads)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"batch exceeds {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _result(index: int, sub: Submission, producer: IngestProducer, wait_s: float) -> dict:
    """Per-record answer: accepted | duplicate | rejected, or unavailable (not confirmed)."""
    verdict = sub.verdict
    if not sub.delivered:
        what = "record" if verdict.accepted else "dead letter"
        why = sub.error or f"no answer within {wait_s:.1f} s"
        return {
            "index": index,
            "status": "unavailable",
            "reason": f"Kafka did not confirm the {what} ({why}); send it again",
        }
    if verdict.accepted:
        return {"index": index, "status": "accepted"}
    if verdict.resent:
        if producer.is_original_confirmed(sub):
            return {
                "index": index,
                "status": "duplicate",
                "reason_code": verdict.reason_code,
                "reason": verdict.reason,
            }
        # Its original is still in flight and may yet fail: the sender must not count on it.
        return {
            "index": index,
            "status": "unavailable",
            "reason": "the accepted record this repeats is not yet confirmed by Kafka;"
            " send it again",
        }
    return {
        "index": index,
        "status": "rejected",
        "reason_code": verdict.reason_code,
        "reason": verdict.reason,
    }


def _answer(producer: IngestProducer, subs: list[Submission], wait_s: float) -> JSONResponse:
    """200 when every record has a confirmed outcome, else 503 (re-send the batch)."""
    results = [_result(i, sub, producer, wait_s) for i, sub in enumerate(subs)]
    tally = Counter(r["status"] for r in results)
    body = {
        "accepted": tally["accepted"],
        "duplicates": tally["duplicate"],
        "rejected": tally["rejected"],
        "unavailable": tally["unavailable"],
        "results": results,
    }
    if tally["unavailable"]:
        return JSONResponse(body, status_code=503, headers={"Retry-After": "5"})
    return JSONResponse(body)
