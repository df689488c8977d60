"""Request and response bodies of the two inference routes: parsing, validation and answers.

`/v2/models/{model}[/versions/{version}]/infer` speaks the KServe Open Inference Protocol REST
("$inference_request" / "$inference_response", kserve/open-inference-protocol
specification/protocol/inference_rest.md) with Triton's binary tensor data extension
(triton-inference-server/server docs/protocol/extension_binary_data.md): the JSON object may be
followed by binary tensor data, `Inference-Header-Content-Length` giving the JSON's length,
`binary_data_size` each binary input's size, and `binary_data` (per output) or
`binary_data_output` (per request) asking for binary outputs.

Validated by hand rather than by pydantic: a model of 4,096 floats costs more than the model
itself, and every rejection must be the same `{"error": ...}`.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from app import MODEL_NAME
from app.model import N_CLASSES, N_FEATURES, InputError, flatten_numbers, to_batch
from app.tensors import datatype, from_binary, from_json, itemsize, to_binary

try:  # 5-10x faster than json both ways; it also refuses NaN, Infinity and 1,024-deep nesting
    from orjson import dumps
    from orjson import loads as _loads
except ImportError:  # pragma: no cover - the pinned requirements include orjson
    from json import loads as _loads

    def dumps(document) -> bytes:
        return json.dumps(document, separators=(",", ":")).encode()

# One request's rows on the batch route: a 1,000-image batch sent as binary FP32 is 256 KB and
# evaluates in well under a millisecond; /predict stays one image (app.model.MAX_BATCH bounds
# the JSON self-test and /predict paths).
MAX_INFER_ROWS = 1024
OUTPUTS = {"label": "INT64", "probabilities": "FP32"}
OUTPUT_NAMES = tuple(OUTPUTS)
# Request parameters that the binary extension consumes; every other one is echoed back.
_EXTENSION_PARAMETERS = frozenset({"binary_data_output"})
_SCALARS = (str, int, float, bool)


@dataclass(frozen=True, slots=True)
class InferRequest:
    batch: np.ndarray
    outputs: tuple[tuple[str, bool], ...]  # (output name, as binary data)
    id: str | None
    parameters: dict | None  # request parameters echoed in the response


def parse_object(body: bytes | memoryview) -> dict:
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


def _parameters(value, where: str) -> dict:
    # OIP "$parameters": an object whose values are strings, numbers or booleans.
    if value is None:
        return {}
    if type(value) is not dict or not all(type(v) in _SCALARS for v in value.values()):
        raise InputError(f"{where} parameters must be an object of strings, numbers and booleans")
    return value


def _flag(parameters: dict, name: str, default: bool, where: str) -> bool:
    value = parameters.get(name, default)
    if type(value) is not bool:
        raise InputError(f"{where} parameter {name} must be true or false")
    return value


def _split(body: bytes, header_length: bytes | None) -> tuple[memoryview, memoryview]:
    """The body -> (JSON object, binary tensor data), per Inference-Header-Content-Length."""
    view = memoryview(body)
    if header_length is None:
        return view, view[len(view):]
    if not header_length.isdigit() or not 0 < int(header_length) <= len(view):
        raise InputError(f"Inference-Header-Content-Length {header_length.decode(errors='replace')!r} must be"
                         f" a length between 1 and the body's {len(view)} bytes")
    cut = int(header_length)
    return view[:cut], view[cut:]


def _input_batch(tensor, binary: memoryview) -> np.ndarray:
    if type(tensor) is not dict:
        raise InputError("inputs must be a list holding one tensor named 'pixels'")
    if tensor.get("name") != "pixels":
        raise InputError("the input tensor must be named 'pixels'")
    name = datatype(tensor.get("datatype"))
    shape = tensor.get("shape")
    if type(shape) is not list or len(shape) != 2 or any(type(d) is not int for d in shape) \
            or shape[1] != N_FEATURES:
        raise InputError(f"the 'pixels' shape must be [N, {N_FEATURES}]")
    rows = shape[0]
    if not 1 <= rows <= MAX_INFER_ROWS:
        raise InputError(f"a batch holds 1 to {MAX_INFER_ROWS} images, got {rows}")
    size = _parameters(tensor.get("parameters"), "input").get("binary_data_size")
    if size is None:
        if len(binary):
            raise InputError(f"the body carries {len(binary)} bytes after the JSON object but no input"
                             " has a binary_data_size parameter")
        return from_json(name, tensor.get("data"), rows)
    if type(size) is not int or size < 0:
        raise InputError("binary_data_size must be a non-negative integer")
    if "data" in tensor:
        raise InputError("the 'pixels' input has both data and binary_data_size; send one")
    expected = rows * N_FEATURES * itemsize(name)
    if size != expected:
        raise InputError(f"binary_data_size {size} does not match shape [{rows}, {N_FEATURES}] of {name}"
                         f" ({expected} bytes)")
    if size != len(binary):
        raise InputError(f"binary_data_size adds up to {size} bytes but the body carries {len(binary)}"
                         " after the JSON object (Inference-Header-Content-Length)")
    return from_binary(name, binary, rows)


def _requested_outputs(wanted, binary_default: bool) -> tuple[tuple[str, bool], ...]:
    if wanted is None:  # OIP: no "outputs" -> every output, with default settings
        return tuple((name, binary_default) for name in OUTPUT_NAMES)
    if type(wanted) is not list or any(type(o) is not dict or o.get("name") not in OUTPUTS for o in wanted):
        raise InputError(f"outputs may name only {', '.join(OUTPUT_NAMES)}")
    names = [o["name"] for o in wanted]
    if len(set(names)) != len(names):
        raise InputError("outputs name the same tensor twice")
    chosen = []
    for output in wanted:
        parameters = _parameters(output.get("parameters"), f"output {output['name']!r}")
        if parameters.get("classification"):
            raise InputError("the classification extension is not supported; ask for 'probabilities'")
        chosen.append((output["name"], _flag(parameters, "binary_data", binary_default, "output")))
    return tuple(chosen)


def parse_infer(body: bytes, header_length: bytes | None = None) -> InferRequest:
    """An OIP inference request (JSON, optionally followed by binary tensor data) -> InferRequest."""
    head, binary = _split(body, header_length)
    document = parse_object(head)
    request_id = document.get("id")
    if request_id is not None and type(request_id) is not str:
        raise InputError("id must be a string")
    parameters = _parameters(document.get("parameters"), "request")
    binary_default = _flag(parameters, "binary_data_output", False, "request")
    inputs = document.get("inputs")
    if type(inputs) is not list or len(inputs) != 1:
        raise InputError("inputs must be a list holding one tensor named 'pixels'")
    batch = _input_batch(inputs[0], binary)
    echoed = {k: v for k, v in parameters.items() if k not in _EXTENSION_PARAMETERS} or None
    return InferRequest(batch, _requested_outputs(document.get("outputs"), binary_default), request_id, echoed)


def infer_answer(probabilities: np.ndarray, request: InferRequest, version: str) -> tuple[bytes, int | None]:
    """The response body, and the JSON object's length when binary tensor data follows it."""
    rows = len(probabilities)
    values = {"label": probabilities.argmax(axis=1), "probabilities": probabilities}
    shapes = {"label": [rows], "probabilities": [rows, N_CLASSES]}
    tensors, chunks = [], []
    for name, binary in request.outputs:
        tensor = {"name": name, "datatype": OUTPUTS[name], "shape": shapes[name]}
        if binary:
            chunks.append(to_binary(values[name], OUTPUTS[name]))
            tensor["parameters"] = {"binary_data_size": len(chunks[-1])}
        elif name == "label":
            tensor["data"] = values[name].tolist()
        else:
            tensor["data"] = np.round(probabilities, 6).ravel().tolist()
        tensors.append(tensor)
    answer = {"model_name": MODEL_NAME, "model_version": version, "outputs": tensors}
    if request.id is not None:
        answer["id"] = request.id
    if request.parameters:
        answer["parameters"] = request.parameters
    head = dumps(answer)
    if not chunks:
        return head, None
    return b"".join((head, *chunks)), len(head)


def predict_answer(label: int, probability: float, version: str) -> bytes:
    return b'{"label":%d,"probability":%.6f,"model_version":"%s"}' % (label, probability, version.encode())
