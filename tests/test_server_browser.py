"""The server seen from a real headless Chromium (Debian's, driven by Playwright): the API docs
page (/docs), with every request off the server blocked, renders every endpoint from the
vendored Swagger UI 5 (Swagger UI 4, from the swagger-ui-bundle package, cannot read the OpenAPI
3.1 that FastAPI writes: "Unable to render this definition"); and the page's own cancel (its
fetch aborted) stops the server's sampling at the next pass."""

from __future__ import annotations

import pytest
from chromium import INSTALLED

from counterpoint.server import ServerSettings, create_app

pytestmark = pytest.mark.skipif(not INSTALLED, reason="Debian's chromium is not installed")


def test_docs_render_every_endpoint_offline(server, tiny_model, browser):
    paths = create_app(ServerSettings(), model=tiny_model).openapi()["paths"]
    blocked: list[str] = []

    def only_the_server(route) -> None:
        if route.request.url.startswith(server.url):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.route("**/*", only_the_server)
    page.goto(server.url + "/docs")
    page.wait_for_selector(".opblock-summary-path", timeout=30_000)
    shown = page.locator(".opblock-summary-path").all_inner_texts()
    text = page.inner_text("body")
    assert "Unable to render" not in text
    for path in paths:  # e.g. /api/export/{kind}, shown with a zero-width space before a /
        assert path in [s.replace("\u200b", "") for s in shown], (path, shown)
    assert len(shown) == sum(len(methods) for methods in paths.values())
    assert errors == [] and blocked == []


def test_the_pages_cancel_stops_the_servers_sampling(server, browser):
    import json
    import time
    import urllib.request

    def health() -> dict:
        with urllib.request.urlopen(server.url + "/api/health", timeout=5) as response:
            return json.load(response)

    page = browser.new_page()
    page.goto(server.url + "/static/js/api.js")  # same origin as the API, no page state
    # the page's own seam: api.infill with an AbortController, aborted after the first pass
    outcome = page.evaluate(
        """async () => {
          const api = await import("/static/js/api.js");
          const controller = new AbortController();
          const body = {chorale: Array.from({length: 512}, () => [-1, -1, -1, -1]),
                        mask: Array.from({length: 4}, () => Array(512).fill(false)), passes: 2000};
          try {
            await api.infill(body, {signal: controller.signal, onProgress: () => controller.abort()});
            return "finished";
          } catch (error) {
            return error instanceof api.Cancelled ? "cancelled" : String(error);
          }
        }"""
    )
    assert outcome == "cancelled"
    cancelled = time.monotonic()
    while (now := health())["queued_work"] or not now["abandoned"]:
        assert time.monotonic() - cancelled < 5, f"still sampling for nobody: {now}"
        time.sleep(0.05)
    assert now["abandoned"] == 1 and now["jobs"] == 0
