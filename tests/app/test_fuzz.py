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


def _check(response) -> None:
    assert response.status_code < 500, (response.status_code, response.text)
    if response.status_code >= 400:
        body = response.json()
        assert list(body) == ["error"] and isinstance(body["error"], str)


def test_the_document_lists_the_operations_fuzzed_here(client):
    operations = _operations(client.app)
    assert ("POST", "/predict") in operations and ("POST", "/v2/models/digits/infer") in operations
    assert len(operations) == 9


@FUZZ
@given(data=st.data())
def test_any_json_body_on_any_operation(client, data):
    method, path = data.draw(st.sampled_from(_operations(client.app)))
    body = data.draw(json_values)
    _check(client.request(method, path, content=json.dumps(body)))


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
