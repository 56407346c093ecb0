"""Benchmark: what authentication costs. Access tokens verified per second in one process, and
the p50 latency authentication adds to an ingest request (the same batch posted in-process to
the API with its token check, and with the check replaced by fixed claims).

Kafka is left out on purpose: the producer validates each record like the real one and confirms
it at once, so the difference is the token check alone (audit records are built in both modes).
Writes bench/results/auth.json (machine, git commit and settings inside) and prints it. Not a
test: run it with `.venv/bin/python bench/auth_bench.py` (about 30 s).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import orjson
from _meta import bench_meta, write_result  # sibling bench module
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from pipelines.ingest import RecordValidator, Submission
from pipelines.ingest_api import create_app
from pipelines.security.audit import AuditLog
from pipelines.security.tokens import Claims, TokenService
from pipelines.settings import get_settings
from pipelines.topics import load_topics


class InMemoryProducer:
    """Validates records like IngestProducer and confirms them at once (no Kafka)."""

    def __init__(self, validator: RecordValidator) -> None:
        self.validator = validator

    def submit_tracked(self, topic, record=None, raw=None, source=None) -> Submission:  # noqa: ANN001
        if raw is not None:
            verdict = self.validator.check_bytes(topic, raw)
        else:
            verdict = self.validator.check_record(topic, record)
        orjson.dumps(verdict.record if verdict.accepted else {"raw": str(raw)[:64]})
        return Submission(topic, verdict, delivered=True)

    def wait(self, submissions, timeout_s: float) -> bool:  # noqa: ANN001
        return True

    def write_ledger(self, run_id: str) -> None:
        return None

    def is_original_confirmed(self, sub: Submission) -> bool:
        return True


def _fixed_claims() -> Claims:
    """The claims a token would carry, without the token (no parameters: nothing to parse)."""
    return Claims("gw-bench", ("gateway",), ("readings",))


def verify_rate(tokens: TokenService, seconds: float) -> dict:
    """Return how many access tokens one thread verifies per second."""
    token, _ = tokens.issue("gw-bench", ["gateway"], ["readings"])
    n = 0
    start = time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(200):
            tokens.verify(token)
        n += 200
    return {"tokens_verified": n, "wall_s": round(elapsed, 3),
            "tokens_verified_per_s": round(n / elapsed),
            "ms_per_token": round(elapsed * 1000 / n, 4)}  # fmt: skip


def ingest_latency(tokens: TokenService, requests: int, batch: int) -> dict:
    """Return p50/p90 latency (ms) of the same batch posted with and without the token check."""
    settings = get_settings()
    specs = [t for t in load_topics() if t.name in ("readings", "security.audit")]
    apps = {}
    for mode in ("with_auth", "without_auth"):
        validator = RecordValidator(settings.ingest, known_tags={"TT-1"}, topics=specs)
        producer = InMemoryProducer(validator)
        app = create_app(settings, producer=producer, tokens=tokens, identity=object(),
                         audit=AuditLog(producer))  # fmt: skip
        if mode == "without_auth":
            app.dependency_overrides[app.state.authenticated] = _fixed_claims
        apps[mode] = TestClient(app)
    token, _ = tokens.issue("gw-bench", ["gateway"], ["readings"])
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"}
    now = int(time.time() * 1000)
    body = b"\n".join(
        orjson.dumps({"enterprise_code": "E1", "hazard_source_code": "HS1", "unit_code": "U1",
                      "tag": "TT-1", "metric_code": "temperature", "value": 20.5 + i,
                      "unit": "°C", "quality": "good", "event_time_ms": now - i})
        for i in range(batch)
    )  # fmt: skip
    times: dict[str, list[float]] = {m: [] for m in apps}
    for i in range(requests + 20):  # alternate the modes; the first 20 rounds warm up
        order = list(apps.items()) if i % 2 else list(apps.items())[::-1]  # no order bias
        for mode, client in order:
            t0 = time.perf_counter()
            resp = client.post("/v1/ingest/readings", content=body, headers=headers)
            elapsed = time.perf_counter() - t0
            assert resp.status_code == 200 and resp.json()["accepted"] == batch, resp.text
            if i >= 20:
                times[mode].append(elapsed * 1000)
    out: dict = {"requests_per_mode": requests, "records_per_batch": batch}
    for mode, ms in times.items():
        q = statistics.quantiles(ms, n=10)
        out[mode] = {"p50_ms": round(statistics.median(ms), 3), "p90_ms": round(q[8], 3)}
    out["added_p50_ms"] = round(out["with_auth"]["p50_ms"] - out["without_auth"]["p50_ms"], 3)
    # the token check is one signature verification (ms_per_token above); on a loaded machine
    # the p50 difference of whole requests can be smaller than their run-to-run spread
    out["note"] = "added_p50_ms within +-(p90-p50) is noise: compare with verify.ms_per_token"
    return out


def main() -> None:
    """Parse arguments, run the benchmark and print its JSON result."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--verify-seconds", type=float, default=5.0)
    parser.add_argument("--requests", type=int, default=1000, help="ingest requests per mode")
    parser.add_argument("--batch", type=int, default=100, help="readings per request")
    args = parser.parse_args()
    used = {"verify_seconds": args.verify_seconds, "requests": args.requests,
            "batch": args.batch, "algorithm": "EdDSA (Ed25519)"}  # fmt: skip
    non_defaults = {
        f"--{k.replace('_', '-')}": {"used": v, "default": parser.get_default(k)}
        for k, v in vars(args).items()
        if v != parser.get_default(k)
    }
    tokens = TokenService(Ed25519PrivateKey.generate())
    result = {"meta": bench_meta(used, non_defaults)}
    result["verify"] = verify_rate(tokens, args.verify_seconds)
    result["ingest"] = ingest_latency(tokens, args.requests, args.batch)
    write_result("auth", result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
