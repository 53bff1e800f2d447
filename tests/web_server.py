"""Helpers of the web server's tests: a free local port, a real server process started and stopped,
and requests that never hang."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

SCRIPTS = Path(sys.executable).parent  # the installed commands, run as a user runs them
TOKEN = "test-token-" + "x" * 16


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def running(command: list[str], port: int, token: str | None = TOKEN, seconds: float = 120):
    """Run `command` (a server on `port`) until /health answers; stop it with SIGTERM after."""
    env = {**os.environ, "SIAMESE_EDGE_TOKEN": token} if token else {**os.environ}
    if not token:
        env.pop("SIAMESE_EDGE_TOKEN", None)
    log = Path(f"/tmp/edge-serve-{uuid.uuid4().hex[:8]}.log")
    with open(log, "w") as sink:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=sink, env=env, text=True)
    try:
        deadline = time.monotonic() + seconds
        while True:
            if process.poll() is not None:
                raise AssertionError(f"the server exited with {process.returncode}: {log.read_text()}")
            with contextlib.suppress(OSError):
                if call("GET", f"http://127.0.0.1:{port}/health", token=None)[0] == 200:
                    break
            if time.monotonic() > deadline:
                raise AssertionError(f"the server did not answer within {seconds} s: {log.read_text()}")
            time.sleep(0.2)
        process.log = log
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        log.unlink(missing_ok=True)


def multipart(fields: dict[str, str], files: dict[str, tuple[str, bytes]]) -> tuple[bytes, str]:
    """A multipart/form-data body and its content type."""
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    for name, (filename, data) in files.items():
        head = (f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                "Content-Type: application/octet-stream\r\n\r\n")  # fmt: skip
        parts.append(head.encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def call(method: str, url: str, body: bytes | None = None, content_type: str | None = None,
         token: str | None = TOKEN, seconds: float = 60) -> tuple[int, object]:  # fmt: skip
    """(status, JSON or bytes) of one request, with the token as a Bearer header when given."""
    request = urllib.request.Request(url, data=body, method=method)
    if content_type:
        request.add_header("Content-Type", content_type)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=seconds) as response:
            status, data, kind = response.status, response.read(), response.headers.get("content-type", "")
    except urllib.error.HTTPError as error:
        status, data, kind = error.code, error.read(), error.headers.get("content-type", "")
    return status, json.loads(data) if "json" in kind else data


def upload(url: str, files: dict[str, tuple[str, bytes]], fields: dict[str, str] | None = None,
           token: str | None = TOKEN) -> tuple[int, object]:  # fmt: skip
    """POST files (and fields) as a form."""
    body, kind = multipart(fields or {}, files)
    return call("POST", url, body, kind, token)
