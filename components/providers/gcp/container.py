"""What the serving container is given on GCP, in both modes: components/release.py's environment
plus the in-flight limit, so the app and the platform agree on how many requests one instance takes.

The app sheds requests above MAX_CONCURRENCY with a 503 (app/limits.py, default 64). Cloud Run
sends up to `max_instance_request_concurrency` requests to one instance before it scales out;
were that above the app's limit, the surplus would be refused before the autoscaler reacts. The
two are set from the one `serving.concurrency`.
"""
from __future__ import annotations

from typing import Any

from components.providers.base import BuildContext
from components.release import container_env

from .limits import RUN_RESERVED

__all__ = ["RUN_RESERVED", "plain_env"]


def plain_env(ctx: BuildContext, *, reserved: tuple[str, ...] = ()) -> dict[str, Any]:
    """Name -> value (str or Output), without the platform's reserved names. Never secrets."""
    env = {**container_env(ctx), "MAX_CONCURRENCY": str(ctx.spec.service.serving.concurrency)}
    return {k: v for k, v in sorted(env.items()) if k not in reserved}
