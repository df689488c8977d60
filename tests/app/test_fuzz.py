"""Schema-driven fuzzing: every operation in the OpenAPI document, with arbitrary and near-valid
bodies, never answers 5xx, and every error is a JSON `{"error": ...}`."""
from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

# `client` is the module-scoped service from conftest.py: one app for every example is the point.
FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-10**30, max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=6) | st.dictionaries(st.text(max_size=8), children, max_size=6),
    max_leaves=40,
)
pixel = st.one_of(st.integers(-3, 20), st.floats(-1e6, 1e6, allow_nan=False), st.just(16.0), st.just(0),
                  st.booleans(), st.text(max_size=2), st.none())
pixel_rows = st.lists(st.lists(pixel, min_size=62, max_size=66), min_size=0, max_size=3)
near_predict = st.fixed_dictionaries({"pixels": st.one_of(st.lists(pixel, min_size=60, max_size=68), pixel_rows)})
near_infer = st.fixed_dictionaries({
    "inputs": st.lists(st.fixed_dictionaries({
        "name": st.sampled_from(["pixels", "image", ""]),
        "shape": st.lists(st.integers(-2, 70) | st.just(64), min_size=0, max_size=3),
        "datatype": st.sampled_from(["FP32", "FP64", "INT8"]),
        "data": st.one_of(st.lists(pixel, max_size=200), pixel_rows),
    }), min_size=0, max_size=2),
}, optional={"id": json_values, "outputs": json_values})


def _operations(app) -> list[tuple[str, str]]:
    return [(method.upper(), path) for path, item in app.openapi()["paths"].items() for method in item]


def _concrete(path: str, data, version: str) -> str:
    """Fill the OIP path parameters: the served model and version, or any other name."""
    segment = st.text(st.characters(whitelist_categories=("L", "N"), whitelist_characters="-_."), min_size=1,
                      max_size=8)
    model = data.draw(st.sampled_from(["digits"]) | segment)
    return path.replace("{model}", model).replace("{version}", data.draw(st.sampled_from([version]) | segment))


def _check(response) -> None:
    assert response.status_code < 500, (response.status_code, response.text)
    if response.status_code >= 400:
        body = response.json()
        assert list(body) == ["error"] and isinstance(body["error"], str)


def test_the_document_lists_the_operations_fuzzed_here(client):
    operations = _operations(client.app)
    assert ("POST", "/predict") in operations and ("POST", "/v2/models/{model}/infer") in operations
    assert ("POST", "/v2/models/{model}/versions/{version}/infer") in operations
    assert len(operations) == 12


@FUZZ
@given(data=st.data())
def test_any_json_body_on_any_operation(client, model, data):
    method, path = data.draw(st.sampled_from(_operations(client.app)))
    body = data.draw(json_values)
    _check(client.request(method, _concrete(path, data, model.version), content=json.dumps(body)))


@FUZZ
@given(raw=st.binary(max_size=300), path=st.sampled_from(["/predict", "/v2/models/digits/infer"]))
def test_any_bytes_on_the_inference_routes(client, raw, path):
    _check(client.post(path, content=raw))


@FUZZ
@given(body=near_predict)
def test_near_valid_predict_bodies(client, body):
    response = client.post("/predict", content=json.dumps(body))
    _check(response)
    if response.status_code == 200:
        assert 0 <= response.json()["label"] <= 9


@FUZZ
@given(body=near_infer)
def test_near_valid_infer_bodies(client, body):
    response = client.post("/v2/models/digits/infer", content=json.dumps(body))
    _check(response)
    if response.status_code == 200:
        rows = body["inputs"][0]["shape"][0]
        assert response.json()["outputs"][0]["shape"][0] == rows


# Triton binary tensor data extension (triton-inference-server/server
# docs/protocol/extension_binary_data.md): a JSON object of Inference-Header-Content-Length bytes,
# then each binary input's binary_data_size bytes. Any mix of wrong sizes, lengths and encodings
# must be a 4xx JSON error, never a 5xx.
@FUZZ
@given(rows=st.integers(-1, 3), size=st.integers(-2, 1100) | st.none(), payload=st.binary(max_size=1100),
       datatype=st.sampled_from(["FP32", "FP64", "FP16", "BF16", "UINT8", "INT64", "BOOL", "BYTES"]),
       header_delta=st.integers(-5, 5) | st.none(), encoding=st.sampled_from([None, "gzip", "deflate", "br", "identity"]),
       binary_out=st.booleans())
def test_binary_tensor_bodies(client, rows, size, payload, datatype, header_delta, encoding, binary_out):
    import gzip
    import zlib

    parameters = {} if size is None else {"binary_data_size": size}
    head = json.dumps({"inputs": [{"name": "pixels", "shape": [rows, 64], "datatype": datatype,
                                   "parameters": parameters}],
                       "parameters": {"binary_data_output": binary_out}}).encode()
    body = head + payload
    headers = {}
    if header_delta is not None:
        headers["inference-header-content-length"] = str(len(head) + header_delta)
    if encoding == "gzip":
        body = gzip.compress(body)
    elif encoding == "deflate":
        body = zlib.compress(body)
    if encoding:
        headers["content-encoding"] = encoding
    response = client.post("/v2/models/digits/infer", content=body, headers=headers)
    if response.status_code == 200:
        assert response.headers["content-type"] == ("application/octet-stream" if binary_out else "application/json")
    else:
        _check(response)
