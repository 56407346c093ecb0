"""HTTP ingest endpoint for edge gateways: POST batches with a bearer token,
get per-record verdicts."""

from __future__ import annotations

import hmac
import json
import uuid

import orjson
from fastapi import Depends, FastAPI, Header, HTTPException, Request
from fastapi.responses import JSONResponse

from pipelines.ingest import IngestProducer, Verdict
from pipelines.settings import Settings


def create_app(
    settings: Settings, producer: IngestProducer | None = None, topic_prefix: str = ""
) -> FastAPI:
    """Return the ingest API bound to one validating producer (topic_prefix: tests)."""
    if producer is None:
        from pipelines.plant import load_plant

        plant = load_plant(settings.simulator.plant_file)
        producer = IngestProducer(settings, source="http", known_tags=plant.tags.keys())
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
        verdict = producer.submit("alarm.actions", record=record, source="http:alarm-action")
        producer.flush(10)
        producer.write_ledger(run_id)
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
        verdict = producer.submit(
            topic_prefix + "case.actions", record=record, source="http:case-action"
        )
        producer.flush(10)
        producer.write_ledger(run_id)
        if not verdict.accepted:
            raise HTTPException(422, f"{verdict.reason_code}: {verdict.reason}")
        return JSONResponse({"status": "queued", "action_id": record["action_id"]}, status_code=202)

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
        """Validate a batch: a JSON array, or NDJSON (one record per line, exact bytes kept)."""
        if topic not in producer.validator.topics:
            raise HTTPException(404, f"unknown topic '{topic}'")
        body = await request.body()
        limit = settings.ingest.max_record_bytes * settings.ingest.max_batch_records
        if len(body) > limit:
            raise HTTPException(413, f"batch of {len(body)} bytes exceeds {limit} bytes")
        client = request.client.host if request.client else "unknown"
        source = f"http:{x_source or client}"
        ctype = request.headers.get("content-type", "")
        if "ndjson" in ctype:
            raws = [line for line in body.split(b"\n") if line.strip()]
        else:
            try:
                items = orjson.loads(body)
            except orjson.JSONDecodeError:
                items = _lenient_items(body)
            if items is None:
                # The whole batch is unreadable: keep it as one dead letter, answer 400.
                verdict = producer.submit(topic, raw=body, source=source)
                producer.flush(10)
                producer.write_ledger(run_id)
                raise HTTPException(400, f"batch is not valid JSON: {verdict.reason}") from None
            if not isinstance(items, list):
                items = [items]
            raws = [json.dumps(item, allow_nan=True, ensure_ascii=False).encode() for item in items]
        if len(raws) > settings.ingest.max_batch_records:
            raise HTTPException(
                413, f"batch of {len(raws)} records exceeds {settings.ingest.max_batch_records}"
            )
        results = []
        for i, raw in enumerate(raws):
            verdict: Verdict = producer.submit(topic, raw=raw, source=source)
            results.append(
                {"index": i, "status": "accepted"}
                if verdict.accepted
                else {
                    "index": i,
                    "status": "rejected",
                    "reason_code": verdict.reason_code,
                    "reason": verdict.reason,
                }
            )
        producer.flush(30)
        producer.write_ledger(run_id)
        accepted = sum(1 for r in results if r["status"] == "accepted")
        return JSONResponse(
            {"accepted": accepted, "rejected": len(results) - accepted, "results": results}
        )

    return app


def _lenient_items(body: bytes) -> list | None:
    """Split a batch that is JSON but for NaN/Infinity, so only the bad records are rejected."""
    try:
        items = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    return items if isinstance(items, list) else [items]
