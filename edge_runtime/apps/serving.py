"""What serving adds to a command: the token options, the serve layer (or a line naming the [serve]
extra when it is missing), and a server beside the recognition loop over its model session and gallery."""

from __future__ import annotations

import logging
import socket
import threading
from typing import NamedTuple

import click

from edge_runtime.core.errors import SiameseEdgeError
from edge_runtime.core.extras import install_command
from edge_runtime.identity.recognizer import Recognizer

log = logging.getLogger("edge_runtime")


def token_options(command):
    """--token-file and --no-auth: who may use a server (the token itself never on the command line)."""
    command = click.option(
        "--no-auth", is_flag=True, help="Serve an address other than loopback without a token (warned of)."
    )(command)
    return click.option(
        "--token-file",
        type=click.Path(dir_okay=False),
        help="File whose first line is the token the server asks for (else $SIAMESE_EDGE_TOKEN).",
    )(command)


def serve_package():
    """The serve layer, or a one-line error naming the [serve] extra when FastAPI or uvicorn is missing."""
    try:
        from edge_runtime.serve import access, app, service
    except ModuleNotFoundError as error:
        raise SiameseEdgeError(f"serving needs the [serve] extra ({error.name} is not installed): "
                               f"{install_command('serve')}") from None  # fmt: skip
    return access, app, service


class Plan(NamedTuple):
    """Where a server will serve (its socket bound already), and the token it asks for."""

    host: str
    port: int
    token: str | None
    socket: socket.socket

    @property
    def url(self) -> str:
        """What the log announces: the page's address, and whether it is open without a token."""
        return f"http://{self.host}:{self.port}/" + ("" if self.token else " (no token)")


def plan_serving(address: str, token_file: str | None, no_auth: bool, option: str = "--serve") -> Plan:
    """Where and how `option ADDRESS` serves, checked before anything else starts: the [serve] extra
    is installed, the address is one, it is loopback or has a token (or `no_auth`), and it is bound."""
    access, app, _ = serve_package()
    host, port = app.split_address(address, option)
    token = access.access_token(host, access.read_token(token_file), no_auth)
    listening = app.bind(host, port)
    return Plan(host, listening.getsockname()[1], token, listening)


def start_beside_loop(plan: Plan, recognizer: Recognizer, gallery: str | None, index: str,
                      streams: list[str]):  # fmt: skip
    """Start the server `plan_serving` planned in a thread, for `edge-recognize --serve`: returns (the
    running server, its Service, whose `hub` the loop feeds and whose `lock` it matches under)."""
    _, app, service_module = serve_package()
    service = service_module.Service(recognizer, gallery, threading.Lock(), index=index)
    for name in streams:
        service.hub.add_stream(name)
    server = app.BackgroundServer(app.make_server(service, plan.token, plan.host, plan.port), plan.socket)
    server.start()
    log.info("serving the page and API on %s", plan.url)
    return server, service
