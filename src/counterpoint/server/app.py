"""The app factory: :func:`create_app` builds the FastAPI app (the routes of
:mod:`counterpoint.server.routes`, the error handlers, the page's files) around one model and
one :class:`~counterpoint.server.batcher.Batcher`; :func:`app_factory` builds it from the
environment, for ``counterpoint serve`` and gunicorn."""

from __future__ import annotations

import mimetypes

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from counterpoint.model.network import Coconet
from counterpoint.model.registry import load_model
from counterpoint.server.batcher import Batcher
from counterpoint.server.errors import install_error_handlers
from counterpoint.server.requests import Served
from counterpoint.server.routes import STATIC, router
from counterpoint.server.settings import ServerSettings

# cross-origin isolation: the page's ONNX Runtime Web needs SharedArrayBuffer for its threads
ISOLATION = {"Cross-Origin-Opener-Policy": "same-origin", "Cross-Origin-Embedder-Policy": "require-corp"}
mimetypes.add_type("application/wasm", ".wasm")
mimetypes.add_type("text/javascript", ".mjs")


class CrossOriginIsolation:
    """Adds :data:`ISOLATION`'s headers to every response. An ASGI middleware, not Starlette's
    ``BaseHTTPMiddleware``, so that the app still sees a client disconnect."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def isolated(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).update(ISOLATION)
            await send(message)

        await self.app(scope, receive, isolated)


def create_app(settings: ServerSettings | None = None, model: Coconet | None = None) -> FastAPI:
    """The FastAPI app; the model is loaded now, once for this worker."""
    settings = settings or ServerSettings.from_env()
    model = model or load_model(settings.checkpoint)
    batcher = Batcher(model, settings)
    app = FastAPI(
        title="counterpoint",
        description="Coconet for four-voice Bach chorales: harmonize, infill, compose.",
        version="0.1.0",
        docs_url=None,  # served by the router from the vendored Swagger UI: no CDN
        redoc_url=None,
    )
    app.state.batcher = batcher
    app.state.served = Served(model, settings, batcher)
    install_error_handlers(app)
    app.include_router(router)
    app.add_middleware(CrossOriginIsolation)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def app_factory() -> FastAPI:
    """For uvicorn's ``--factory`` (one app, one model per worker; settings from the env)."""
    return create_app()
