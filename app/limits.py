"""Request limits and request metrics, as one pure-ASGI middleware.

One layer instead of several (body, decompression, concurrency, metrics), and no Starlette
BaseHTTPMiddleware: each layer of that costs a task and a stream per request, which on a
sub-millisecond model would show up as a large share of the latency.

Order matters. The body is read in full, under a deadline, before the request takes a
concurrency slot: a client that sends its headers and then trickles its body would otherwise
hold a slot for as long as it likes, and 64 of them would lock out every real request.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
import zlib
from typing import Callable

# A full /predict body (64 pixels as decimal text) is well under 1 KiB and 64 KiB leaves room
# for whitespace; the batch route takes up to 1,024 images, which as JSON decimals can reach
# ~1.3 MB, hence its own limit (see LIMITS in app/service.py). A compressed body is held to the
# same limits after decompression.
MAX_BODY_BYTES = 64 * 1024
MAX_INFER_BODY_BYTES = 2 * 1024 * 1024
# A body must arrive within this time from the start of the request; a slower one gets 408.
BODY_TIMEOUT_S = 15.0
# Bodies being read are buffered before they hold a slot, so their total is bounded too.
MAX_BUFFERED_BYTES = 64 * 1024 * 1024
# Requests the worker evaluates at once; beyond it, queueing only adds latency, so say 503 early.
DEFAULT_MAX_CONCURRENCY = 64
UNMATCHED = "unmatched"
# nginx's "client closed request": the client left before its answer; no response was sent.
CLIENT_CLOSED = 499
# Metric labels come from this fixed set, so a client cannot mint new series with odd paths or methods.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Content-Encoding values accepted on request bodies (RFC 9110 section 8.4.1; "x-gzip" is an
# alias of gzip there) -> zlib wbits: gzip framing, and "deflate" meaning the zlib format.
ENCODINGS = {b"gzip": 16 + zlib.MAX_WBITS, b"x-gzip": 16 + zlib.MAX_WBITS, b"deflate": zlib.MAX_WBITS}
log = logging.getLogger("app.limits")


def error_body(message: str) -> bytes:
    return json.dumps({"error": message}).encode()


async def send_error(send: Callable, status: int, message: str, headers: list | None = None) -> None:
    body = error_body(message)
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()), *(headers or [])]})
    await send({"type": "http.response.body", "body": body})


class Rejected(Exception):
    """A request refused while its body was read: the status and the message to answer with."""

    def __init__(self, status: int, message: str, headers: list | None = None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers


class ClientGone(Exception):
    """The client disconnected before its body arrived."""


def _inflate(decoder, data: bytes, room: int, encoding: bytes) -> bytes:
    """Decompress one chunk, never producing more than room + 1 bytes (the +1 proves overflow)."""
    try:
        out = decoder.decompress(data, room + 1)
    except zlib.error as exc:
        raise Rejected(400, f"the {encoding.decode()} request body is corrupt: {exc}") from None
    if decoder.unused_data:
        raise Rejected(400, f"data follows the end of the {encoding.decode()} stream")
    return out


class GuardMiddleware:
    """Body limits, deadline and decoding (413/408/415/400), concurrency limit (503) and metrics."""

    def __init__(self, app, *, metrics, route_label: Callable[[str], str], exempt: frozenset[str],
                 body_limits: dict[str, int] | None = None, max_body_bytes: int = MAX_BODY_BYTES,
                 max_concurrency: int = DEFAULT_MAX_CONCURRENCY, body_timeout_s: float = BODY_TIMEOUT_S,
                 max_buffered_bytes: int = MAX_BUFFERED_BYTES, fast_posts: dict[str, Callable] | None = None):
        self.app = app
        self.metrics = metrics
        self.route_label = route_label
        # Probes and scrapes must answer while the worker is saturated, or an orchestrator
        # would restart a healthy, merely busy instance.
        self.exempt = exempt
        self.body_limits = body_limits or {}
        self.max_body_bytes = max_body_bytes
        self.max_concurrency = max_concurrency
        self.body_timeout_s = body_timeout_s
        self.max_buffered_bytes = max_buffered_bytes
        # path -> async (body, headers) -> (status, body, headers), for POSTs answered right here
        self.fast_posts = fast_posts or {}
        self.in_flight = 0
        self.buffered = 0
        # Read at scrape time: two locked gauge updates per request cost more than the model.
        metrics.in_flight.set_function(lambda: self.in_flight)
        # Body deadlines: task -> monotonic deadline, enforced by one sweeper task per event loop
        # rather than a timer per request (asyncio.timeout costs ~10 % of a /predict).
        self.reading: dict[asyncio.Task, float] = {}
        self.expired: set[asyncio.Task] = set()
        self._sweeper: asyncio.Task | None = None

    async def _sweep(self) -> None:
        loop = asyncio.get_running_loop()
        while self.reading:
            await asyncio.sleep(min(0.25, self.body_timeout_s / 4))
            now = loop.time()
            for task, deadline in list(self.reading.items()):
                if deadline <= now and task not in self.expired:
                    self.expired.add(task)
                    task.cancel()
        self._sweeper = None

    def _watch(self, task: asyncio.Task) -> None:
        loop = asyncio.get_running_loop()
        self.reading[task] = loop.time() + self.body_timeout_s
        if self._sweeper is None or self._sweeper.done() or self._sweeper.get_loop() is not loop:
            self._sweeper = loop.create_task(self._sweep())

    async def _read_body(self, scope, receive, limit: int) -> tuple[bytes, bool]:
        """The whole (decoded) body, and whether it was decoded; raises Rejected or ClientGone."""
        encoding = None
        for name, value in scope["headers"]:
            if name == b"content-length":
                if not value.isdigit() or int(value) > limit:
                    raise Rejected(413, f"request body exceeds {limit} bytes")
            elif name == b"content-encoding":
                encoding = value.strip().lower()
        if encoding == b"identity":
            encoding = None
        if encoding is not None and encoding not in ENCODINGS:
            # RFC 9110 section 15.5.16: 415 for an unsupported content coding, with Accept-Encoding.
            raise Rejected(415, f"Content-Encoding {encoding.decode(errors='replace')!r} is not supported;"
                                " send gzip, deflate or an uncompressed body",
                           [(b"accept-encoding", b"gzip, deflate")])
        decoder = zlib.decompressobj(ENCODINGS[encoding]) if encoding else None
        chunks: list[bytes] = []
        size = 0
        task = asyncio.current_task()
        self._watch(task)
        try:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise ClientGone
                data = message.get("body", b"")
                if decoder is not None and data:
                    data = _inflate(decoder, data, limit - size, encoding)
                size += len(data)
                if size > limit:
                    raise Rejected(413, f"request body exceeds {limit} bytes" + (" once decompressed" if decoder else ""))
                if data:
                    self.buffered += len(data)
                    chunks.append(data)
                    if self.buffered > self.max_buffered_bytes:
                        raise Rejected(503, "too many request bodies in flight; retry later", [(b"retry-after", b"1")])
                if not message.get("more_body", False):
                    break
        except asyncio.CancelledError:
            if task not in self.expired:
                raise
            task.uncancel()  # our own deadline, not a shutdown: answer it
            raise Rejected(408, f"the request body did not arrive within {self.body_timeout_s:g} s",
                           [(b"connection", b"close")]) from None
        finally:
            self.reading.pop(task, None)
            self.expired.discard(task)
            self.buffered -= sum(map(len, chunks))
        if decoder is not None and not decoder.eof:
            raise Rejected(400, f"the {encoding.decode()} request body is truncated")
        return (chunks[0] if len(chunks) == 1 else b"".join(chunks)), decoder is not None

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start = time.perf_counter()
        route = self.route_label(scope["path"])
        status = 500

        async def send_status(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            try:
                body, decoded = await self._read_body(scope, receive, self.body_limits.get(route, self.max_body_bytes))
            except Rejected as exc:
                status = exc.status
                return await send_error(send, exc.status, exc.message, exc.headers)
            except ClientGone:
                status = CLIENT_CLOSED
                return
            if route not in self.exempt and self.in_flight >= self.max_concurrency:
                status = 503
                return await send_error(send, 503, f"over the concurrency limit ({self.max_concurrency}); retry later",
                                        [(b"retry-after", b"1")])
            if decoded:  # the app sees the body as it was before compression
                scope = dict(scope, headers=[h for h in scope["headers"] if h[0] != b"content-encoding"])
            fast = self.fast_posts.get(scope["path"]) if scope["method"] == "POST" else None
            if fast is not None:
                self.in_flight += 1
                try:
                    status, answer, headers = await fast(body, scope["headers"])
                except Exception:  # noqa: BLE001 - a bug: logged with its traceback, answered as JSON
                    log.exception("inference failed")
                    status, answer, headers = 500, error_body("internal error"), [(b"content-type", b"application/json")]
                finally:
                    self.in_flight -= 1
                await send({"type": "http.response.start", "status": status,
                            "headers": [*headers, (b"content-length", str(len(answer)).encode())]})
                await send({"type": "http.response.body", "body": answer})
                return
            replayed = False

            async def replay():
                nonlocal replayed
                if replayed:  # afterwards, only a disconnect can come
                    return await receive()
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}

            self.in_flight += 1
            try:
                await self.app(scope, replay, send_status)
            finally:
                self.in_flight -= 1
        finally:
            method = scope["method"] if scope["method"] in KNOWN_METHODS else "other"
            self.metrics.observe_request(route, method, status, time.perf_counter() - start)
