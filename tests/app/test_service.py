"""Every endpoint over HTTP (TestClient): status codes, JSON bodies and the numbers in them."""
from __future__ import annotations

import re
import time

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app import MODEL_DIR
from app.service import create_app

from .conftest import infer_body, wait_ready


def test_service_info(client, model):
    body = client.get("/").json()
    assert body["service"] == "mlinfra-digits" and body["model"] == "digits"
    assert body["model_version"] == model.version and body["ready"] is True
    assert "/predict" in body["endpoints"]


def test_health_and_metadata(client, model):
    assert client.get("/v2/health/live").json() == {"live": True}
    assert client.get("/v2/health/ready").json() == {"ready": True}
    # Triton's binary tensor data extension is advertised as "binary_tensor_data" in the server
    # metadata extensions (triton-inference-server/server docs/protocol/extension_binary_data.md).
    assert client.get("/v2").json() == {"name": "mlinfra-digits", "version": "0.1.0",
                                        "extensions": ["binary_tensor_data"]}
    meta = client.get("/v2/models/digits").json()
    assert meta["versions"] == [model.version]
    assert meta["inputs"] == [{"name": "pixels", "datatype": "FP32", "shape": [-1, 64]}]
    assert [o["name"] for o in meta["outputs"]] == ["label", "probabilities"]
    assert client.get("/v2/models/digits/ready").json() == {"name": "digits", "ready": True}


def test_predict_returns_label_probability_and_version(client, model, sample):
    for pixels, label in zip(sample["pixels"], sample["labels"]):
        response = client.post("/predict", json={"pixels": pixels})
        assert response.status_code == 200
        body = response.json()
        expected = model.predict_proba(np.asarray([pixels], dtype=float))[0]
        assert body["label"] == label == expected.argmax()
        assert body["probability"] == pytest.approx(expected.max(), abs=1e-6)
        assert body["model_version"] == model.version


def test_predict_accepts_an_8x8_image(client, sample):
    image = [sample["pixels"][3][r * 8:(r + 1) * 8] for r in range(8)]
    assert client.post("/predict", json={"pixels": image}).json()["label"] == sample["labels"][3]


def test_infer_over_the_held_out_set_reaches_the_card_accuracy(client, model, split):
    _, x_test, _, y_test = split
    labels = []
    for start in range(0, len(x_test), 64):
        rows = x_test[start:start + 64].astype(int).tolist()
        response = client.post("/v2/models/digits/infer", json=infer_body(rows))
        assert response.status_code == 200
        body = response.json()
        assert body["model_name"] == "digits" and body["model_version"] == model.version
        label, probabilities = body["outputs"]
        assert label["name"] == "label" and label["datatype"] == "INT64" and label["shape"] == [len(rows)]
        assert probabilities["shape"] == [len(rows), 10] and probabilities["datatype"] == "FP32"
        grid = np.asarray(probabilities["data"]).reshape(len(rows), 10)
        np.testing.assert_allclose(grid.sum(axis=1), 1.0, atol=1e-5)
        labels.extend(label["data"])
    accuracy = float((np.asarray(labels) == y_test).mean())
    assert accuracy == pytest.approx(model.card["metrics"]["test_accuracy"], abs=1e-6)


def test_infer_flat_data_outputs_selection_and_id(client, sample):
    flat = [v for row in sample["pixels"][:2] for v in row]
    request = infer_body(flat, id="req-7", outputs=[{"name": "label"}])
    request["inputs"][0]["shape"] = [2, 64]  # flat data: the shape says how it splits into rows
    body = client.post("/v2/models/digits/infer", json=request).json()
    assert body["id"] == "req-7"
    assert body["outputs"] == [{"name": "label", "datatype": "INT64", "shape": [2], "data": sample["labels"][:2]}]


def test_metrics_count_requests_latency_predictions_and_model(model, sample):
    with TestClient(create_app(model_uri=str(MODEL_DIR))) as fresh:
        wait_ready(fresh)
        for pixels in sample["pixels"][:3]:
            fresh.post("/predict", json={"pixels": pixels})
        fresh.post("/predict", json={"pixels": [99] * 64})
        fresh.post("/v2/models/digits/infer", json=infer_body(sample["pixels"][:5]))
        text = fresh.get("/metrics").text

    def value(pattern: str) -> float:
        match = re.search(pattern + r" ([0-9.e+-]+)$", text, re.M)
        assert match, pattern
        return float(match.group(1))

    assert value(r'http_requests_total\{code="200",method="POST",route="/predict"\}') == 3
    assert value(r'http_requests_total\{code="422",method="POST",route="/predict"\}') == 1
    assert value(r'http_request_duration_seconds_count\{code="200",route="/predict"\}') == 3
    assert value(r'http_request_duration_seconds_count\{code="200",route="/v2/models/digits/infer"\}') == 1
    assert value(r'inference_duration_seconds_count\{endpoint="predict"\}') == 3
    assert value(r'inference_images_total\{endpoint="infer"\}') == 5
    expected = np.bincount(sample["labels"][:3] + sample["labels"][:5], minlength=10)
    for label, count in enumerate(expected):
        assert value(rf'predictions_total\{{label="{label}"\}}') == count
    assert value(rf'model_info\{{accuracy="[0-9.]+",name="digits",version="{model.version}"\}}') == 1


def test_openapi_documents_every_route(client):
    paths = client.get("/openapi.json").json()["paths"]
    # The OIP REST paths, with the optional versions segment (kserve/open-inference-protocol
    # specification/protocol/inference_rest.md, "HTTP/REST" table).
    assert {"/", "/predict", "/v2", "/v2/health/live", "/v2/health/ready", "/v2/models/{model}",
            "/v2/models/{model}/versions/{version}", "/v2/models/{model}/ready",
            "/v2/models/{model}/versions/{version}/ready", "/v2/models/{model}/infer",
            "/v2/models/{model}/versions/{version}/infer", "/metrics"} == set(paths)
    assert paths["/predict"]["post"]["requestBody"]["content"]["application/json"]["schema"]["required"] == ["pixels"]


def _not_ready_client(model_uri: str) -> TestClient:
    return TestClient(create_app(model_uri=model_uri), raise_server_exceptions=False)


def _settled(client: TestClient) -> dict:
    """Wait for the background load to finish (it fails here), then return the readiness body."""
    task = client.app.state.loading
    deadline = time.monotonic() + 20
    while not task.done() and time.monotonic() < deadline:
        time.sleep(0.02)
    return client.get("/v2/health/ready").json()


def test_not_ready_when_the_model_is_missing(tmp_path):
    with _not_ready_client(str(tmp_path / "nowhere")) as client:
        body = _settled(client)
        assert client.get("/v2/health/ready").status_code == 503
        assert body["error"].startswith("not ready: the model failed to load: model folder")
        assert "lacks model_card.json" in body["error"]
        assert client.get("/v2/health/live").status_code == 200
        for method, path in (("GET", "/v2/models/digits/ready"), ("GET", "/v2/models/digits"),
                             ("POST", "/predict"), ("POST", "/v2/models/digits/infer")):
            response = client.request(method, path, json={"pixels": [0] * 64})
            assert response.status_code == 503 and response.json()["error"].startswith("not ready")
        assert client.get("/").json()["ready"] is False


def test_not_ready_when_the_self_test_fails(tmp_path, sample):
    import json
    import shutil

    shutil.copytree(MODEL_DIR, tmp_path / "m")
    bad = dict(sample, labels=[(label + 1) % 10 for label in sample["labels"]])
    (tmp_path / "m" / "selftest.json").write_text(json.dumps(bad))
    with _not_ready_client(str(tmp_path / "m")) as client:
        body = _settled(client)
        assert client.get("/v2/health/ready").status_code == 503
        assert "self-test failed" in body["error"]


@pytest.mark.parametrize("card", ["[1, 2]", '"just a string"', "{not json", '{"version": 7}',
                                  None])  # None: the card is valid JSON, its metrics are not numbers
def test_a_bad_model_card_fails_readiness_with_its_reason(tmp_path, card):
    # Issue 20: a bad card must not leave readiness at "the model is loading" forever.
    import json
    import shutil

    shutil.copytree(MODEL_DIR, tmp_path / "m")
    path = tmp_path / "m" / "model_card.json"
    if card is None:
        card = json.dumps({**json.loads(path.read_text()), "metrics": {"test_accuracy": "high"}})
    path.write_text(card)
    with _not_ready_client(str(tmp_path / "m")) as client:
        body = _settled(client)
        assert client.get("/v2/health/ready").status_code == 503
        assert body["error"].startswith("not ready: the model failed to load: "), body
        assert "loading" not in body["error"]


def test_a_load_that_never_finishes_is_reported(monkeypatch):
    import threading

    import app.service as service

    release = threading.Event()
    monkeypatch.setattr(service, "fetch_model", lambda uri: release.wait(10) and MODEL_DIR)
    with TestClient(create_app(model_uri="x", load_timeout_s=0.05)) as client:
        try:
            _settled(client)
            body = client.get("/v2/health/ready").json()
            assert body == {"error": "not ready: the model did not load within 0.05 s (still trying)"}
        finally:
            release.set()


def test_versioned_routes_answer_for_the_served_version(client, model, sample):
    # OIP REST: v2/models/<model_name>[/versions/<model_version>] for metadata, ready and infer.
    versioned = f"/v2/models/digits/versions/{model.version}"
    assert client.get(versioned).json()["versions"] == [model.version]
    assert client.get(f"{versioned}/ready").json() == {"name": "digits", "ready": True}
    body = client.post(f"{versioned}/infer", json=infer_body(sample["pixels"][:3])).json()
    assert body["model_version"] == model.version and body["outputs"][0]["data"] == sample["labels"][:3]


@pytest.mark.parametrize("suffix", ["", "/ready", "/infer"])
def test_unknown_model_or_version_is_404_with_the_oip_error_object(client, model, suffix):
    # OIP: errors carry the JSON error object {"error": <message>}, naming what was not found.
    method = "POST" if suffix == "/infer" else "GET"
    body = infer_body([[1] * 64])
    missing_model = client.request(method, f"/v2/models/mnist{suffix}", json=body)
    assert missing_model.status_code == 404
    assert missing_model.json() == {"error": "model 'mnist' not found; this server serves 'digits'"}
    missing_version = client.request(method, f"/v2/models/digits/versions/v9{suffix}", json=body)
    assert missing_version.status_code == 404
    assert missing_version.json() == {"error": f"model 'digits' has no version 'v9'; it serves {model.version}"}
    other = client.request(method, f"/v2/models/mnist/versions/{model.version}{suffix}", json=body)
    assert other.status_code == 404 and "'mnist' not found" in other.json()["error"]


@pytest.mark.parametrize("path", ["/", "/v2", "/v2/health/live", "/v2/health/ready", "/metrics",
                                  "/v2/models/digits", "/v2/models/digits/ready"])
def test_head_works_wherever_get_does(client, path):
    # RFC 9110 section 9.3.2: HEAD is GET without the content; a probe may use either.
    get, head = client.get(path), client.head(path)
    assert head.status_code == get.status_code == 200
    assert head.headers["content-type"] == get.headers["content-type"]


def test_request_parameters_pass_through_and_binary_parameters_are_consumed(client, sample):
    request = infer_body(sample["pixels"][:1], id="r1", outputs=[{"name": "label", "parameters": {"binary_data": False}}],
                         parameters={"priority": 2, "tag": "canary", "binary_data_output": True})
    body = client.post("/v2/models/digits/infer", json=request).json()
    assert body["id"] == "r1" and body["parameters"] == {"priority": 2, "tag": "canary"}
    assert body["outputs"] == [{"name": "label", "datatype": "INT64", "shape": [1], "data": sample["labels"][:1]}]


@pytest.mark.parametrize("accept, encoding", [("gzip", "gzip"), ("deflate", "deflate"), ("gzip;q=0.5", "gzip"),
                                              ("gzip;q=0, deflate", "deflate"), ("br", None), ("gzip;q=0", None),
                                              ("identity", None)])
def test_responses_are_compressed_as_accept_encoding_allows(client, sample, accept, encoding):
    # RFC 9110 section 12.5.3: Accept-Encoding codings with qvalues, q=0 meaning "not acceptable".
    response = client.post("/v2/models/digits/infer", json=infer_body(sample["pixels"]),
                           headers={"accept-encoding": accept})
    assert response.status_code == 200
    assert response.headers.get("content-encoding") == encoding
    # httpx undoes gzip and deflate itself, so the body reads as JSON either way
    assert response.json()["outputs"][0]["data"] == sample["labels"]
