"""What every siamese-edge command shares: help options, logging, user errors as one line, and
SIGTERM (docker stop, systemd, timeout) handled like Ctrl-C."""

from __future__ import annotations

import contextlib
import functools
import logging
import signal
import sys
import threading
from collections.abc import Callable, Iterator

import click

from edge_runtime.core.errors import SiameseEdgeError

CONTEXT = {"help_option_names": ["-h", "--help"], "show_default": True}


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived: whatever handles Ctrl-C (finalising a video, keeping a checkpoint) handles it too."""


def _raise_terminated(signum, frame) -> None:
    raise Terminated


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """While inside, SIGTERM raises `Terminated` in the main thread, as Ctrl-C raises KeyboardInterrupt."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def one_line_errors(also: tuple[type[Exception], ...] = (), interrupted: str = "interrupted") -> Callable:
    """Decorate a click command: log to stderr; a user's error prints one line and exits 2, Ctrl-C 130,
    SIGTERM 143 (a command that finishes cleanly after either, like the recognition loop, exits 0).

    `also` adds exception types that count as the user's error for this command; `interrupted`
    is what Ctrl-C prints.
    """

    def decorate(command: Callable) -> Callable:
        @functools.wraps(command)
        def wrapper(*args, **kwargs):
            logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
            name = click.get_current_context().command_path
            try:
                with sigterm_as_interrupt():
                    return command(*args, **kwargs)
            except (SiameseEdgeError, *also) as error:
                click.echo(f"{name}: error: {error}", err=True)
                sys.exit(2)
            except Terminated:
                click.echo(f"{name}: {interrupted} (SIGTERM)", err=True)
                sys.exit(143)
            except KeyboardInterrupt:
                click.echo(f"{name}: {interrupted}", err=True)
                sys.exit(130)

        return wrapper

    return decorate
