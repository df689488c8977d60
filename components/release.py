"""What every serving container is given, on every cloud: the same variables, the same model path.

The model lives in the environment's own bucket under `models/<service>/current/` (the only
prefix the serving identity may read, and never tiered cold: components/spec.py). Publishing a
model is copying its files there (`mlinfra model publish`); the app reads `MODEL_URI` at start
(app/storage.py parses s3://, gs:// and az:// forms).
"""
from __future__ import annotations

from typing import Any

from components.providers.base import BuildContext

MODEL_ALIAS = "current"


def model_path(service: str) -> str:
    """The object prefix of the served model, relative to the bucket."""
    return f"models/{service}/{MODEL_ALIAS}/"


def model_uri(ctx: BuildContext) -> Any:
    """`s3://bucket/models/<service>/current/` (Output[str]); `ctx.storage.url` has no trailing slash."""
    import pulumi

    assert ctx.storage is not None, "storage is built before serving"
    return pulumi.Output.concat(ctx.storage.url, "/", model_path(ctx.spec.service.name))


def container_env(ctx: BuildContext) -> dict[str, Any]:
    """Plain (non-secret) environment of the serving container: the user's `serving.env`, the port
    and MODEL_URI. Values may be Outputs. Secrets (`serving.secrets`) are wired by each cloud from
    its secret store and never appear here."""
    serving = ctx.spec.service.serving
    return {**serving.env, "PORT": str(serving.port), "MODEL_URI": model_uri(ctx)}
