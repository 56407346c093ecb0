"""Trino's rendered configuration: HTTPS only, password files owner-only with bcrypt hashes of the
secrets, and no secret written in clear."""

import stat

import bcrypt

from pipelines.security.secrets import get_secret
from pipelines.services import trino
from pipelines.settings import Settings


def test_config_is_https_only_with_hashed_passwords_and_no_clear_secret(tmp_path):
    """GIVEN `local` settings under tmp_path WHEN Trino's etc/ is rendered
    THEN plain HTTP is off and HTTPS uses the PEM keystore; the password file (0600) holds a
    bcrypt `$2y$` hash of each user's secret; the shared secret appears in no file."""
    settings = Settings(
        profile="local",
        run_dir=tmp_path / "run",
        secrets_dir=tmp_path / "secrets",
        s3={"endpoint": "http://127.0.0.1:19000"},
    )

    etc = trino.write_config(settings)

    config = (etc / "config.properties").read_text()
    assert "http-server.http.enabled=false" in config
    assert "http-server.https.enabled=true" in config
    assert "http-server.authentication.type=PASSWORD" in config
    assert "internal-communication.shared-secret=${ENV:HAZCHEM_TRINO_SHARED_SECRET}" in config
    lines = dict(line.split(":", 1) for line in (etc / "password.db").read_text().splitlines())
    assert sorted(lines) == sorted(trino.USERS)
    for user, hashed in lines.items():
        assert hashed.startswith("$2y$10$")
        secret = trino.password(settings, user).encode()
        assert bcrypt.checkpw(secret, ("$2b$" + hashed[4:]).encode())
    for private in (etc / "password.db", etc / "catalog" / "lake.properties"):
        assert stat.S_IMODE(private.stat().st_mode) == 0o600
    shared = get_secret(settings, "trino.internal")
    assert not [p for p in etc.rglob("*") if p.is_file() and shared in p.read_text()]
