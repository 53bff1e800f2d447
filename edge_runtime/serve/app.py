"""The server: the page and the API over one `Service`, behind the token, run by uvicorn in the
foreground (`edge-serve`) or in a thread beside the recognition loop (`edge-recognize --serve`)."""

from __future__ import annotations

import errno
import logging
import socket
import threading
import time

import uvicorn
from fastapi import FastAPI

from edge_runtime.core.errors import SiameseEdgeError
from edge_runtime.core.version import package_version
from edge_runtime.serve.api import api_router
from edge_runtime.serve.guard import install_guard
from edge_runtime.serve.metrics import make_registry
from edge_runtime.serve.pages import login_page, page_router
from edge_runtime.serve.service import Service

log = logging.getLogger(__name__)


def make_app(service: Service, token: str | None) -> FastAPI:
    """The ASGI app: the API and the page over `service`; with `token`, everything but /health and
    /login asks for it."""
    app = FastAPI(title="siamese-edge", version=package_version(), description="The device's own page and HTTP API.")
    registry, requests = make_registry(service.hub)
    app.include_router(api_router(service, registry, requests))
    app.include_router(page_router(service, token))
    install_guard(app, token, login_page)
    return app


def split_address(address: str, option: str = "--serve") -> tuple[str, int]:
    """HOST:PORT (or PORT alone, on 127.0.0.1) as (host, port); a SiameseEdgeError naming `option`
    (the one the user gave it to) when it is not one."""
    host, _, port = address.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise SiameseEdgeError(f"{option} {address!r}: give HOST:PORT, as 127.0.0.1:8080 (a port 0-65535)")
    return host, int(port)


BIND_PROBLEMS = {
    errno.EADDRINUSE: "address already in use",
    errno.EADDRNOTAVAIL: "not an address of this machine",
    errno.EACCES: "permission denied (ports below 1024 need root)",
}


def bind(host: str, port: int) -> socket.socket:
    """A socket bound to host:port, for the server to listen on: bound before the server is
    announced, so a port in use or an address not on this machine is one SiameseEdgeError."""
    where = f"{host}:{port}"
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET  # as uvicorn: localhost is 127.0.0.1
        family, kind, proto, _, address = socket.getaddrinfo(host, port, family, socket.SOCK_STREAM,
                                                             flags=socket.AI_PASSIVE)[0]  # fmt: skip
    except socket.gaierror:
        raise SiameseEdgeError(f"cannot listen on {where}: no such host or address") from None
    listening = socket.socket(family, kind, proto)
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn: a restart reuses the port at once
    try:
        listening.bind(address)
    except OSError as error:
        listening.close()
        why = BIND_PROBLEMS.get(error.errno, (error.strerror or str(error)).lower())
        raise SiameseEdgeError(f"cannot listen on {where}: {why}") from None
    listening.set_inheritable(True)
    return listening


def make_server(service: Service, token: str | None, host: str, port: int) -> uvicorn.Server:
    """A uvicorn server of the app on host:port (not started)."""
    config = uvicorn.Config(make_app(service, token), host=host, port=port, log_level="warning",
                            timeout_graceful_shutdown=2, access_log=False)  # fmt: skip
    return uvicorn.Server(config)


class BackgroundServer:
    """A uvicorn server in a thread of its own, beside the recognition loop in the main thread, on
    the socket `bind` gave."""

    def __init__(self, server: uvicorn.Server, listening: socket.socket) -> None:
        self.server = server
        self.thread = threading.Thread(target=server.run, kwargs={"sockets": [listening]}, name="serve", daemon=True)

    def start(self, seconds: float = 10.0) -> None:
        """Start serving; a SiameseEdgeError when it has not started within `seconds` (a port in use)."""
        self.thread.start()
        deadline = time.monotonic() + seconds
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                config = self.server.config
                raise SiameseEdgeError(f"cannot serve on {config.host}:{config.port} (in use, or not this "
                                       "machine's address)")  # fmt: skip
            time.sleep(0.05)

    def stop(self) -> None:
        """Stop serving (open live views and event streams are closed)."""
        self.server.should_exit = True
        self.thread.join(timeout=5.0)
