"""OpenAPI descriptions of the routes FastAPI cannot see (plain Starlette routes, see app/service.py)."""
from __future__ import annotations

from app.model import N_FEATURES, PIXEL_MAX, PIXEL_MIN
from app.protocol import MAX_INFER_ROWS, OUTPUT_NAMES
from app.tensors import NUMERIC

_PIXEL = {"type": "number", "minimum": PIXEL_MIN, "maximum": PIXEL_MAX}
_ERROR = {"description": "Rejected", "content": {"application/json": {"schema": {
    "type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}}}}}
_PARAMETERS = {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean"]}}
_MODEL = {"name": "model", "in": "path", "required": True, "schema": {"type": "string"}}
_VERSION = {"name": "version", "in": "path", "required": True, "schema": {"type": "string"}}


def _ok(schema: dict, *errors: str, binary: bool = False) -> dict:
    content = {"application/json": {"schema": schema}}
    if binary:  # Triton binary tensor data extension: JSON object, then the tensors' bytes
        content["application/octet-stream"] = {"schema": {"type": "string", "format": "binary"}}
    return {"200": {"description": "OK", "content": content}, **{code: _ERROR for code in errors}}


_INFER_REQUEST = {"type": "object", "required": ["inputs"], "properties": {
    "id": {"type": "string"},
    "parameters": _PARAMETERS,
    "inputs": {"type": "array", "minItems": 1, "maxItems": 1, "items": {
        "type": "object", "required": ["name", "shape", "datatype"], "properties": {
            "name": {"const": "pixels"}, "datatype": {"enum": list(NUMERIC)},
            "shape": {"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 2},
            "parameters": _PARAMETERS,
            "data": {"type": "array", "items": _PIXEL, "maxItems": MAX_INFER_ROWS * N_FEATURES}}}},
    "outputs": {"type": "array", "items": {"type": "object", "required": ["name"], "properties": {
        "name": {"enum": list(OUTPUT_NAMES)}, "parameters": _PARAMETERS}}}}}


def _infer(params: list) -> dict:
    return {"post": {
        "summary": "Classify a batch (Open Inference Protocol v2, binary tensor data extension)",
        "operationId": "infer" + ("_version" if len(params) > 1 else ""), "parameters": params,
        "requestBody": {"required": True, "content": {
            "application/json": {"schema": _INFER_REQUEST},
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}},
        "responses": _ok({"type": "object", "required": ["model_name", "outputs"]},
                         "400", "404", "408", "413", "415", "503", binary=True),
    }}


def _get(summary: str, operation: str, params: list) -> dict:
    return {"get": {"summary": summary, "operationId": operation, "parameters": params,
                    "responses": _ok({"type": "object"}, "404", "503")}}


OPENAPI_PATHS = {
    "/predict": {"post": {
        "summary": "Classify one 8x8 image", "operationId": "predict",
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["pixels"], "properties": {
                "pixels": {"type": "array", "items": _PIXEL, "minItems": N_FEATURES, "maxItems": N_FEATURES}}}}}},
        "responses": _ok({"type": "object", "properties": {
            "label": {"type": "integer"}, "probability": {"type": "number"}, "model_version": {"type": "string"}}},
            "408", "413", "415", "422", "503"),
    }},
    "/v2/models/{model}/infer": _infer([_MODEL]),
    "/v2/models/{model}/versions/{version}/infer": _infer([_MODEL, _VERSION]),
    "/v2/models/{model}": _get("Model metadata (OIP v2)", "model_metadata", [_MODEL]),
    "/v2/models/{model}/versions/{version}": _get("Model metadata of a version", "model_version_metadata",
                                                  [_MODEL, _VERSION]),
    "/v2/models/{model}/ready": _get("Model readiness (OIP v2)", "model_ready", [_MODEL]),
    "/v2/models/{model}/versions/{version}/ready": _get("Readiness of a version", "model_version_ready",
                                                        [_MODEL, _VERSION]),
}
