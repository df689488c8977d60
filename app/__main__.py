"""`python -m app`: the container's entry point. Binds $HOST:$PORT (default 0.0.0.0:8080).

The Dockerfile's exec-form CMD makes this process PID 1, so SIGTERM reaches uvicorn directly
and in-flight requests finish before the container stops. Workers, keep-alive and header
limits come from app/server.py (WEB_CONCURRENCY overrides the worker count).
"""
from __future__ import annotations

import os

from app.server import env_number, run

if __name__ == "__main__":
    port = env_number("PORT", 8080, int)
    if port > 65535:
        raise SystemExit(f"PORT={port}: expected a port number from 1 to 65535")
    run(os.environ.get("HOST", "0.0.0.0"), port)
