"""The API over TLS: `hazchem ingest serve`'s certificate from the local CA, trusted through
ca_file(settings); plain HTTP and an untrusting client get nothing."""

from __future__ import annotations

import ssl

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from pipelines.ingest_api import create_app, tls_options
from pipelines.security.pki import ca_file
from pipelines.security.tokens import TokenService
from pipelines.settings import Settings
from tests.integration.http_server import serve

pytestmark = pytest.mark.integration


class _NoKafka:
    """Stands in for the producer: this test is about the transport only."""

    class validator:  # noqa: N801 - the attribute the API reads
        topics: dict = {}

    def submit_tracked(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
        return None


class _NoAudit:
    def record(self, **kwargs) -> None:  # noqa: ANN003
        return None


def test_the_api_serves_https_that_trusts_the_local_ca_only(tmp_path):
    """GIVEN the API served with tls_options (certificate made by the local CA) WHEN a client
    trusting ca_file asks /healthz over https THEN 200, and /v1/topics without a token 401;
    WHEN a client trusting only the system CAs asks THEN the certificate is refused; WHEN it
    speaks plain HTTP to the port THEN no HTTP answer."""
    settings = Settings(profile="ci", run_dir=tmp_path / "run", secrets_dir=tmp_path / "s")
    tls = tls_options(settings)
    assert set(tls) == {"ssl_certfile", "ssl_keyfile"}
    tokens = TokenService(Ed25519PrivateKey.generate())
    app = create_app(settings, _NoKafka(), tokens=tokens, identity=object(), audit=_NoAudit())
    with serve(app, **tls) as url:
        assert url.startswith("https://127.0.0.1:")
        trust = ssl.create_default_context(cafile=str(ca_file(settings)))
        with httpx.Client(base_url=url, verify=trust) as client:
            assert client.get("/healthz").json() == {"status": "ok"}
            assert client.get("/v1/topics").status_code == 401
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            httpx.get(url + "/healthz")
        with pytest.raises(httpx.HTTPError):
            httpx.get(url.replace("https://", "http://") + "/healthz", timeout=5)
