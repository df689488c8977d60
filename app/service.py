"""The inference service: FastAPI on uvicorn, Open Inference Protocol v2 plus a simple /predict.

    uvicorn --factory app.service:create_app --port $PORT      (also: mlinfra serve)

Settings come from the environment: MODEL_URI (see app/storage.py), MAX_CONCURRENCY.
The model loads in the background so that liveness answers at once; readiness turns 200 only
after the model loaded and reproduced its bundled self-test sample.

The two inference routes are plain Starlette routes over the raw body: FastAPI's per-request
dependency and validation machinery costs about as much as the model, and they need none of
it (app/protocol.py validates). They are first in the route table because they carry nearly
all traffic, and app/protocol.py describes them in the OpenAPI document.
"""
from __future__ import annotations

import asyncio
import os
import time
from contextlib import asynccontextmanager

import numpy as np
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import Response
from starlette.exceptions import HTTPException
from starlette.routing import Route

from app import MODEL_NAME
from app.limits import DEFAULT_MAX_CONCURRENCY, MAX_BODY_BYTES, GuardMiddleware, error_body
from app.metrics import Metrics
from app.model import N_CLASSES, N_FEATURES, DigitsModel, InputError, ModelError
from app.protocol import OPENAPI_PATHS, dumps, infer_answer, parse_infer, parse_predict, predict_answer
from app.storage import fetch_model, sample_for

SERVICE_NAME = "mlinfra-digits"
SERVICE_VERSION = "0.1.0"
JSON = "application/json"
# Probes and scrapes must answer while the worker is saturated, or an orchestrator would
# restart a healthy, merely busy instance.
UNLIMITED_ROUTES = frozenset({"/v2/health/live", "/v2/health/ready", "/metrics"})


def _json(document, status: int = 200) -> Response:
    return Response(dumps(document), status, media_type=JSON)


def _error(status: int, message: str) -> Response:
    return Response(error_body(message), status, media_type=JSON)


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
        except ModelError as exc:
            self.problem = str(exc)
            return
        self.metrics.set_model(MODEL_NAME, model.version, model.card.get("metrics", {}).get("test_accuracy", 0.0))
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
               max_body_bytes: int = MAX_BODY_BYTES) -> FastAPI:
    model_uri = model_uri if model_uri is not None else os.environ.get("MODEL_URI")
    if max_concurrency is None:
        max_concurrency = int(os.environ.get("MAX_CONCURRENCY", DEFAULT_MAX_CONCURRENCY))
    metrics = Metrics(N_CLASSES)
    runtime = Runtime(metrics)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.loading = asyncio.create_task(asyncio.to_thread(runtime.load, model_uri))
        yield
        app.state.loading.cancel()

    app = FastAPI(title=SERVICE_NAME, version=SERVICE_VERSION, lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.runtime = runtime
    base = f"/v2/models/{MODEL_NAME}"

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

    async def predict(request: Request) -> Response:
        if runtime.model is None:
            return not_ready()
        try:
            batch = parse_predict(await request.body())
        except InputError as exc:
            return _error(422, str(exc))
        label, probability = runtime.predict_one(batch)
        return Response(predict_answer(label, probability, runtime.model.version), media_type=JSON)

    async def infer(request: Request) -> Response:
        if runtime.model is None:
            return not_ready()
        try:
            batch, outputs, request_id = parse_infer(await request.body())
        except InputError as exc:
            return _error(422, str(exc))
        probabilities = runtime.infer(batch)
        return Response(infer_answer(probabilities, outputs, runtime.model.version, request_id), media_type=JSON)

    app.router.routes[:0] = [Route("/predict", predict, methods=["POST"]),
                             Route(f"{base}/infer", infer, methods=["POST"])]

    @app.get("/", summary="Service information")
    async def info():
        model = runtime.model
        return _json({"service": SERVICE_NAME, "version": SERVICE_VERSION, "model": MODEL_NAME,
                      "model_version": model.version if model else None, "ready": model is not None,
                      "endpoints": ["/predict", f"{base}/infer", "/v2/health/ready", "/metrics"]})

    @app.get("/v2/health/live", summary="Liveness")
    async def live():
        return _json({"live": True})

    @app.get("/v2/health/ready", summary="Readiness: model loaded and self-tested")
    async def ready():
        return _json({"ready": True}) if runtime.model else not_ready()

    @app.get("/v2", summary="Server metadata (OIP v2)")
    async def server_metadata():
        return _json({"name": SERVICE_NAME, "version": SERVICE_VERSION, "extensions": []})

    @app.get(base, summary="Model metadata (OIP v2)")
    async def model_metadata():
        model = runtime.model
        if model is None:
            return not_ready()
        return _json({"name": MODEL_NAME, "versions": [model.version], "platform": "numpy",
                      "inputs": [{"name": "pixels", "datatype": "FP32", "shape": [-1, N_FEATURES]}],
                      "outputs": [{"name": "label", "datatype": "INT64", "shape": [-1]},
                                  {"name": "probabilities", "datatype": "FP32", "shape": [-1, N_CLASSES]}]})

    @app.get(f"{base}/ready", summary="Model readiness (OIP v2)")
    async def model_ready():
        return _json({"name": MODEL_NAME, "ready": True}) if runtime.model else not_ready()

    @app.get("/metrics", summary="Prometheus metrics")
    async def prometheus():
        return Response(metrics.render(), media_type=metrics.content_type)

    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, routes=app.routes)
            schema["paths"] = {**OPENAPI_PATHS, **schema.get("paths", {})}
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi
    app.add_middleware(GuardMiddleware, metrics=metrics, routes=frozenset(r.path for r in app.routes),
                       exempt=UNLIMITED_ROUTES, max_body_bytes=max_body_bytes, max_concurrency=max_concurrency)
    return app
