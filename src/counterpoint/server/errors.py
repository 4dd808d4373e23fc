"""How the server answers a request it will not run: one JSON ``{"error": "..."}`` with the status
the OpenAPI spec documents (a broken upload: 400; a body too large: 413; not JSON, invalid or
impossible: 422; the queue: 429 or 503 with Retry-After), never a crash."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from counterpoint.errors import CounterpointError
from counterpoint.limits import MAX_BODY_BYTES


def json_error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


class BodyLimit:
    """Refuses a body over :data:`MAX_BODY_BYTES` with a 413 before anything reads it: by its
    Content-Length, or for a chunked body by counting it as it arrives. An ASGI middleware, not
    Starlette's ``BaseHTTPMiddleware``, so that the app still sees a client disconnect."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        too_large = json_error(413, f"request body larger than {MAX_BODY_BYTES} bytes")
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None:
            if not length.isdigit() or int(length) > MAX_BODY_BYTES:
                return await too_large(scope, receive, send)
            return await self.app(scope, receive, send)
        if scope["method"] != "POST":
            return await self.app(scope, receive, send)
        received, size = [], 0
        while True:  # a chunked body: read it whole (at most the limit), then hand it on
            message = await receive()
            received.append(message)
            size += len(message.get("body", b""))
            if size > MAX_BODY_BYTES:
                return await too_large(scope, receive, send)
            if message["type"] != "http.request" or not message.get("more_body"):
                break

        async def replay() -> Message:
            return received.pop(0) if received else await receive()

        await self.app(scope, replay, send)


def install_error_handlers(app: FastAPI) -> None:
    """Bad requests get a 4xx JSON ``{"error": "..."}``: too large (413), invalid (422)."""

    app.add_middleware(BodyLimit)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        problems = []
        for item in error.errors()[:5]:
            where = ".".join(str(part) for part in item.get("loc", ()) if part != "body")
            problems.append(f"{where}: {item.get('msg', 'invalid')}" if where else item.get("msg", "invalid"))
        return json_error(422, "; ".join(problems) or "invalid request")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        # FastAPI's own refusals (a broken upload: 400; no such path: 404) in the same shape
        return json_error(error.status_code, str(error.detail))

    @app.exception_handler(CounterpointError)
    async def user_error(request: Request, error: CounterpointError) -> JSONResponse:
        # an error may say its own status (the batcher's refusals: 429 and 503, with the
        # seconds to wait); any other is an invalid or impossible request
        response = json_error(getattr(error, "status", 422), str(error))
        if (wait := getattr(error, "retry_after_s", None)) is not None:
            response.headers["Retry-After"] = str(wait)
        return response

    @app.exception_handler(ValueError)
    async def value_error(request: Request, error: ValueError) -> JSONResponse:
        return json_error(422, str(error))
