"""HTTP ingest endpoint for edge gateways: POST batches with a bearer token,
get per-record verdicts.

A batch is answered only with what Kafka confirmed: 200 when every record was written (to its
topic, or to the dead-letter topic with its reason), 503 with per-record statuses when Kafka did not
confirm some of them within `ingest.http_delivery_timeout_s`. Re-sending the same batch is safe:
records Kafka confirmed come back `duplicate` (already accepted, nothing new written to the
topic), the others are processed again.
"""

from __future__ import annotations

import hmac
import uuid
from collections import Counter

import orjson
from fastapi import Depends, FastAPI, Header, HTTPException, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from pipelines.ingest import IngestProducer, Submission, split_json_array
from pipelines.settings import Settings

# librdkafka checks message timeouts about once a second: waiting this much longer than the
# producer's delivery timeout means every record has its outcome when the batch is answered.
DELIVERY_TIMEOUT_MARGIN_S = 1.5


def create_app(
    settings: Settings, producer: IngestProducer | None = None, topic_prefix: str = ""
) -> FastAPI:
    """Return the ingest API bound to one validating producer (topic_prefix: tests)."""
    if producer is None:
        from pipelines.plant import load_plant

        plant = load_plant(settings.simulator.plant_file)
        producer = IngestProducer(
            settings,
            source="http",
            known_tags=plant.tags.keys(),
            delivery_timeout_s=settings.ingest.http_delivery_timeout_s,
        )
    wait_s = settings.ingest.http_delivery_timeout_s + DELIVERY_TIMEOUT_MARGIN_S
    app = FastAPI(
        title="HazChem ingest API",
        description="Edge gateways post batches of records; each record is validated against its "
        "topic's schema and either accepted into Kafka or dead-lettered with its reason.",
        version="1",
    )
    app.state.producer = producer
    run_id = uuid.uuid4().hex[:12]
    ingest_topics = sorted(producer.validator.topics)

    def authorise(authorization: str | None = Header(default=None)) -> str:
        token = settings.ingest.http_token
        if not authorization or not authorization.startswith("Bearer "):
            raise HTTPException(401, "missing bearer token", headers={"WWW-Authenticate": "Bearer"})
        if not hmac.compare_digest(authorization[7:].encode(), token.encode()):
            raise HTTPException(403, "invalid token")
        return "gateway"

    @app.get("/healthz")
    def healthz() -> dict:
        return {"status": "ok"}

    @app.get("/v1/topics")
    def topics(_: str = Depends(authorise)) -> dict:
        return {"topics": ingest_topics}

    @app.post("/v1/alarms/actions")
    async def alarm_action(request: Request, _: str = Depends(authorise)) -> JSONResponse:
        """Apply an operator action (ack, comment, shelve, unshelve, close) to an alarm.

        Body: {"tag", "condition", "action", "actor", optional "episode_id", "reason", "comment",
        "shelve_duration_s", "cause", "measures"}. The record is validated and queued on
        `alarm.actions`; the alarm job applies it and audits the result on `alarm.audit`.
        """
        from pipelines.alarms.actions import build_action

        try:
            body = orjson.loads(await request.body())
            fields = {k: body.get(k) for k in (
                "episode_id", "reason", "comment", "shelve_duration_s", "cause", "measures",
            )}  # fmt: skip
            record = build_action(
                settings_enterprise(),
                body["tag"],
                body["condition"],
                body["action"],
                body["actor"],
                **fields,
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
            raise HTTPException(400, f"bad action: {exc}") from None
        sub = producer.submit_tracked("alarm.actions", record=record, source="http:alarm-action")
        await confirm_one(sub)
        verdict = sub.verdict
        if not verdict.accepted:
            raise HTTPException(422, f"{verdict.reason_code}: {verdict.reason}")
        return JSONResponse({"status": "queued", "action_id": record["action_id"]}, status_code=202)

    @app.get("/v1/risk/current")
    def risk_current(_: str = Depends(authorise)) -> dict:
        """Current four-color level of every hazard source, area and the enterprise, with the
        factors and causes behind it (latest record per object of `risk.current`)."""
        from pipelines.kafka_stats import read_since

        latest: dict[str, dict] = {}
        for _ts, value in read_since(settings, topic_prefix + "risk.current", 0, 15.0):
            if value:
                rec = orjson.loads(value)
                latest[f"{rec['object_type']}|{rec['object_code']}"] = rec
        return {"objects": [latest[k] for k in sorted(latest)]}

    @app.get("/v1/cases")
    def list_cases(status: str | None = None, _: str = Depends(authorise)) -> dict:
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
    def show_case(case_id: str, _: str = Depends(authorise)) -> dict:
        """One case with its audit trail (every event: who, when, what, why)."""
        from pipelines.risk.service import case_history, current_cases

        case = current_cases(settings, topic_prefix).get(case_id)
        if case is None:
            raise HTTPException(404, f"no case '{case_id}'")
        return {**case, "history": case_history(settings, case_id, topic_prefix)}

    @app.post("/v1/cases/{case_id}/actions")
    async def case_action(
        case_id: str, request: Request, _: str = Depends(authorise)
    ) -> JSONResponse:
        """Act on a case: {"action": ack|handle|verify|close|comment, "actor", optional "comment",
        "cause", "measures", "attachments"}. Queued on `case.actions`; the risk job applies it
        and records the result (or `action_rejected` with the reason) on `cases`."""
        from pipelines.risk.service import build_case_action, current_cases

        if case_id not in current_cases(settings, topic_prefix):
            raise HTTPException(404, f"no case '{case_id}'")
        try:
            body = orjson.loads(await request.body())
            record = build_case_action(
                case_id, body["action"], body["actor"],
                **{k: body.get(k) for k in ("comment", "cause", "measures", "attachments")},
            )  # fmt: skip
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
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

    def settings_enterprise() -> str:
        from pipelines.plant import load_plant

        return load_plant(settings.simulator.plant_file).enterprise_code

    @app.post("/v1/ingest/{topic}")
    async def ingest(
        topic: str,
        request: Request,
        x_source: str | None = Header(default=None),
        _: str = Depends(authorise),
    ) -> JSONResponse:
        """Validate a batch: a JSON array, one JSON object, or NDJSON (one record per line).

        Each record's exact bytes are kept (in its dead letter when rejected). 200: every record
        is `accepted`, `duplicate` (already accepted earlier) or `rejected` (dead-lettered with
        its reason). 503: Kafka did not confirm some records (status `unavailable`); re-send the
        batch. 413: body over `ingest.max_batch_bytes` (refused from its Content-Length, unread)
        or more than `ingest.max_batch_records` records."""
        if topic not in producer.validator.topics:
            raise HTTPException(404, f"unknown topic '{topic}'")
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
