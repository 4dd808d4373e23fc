"""The API docs page (/docs) in a real headless Chromium (Debian's, driven by Playwright) with
every request off the server blocked: the vendored Swagger UI 5 renders the OpenAPI 3.1 that
FastAPI writes (Swagger UI 4, from the swagger-ui-bundle package, showed "Unable to render this
definition"), with every endpoint."""

from __future__ import annotations

import shutil
import socket
import threading
from pathlib import Path

import pytest
import uvicorn

from counterpoint.server import ServerSettings, create_app

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")


@pytest.fixture()
def server_url(tiny_model):
    app = create_app(ServerSettings(), model=tiny_model)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        thread.join(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def test_docs_render_every_endpoint_offline(server_url, tiny_model):
    from playwright.sync_api import sync_playwright

    paths = create_app(ServerSettings(), model=tiny_model).openapi()["paths"]
    blocked: list[str] = []

    def only_the_server(route) -> None:
        if route.request.url.startswith(server_url):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.route("**/*", only_the_server)
            page.goto(server_url + "/docs")
            page.wait_for_selector(".opblock-summary-path", timeout=30_000)
            shown = page.locator(".opblock-summary-path").all_inner_texts()
            text = page.inner_text("body")
        finally:
            browser.close()
    assert "Unable to render" not in text
    for path in paths:  # e.g. /api/export/{kind}, shown with a zero-width space before a /
        assert path in [s.replace("\u200b", "") for s in shown], (path, shown)
    assert len(shown) == sum(len(methods) for methods in paths.values())
    assert errors == [] and blocked == []
