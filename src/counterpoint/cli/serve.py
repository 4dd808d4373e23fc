"""``counterpoint serve``: the web page and the JSON API (uvicorn)."""

from __future__ import annotations

from typing import Annotated

import typer

from counterpoint.cli.options import Checkpoint, user_errors


@user_errors
def serve(
    host: Annotated[
        str, typer.Option(help="address to bind; 0.0.0.0 exposes it to the network")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    workers: Annotated[
        int | None,
        typer.Option(help="worker processes, each with its own model (default: one per core)", min=1),
    ] = None,
    threads: Annotated[int, typer.Option(help="torch threads per worker")] = 1,
    checkpoint: Checkpoint = None,
    batch_window_ms: Annotated[
        float, typer.Option(help="wait this long to batch requests (0: no batching)")
    ] = 10,
    time_limit: Annotated[
        float | None, typer.Option(help="seconds a request may take (default: the server's, 180)")
    ] = None,
    behind_proxy: Annotated[
        bool,
        typer.Option(help="tell clients apart by X-Forwarded-For (only behind a proxy that sets it)"),
    ] = False,
) -> None:
    """Serve the web app and the JSON API (http://127.0.0.1:8000, API docs at /docs)."""
    import os

    import uvicorn

    from counterpoint.limits import MAX_CONNECTIONS
    from counterpoint.model.registry import load_model
    from counterpoint.server.settings import default_workers

    load_model(checkpoint)  # fail now, with one line, if the model cannot be loaded
    os.environ["COUNTERPOINT_CHECKPOINT"] = checkpoint or ""
    os.environ["COUNTERPOINT_BATCH_WINDOW_MS"] = str(batch_window_ms)
    os.environ["COUNTERPOINT_BATCHING"] = "1" if batch_window_ms > 0 else "0"
    if time_limit is not None:
        os.environ["COUNTERPOINT_TIME_LIMIT_S"] = str(time_limit)
    os.environ["COUNTERPOINT_THREADS"] = str(threads)
    os.environ["COUNTERPOINT_BEHIND_PROXY"] = "1" if behind_proxy else "0"
    workers = workers or default_workers()
    workers_said = f"{workers} worker{'s' if workers > 1 else ''}"
    typer.echo(f"counterpoint: http://{host}:{port}  (API docs: http://{host}:{port}/docs; {workers_said})")
    uvicorn.run(
        "counterpoint.server:app_factory",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        limit_concurrency=MAX_CONNECTIONS,
        timeout_keep_alive=5,
        log_level="warning",
    )
