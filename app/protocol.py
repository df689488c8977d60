"""Request bodies of the two inference routes: parsing, validation, answers and OpenAPI schemas.

Validated by hand rather than by pydantic: a model of 4,096 floats costs more than the model
itself, and every rejection must be the same 422 `{"error": ...}`.
"""
from __future__ import annotations

import json

import numpy as np

from app import MODEL_NAME
from app.model import MAX_BATCH, N_CLASSES, N_FEATURES, PIXEL_MAX, PIXEL_MIN, InputError, flatten_numbers, \
    to_batch

try:  # 5-10x faster than json both ways; it also refuses NaN, Infinity and 1,024-deep nesting
    from orjson import dumps
    from orjson import loads as _loads
except ImportError:  # pragma: no cover - the pinned requirements include orjson
    from json import loads as _loads

    def dumps(document) -> bytes:
        return json.dumps(document, separators=(",", ":")).encode()

OUTPUT_NAMES = ("label", "probabilities")


def parse_object(body: bytes) -> dict:
    try:
        document = _loads(body)
    except (ValueError, RecursionError) as exc:  # json's RecursionError: "[[[[..." nested 30,000 deep
        raise InputError(f"the body is not valid JSON: {exc}") from None
    if type(document) is not dict:
        raise InputError("the body must be a JSON object")
    return document


def parse_predict(body: bytes) -> np.ndarray:
    """`{"pixels": [64 numbers]}` (or 8 rows of 8) -> a one-image batch."""
    return to_batch(flatten_numbers(parse_object(body).get("pixels")), 1)


def parse_infer(body: bytes) -> tuple[np.ndarray, tuple[str, ...], str | None]:
    """An OIP v2 inference request -> (batch, requested output names, request id)."""
    document = parse_object(body)
    inputs = document.get("inputs")
    if type(inputs) is not list or len(inputs) != 1 or type(inputs[0]) is not dict:
        raise InputError("inputs must be a list holding one tensor named 'pixels'")
    tensor = inputs[0]
    if tensor.get("name") != "pixels":
        raise InputError("the input tensor must be named 'pixels'")
    if tensor.get("datatype") != "FP32":
        raise InputError("the 'pixels' datatype must be FP32")
    shape = tensor.get("shape")
    if type(shape) is not list or len(shape) != 2 or any(type(d) is not int for d in shape) \
            or shape[1] != N_FEATURES:
        raise InputError(f"the 'pixels' shape must be [N, {N_FEATURES}]")
    batch = to_batch(flatten_numbers(tensor.get("data")), shape[0])
    request_id = document.get("id")
    if request_id is not None and type(request_id) is not str:
        raise InputError("id must be a string")
    wanted = document.get("outputs")
    if wanted is None:
        return batch, OUTPUT_NAMES, request_id
    if type(wanted) is not list or any(type(o) is not dict or o.get("name") not in OUTPUT_NAMES for o in wanted):
        raise InputError(f"outputs may name only {', '.join(OUTPUT_NAMES)}")
    return batch, tuple(o["name"] for o in wanted), request_id


def infer_answer(probabilities: np.ndarray, outputs: tuple[str, ...], version: str, request_id: str | None) -> bytes:
    rows = len(probabilities)
    tensors = {"label": {"name": "label", "datatype": "INT64", "shape": [rows],
                         "data": probabilities.argmax(axis=1).tolist()},
               "probabilities": {"name": "probabilities", "datatype": "FP32", "shape": [rows, N_CLASSES],
                                 "data": np.round(probabilities, 6).ravel().tolist()}}
    answer = {"model_name": MODEL_NAME, "model_version": version, "outputs": [tensors[name] for name in outputs]}
    if request_id is not None:
        answer["id"] = request_id
    return dumps(answer)


def predict_answer(label: int, probability: float, version: str) -> bytes:
    return b'{"label":%d,"probability":%.6f,"model_version":"%s"}' % (label, probability, version.encode())


# OpenAPI descriptions of the two routes, which are plain Starlette routes and so invisible to
# FastAPI's generator (see app/service.py).
_PIXEL = {"type": "number", "minimum": PIXEL_MIN, "maximum": PIXEL_MAX}
_ERROR = {"description": "Rejected", "content": {"application/json": {"schema": {
    "type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}}}}}
_ERRORS = {"413": _ERROR, "422": _ERROR, "503": _ERROR}


def _body(schema: dict) -> dict:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _ok(schema: dict) -> dict:
    return {"200": {"description": "Classified", "content": {"application/json": {"schema": schema}}}, **_ERRORS}


OPENAPI_PATHS = {
    "/predict": {"post": {
        "summary": "Classify one 8x8 image", "operationId": "predict",
        "requestBody": _body({"type": "object", "required": ["pixels"], "properties": {
            "pixels": {"type": "array", "items": _PIXEL, "minItems": N_FEATURES, "maxItems": N_FEATURES}}}),
        "responses": _ok({"type": "object", "properties": {
            "label": {"type": "integer"}, "probability": {"type": "number"}, "model_version": {"type": "string"}}}),
    }},
    f"/v2/models/{MODEL_NAME}/infer": {"post": {
        "summary": "Classify a batch (Open Inference Protocol v2)", "operationId": "infer",
        "requestBody": _body({"type": "object", "required": ["inputs"], "properties": {
            "id": {"type": "string"},
            "inputs": {"type": "array", "minItems": 1, "maxItems": 1, "items": {
                "type": "object", "required": ["name", "shape", "datatype", "data"], "properties": {
                    "name": {"const": "pixels"}, "datatype": {"const": "FP32"},
                    "shape": {"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 2},
                    "data": {"type": "array", "items": _PIXEL, "maxItems": MAX_BATCH * N_FEATURES}}}},
            "outputs": {"type": "array", "items": {"type": "object", "properties": {
                "name": {"enum": list(OUTPUT_NAMES)}}}}}}),
        "responses": _ok({"type": "object", "required": ["model_name", "outputs"]}),
    }},
}
