"""Access tokens: EdDSA-signed JWTs of the platform, and an external OIDC provider's in
`cluster` (checked against its JWKS served by a local HTTP server)."""

from __future__ import annotations

import json
import stat
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from pipelines.cli_support import UserError
from pipelines.security.secrets import write_secret
from pipelines.security.tokens import (
    SIGNING_KEY,
    Claims,
    TokenError,
    TokenService,
    load_signing_key,
    new_signing_key_pem,
)
from pipelines.settings import AuthSettings, Settings


def _settings(tmp_path, profile="local", **auth) -> Settings:  # noqa: ANN003
    return Settings(profile=profile, run_dir=tmp_path / "run", secrets_dir=tmp_path / "secrets",
                    auth=AuthSettings(**auth))  # fmt: skip


def test_a_token_names_its_principal_roles_and_topics():
    """GIVEN a token issued to gateway gw-1 for readings WHEN verified THEN the same principal,
    roles and topics, and it expires after access_token_s."""
    tokens = TokenService(Ed25519PrivateKey.generate(), access_token_s=300)
    token, lifetime = tokens.issue("gw-1", ["gateway"], ["readings"])
    assert lifetime == 300
    assert tokens.verify(token) == Claims("gw-1", ("gateway",), ("readings",))
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 300
    assert jwt.get_unverified_header(token)["alg"] == "EdDSA"


def test_expired_foreign_and_tampered_tokens_are_refused():
    """GIVEN an expired token, one signed by another key and one whose roles were edited WHEN
    verified THEN TokenError each, saying why."""
    tokens = TokenService(Ed25519PrivateKey.generate(), access_token_s=1)
    expired, _ = tokens.issue("P012", ["operator"])
    other, _ = TokenService(Ed25519PrivateKey.generate()).issue("P012", ["admin"])
    good, _ = tokens.issue("P012", ["operator"])
    head, body, sig = good.split(".")
    claims = json.loads(jwt.utils.base64url_decode(body))
    claims["roles"] = ["admin"]
    forged = ".".join([head, jwt.utils.base64url_encode(json.dumps(claims).encode()).decode(), sig])
    time.sleep(2.1)
    with pytest.raises(TokenError, match="Signature has expired"):
        tokens.verify(expired)
    with pytest.raises(TokenError, match="signed by an unknown key"):
        tokens.verify(other)
    with pytest.raises(TokenError, match="Signature verification failed"):
        tokens.verify(forged)


def test_the_jwks_verifies_the_platforms_tokens():
    """GIVEN the published JWKS WHEN a token is verified with it alone (as another service
    would) THEN its claims come back."""
    tokens = TokenService(Ed25519PrivateKey.generate())
    token, _ = tokens.issue("P006", ["safety_manager"])
    (jwk,) = tokens.jwks()["keys"]
    assert (jwk["kty"], jwk["crv"], jwk["alg"], jwk["kid"]) == ("OKP", "Ed25519", "EdDSA",
                                                                tokens.kid)  # fmt: skip
    key = jwt.PyJWK(jwk).key
    assert jwt.decode(token, key, algorithms=["EdDSA"], audience="hazchem-api")["sub"] == "P006"


def test_the_signing_key_is_generated_once_in_local_and_refused_missing_in_ci(tmp_path):
    """GIVEN no key WHEN loaded in `local` twice THEN one key, kept as a 0600 secret file;
    WHEN loaded in `ci` THEN one-line UserError naming the secret."""
    local = _settings(tmp_path / "l")
    first = load_signing_key(local)
    assert first.public_key() == load_signing_key(local).public_key()
    mode = (tmp_path / "l" / "secrets" / SIGNING_KEY).stat().st_mode
    assert stat.S_IMODE(mode) == 0o600
    with pytest.raises(UserError, match=r"secret 'auth.jwt-signing-key' is not set in profile"):
        load_signing_key(_settings(tmp_path / "c", profile="ci"))


class _Jwks(BaseHTTPRequestHandler):
    body = b""

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args) -> None:  # noqa: ANN002
        pass


def test_cluster_accepts_tokens_of_the_external_oidc_provider(tmp_path):
    """GIVEN `cluster` configured with an OIDC provider whose JWKS a local HTTP server serves
    WHEN one of its ES256 tokens (roles under realm_access.roles) is verified THEN its subject
    and roles; a token of the right key but another issuer is refused."""
    idp_key = ec.generate_private_key(ec.SECP256R1())
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(idp_key.public_key()))
    _Jwks.body = json.dumps(
        {"keys": [jwk | {"kid": "idp-1", "alg": "ES256", "use": "sig"}]}
    ).encode()
    server = HTTPServer(("127.0.0.1", 0), _Jwks)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/jwks"
        settings = _settings(tmp_path, profile="cluster", oidc_jwks_url=url,
                             oidc_issuer="https://idp.example", oidc_audience="hazchem",
                             oidc_role_claim="realm_access.roles")  # fmt: skip
        write_secret(settings, SIGNING_KEY, new_signing_key_pem())
        tokens = TokenService.from_settings(settings)

        def idp_token(issuer: str) -> str:
            claims = {"sub": "alice", "iss": issuer, "aud": "hazchem",
                      "exp": int(time.time()) + 60,
                      "realm_access": {"roles": ["analyst", "regulator"]}}  # fmt: skip
            return jwt.encode(claims, idp_key, algorithm="ES256", headers={"kid": "idp-1"})

        claims = tokens.verify(idp_token("https://idp.example"))
        assert (claims.principal, claims.roles) == ("alice", ("analyst", "regulator"))
        with pytest.raises(TokenError, match="Invalid issuer"):
            tokens.verify(idp_token("https://evil.example"))
    finally:
        server.shutdown()


def test_secrets_init_generates_the_signing_key_with_the_other_secrets(tmp_path, monkeypatch):
    """GIVEN an empty secrets folder in `ci` WHEN `hazchem secrets init` runs twice THEN the
    first writes every secret and the signing key (a loadable Ed25519 key, mode 0600), the
    second keeps them all."""
    from typer.testing import CliRunner

    from pipelines.cli import app
    from pipelines.security.secrets import SECRET_NAMES
    from pipelines.settings import get_settings

    monkeypatch.setenv("HAZCHEM_PROFILE", "ci")
    monkeypatch.setenv("HAZCHEM_SECRETS_DIR", str(tmp_path / "s"))
    get_settings.cache_clear()
    try:
        first = CliRunner().invoke(app, ["secrets", "init"])
        assert (
            first.output
            == f"secrets: {len(SECRET_NAMES) + 1} generated, 0 kept in {tmp_path / 's'}\n"
        )
        second = CliRunner().invoke(app, ["secrets", "init"])
        assert second.output.startswith(f"secrets: 0 generated, {len(SECRET_NAMES) + 1} kept")
        assert load_signing_key(get_settings()) is not None
        assert stat.S_IMODE((tmp_path / "s" / SIGNING_KEY).stat().st_mode) == 0o600
    finally:
        get_settings.cache_clear()
