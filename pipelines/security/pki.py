"""The local certificate authority: a CA and server certificates generated into the git-ignored
run folder by `hazchem up`, for every TLS listener the project starts (HTTP API, Kafka, Trino).

In `cluster` the files come from the deployer: `HAZCHEM_SECURITY__CA_FILE` and, per service,
`<name>.crt`/`<name>.key` in `HAZCHEM_SECURITY__CERTS_DIR`. Everything is PEM, which Python, the
Kafka broker and clients (`ssl.*.type=PEM`) and Trino read directly. Private keys are mode 0600.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from pipelines.cli_support import UserError
from pipelines.settings import Settings

CA_DAYS = 3650
CERT_DAYS = 825
LOCAL_NAMES = ("localhost", "127.0.0.1")


@dataclass(frozen=True)
class ServerCert:
    """Paths of one service's certificate (leaf then CA, PEM), its key and the CA to trust."""

    cert: Path
    key: Path
    ca: Path


def certs_dir(settings: Settings) -> Path:
    """Return the folder holding the CA and the server certificates (mode 0700)."""
    path = settings.security.certs_dir or settings.run_dir / "pki"
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def ca_file(settings: Settings) -> Path:
    """Return the CA certificate clients trust, creating the local CA when it is ours to make."""
    if settings.security.ca_file is not None:
        return settings.security.ca_file
    folder = certs_dir(settings)
    cert_path, key_path = folder / "ca.crt", folder / "ca.key"
    if cert_path.exists() and key_path.exists():
        return cert_path
    if settings.profile == "cluster":
        raise UserError("no CA configured: set HAZCHEM_SECURITY__CA_FILE (cluster profile)")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, f"HazChem local CA ({settings.profile})")]
    )
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )  # fmt: skip
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_private(key_path, _key_pem(key))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert_path


def server_cert(
    settings: Settings, service: str, names: tuple[str, ...] = LOCAL_NAMES
) -> ServerCert:
    """Return the certificate of `service` (kafka, api, trino...) for `names` (DNS names or IP
    addresses), issuing it from the local CA on first use."""
    folder = certs_dir(settings)
    cert_path, key_path = folder / f"{service}.crt", folder / f"{service}.key"
    ca = ca_file(settings)
    if cert_path.exists() and key_path.exists():
        return ServerCert(cert_path, key_path, ca)
    if settings.profile == "cluster" or settings.security.ca_file is not None:
        raise UserError(
            f"no certificate for {service}: put {service}.crt and {service}.key in {folder}"
        )
    ca_key = serialization.load_pem_private_key((folder / "ca.key").read_bytes(), None)
    ca_cert = x509.load_pem_x509_certificate(ca.read_bytes())
    key = ec.generate_private_key(ec.SECP256R1())
    sans: list[x509.GeneralName] = []
    for n in names:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(n)))
        except ValueError:
            sans.append(x509.DNSName(n))
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"hazchem-{service}")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=CERT_DAYS))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    _write_private(key_path, _key_pem(key))
    cert_path.write_bytes(
        cert.public_bytes(serialization.Encoding.PEM)
        + ca_cert.public_bytes(serialization.Encoding.PEM)
    )
    return ServerCert(cert_path, key_path, ca)
