"""The security audit trail (安全审计): `security.audit` records, chained per principal.

Every record names principal, source address, action, object, outcome and time and carries the
hash of the same principal's previous record (pipelines/security/chain.py), so `hazchem audit
verify` finds an edited or deleted one. Records go through the validating producer like every
other record (schema security/security_audit), keyed by principal; `recover` re-reads the topic
on API start so each principal's chain continues where it stopped.
"""

from __future__ import annotations

import threading
import time
import uuid

import orjson

from pipelines.security.chain import Chainer

TOPIC = "security.audit"
_OUTCOMES = {2: "ok", 3: "ok", 4: "failed", 5: "error"}


def outcome_of(status: int) -> str:
    """Return the audit outcome of an HTTP status: refused for 401/403."""
    if status in (401, 403):
        return "refused"
    return _OUTCOMES.get(status // 100, "error")


class AuditLog:
    """Writes chained security.audit records through an IngestProducer (or any object with
    `submit_tracked(topic, record=..., source=...)`)."""

    def __init__(self, producer, topic: str = TOPIC, chainer: Chainer | None = None) -> None:  # noqa: ANN001
        self.producer = producer
        self.topic = topic
        self.chainer = chainer or Chainer()
        self._lock = threading.Lock()
        self.submissions: list = []  # the last ones, for tests and shutdown flushes

    @staticmethod
    def recover(settings, topic: str = TOPIC) -> Chainer:  # noqa: ANN001
        """Return a Chainer seeded with each principal's last hash read from the topic."""
        from pipelines.kafka_stats import read_since

        last: dict[str, str] = {}
        try:
            for _ts, value in read_since(settings, topic, 0, 15.0, principal="api"):
                if value:
                    rec = orjson.loads(value)
                    last[rec["principal"]] = rec["hash"]
        except KeyError:  # the topic does not exist yet: every chain starts
            pass
        return Chainer(last)

    def record(
        self,
        principal: str,
        source_address: str,
        action: str,
        obj: str,
        outcome: str,
        status: int | None = None,
        detail: str | None = None,
    ):  # noqa: ANN201 - a Submission
        """Chain and submit one audit record; return its submission (not waited for)."""
        rec = {
            "audit_id": uuid.uuid4().hex,
            "principal": principal[:128] or "anonymous",
            "source_address": source_address[:64],
            "action": action[:128],
            "object": obj[:256],
            "outcome": outcome,
            "status": status,
            "detail": detail[:1024] if detail else None,
            "event_time_ms": int(time.time() * 1000),
        }
        # one lock: the order of a principal's records in the log is their chain order
        with self._lock:
            linked = self.chainer.link(rec["principal"], rec)
            sub = self.producer.submit_tracked(self.topic, record=linked, source="http:audit")
            self.submissions = [*self.submissions[-999:], sub]
        return sub
