"""What every siamese-edge command shares: help options, logging, and user errors as one line."""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable

import click

from edge_runtime.errors import SiameseEdgeError

CONTEXT = {"help_option_names": ["-h", "--help"], "show_default": True}


def one_line_errors(also: tuple[type[Exception], ...] = (), interrupted: str = "interrupted") -> Callable:
    """Decorate a click command: log to stderr; a user's error prints one line and exits 2, Ctrl-C 130.

    `also` adds exception types that count as the user's error for this command; `interrupted`
    is what Ctrl-C prints.
    """

    def decorate(command: Callable) -> Callable:
        @functools.wraps(command)
        def wrapper(*args, **kwargs):
            logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
            name = click.get_current_context().info_name
            try:
                return command(*args, **kwargs)
            except (SiameseEdgeError, *also) as error:
                click.echo(f"{name}: error: {error}", err=True)
                sys.exit(2)
            except KeyboardInterrupt:
                click.echo(f"{name}: {interrupted}", err=True)
                sys.exit(130)

        return wrapper

    return decorate
