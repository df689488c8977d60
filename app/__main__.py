"""`python -m app`: the container's entry point. Binds $HOST:$PORT (default 0.0.0.0:8080).

The Dockerfile's exec-form CMD makes this process PID 1, so SIGTERM reaches uvicorn directly
and in-flight requests finish before the container stops.
"""
from __future__ import annotations

import os

import uvicorn

if __name__ == "__main__":
    uvicorn.run("app.service:create_app", factory=True, host=os.environ.get("HOST", "0.0.0.0"),
                port=int(os.environ.get("PORT", "8080")), workers=int(os.environ.get("WEB_CONCURRENCY", "1")),
                access_log=False, proxy_headers=True, forwarded_allow_ips="*")
