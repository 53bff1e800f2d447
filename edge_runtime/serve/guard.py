"""The server's gate: the token (header, cookie, or `?token=` once, which sets the cookie), the limit
on a request's body, and every error as a JSON line with a 4xx status, never a traceback."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException

from edge_runtime.core.errors import SiameseEdgeError
from edge_runtime.identity.names import InvalidName
from edge_runtime.serve.access import COOKIE, token_matches
from edge_runtime.serve.people import PersonError
from edge_runtime.serve.uploads import MAX_UPLOAD_BYTES, UploadError

log = logging.getLogger(__name__)
OPEN_PATHS = ("/health", "/login")  # what answers without the token
MAX_BODY = 2 * MAX_UPLOAD_BYTES + 64 * 1024  # two photos (verify) and the form around them


class BodyTooLarge(Exception):
    """A request's body went past MAX_BODY while it was read."""


def error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """The JSON error every refusal is: {"error": message}."""
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def given_token(request: Request) -> str | None:
    """The token a request carries: `Authorization: Bearer`, the cookie, or `?token=`."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.cookies.get(COOKIE) or request.query_params.get("token")


def set_cookie(response: Response, token: str) -> Response:
    """Keep the token in the browser: HttpOnly (no script reads it), same site only."""
    response.set_cookie(COOKIE, token, httponly=True, samesite="strict", max_age=30 * 24 * 3600)
    return response


def install_guard(app: FastAPI, token: str | None, login_page) -> None:
    """Ask every request but OPEN_PATHS for `token` (when there is one), limit bodies to MAX_BODY,
    and turn every error into JSON (a page's refusal into the login page, status 401)."""

    app.add_middleware(Gate, token=token, login_page=login_page)
    for kind, status in ((UploadError, None), (PersonError, None), (InvalidName, 422), (SiameseEdgeError, 422)):
        app.add_exception_handler(kind, _handler(status))
    app.add_exception_handler(BodyTooLarge, lambda r, e: error(413, f"the request is over {MAX_BODY} bytes"))
    app.add_exception_handler(HTTPException, _http_error)  # Starlette's own too: no route, wrong method
    app.add_exception_handler(RequestValidationError, lambda r, e: error(422, _validation(e)))
    app.add_exception_handler(Exception, _internal)


class Gate:
    """ASGI middleware: the token check and the body limit (see `install_guard`)."""

    def __init__(self, app, token: str | None, login_page) -> None:
        self.app, self.token, self.login_page = app, token, login_page

    async def __call__(self, scope, receive, send) -> None:
        """Refuse a request without the token or with too large a body; else pass it on, its body counted."""
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        refusal = self.refusal(Request(scope))
        if refusal is not None:
            return await refusal(scope, receive, send)
        await self.app(scope, _limited(receive), send)

    def refusal(self, request: Request) -> Response | None:
        """The answer to a request that may not pass, or None."""
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > MAX_BODY:
            return error(413, f"the request is {length} bytes; the limit is {MAX_BODY} bytes")
        if self.token is None or request.url.path in OPEN_PATHS:
            return None
        given = given_token(request)
        if not token_matches(self.token, given):
            if request.url.path.startswith(("/api", "/metrics", "/docs", "/openapi")):
                return error(401, "this needs the token: Authorization: Bearer TOKEN (or log in at /login)")
            return HTMLResponse(self.login_page(request.url.path, bool(given)), status_code=401)
        if request.query_params.get("token") and request.method == "GET":  # once: from then on the cookie
            return set_cookie(RedirectResponse(request.url.path, status_code=303), self.token)
        return None


def _limited(receive):
    seen = 0

    async def limited():
        nonlocal seen
        message = await receive()
        seen += len(message.get("body", b""))
        if seen > MAX_BODY:
            raise BodyTooLarge
        return message

    return limited


def _handler(status: int | None):
    def handle(request: Request, problem: SiameseEdgeError) -> JSONResponse:
        return error(status or getattr(problem, "status", 422), str(problem))

    return handle


def _http_error(request: Request, problem: HTTPException) -> JSONResponse:
    said = {404: f"nothing at {request.url.path}: see /docs for the API",
            405: f"{request.method} is not allowed on {request.url.path}"}  # fmt: skip
    return error(problem.status_code, said.get(problem.status_code, str(problem.detail)), problem.headers)


def _validation(problem: RequestValidationError) -> str:
    parts = []
    for item in problem.errors():
        where = ".".join(str(p) for p in item.get("loc", ()) if p not in ("body", "query", "path"))
        parts.append(f"{where}: {item.get('msg', 'invalid')}" if where else item.get("msg", "invalid"))
    return "; ".join(parts) or "invalid request"


def _internal(request: Request, problem: Exception) -> JSONResponse:
    log.error("%s %s failed: %s: %s", request.method, request.url.path, type(problem).__name__, problem)
    return error(500, "the server could not answer this request; its log says why")
