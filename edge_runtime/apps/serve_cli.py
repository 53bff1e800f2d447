"""`edge-serve`: the page and HTTP API for photos (recognise, verify, enrol), without a camera."""

from __future__ import annotations

import logging

import click

from edge_runtime.apps import shared_gallery
from edge_runtime.apps.cli import (
    GALLERY_HELP,
    _embedder,
    _regions,
    _threshold,
    copy_option,
    detector_options,
    device_option,
    model_options,
    threshold_options,
)
from edge_runtime.apps.serving import plan_serving, serve_package, token_options
from edge_runtime.core.command_line import CONTEXT, one_line_errors, verbose_option
from edge_runtime.fleet.database import is_database
from edge_runtime.identity.enrollment import new_gallery, open_gallery
from edge_runtime.identity.recognizer import Recognizer
from edge_runtime.identity.search_index import BACKENDS

log = logging.getLogger("edge_runtime")
DEFAULT_ADDRESS = "127.0.0.1:8080"


@click.command(context_settings=CONTEXT)
@verbose_option
@model_options
@detector_options
@click.option("--listen", default=DEFAULT_ADDRESS, help="HOST:PORT to serve (loopback unless told otherwise).")
@click.option(
    "--gallery", "-g", type=click.Path(dir_okay=False), help=f"{GALLERY_HELP} A file is created on first enrol."
)
@copy_option
@device_option
@threshold_options
@click.option("--index", type=click.Choice(BACKENDS), default="numpy", help="Gallery search (faiss: millions).")
@token_options
@one_line_errors()
def serve(listen, gallery, gallery_copy, device, index, token_file, no_auth, **options):
    """Serve the page and HTTP API for photos (recognise, verify, enrol), no camera."""
    plan = plan_serving(listen, token_file, no_auth, "--listen")
    _, app, service_module = serve_package()
    embedder = _embedder(options)
    finder = _regions(embedder, options)
    shared = None
    if is_database(gallery):  # the device's copy of the shared gallery, followed while serving
        known, shared = shared_gallery.open_copy(gallery, embedder, finder, index, gallery_copy, device)
    elif gallery:
        known = open_gallery(gallery, embedder, True, index, finder)
    else:
        known = new_gallery(embedder, index, finder)
    choice = _threshold(embedder, options, known)
    recognizer = Recognizer(embedder, known, finder, choice.threshold, choice.by_size)
    service = service_module.Service(recognizer, gallery, index=index)
    log.info("serving the page and API on %s; %d people; threshold %.4f (%s)", plan.url, len(known),
             choice.threshold, choice.why)  # fmt: skip
    if shared is not None:
        shared.start(recognizer)  # each new gallery swapped in whole
    try:
        app.make_server(service, plan.token, plan.host, plan.port).run(sockets=[plan.socket])
    finally:
        if shared is not None:
            shared.stop()
