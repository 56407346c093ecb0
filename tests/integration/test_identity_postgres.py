"""The identity store on the local PostgreSQL server: scram-sha-256 only, argon2 passwords,
lockout after 5 failed logins, refresh tokens rotated and revocable, and the `hazchem auth` CLI."""

from __future__ import annotations

import os
import subprocess
import uuid

import pytest

from pipelines.security.identity import AuthError, IdentityStore
from pipelines.security.secrets import get_secret

pytestmark = pytest.mark.integration


def _psql(settings, user: str, password: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["PGCONNECT_TIMEOUT"] = "5"
    if password is not None:
        env["PGPASSWORD"] = password
    argv = ["psql", "-h", "127.0.0.1", "-p", str(settings.airflow.pg_port), "-U", user,
            "-d", "hazchem", "-w", "-tAc", "SELECT current_user"]  # fmt: skip
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=30)


def test_psql_without_a_password_fails_and_with_it_works(postgres):
    """GIVEN the local server WHEN psql connects as `identity` (and as the superuser) without a
    password THEN it fails asking for one; with a wrong one it fails scram authentication;
    with the secret it works. pg_hba.conf has no `trust` line."""
    settings = postgres
    for user in ("identity", "postgres"):
        refused = _psql(settings, user, None)
        assert refused.returncode == 2
        assert "no password supplied" in refused.stderr
    wrong = _psql(settings, "identity", "not-the-password")
    assert wrong.returncode == 2
    assert 'password authentication failed for user "identity"' in wrong.stderr
    ok = _psql(settings, "identity", get_secret(settings, "postgres.identity"))
    assert (ok.returncode, ok.stdout.strip()) == (0, "identity")
    hba = (settings.airflow.pg_data_dir / "pg_hba.conf").read_text()
    rules = [line.split() for line in hba.splitlines() if line and not line.startswith("#")]
    assert {r[-1] for r in rules} == {"scram-sha-256"}


@pytest.fixture
def store(postgres):
    return IdentityStore(postgres)


def _name() -> str:
    return f"t-{uuid.uuid4().hex[:10]}"


def test_five_bad_passwords_lock_the_principal_even_against_the_right_one(store):
    """GIVEN an operator with a password WHEN 4 wrong passwords THEN login_failed each; the 5th
    THEN lockout; the right password then THEN still refused (login_locked). A new password
    unlocks it and the right one logs in."""
    name = _name()
    store.create(name, "person", ["operator"], "测试")
    store.set_password(name, "correct horse battery")
    events = []
    for _ in range(5):
        with pytest.raises(AuthError) as err:
            store.authenticate(name, "wrong password!")
        events.append(err.value.event)
    assert events == ["login_failed"] * 4 + ["lockout"]
    with pytest.raises(AuthError) as err:
        store.authenticate(name, "correct horse battery")
    assert err.value.event == "login_locked"
    assert store.get(name).locked_until is not None
    store.set_password(name, "correct horse battery 2")
    assert store.authenticate(name, "correct horse battery 2").roles == ("operator",)


def test_refresh_tokens_rotate_and_revoke(store):
    """GIVEN a refresh token WHEN used THEN its principal, and a second use is refused (spent);
    WHEN a new one is revoked THEN it is refused; WHEN the principal is revoked THEN its other
    tokens and its logins are refused. Only the token's SHA-256 is stored."""
    name = _name()
    store.create(name, "service", ["gateway"], topics=["readings"])
    store.set_password(name, "gateway-password-1")
    first = store.new_refresh_token(name)
    assert store.use_refresh_token(first).topics == ("readings",)
    with pytest.raises(AuthError, match="unknown, expired or revoked"):
        store.use_refresh_token(first)
    second = store.new_refresh_token(name)
    assert store.revoke_refresh_token(second) == name
    assert store.revoke_refresh_token(second) is None
    with pytest.raises(AuthError):
        store.use_refresh_token(second)
    third = store.new_refresh_token(name)
    stored = store._run("SELECT token_sha256 FROM refresh_tokens WHERE principal = %s", (name,),
                        fetch=True)  # fmt: skip
    assert third not in {row[0] for row in stored} and len(stored) == 3
    store.revoke_principal(name)
    with pytest.raises(AuthError):
        store.use_refresh_token(third)
    with pytest.raises(AuthError) as err:
        store.authenticate(name, "gateway-password-1")
    assert err.value.event == "login_disabled"


def test_auth_cli_creates_sets_the_password_from_stdin_and_lists(postgres):
    """GIVEN the CLI WHEN a gateway is created, its password given on stdin and a role granted
    THEN `hazchem auth list` shows it with both roles and no `no-password` flag; an unknown role
    is one line, exit 2."""
    from typer.testing import CliRunner

    from pipelines.cli import app

    runner = CliRunner()
    name = _name()
    created = runner.invoke(app, ["auth", "create", name, "--role", "gateway"])
    assert created.exit_code == 0, created.output
    pw = runner.invoke(app, ["auth", "passwd", name, "--stdin"], input="a-long-gateway-secret\n")
    assert (pw.exit_code, pw.output.strip()) == (0, f"password set for {name}")
    assert runner.invoke(app, ["auth", "grant", name, "analyst"]).exit_code == 0
    listed = [line for line in runner.invoke(app, ["auth", "list"]).output.splitlines()
              if line.startswith(name + " ")]  # fmt: skip
    assert listed[0].split()[1:] == ["service", "analyst,gateway"]
    bad = runner.invoke(app, ["auth", "grant", name, "root"])
    assert bad.exit_code == 2
    assert bad.output.startswith("error: unknown role 'root'")
