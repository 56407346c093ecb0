"""A real HTTP server for an ASGI app in tests: uvicorn on a free port, in a thread.

TestClient runs each request on its own event loop and reads the whole body before the app
sees it, so it cannot show that a slow request leaves /healthz answering, nor that a body is
refused unread. These tests talk to uvicorn over a socket instead.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn


@contextmanager
def serve(app, timeout_s: float = 10.0, **ssl: str) -> Iterator[str]:  # noqa: ANN001 - any ASGI app
    """Yield the base URL ("http://127.0.0.1:<port>", https with ssl_certfile/ssl_keyfile) of
    `app` served by uvicorn; stop after."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off", **ssl))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout_s
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError(f"uvicorn did not start within {timeout_s:.0f} s")
        time.sleep(0.05)
    try:
        yield f"{'https' if ssl else 'http'}://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout_s)
        sock.close()


def raw_request(base_url: str, head: bytes, timeout_s: float = 5.0) -> tuple[bytes, bytes]:
    """Send request bytes as-is (headers, maybe no body); return the response's status line and
    body. socket.timeout when the server does not answer within timeout_s."""
    host, port = base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout_s) as conn:
        conn.sendall(head)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                break
            data += chunk
        headers, _, body = data.partition(b"\r\n\r\n")
        length = 0
        for line in headers.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(body) < length:
            chunk = conn.recv(65536)
            if not chunk:
                break
            body += chunk
    return headers.split(b"\r\n")[0], body
