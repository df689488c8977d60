"""`mlinfra serve`: run the inference service locally on uvicorn, without Docker."""
from __future__ import annotations

import os
from typing import Annotated, Optional

import typer

from components.errors import PrerequisiteMissing


def serve(
    host: Annotated[str, typer.Option(help="Address to bind; 0.0.0.0 exposes it beyond this machine.")] = "127.0.0.1",
    port: Annotated[Optional[int], typer.Option(help="Default: $PORT, else 8080.", min=1, max=65535)] = None,
    model_uri: Annotated[Optional[str], typer.Option(
        "--model-uri", help="A folder, or s3:// gs:// az:// under models/. Default: $MODEL_URI, else app/model.")] = None,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
) -> None:
    """Serve the digits model: /predict, Open Inference Protocol v2 under /v2, /metrics."""
    try:
        import uvicorn

        import app.service  # noqa: F401  (fails here, with a clear message, if fastapi or numpy is missing)
    except ImportError as exc:
        raise PrerequisiteMissing(f"serving needs the app extra ({exc.name} is missing): "
                                  "pip install 'mlinfra-iac[app]'") from None
    if model_uri:
        os.environ["MODEL_URI"] = model_uri  # the factory reads it, in every worker process
    if port is None:
        port = int(os.environ.get("PORT", "8080"))
    uvicorn.run("app.service:create_app", factory=True, host=host, port=port, workers=workers,
                access_log=False)
