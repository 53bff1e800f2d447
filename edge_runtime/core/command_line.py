"""What every siamese-edge command shares: help options, logging, user errors as one line, and
SIGTERM (docker stop, systemd, timeout) and SIGHUP (an SSH session dropped, a terminal closed)
handled like Ctrl-C."""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator

import click

from edge_runtime.core.errors import SiameseEdgeError
from edge_runtime.core.native_logs import VERBOSE_VARIABLE, quiet_native_logs

CONTEXT = {"help_option_names": ["-h", "--help"], "show_default": True}


def _ask_verbose(context: click.Context, parameter: click.Parameter, value: bool) -> None:
    if value:
        os.environ[VERBOSE_VARIABLE] = "1"  # read when the command starts, by quiet_native_logs


verbose_option = click.option(
    "--verbose",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_ask_verbose,
    help=f"Show OpenCV's, FFmpeg's and ONNX Runtime's own messages too (as {VERBOSE_VARIABLE}=1 does).",
)


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived: whatever handles Ctrl-C (finalising a video, keeping a checkpoint) handles it too."""


class HungUp(Terminated):
    """SIGHUP arrived (the SSH session or terminal is gone): handled as SIGTERM is."""


def _raise_terminated(signum, frame) -> None:
    raise HungUp if signum == signal.SIGHUP else Terminated


# SIGHUP only where it exists (not on Windows); one whose handler was set to ignore it (nohup) stays ignored.
_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """While inside, SIGTERM raises `Terminated` and SIGHUP `HungUp` in the main thread, as Ctrl-C
    raises KeyboardInterrupt (a SIGHUP ignored by `nohup` stays ignored)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {}
    for number in _SIGNALS:
        if number == getattr(signal, "SIGHUP", None) and signal.getsignal(number) == signal.SIG_IGN:
            continue
        previous[number] = signal.signal(number, _raise_terminated)
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def one_line_errors(also: tuple[type[Exception], ...] = (), interrupted: str = "interrupted") -> Callable:
    """Decorate a click command: log to stderr; a user's error prints one line and exits 2, Ctrl-C 130,
    SIGTERM 143, SIGHUP 129 (a command that finishes cleanly after any of them, like the recognition
    loop, exits 0).

    `also` adds exception types that count as the user's error for this command; `interrupted`
    is what Ctrl-C prints.
    """

    def decorate(command: Callable) -> Callable:
        @functools.wraps(command)
        def wrapper(*args, **kwargs):
            logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
            quiet_native_logs()  # OpenCV's, FFmpeg's and ONNX Runtime's own lines; SIAMESE_EDGE_VERBOSE=1 shows them
            name = click.get_current_context().command_path
            try:
                with sigterm_as_interrupt():
                    return command(*args, **kwargs)
            except (SiameseEdgeError, *also) as error:
                click.echo(f"{name}: error: {error}", err=True)
                sys.exit(2)
            except HungUp:
                with contextlib.suppress(OSError):  # the terminal may be gone with the session
                    click.echo(f"{name}: {interrupted} (SIGHUP)", err=True)
                sys.exit(129)
            except Terminated:
                click.echo(f"{name}: {interrupted} (SIGTERM)", err=True)
                sys.exit(143)
            except KeyboardInterrupt:
                click.echo(f"{name}: {interrupted}", err=True)
                sys.exit(130)

        return wrapper

    return decorate
