"""A local S3-compatible server for an `s3://` lake on one machine (development and tests).

`hazchem up --with s3` builds github.com/johannesboyne/gofakes3 with `go install` (pinned in
`HAZCHEM_S3__SERVER_VERSION`, cached under `.cache/bin`) and serves it at `HAZCHEM_S3__ENDPOINT`
with its bolt backend (one file under `HAZCHEM_S3__SERVER_DATA_DIR`; data survive restarts).
It accepts any credentials. Production (`cluster`) uses AWS S3 or the company's object store.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

from pipelines.cli_support import UserError
from pipelines.services.process import ManagedProcess
from pipelines.settings import Settings


def _process(settings: Settings) -> ManagedProcess:
    return ManagedProcess("s3", settings.s3.server_data_dir)


def _address(settings: Settings) -> tuple[str, int]:
    """Return (host, port) the local server listens on, from HAZCHEM_S3__ENDPOINT."""
    endpoint = settings.s3.endpoint
    parts = urlsplit(endpoint or "")
    if parts.scheme != "http" or not parts.hostname or not parts.port:
        raise UserError(
            "the local S3 server needs HAZCHEM_S3__ENDPOINT=http://127.0.0.1:<port> "
            f"(got {endpoint!r}; the `cluster` profile uses AWS S3, nothing to start)"
        )
    return parts.hostname, parts.port


def binary(settings: Settings) -> Path:
    """Return the server binary, building it with `go install` the first time."""
    version = settings.s3.server_version
    target = settings.cache_dir / "bin" / f"gofakes3-{version}"
    if target.exists():
        return target
    go = shutil.which("go")
    if go is None:
        raise UserError("go not found: install Go 1.2x to build the local S3 server (gofakes3)")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as gobin:
        env = dict(os.environ, GOBIN=gobin, GOFLAGS="-mod=mod")
        cmd = [go, "install", f"{settings.s3.server_module}@{version}"]
        result = subprocess.run(cmd, capture_output=True, text=True, env=env)
        built = Path(gobin) / "gofakes3"
        if result.returncode != 0 or not built.exists():
            tail = (result.stdout + result.stderr).strip().splitlines()[-1:] or ["no output"]
            raise UserError(f"building the local S3 server with go install failed: {tail[0]}")
        built.rename(target)
    return target


def is_healthy(settings: Settings) -> bool:
    """True when something answers on the endpoint's port."""
    host, port = _address(settings)
    try:
        socket.create_connection((host, port), timeout=1.0).close()
    except OSError:
        return False
    return True


def start(settings: Settings, wait_s: float = 30.0) -> str:
    """Build (first time) and start the server; create the lake root's bucket; return a line."""
    host, port = _address(settings)
    proc = _process(settings)
    if proc.pid() is None:
        if is_healthy(settings):
            raise UserError(
                f"another process already listens on {host}:{port}; "
                "stop it or set HAZCHEM_S3__ENDPOINT"
            )
        data = settings.s3.server_data_dir
        data.mkdir(parents=True, exist_ok=True)
        backend = settings.s3.server_backend
        argv = [str(binary(settings)), "-backend", backend]
        if backend == "bolt":
            argv += ["-bolt.db", str(data / "s3.db")]
        argv += ["-host", f"{host}:{port}", "-autobucket", "-quiet"]
        proc.start(argv, cwd=data)
        deadline = time.monotonic() + wait_s
        while not is_healthy(settings):
            if proc.pid() is None:
                raise UserError(f"the local S3 server exited during start-up; see {proc.log_file}")
            if time.monotonic() > deadline:
                raise UserError(f"the local S3 server did not listen within {wait_s:.0f}s")
            time.sleep(0.2)
        status = f"s3: started at {settings.s3.endpoint} (pid {proc.pid()})"
    else:
        status = f"s3: already running at {settings.s3.endpoint} (pid {proc.pid()})"
    ensure_bucket(settings, settings.lake.root)
    return status


def ensure_bucket(settings: Settings, uri: str) -> None:
    """Create the bucket of an `s3://` URI when it does not exist (no-op for a local path)."""
    from pipelines.lake.storage import arrow_filesystem, is_s3, split_s3

    if not is_s3(uri):
        return
    bucket, _ = split_s3(uri)
    filesystem, _ = arrow_filesystem(settings, uri, allow_bucket_creation=True)
    filesystem.create_dir(bucket)


def stop(settings: Settings) -> str:
    """Stop our server if it runs (data are kept); return a status line."""
    return "s3: stopped" if _process(settings).stop(timeout_s=10) else "s3: not running"
