"""How the server answers a bad request: one JSON ``{"error": "..."}`` with a 4xx status (a body
too large: 413; invalid or impossible: 422), never a crash."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from counterpoint.errors import CounterpointError
from counterpoint.limits import MAX_BODY_BYTES


def json_error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def install_error_handlers(app: FastAPI) -> None:
    """Bad requests get a 4xx JSON ``{"error": "..."}``: too large (413), invalid (422)."""

    @app.middleware("http")
    async def limit_body(request: Request, call_next):
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
            return json_error(413, f"request body larger than {MAX_BODY_BYTES} bytes")
        if request.method == "POST" and length is None:
            body = await request.body()
            if len(body) > MAX_BODY_BYTES:
                return json_error(413, f"request body larger than {MAX_BODY_BYTES} bytes")
        return await call_next(request)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        problems = []
        for item in error.errors()[:5]:
            where = ".".join(str(part) for part in item.get("loc", ()) if part != "body")
            problems.append(f"{where}: {item.get('msg', 'invalid')}" if where else item.get("msg", "invalid"))
        return json_error(422, "; ".join(problems) or "invalid request")

    @app.exception_handler(CounterpointError)
    async def user_error(request: Request, error: CounterpointError) -> JSONResponse:
        return json_error(422, str(error))

    @app.exception_handler(ValueError)
    async def value_error(request: Request, error: ValueError) -> JSONResponse:
        return json_error(422, str(error))
