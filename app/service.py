"""The inference service: FastAPI on uvicorn, Open Inference Protocol v2 plus a simple /predict.

    python -m app          (the container's entry point; also: mlinfra serve)

Settings come from the environment: MODEL_URI (see app/storage.py), MAX_CONCURRENCY,
BODY_TIMEOUT_S, MODEL_LOAD_TIMEOUT_S; the server's own (workers, keep-alive, header limits) are
in app/server.py. The model loads in the background so that liveness answers at once;
readiness turns 200 only after the model loaded and reproduced its bundled self-test sample,
and says why not otherwise (loading, or the load's error).

The model routes are plain Starlette routes over the raw body: FastAPI's per-request dependency
and validation machinery costs about as much as the model, and they need none of it
(app/protocol.py validates). They are first in the route table because they carry nearly all
traffic; app/openapi.py describes them in the OpenAPI document.
"""
from __future__ import annotations

import asyncio
import gc
import gzip
import logging
import os
import re
import time
import zlib
from contextlib import asynccontextmanager

import numpy as np
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import Response
from starlette.exceptions import HTTPException
from starlette.routing import Route

from app import MODEL_NAME
from app.limits import (BODY_TIMEOUT_S, DEFAULT_MAX_CONCURRENCY, MAX_BODY_BYTES, MAX_INFER_BODY_BYTES, UNMATCHED,
                        GuardMiddleware, error_body)
from app.metrics import Metrics
from app.model import N_CLASSES, N_FEATURES, DigitsModel, InputError
from app.openapi import OPENAPI_PATHS
from app.protocol import dumps, infer_answer, parse_infer, parse_predict, predict_answer
from app.server import env_number
from app.storage import fetch_model, sample_for

SERVICE_NAME = "mlinfra-digits"
SERVICE_VERSION = "0.1.0"
JSON = "application/json"
OCTETS = "application/octet-stream"
# Triton's binary tensor data extension is reported as "binary_tensor_data" in the server
# metadata's extensions (triton-inference-server/server docs/protocol/extension_binary_data.md).
EXTENSIONS = ["binary_tensor_data"]
# Probes and scrapes must answer while the worker is saturated, or an orchestrator would
# restart a healthy, merely busy instance.
UNLIMITED_ROUTES = frozenset({"/v2/health/live", "/v2/health/ready", "/metrics"})
STATIC_ROUTES = frozenset({"/", "/predict", "/v2", "/openapi.json", *UNLIMITED_ROUTES})
MODEL_LOAD_TIMEOUT_S = 300.0
# Responses smaller than this are sent as they are even if the client accepts compression.
COMPRESS_FROM_BYTES = 1024
_MODEL_PATH = re.compile(r"/v2/models/([^/]+)(/versions/[^/]+)?(/ready|/infer)?")
log = logging.getLogger("app.service")


def route_label(path: str) -> str:
    """The metrics label of a path: the route it matches, never a client-chosen string."""
    if path in STATIC_ROUTES:
        return path
    match = _MODEL_PATH.fullmatch(path)
    if match is None:
        return UNMATCHED
    model = MODEL_NAME if match[1] == MODEL_NAME else "{model}"
    return f"/v2/models/{model}{'/versions/{version}' if match[2] else ''}{match[3] or ''}"


# The batch route takes up to 1,024 images (app/protocol.py MAX_INFER_ROWS); other bodies are small.
BODY_LIMITS = {f"/v2/models/{MODEL_NAME}/infer": MAX_INFER_BODY_BYTES,
               f"/v2/models/{MODEL_NAME}/versions/{{version}}/infer": MAX_INFER_BODY_BYTES}


def _json(document, status: int = 200) -> Response:
    return Response(dumps(document), status, media_type=JSON)


def _error(status: int, message: str) -> Response:
    return Response(error_body(message), status, media_type=JSON)


# (status, body, raw header pairs): what the two inference routes answer, on the fast path
# (app/limits.py) or through the router.
Answer = tuple[int, bytes, list]
JSON_HEADERS = [(b"content-type", JSON.encode())]


def _failure(status: int, message: str) -> Answer:
    return status, error_body(message), JSON_HEADERS


def _response(answer: Answer) -> Response:
    status, body, headers = answer
    response = Response(body, status)
    response.raw_headers = [*response.raw_headers, *headers]
    return response


def _coding(item: str) -> tuple[str, float]:
    """One Accept-Encoding element -> (coding, qvalue); RFC 9110 section 12.5.3, q=0 = "not acceptable"."""
    name, *params = item.split(";")
    weight = 1.0
    for param in params:
        key, _, value = param.strip().partition("=")
        if key.lower() == "q":
            try:
                weight = float(value)
            except ValueError:
                weight = 0.0
    return name.strip().lower(), weight


def _compressed(body: bytes, accept: bytes | None) -> tuple[bytes, str | None]:
    """Compress a response the client accepts compressed (tritonclient's response_compression_algorithm)."""
    if not accept or len(body) < COMPRESS_FROM_BYTES:
        return body, None
    offered = {name for name, weight in map(_coding, accept.decode("latin-1").split(",")) if weight > 0}
    if "gzip" in offered:
        return gzip.compress(body, compresslevel=1), "gzip"
    if "deflate" in offered:  # HTTP "deflate" is the zlib format (RFC 9110 section 8.4.1.2)
        return zlib.compress(body, 1), "deflate"
    return body, None


class Runtime:
    """The model, once loaded and self-tested; until then, the reason it is not ready."""

    def __init__(self, metrics: Metrics):
        self.metrics = metrics
        self.model: DigitsModel | None = None
        self.problem = "the model is loading"

    def load(self, model_uri: str | None) -> None:
        try:
            folder = fetch_model(model_uri)
            model = DigitsModel.load(folder)
            model.self_test(sample_for(folder))
            accuracy = float(model.card.get("metrics", {}).get("test_accuracy", 0.0))
        except Exception as exc:  # noqa: BLE001 - any failure, even a card of the wrong shape, must show
            self.problem = f"the model failed to load: {exc}" if str(exc) else \
                f"the model failed to load: {type(exc).__name__}"
            log.error("%s", self.problem)
            return
        self.metrics.set_model(MODEL_NAME, model.version, accuracy)
        self.model = model

    def predict_one(self, batch: np.ndarray) -> tuple[int, float]:
        start = time.perf_counter()
        label, probability = self.model.predict_top(batch[0])
        self.metrics.observe_inference("predict", time.perf_counter() - start, (label,))
        return label, probability

    def infer(self, batch: np.ndarray) -> np.ndarray:
        start = time.perf_counter()
        probabilities = self.model.predict_proba(batch)
        self.metrics.observe_inference("infer", time.perf_counter() - start, probabilities.argmax(axis=1).tolist())
        return probabilities


def create_app(model_uri: str | None = None, *, max_concurrency: int | None = None,
               max_body_bytes: int = MAX_BODY_BYTES, body_timeout_s: float | None = None,
               load_timeout_s: float | None = None) -> FastAPI:
    model_uri = model_uri if model_uri is not None else os.environ.get("MODEL_URI")
    if max_concurrency is None:
        max_concurrency = env_number("MAX_CONCURRENCY", DEFAULT_MAX_CONCURRENCY, int)
    if body_timeout_s is None:
        body_timeout_s = env_number("BODY_TIMEOUT_S", BODY_TIMEOUT_S, float)
    if load_timeout_s is None:
        load_timeout_s = env_number("MODEL_LOAD_TIMEOUT_S", MODEL_LOAD_TIMEOUT_S, float)
    metrics = Metrics(N_CLASSES)
    runtime = Runtime(metrics)

    async def watch_load(loading: asyncio.Future) -> None:
        try:
            await asyncio.wait_for(asyncio.shield(loading), load_timeout_s)
        except TimeoutError:  # the load thread cannot be stopped; say so, and let it finish if it can
            runtime.problem = f"the model did not load within {load_timeout_s:g} s (still trying)"
            log.error("%s", runtime.problem)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        loading = asyncio.ensure_future(asyncio.to_thread(runtime.load, model_uri))
        # What is alive once the model loaded (modules, the model) lives as long as the process:
        # keep it out of the collector's full passes, which otherwise walk it again and again.
        loading.add_done_callback(lambda _: gc.freeze())
        app.state.loading = asyncio.create_task(watch_load(loading))
        yield
        app.state.loading.cancel()

    app = FastAPI(title=SERVICE_NAME, version=SERVICE_VERSION, lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.runtime = runtime

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        message = exc.detail if exc.status_code != 404 else f"no route {request.method} {request.url.path}"
        response = _error(exc.status_code, str(message))
        if exc.headers:
            response.headers.update(exc.headers)
        return response

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        return _error(422, "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()))

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception):
        return _error(500, f"internal error: {type(exc).__name__}")

    def not_ready() -> Response:
        return _error(503, f"not ready: {runtime.problem}")

    def unserved(name: str, version: str | None) -> Answer | None:
        """404 naming the unknown model or version (OIP error object), 503 before the model is ready."""
        if name != MODEL_NAME:
            return _failure(404, f"model {name!r} not found; this server serves {MODEL_NAME!r}")
        if runtime.model is None:
            return _failure(503, f"not ready: {runtime.problem}")
        if version is not None and version != runtime.model.version:
            return _failure(404, f"model {MODEL_NAME!r} has no version {version!r}; it serves {runtime.model.version}")
        return None

    async def predict_body(body: bytes, headers: list) -> Answer:
        if runtime.model is None:
            return _failure(503, f"not ready: {runtime.problem}")
        try:
            batch = parse_predict(body)
        except InputError as exc:
            return _failure(422, str(exc))
        label, probability = runtime.predict_one(batch)
        return 200, predict_answer(label, probability, runtime.model.version), JSON_HEADERS

    async def infer_body(body: bytes, headers: list, name: str = MODEL_NAME, version: str | None = None) -> Answer:
        if (refused := unserved(name, version)) is not None:
            return refused
        header_length = accept = None
        for key, value in headers:
            if key == b"inference-header-content-length":
                header_length = value
            elif key == b"accept-encoding":
                accept = value
        try:
            parsed = parse_infer(body, header_length)
        except InputError as exc:  # OIP: a failed inference request is an HTTP error, typically 400
            return _failure(400, str(exc))
        answer, json_length = infer_answer(runtime.infer(parsed.batch), parsed, runtime.model.version)
        extra = [(b"content-type", JSON.encode() if json_length is None else OCTETS.encode())]
        if json_length is not None:
            extra.append((b"inference-header-content-length", str(json_length).encode()))
        answer, encoding = _compressed(answer, accept)
        if encoding:
            extra += [(b"content-encoding", encoding.encode()), (b"vary", b"accept-encoding")]
        return 200, answer, extra

    async def predict(request: Request) -> Response:
        return _response(await predict_body(await request.body(), request.scope["headers"]))

    async def infer(request: Request) -> Response:
        params = request.path_params
        return _response(await infer_body(await request.body(), request.scope["headers"], params["model"],
                                          params.get("version")))

    async def model_metadata(request: Request) -> Response:
        if (refused := unserved(request.path_params["model"], request.path_params.get("version"))) is not None:
            return _response(refused)
        return _json({"name": MODEL_NAME, "versions": [runtime.model.version], "platform": "numpy",
                      "inputs": [{"name": "pixels", "datatype": "FP32", "shape": [-1, N_FEATURES]}],
                      "outputs": [{"name": "label", "datatype": "INT64", "shape": [-1]},
                                  {"name": "probabilities", "datatype": "FP32", "shape": [-1, N_CLASSES]}]})

    async def model_ready(request: Request) -> Response:
        if (refused := unserved(request.path_params["model"], request.path_params.get("version"))) is not None:
            return _response(refused)
        return _json({"name": MODEL_NAME, "ready": True})

    # Starlette answers HEAD wherever GET is allowed on these routes.
    base, versioned = "/v2/models/{model}", "/v2/models/{model}/versions/{version}"
    app.router.routes[:0] = [Route("/predict", predict, methods=["POST"]),
                             Route(f"{base}/infer", infer, methods=["POST"]),
                             Route(f"{versioned}/infer", infer, methods=["POST"]),
                             Route(base, model_metadata, methods=["GET"]),
                             Route(versioned, model_metadata, methods=["GET"]),
                             Route(f"{base}/ready", model_ready, methods=["GET"]),
                             Route(f"{versioned}/ready", model_ready, methods=["GET"])]

    def get_and_head(path: str, summary: str):
        """GET in the OpenAPI document, and HEAD wherever GET works (RFC 9110 section 9.3.2)."""
        def register(endpoint):
            app.head(path, include_in_schema=False)(endpoint)
            return app.get(path, summary=summary)(endpoint)
        return register

    @get_and_head("/", "Service information")
    async def info():
        model = runtime.model
        return _json({"service": SERVICE_NAME, "version": SERVICE_VERSION, "model": MODEL_NAME,
                      "model_version": model.version if model else None, "ready": model is not None,
                      "endpoints": ["/predict", f"/v2/models/{MODEL_NAME}/infer", "/v2/health/ready", "/metrics"]})

    @get_and_head("/v2/health/live", "Liveness")
    async def live():
        return _json({"live": True})

    @get_and_head("/v2/health/ready", "Readiness: model loaded and self-tested")
    async def ready():
        return _json({"ready": True}) if runtime.model else not_ready()

    @get_and_head("/v2", "Server metadata (OIP v2)")
    async def server_metadata():
        return _json({"name": SERVICE_NAME, "version": SERVICE_VERSION, "extensions": EXTENSIONS})

    @get_and_head("/metrics", "Prometheus metrics")
    async def prometheus():
        return Response(metrics.render(), media_type=metrics.content_type)

    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, routes=app.routes)
            schema["paths"] = {**OPENAPI_PATHS, **schema.get("paths", {})}
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi
    # The two routes that carry nearly all traffic skip the router and FastAPI's exception layers
    # (about a third of a /predict's time); any other method on them still goes to the router.
    fast = {"/predict": predict_body, f"/v2/models/{MODEL_NAME}/infer": infer_body}
    app.add_middleware(GuardMiddleware, metrics=metrics, route_label=route_label, exempt=UNLIMITED_ROUTES,
                       body_limits=BODY_LIMITS, max_body_bytes=max_body_bytes, max_concurrency=max_concurrency,
                       body_timeout_s=body_timeout_s, fast_posts=fast)
    front_door_id = os.environ.get("FRONT_DOOR_ID", "").strip()
    if front_door_id:  # behind Azure Front Door (app/origin.py); added last, so it runs first, before the fast path
        from app.origin import FrontDoorOnly

        app.add_middleware(FrontDoorOnly, front_door_id=front_door_id, exempt=UNLIMITED_ROUTES)
    return app
