"""The demo's people log in to the HTTPS API and act through it, so each action carries who they
are: the identity store (PostgreSQL) is seeded from the plant model, each demo user gets a
password (a local secret `demo.password.<id>`), the API runs as a background process, and every
action's outcome (accepted, or refused with the reason) is kept for the summary."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx

from pipelines.cli_support import UserError
from pipelines.services.process import ManagedProcess
from pipelines.settings import PROJECT_ROOT, Settings

# who logs in, and the role the plant model gives them (pipelines/security/identity.PERSON_ROLES)
DEMO_USERS = {
    "P012": "operator (control room)",
    "P010": "shift supervisor, 包保 operations lead of HS-01",
    "P004": "包保 technical lead of HS-01",
    "P002": "safety manager (safety director)",
}


def api_process(settings: Settings) -> ManagedProcess:
    """Return the background process handle of the demo's API."""
    return ManagedProcess("api", settings.run_dir / "api")


@dataclass
class DemoApi:
    """The running API and the demo users' sessions; `outcomes` lists every call made."""

    settings: Settings
    base_url: str = ""
    tokens: dict[str, str] = field(default_factory=dict)
    outcomes: list[tuple[str, str, int, str]] = field(default_factory=list)
    _client: httpx.Client | None = None
    # people's calls run one after another off the simulator's loop, so a slow call (a case
    # lookup reads the whole cases.current topic) never delays the plant's readings
    _worker: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(1))
    _pending: list[Future] = field(default_factory=list)

    def later(self, call: Callable[[], None]) -> None:
        """Run `call` on the people's worker thread, after the calls queued before it."""
        self._pending.append(self._worker.submit(call))

    def drain(self, timeout_s: float = 120.0) -> None:
        """Wait for every queued call; raise the first error one of them raised."""
        for fut in self._pending:
            fut.result(timeout=timeout_s)
        self._pending.clear()

    def start(self, wait_s: float = 60.0) -> str:
        """Start PostgreSQL and the identity store, seed the demo users, start the API, log them
        in; return a status line."""
        from pipelines.plant import load_plant
        from pipelines.security.identity import IdentityStore
        from pipelines.security.pki import ca_file
        from pipelines.security.secrets import get_secret
        from pipelines.services import flink, postgres

        s = self.settings
        postgres.start(s)
        store = IdentityStore(s)
        store.seed_people(load_plant(s.simulator.plant_file).people)
        for user in DEMO_USERS:
            store.set_password(user, get_secret(s, f"demo.password.{user.lower()}"))
        proc = api_process(s)
        proc.stop(timeout_s=10)  # a leftover from an interrupted demo
        proc.start([sys.executable, "-m", "pipelines.cli", "ingest", "serve"],
                   env=flink.job_env(), cwd=PROJECT_ROOT)  # fmt: skip
        self.base_url = f"https://{s.ingest.http_host}:{s.ingest.http_port}"
        self._client = httpx.Client(base_url=self.base_url, verify=str(ca_file(s)), timeout=15.0)
        deadline = time.monotonic() + wait_s
        while True:
            if proc.pid() is None:
                raise UserError(f"the API stopped during start-up; see {proc.log_file}")
            try:
                if self._client.get("/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise UserError(
                    f"the API did not answer within {wait_s:.0f} s; see {proc.log_file}"
                )
            time.sleep(0.5)
        for user in DEMO_USERS:
            self.login(user)
        return f"api: {self.base_url} (TLS, local CA); logged in: {', '.join(DEMO_USERS)}"

    def login(self, user: str) -> None:
        """Log `user` in with their password; keep the access token."""
        from pipelines.security.secrets import get_secret

        assert self._client is not None
        password = get_secret(self.settings, f"demo.password.{user.lower()}")
        resp = self._client.post("/v1/auth/token", json={"username": user, "password": password})
        if resp.status_code != 200:
            raise UserError(f"demo user {user} could not log in: {resp.status_code} {resp.text}")
        self.tokens[user] = resp.json()["access_token"]

    def act(self, user: str, what: str, path: str, body: dict) -> int:
        """POST `body` to `path` as `user` (logging in again once if the token expired); record
        and return the HTTP status."""
        assert self._client is not None
        for attempt in (1, 2):
            resp = self._client.post(
                path, json=body, headers={"Authorization": f"Bearer {self.tokens[user]}"}
            )
            if resp.status_code == 401 and attempt == 1:
                self.login(user)
                continue
            break
        detail = "" if resp.status_code < 300 else resp.json().get("detail", resp.text)
        self.outcomes.append((user, what, resp.status_code, str(detail)))
        return resp.status_code

    def stop(self) -> None:
        """Stop the API process (PostgreSQL keeps running, like Kafka, until `hazchem down`)."""
        self._worker.shutdown(wait=True, cancel_futures=True)
        if self._client is not None:
            self._client.close()
        api_process(self.settings).stop(timeout_s=10)


def security_summary(settings: Settings, since_ms: int, api: DemoApi) -> list[str]:
    """Return the summary lines: what the users did through the API and the security audit."""
    import json
    from collections import Counter

    from pipelines.kafka_stats import read_since

    lines = ["", " People, through the HTTPS API (each action carries the logged-in principal):"]
    for user, what, status, detail in api.outcomes:
        verdict = "accepted" if status < 300 else f"REFUSED {status}: {detail}"
        lines.append(f"   {user} [{DEMO_USERS[user].split(',')[0]}] {what} -> {verdict}")
    audit = [json.loads(v) for _ts, v in read_since(settings, "security.audit", since_ms)]
    by = Counter(f"{a['action']} {a['outcome']}" for a in audit)
    lines.append(
        f" security.audit: {len(audit)} records ("
        + ", ".join(f"{k} {n}" for k, n in sorted(by.items()))
        + ")"
    )
    from pipelines.security.audit_check import AUDITED_STREAMS
    from pipelines.security.audit_cli import verify_streams

    lines.append(" Hash chains (hazchem audit verify), recomputed from the whole topics:")
    # a broker kept from before the streams were chained holds unchained records at their head
    checks = verify_streams(list(AUDITED_STREAMS), unchained_head=True)
    lines += ["   " + c.line() for c in checks]
    return lines
