"""Secrets are generated only in `local`, refused when missing or default elsewhere, stored 0600;
the local CA issues server certificates that a TLS client verifies."""

import ssl
import stat

import pytest

from pipelines.cli_support import UserError
from pipelines.security.pki import server_cert
from pipelines.security.secrets import get_secret, write_secret
from pipelines.settings import Settings


def _settings(tmp_path, profile="local") -> Settings:
    return Settings(profile=profile, run_dir=tmp_path / "run", secrets_dir=tmp_path / "secrets")


def test_local_generates_a_secret_once_with_mode_0600(tmp_path):
    """GIVEN no secret WHEN read twice in `local` THEN the same random value, file mode 0600,
    folder mode 0700."""
    s = _settings(tmp_path)
    first = get_secret(s, "kafka.gateway")
    assert len(first) >= 32 and get_secret(s, "kafka.gateway") == first
    assert stat.S_IMODE((tmp_path / "secrets" / "kafka.gateway").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "secrets").stat().st_mode) == 0o700


@pytest.mark.parametrize("profile", ["ci", "cluster"])
def test_ci_and_cluster_refuse_a_missing_or_default_secret(tmp_path, profile, monkeypatch):
    """GIVEN profile ci/cluster WHEN a secret is missing, or set to a shipped default THEN one-line
    UserError naming it; a real value from the environment is used."""
    s = _settings(tmp_path, profile)
    with pytest.raises(UserError, match=r"secret 'postgres.airflow' is not set in profile"):
        get_secret(s, "postgres.airflow")
    write_secret(s, "postgres.airflow", "airflow")
    with pytest.raises(UserError, match=r"secret 'postgres.airflow' is a default value"):
        get_secret(s, "postgres.airflow")
    monkeypatch.setenv("HAZCHEM_SECRET__POSTGRES__AIRFLOW", "s3cr3t-from-env-0123456789")
    assert get_secret(s, "postgres.airflow") == "s3cr3t-from-env-0123456789"


def test_the_local_ca_issues_a_certificate_a_client_verifies(tmp_path):
    """GIVEN the local CA WHEN a server certificate for 127.0.0.1 is issued THEN an SSL context
    trusting only the CA accepts it for 127.0.0.1, and its key is mode 0600."""
    s = _settings(tmp_path)
    cert = server_cert(s, "api")
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert.cert, cert.key)  # the pair matches
    client = ssl.create_default_context(cafile=str(cert.ca))
    assert client.verify_mode == ssl.CERT_REQUIRED
    assert stat.S_IMODE(cert.key.stat().st_mode) == 0o600
    assert server_cert(s, "api") == cert  # issued once
    import socket
    import threading

    lsock = socket.create_server(("127.0.0.1", 0))
    port = lsock.getsockname()[1]

    def serve():
        conn, _ = lsock.accept()
        with server.wrap_socket(conn, server_side=True) as tls:
            tls.recv(1)

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    with socket.create_connection(("127.0.0.1", port)) as raw:
        with client.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            assert tls.version() in ("TLSv1.2", "TLSv1.3")
            tls.send(b"x")
    t.join(5)
    lsock.close()
