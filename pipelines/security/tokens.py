"""Access tokens: short-lived JWTs signed with the platform's Ed25519 key (EdDSA), and in
`cluster` also tokens of an external OIDC provider (its JWKS URL, issuer, audience, role claim).

The signing key pair is generated on first use into the secret `auth.jwt-signing-key` (PEM,
mode 0600, see pipelines/security/secrets.py); in `ci`/`cluster` a missing key is refused like
any secret (`hazchem secrets init` generates it). `/v1/auth/jwks` publishes the public key.
An access token names its principal (`sub`), roles and, for a gateway, its input topics; the API
verifies it without a database call, so it lives only `auth.access_token_s` (5 min by default);
revoking a principal or its refresh tokens takes effect when its access token expires.
"""

from __future__ import annotations

import base64
import hashlib
import os
import time
import uuid
from dataclasses import dataclass, field

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from pipelines.cli_support import UserError
from pipelines.security.secrets import env_name, get_secret, secrets_dir, write_secret
from pipelines.settings import Settings

SIGNING_KEY = "auth.jwt-signing-key"
ISSUER = "hazchem"
AUDIENCE = "hazchem-api"


class TokenError(Exception):
    """A token that is missing, malformed, expired, wrongly signed or from an unknown issuer."""


@dataclass(frozen=True)
class Claims:
    """Who an accepted token speaks for."""

    principal: str
    roles: tuple[str, ...]
    topics: tuple[str, ...] | None = None  # a gateway's own input topics (None: all)
    issuer: str = ISSUER
    extra: dict = field(default_factory=dict, compare=False)


def new_signing_key_pem() -> str:
    """Return a fresh Ed25519 private key as PKCS#8 PEM."""
    key = Ed25519PrivateKey.generate()
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def load_signing_key(settings: Settings) -> Ed25519PrivateKey:
    """Return the platform's signing key: generated on first use in `local` (secret file 0600),
    refused when missing in `ci`/`cluster` (UserError, one line)."""
    path = secrets_dir(settings) / SIGNING_KEY
    if os.environ.get(env_name(SIGNING_KEY)) is None and not path.exists():
        if settings.profile != "local":
            raise UserError(
                f"secret {SIGNING_KEY!r} is not set in profile {settings.profile!r}: set"
                f" {env_name(SIGNING_KEY)} or run `hazchem secrets init`"
            )
        write_secret(settings, SIGNING_KEY, new_signing_key_pem())
    pem = get_secret(settings, SIGNING_KEY)
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise UserError(f"secret {SIGNING_KEY!r} is not an Ed25519 private key (PEM)")
    return key


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenService:
    """Issues and verifies the platform's access tokens; verifies external OIDC ones when set."""

    def __init__(
        self,
        key: Ed25519PrivateKey,
        access_token_s: int = 300,
        oidc: OidcVerifier | None = None,
    ) -> None:
        self._key = key
        public = key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self.kid = hashlib.sha256(public).hexdigest()[:16]
        self._jwk = {"kty": "OKP", "crv": "Ed25519", "x": _b64(public), "use": "sig",
                     "alg": "EdDSA", "kid": self.kid}  # fmt: skip
        self._public = key.public_key()
        self.access_token_s = access_token_s
        self.oidc = oidc

    @classmethod
    def from_settings(cls, settings: Settings) -> TokenService:
        """Return the service with the profile's key; in `cluster` with the OIDC provider when
        `auth.oidc_jwks_url` is set."""
        a = settings.auth
        oidc = None
        if settings.profile == "cluster" and a.oidc_jwks_url:
            oidc = OidcVerifier(a.oidc_jwks_url, a.oidc_issuer, a.oidc_audience, a.oidc_role_claim)
        return cls(load_signing_key(settings), a.access_token_s, oidc)

    def jwks(self) -> dict:
        """Return the public JWKS (what /v1/auth/jwks serves)."""
        return {"keys": [dict(self._jwk)]}

    def issue(
        self, principal: str, roles: list[str], topics: list[str] | None = None
    ) -> tuple[str, int]:
        """Return (access token, lifetime s) for a principal."""
        now = int(time.time())
        claims = {
            "iss": ISSUER, "aud": AUDIENCE, "sub": principal, "iat": now,
            "exp": now + self.access_token_s, "jti": uuid.uuid4().hex, "roles": list(roles),
        }  # fmt: skip
        if topics is not None:
            claims["topics"] = list(topics)
        token = jwt.encode(claims, self._key, algorithm="EdDSA", headers={"kid": self.kid})
        return token, self.access_token_s

    def verify(self, token: str) -> Claims:
        """Return the claims of a valid token; TokenError says why one is refused."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise TokenError(f"malformed token: {exc}") from None
        if header.get("kid") == self.kid:
            try:
                claims = jwt.decode(
                    token, self._public, algorithms=["EdDSA"], audience=AUDIENCE, issuer=ISSUER,
                    options={"require": ["exp", "sub", "iss", "aud"]},
                )  # fmt: skip
            except jwt.PyJWTError as exc:
                raise TokenError(f"token refused: {exc}") from None
            topics = claims.get("topics")
            return Claims(
                claims["sub"], tuple(claims.get("roles") or ()),
                tuple(topics) if topics is not None else None,
            )  # fmt: skip
        if self.oidc is not None:
            return self.oidc.verify(token)
        raise TokenError("token refused: signed by an unknown key")


class OidcVerifier:
    """Verifies tokens of an external OIDC provider against its JWKS (cached by PyJWKClient)."""

    def __init__(self, jwks_url: str, issuer: str | None, audience: str | None, role_claim: str):
        self.client = jwt.PyJWKClient(jwks_url, cache_keys=True, lifespan=300, timeout=5)
        self.issuer = issuer
        self.audience = audience
        self.role_claim = role_claim

    def verify(self, token: str) -> Claims:
        """Return the claims of a token the provider signed; roles from `role_claim` (a dotted
        path, e.g. `realm_access.roles`)."""
        try:
            key = self.client.get_signing_key_from_jwt(token)
            claims = jwt.decode(
                token, key.key, algorithms=["RS256", "ES256", "EdDSA", "PS256"],
                audience=self.audience, issuer=self.issuer,
                options={"require": ["exp", "sub"], "verify_aud": self.audience is not None},
            )  # fmt: skip
        except jwt.PyJWTError as exc:
            raise TokenError(f"token refused: {exc}") from None
        roles: object = claims
        for part in self.role_claim.split("."):
            roles = roles.get(part) if isinstance(roles, dict) else None
        if isinstance(roles, str):
            roles = [roles]
        if not isinstance(roles, list):
            roles = []
        return Claims(claims["sub"], tuple(str(r) for r in roles), None, claims.get("iss", ""))
