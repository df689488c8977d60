"""`mlinfra serve`: run the inference service locally on uvicorn, without Docker."""
from __future__ import annotations

import os
from typing import Annotated, Optional

import typer

from components.errors import ConfigError, PrerequisiteMissing


def _port_from_env() -> int:
    raw = os.environ.get("PORT", "8080")
    if not raw.isdigit() or not 1 <= int(raw) <= 65535:
        raise ConfigError(f"PORT={raw!r}: expected a port number from 1 to 65535")
    return int(raw)


def serve(
    host: Annotated[str, typer.Option(help="Address to bind; 0.0.0.0 exposes it beyond this machine.")] = "127.0.0.1",
    port: Annotated[Optional[int], typer.Option(help="Default: $PORT, else 8080.", min=1, max=65535)] = None,
    model_uri: Annotated[Optional[str], typer.Option(
        "--model-uri", help="A folder, or s3:// gs:// az:// under models/. Default: $MODEL_URI, else app/model.")] = None,
    workers: Annotated[Optional[int], typer.Option(
        min=1, help="Worker processes. Default: $WEB_CONCURRENCY, else one per CPU this process may use.")] = None,
) -> None:
    """Serve the digits model: /predict, Open Inference Protocol v2 under /v2, /metrics."""
    try:
        import uvicorn  # noqa: F401

        import app.service  # noqa: F401  (fails here, with a clear message, if fastapi or numpy is missing)
        from app.server import run, worker_count
    except ImportError as exc:
        raise PrerequisiteMissing(f"serving needs the app extra ({exc.name} is missing): "
                                  "pip install 'mlinfra-iac[app]'") from None
    if port is None:
        port = _port_from_env()
    if workers is None:
        try:
            workers = worker_count()
        except SystemExit as exc:  # WEB_CONCURRENCY is not a positive whole number
            raise ConfigError(str(exc)) from None
    if model_uri:
        os.environ["MODEL_URI"] = model_uri  # the factory reads it, in every worker process
    # Local serving: no proxy in front, so forwarded headers are not trusted.
    run(host, port, workers=workers, proxy_headers=False)
