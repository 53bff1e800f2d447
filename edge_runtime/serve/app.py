"""The server: the page and the API over one `Service`, behind the token, run by uvicorn in the
foreground (`edge-serve`) or in a thread beside the recognition loop (`edge-recognize --serve`)."""

from __future__ import annotations

import logging
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


def split_address(address: str) -> tuple[str, int]:
    """HOST:PORT (or PORT alone, on 127.0.0.1) as (host, port); a SiameseEdgeError when it is not one."""
    host, _, port = address.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise SiameseEdgeError(f"--serve {address!r}: give HOST:PORT, as 127.0.0.1:8080 (a port 0-65535)")
    return host, int(port)


def make_server(service: Service, token: str | None, host: str, port: int) -> uvicorn.Server:
    """A uvicorn server of the app on host:port (not started)."""
    config = uvicorn.Config(make_app(service, token), host=host, port=port, log_level="warning",
                            timeout_graceful_shutdown=2, access_log=False)  # fmt: skip
    return uvicorn.Server(config)


class BackgroundServer:
    """A uvicorn server in a thread of its own, beside the recognition loop in the main thread."""

    def __init__(self, server: uvicorn.Server) -> None:
        self.server = server
        self.thread = threading.Thread(target=server.run, name="serve", daemon=True)

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
