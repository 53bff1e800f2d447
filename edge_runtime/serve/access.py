"""Who may use the server: a token read from a file or the environment (never the command line),
and the rule that only loopback may be served without one (or with an explicit `--no-auth`)."""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
from pathlib import Path

from edge_runtime.core.errors import SiameseEdgeError

log = logging.getLogger(__name__)
TOKEN_VARIABLE = "SIAMESE_EDGE_TOKEN"
MIN_TOKEN_LENGTH = 16
COOKIE = "siamese_edge_token"


class AccessError(SiameseEdgeError):
    """The server would be open where it must not be, or its token cannot be read."""


def is_loopback(host: str) -> bool:
    """Whether `host` is a loopback address or name (only this machine can reach it)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def read_token(token_file: str | Path | None) -> str | None:
    """The token from `token_file` (its first line), else from $SIAMESE_EDGE_TOKEN, else None."""
    if token_file is not None:
        try:
            lines = Path(token_file).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as error:
            raise AccessError(f"cannot read the token file {token_file}: {getattr(error, 'strerror', error)}") from None
        token, where = (lines[0].strip() if lines else ""), f"the token file {token_file}"
    else:
        token, where = os.environ.get(TOKEN_VARIABLE, "").strip(), f"${TOKEN_VARIABLE}"
        if not token:
            return None
    if len(token) < MIN_TOKEN_LENGTH:
        raise AccessError(f"{where} holds a token of {len(token)} characters; use {MIN_TOKEN_LENGTH} or more "
                          "(python -c 'import secrets; print(secrets.token_urlsafe())')")  # fmt: skip
    return token


def access_token(host: str, token: str | None, no_auth: bool) -> str | None:
    """The token the server will ask for, after checking that serving `host` this way is allowed:
    loopback may go without one; any other address needs one, or `no_auth` (which is warned of)."""
    if token is not None and no_auth:
        raise AccessError("--no-auth and a token together: give one or the other")
    if token is None and not is_loopback(host):
        if not no_auth:
            raise AccessError(
                f"serving {host} (not loopback) needs a token: --token-file FILE or ${TOKEN_VARIABLE}; "
                "or --no-auth to open the camera feed and the gallery to anyone who can reach it"
            )
        log.warning("warning: --no-auth: anyone who can reach %s sees the cameras and can change the gallery", host)
    return token


def token_matches(expected: str, given: str | None) -> bool:
    """Whether `given` is the token (compared in constant time)."""
    return given is not None and hmac.compare_digest(expected.encode(), given.encode())
