"""Request limits and request metrics, as one pure-ASGI middleware.

One layer instead of three (body size, concurrency, metrics), and no Starlette
BaseHTTPMiddleware: each layer of that costs a task and a stream per request, which on a
sub-millisecond model would show up as a large share of the latency.
"""
from __future__ import annotations

import json
import time
from typing import Callable

from starlette.exceptions import HTTPException

# A full batch (64 images x 64 pixels as decimal text) is ~20 KiB; 64 KiB leaves room for
# whitespace and OIP metadata while bounding what one request can make the parser do.
MAX_BODY_BYTES = 64 * 1024
# Requests the worker accepts at once; beyond it, queueing only adds latency, so say 503 early.
DEFAULT_MAX_CONCURRENCY = 64
UNMATCHED = "unmatched"
# Metric labels come from this fixed set, so a client cannot mint new series with odd paths or methods.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class BodyTooLarge(HTTPException):
    """Raised from receive() when a body without a usable Content-Length grows past the limit.

    An HTTPException so that FastAPI's exception middleware answers it (413) like any other.
    """

    def __init__(self, limit: int):
        super().__init__(413, f"request body exceeds {limit} bytes")


def error_body(message: str) -> bytes:
    return json.dumps({"error": message}).encode()


async def send_error(send: Callable, status: int, message: str, headers: list | None = None) -> None:
    body = error_body(message)
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()), *(headers or [])]})
    await send({"type": "http.response.body", "body": body})


class GuardMiddleware:
    """Body-size limit (413 before parsing), concurrency limit (503) and per-route metrics."""

    def __init__(self, app, *, metrics, routes: frozenset[str], exempt: frozenset[str],
                 max_body_bytes: int = MAX_BODY_BYTES, max_concurrency: int = DEFAULT_MAX_CONCURRENCY):
        self.app = app
        self.metrics = metrics
        self.routes = routes
        # Probes and scrapes must answer while the worker is saturated, or an orchestrator
        # would restart a healthy, merely busy instance.
        self.exempt = exempt
        self.max_body_bytes = max_body_bytes
        self.max_concurrency = max_concurrency
        self.in_flight = 0

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start = time.perf_counter()
        path = scope["path"]
        route = path if path in self.routes else UNMATCHED
        status = 500

        async def send_status(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            if route not in self.exempt and self.in_flight >= self.max_concurrency:
                status = 503
                await send_error(send, 503, f"over the concurrency limit ({self.max_concurrency}); retry later",
                                 [(b"retry-after", b"1")])
                return
            limit = self.max_body_bytes
            for name, value in scope["headers"]:
                if name == b"content-length":
                    if not value.isdigit() or int(value) > limit:
                        status = 413
                        await send_error(send, 413, f"request body exceeds {limit} bytes")
                        return
                    break
            received = 0

            async def counting_receive():
                nonlocal received
                message = await receive()
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
                return message

            self.in_flight += 1
            self.metrics.in_flight.inc()
            try:
                await self.app(scope, counting_receive, send_status)
            finally:
                self.in_flight -= 1
                self.metrics.in_flight.dec()
        finally:
            method = scope["method"] if scope["method"] in KNOWN_METHODS else "other"
            self.metrics.observe_request(route, method, status, time.perf_counter() - start)
