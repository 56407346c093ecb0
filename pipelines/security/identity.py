"""The identity store (身份库) in PostgreSQL: principals, their roles, password hashes, lockout and
refresh tokens.

Principals are people (from the plant model's `people`, `seed_people`) and service principals
(gateways, jobs, the exchange, regulators). Passwords are argon2id hashes; after
`auth.max_failed_logins` (5) consecutive failed logins a principal is locked for
`auth.lockout_s` (15 min): every login is refused meanwhile, even with the right password, and
the counter restarts after a successful login. Refresh tokens are random, stored only as their
SHA-256, expire after `auth.refresh_token_s`, are rotated on every refresh and can be revoked
(one, or all of a principal's). Revoking a principal disables it and all its refresh tokens.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from pipelines.security.roles import Role, parse_roles
from pipelines.settings import Settings

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
KINDS = ("person", "service")
# plant model person role -> platform roles (people of other roles get no principal)
PERSON_ROLES: dict[str, tuple[Role, ...]] = {
    "control_room_operator": (Role.OPERATOR,),
    "field_operator": (Role.OPERATOR,),
    "utility_operator": (Role.OPERATOR,),
    "loading_operator": (Role.OPERATOR,),
    "shift_leader": (Role.SHIFT_SUPERVISOR,),
    "workshop_director": (Role.SHIFT_SUPERVISOR,),
    "safety_director": (Role.SAFETY_MANAGER,),
    "safety_engineer": (Role.SAFETY_MANAGER,),
    "safety_officer": (Role.SAFETY_MANAGER,),
    "principal_head": (Role.ANALYST,),  # acts on cases through the 包保 chain
    "production_manager": (Role.ANALYST,),
    "chief_engineer": (Role.ANALYST,),
    "deputy_chief_engineer": (Role.ANALYST,),
}
SCHEMA = """
CREATE TABLE IF NOT EXISTS principals (
    name text PRIMARY KEY,
    kind text NOT NULL CHECK (kind IN ('person', 'service')),
    display_name text NOT NULL DEFAULT '',
    roles text[] NOT NULL DEFAULT '{}',
    topics text[],
    password_hash text,
    failed_logins integer NOT NULL DEFAULT 0,
    locked_until timestamptz,
    disabled boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS refresh_tokens (
    token_sha256 text PRIMARY KEY,
    principal text NOT NULL REFERENCES principals(name),
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz
);
"""


class AuthError(Exception):
    """A refused login or refresh; `event` names it for the audit (login_failed, locked...)."""

    def __init__(self, event: str, message: str) -> None:
        super().__init__(message)
        self.event = event


@dataclass(frozen=True)
class Principal:
    """An identity (主体): a person or a service, its roles and (gateways) its input topics."""

    name: str
    kind: str
    display_name: str
    roles: tuple[str, ...]
    topics: tuple[str, ...] | None
    disabled: bool
    locked_until: dt.datetime | None
    has_password: bool


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class IdentityStore:
    """Principals and refresh tokens in the `hazchem` database (role `identity`)."""

    def __init__(self, settings: Settings, connect_args: dict | None = None) -> None:
        from pipelines.services.postgres import identity_dsn

        self.settings = settings
        self._args = connect_args or identity_dsn(settings)
        self._hasher = PasswordHasher()
        # verified against when the principal does not exist: same work, no user enumeration
        self._dummy = self._hasher.hash(secrets.token_urlsafe(16))
        self.migrate()

    def _connect(self):  # noqa: ANN202 - a psycopg2 connection
        import psycopg2

        return psycopg2.connect(**self._args)

    def _run(self, sql: str, args: tuple = (), fetch: bool = False) -> list[tuple]:
        with self._connect() as conn, conn.cursor() as cur:
            cur.execute(sql, args)
            rows = cur.fetchall() if fetch else []
        conn.close()
        return rows

    def migrate(self) -> None:
        """Create the tables when missing."""
        self._run(SCHEMA)

    def create(
        self,
        name: str,
        kind: str,
        roles: list[str],
        display_name: str = "",
        topics: list[str] | None = None,
    ) -> Principal:
        """Create a principal (ValueError for a bad name, kind or role, or an existing name)."""
        if not NAME.fullmatch(name):
            raise ValueError(f"bad principal name {name!r} (letters, digits, . _ @ -; max 64)")
        if kind not in KINDS:
            raise ValueError(f"bad kind {kind!r} (person or service)")
        parse_roles(roles)
        if self.get(name) is not None:
            raise ValueError(f"principal {name!r} exists")
        self._run(
            "INSERT INTO principals (name, kind, display_name, roles, topics)"
            " VALUES (%s, %s, %s, %s, %s)",
            (name, kind, display_name, list(roles), topics),
        )
        return self.get(name)  # type: ignore[return-value]

    def get(self, name: str) -> Principal | None:
        """Return the principal, or None."""
        rows = self._run(
            "SELECT name, kind, display_name, roles, topics, disabled, locked_until,"
            " password_hash IS NOT NULL FROM principals WHERE name = %s",
            (name,),
            fetch=True,
        )
        if not rows:
            return None
        n, kind, display, roles, topics, disabled, locked, has_pw = rows[0]
        return Principal(n, kind, display, tuple(roles), tuple(topics) if topics is not None
                         else None, disabled, locked, has_pw)  # fmt: skip

    def list(self) -> list[Principal]:
        """Return every principal, by name."""
        names = self._run("SELECT name FROM principals ORDER BY name", fetch=True)
        return [p for (n,) in names if (p := self.get(n)) is not None]

    def _require(self, name: str) -> None:
        if self.get(name) is None:
            raise ValueError(f"no principal {name!r}")

    def set_password(self, name: str, password: str) -> None:
        """Store an argon2 hash of the password (at least 12 characters); unlock."""
        self._require(name)
        if len(password) < 12:
            raise ValueError("password too short (at least 12 characters)")
        self._run(
            "UPDATE principals SET password_hash = %s, failed_logins = 0, locked_until = NULL"
            " WHERE name = %s",
            (self._hasher.hash(password), name),
        )

    def grant(self, name: str, roles: list[str]) -> Principal:
        """Add roles to a principal; return it."""
        self._require(name)
        parse_roles(roles)
        self._run(
            "UPDATE principals SET roles = ARRAY(SELECT DISTINCT unnest(roles || %s::text[])"
            " ORDER BY 1) WHERE name = %s",
            (list(roles), name),
        )
        return self.get(name)  # type: ignore[return-value]

    def revoke_principal(self, name: str) -> None:
        """Disable a principal and revoke all its refresh tokens."""
        self._require(name)
        self._run("UPDATE principals SET disabled = true WHERE name = %s", (name,))
        self._run(
            "UPDATE refresh_tokens SET revoked_at = now() WHERE principal = %s"
            " AND revoked_at IS NULL",
            (name,),
        )

    def authenticate(self, name: str, password: str) -> Principal:
        """Return the principal when the password is right; AuthError(login_failed | locked |
        lockout | disabled) otherwise. The 5th consecutive failure locks it."""
        a = self.settings.auth
        rows = self._run(
            "SELECT password_hash, failed_logins, locked_until > now(), disabled"
            " FROM principals WHERE name = %s",
            (name,),
            fetch=True,
        )
        if not rows:
            self._verify(self._dummy, password)
            raise AuthError("login_failed", "wrong name or password")
        pw_hash, _failed, locked, disabled = rows[0]
        if disabled:
            raise AuthError("login_disabled", f"principal {name!r} is disabled")
        if locked:
            raise AuthError("login_locked", f"principal {name!r} is locked after failed logins")
        if pw_hash is None or not self._verify(pw_hash, password):
            (failed,) = self._run(
                "UPDATE principals SET failed_logins = failed_logins + 1 WHERE name = %s"
                " RETURNING failed_logins",
                (name,),
                fetch=True,
            )[0]
            if failed >= a.max_failed_logins:
                self._run(
                    "UPDATE principals SET locked_until = now() + make_interval(secs => %s),"
                    " failed_logins = 0 WHERE name = %s",
                    (a.lockout_s, name),
                )
                raise AuthError(
                    "lockout", f"principal {name!r} locked for {a.lockout_s} s after"
                    f" {failed} failed logins",
                )  # fmt: skip
            raise AuthError("login_failed", "wrong name or password")
        self._run(
            "UPDATE principals SET failed_logins = 0, locked_until = NULL WHERE name = %s",
            (name,),
        )
        return self.get(name)  # type: ignore[return-value]

    def _verify(self, pw_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(pw_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def new_refresh_token(self, name: str) -> str:
        """Return a new refresh token for the principal (only its hash is stored)."""
        token = secrets.token_urlsafe(32)
        self._run(
            "INSERT INTO refresh_tokens (token_sha256, principal, expires_at)"
            " VALUES (%s, %s, now() + make_interval(secs => %s))",
            (_hash_token(token), name, self.settings.auth.refresh_token_s),
        )
        return token

    def use_refresh_token(self, token: str) -> Principal:
        """Consume a refresh token (rotation: it is revoked); return its enabled principal, or
        AuthError(refresh_refused) when unknown, expired, revoked or its principal disabled."""
        rows = self._run(
            "UPDATE refresh_tokens SET revoked_at = now() WHERE token_sha256 = %s"
            " AND revoked_at IS NULL AND expires_at > now() RETURNING principal",
            (_hash_token(token),),
            fetch=True,
        )
        if not rows:
            raise AuthError("refresh_refused", "refresh token unknown, expired or revoked")
        principal = self.get(rows[0][0])
        if principal is None or principal.disabled:
            raise AuthError("refresh_refused", "principal disabled")
        return principal

    def revoke_refresh_token(self, token: str) -> str | None:
        """Revoke one refresh token; return its principal when it was valid, else None."""
        rows = self._run(
            "UPDATE refresh_tokens SET revoked_at = now() WHERE token_sha256 = %s"
            " AND revoked_at IS NULL RETURNING principal",
            (_hash_token(token),),
            fetch=True,
        )
        return rows[0][0] if rows else None

    def seed_people(self, people: dict) -> list[str]:
        """Create a person principal (no password yet) for each plant person whose role maps to
        platform roles (PERSON_ROLES); return the names created."""
        created = []
        for person in people.values():
            roles = PERSON_ROLES.get(person.role)
            if roles is None or self.get(person.person_id) is not None:
                continue
            self.create(person.person_id, "person", [r.value for r in roles], person.name)
            created.append(person.person_id)
        return created
