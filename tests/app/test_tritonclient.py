"""The real Open Inference Protocol client, NVIDIA's `tritonclient.http`, against the service in
a real uvicorn process: its default modes and each option, plus raw HTTP for malformed variants.

Sources the assertions follow:
- KServe Open Inference Protocol REST (kserve/open-inference-protocol,
  specification/protocol/inference_rest.md): routes `v2/models/<name>[/versions/<version>]`
  (metadata, ready, infer), the error object {"error": ...}, "id" returned as given, outputs as
  requested, parameters.
- Triton binary tensor data extension (triton-inference-server/server,
  docs/protocol/extension_binary_data.md): Inference-Header-Content-Length, binary_data_size,
  binary_data / binary_data_output, little-endian row-major data, "binary_tensor_data" in the
  server metadata extensions.
"""
from __future__ import annotations

import json

import ml_dtypes
import numpy as np
import pytest

import tritonclient.http as tritonhttp
from tritonclient.utils import InferenceServerException

from .live import raw, serve


@pytest.fixture(scope="module")
def live():
    with serve() as server:
        yield server


@pytest.fixture(scope="module")
def triton(live):
    client = tritonhttp.InferenceServerClient(f"127.0.0.1:{live.port}")
    yield client
    client.close()


@pytest.fixture(scope="module")
def pixels(sample) -> np.ndarray:
    return np.asarray(sample["pixels"], dtype=np.float32)


def _input(values: np.ndarray, datatype: str = "FP32", binary: bool = True):
    tensor = tritonhttp.InferInput("pixels", list(values.shape), datatype)
    tensor.set_data_from_numpy(values, binary_data=binary)
    return tensor


def _expected(model, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    probabilities = model.predict_proba(np.asarray(values, dtype=np.float64))
    return probabilities.argmax(axis=1), probabilities


def test_health_and_metadata(triton, model):
    assert triton.is_server_live() and triton.is_server_ready()
    assert triton.is_model_ready("digits") and triton.is_model_ready("digits", model.version)
    assert not triton.is_model_ready("mnist") and not triton.is_model_ready("digits", "v0")
    assert "binary_tensor_data" in triton.get_server_metadata()["extensions"]
    assert triton.get_model_metadata("digits")["versions"] == [model.version]
    assert triton.get_model_metadata("digits", model.version)["name"] == "digits"


def test_unknown_model_and_version_are_404_with_the_message(triton, model):
    with pytest.raises(InferenceServerException) as missing:
        triton.get_model_metadata("mnist")
    assert missing.value.status() == "404" and "model 'mnist' not found" in missing.value.message()
    with pytest.raises(InferenceServerException) as version:
        triton.infer("digits", [_input(np.ones((1, 64), np.float32))], model_version="v0")
    assert version.value.status() == "404" and "has no version 'v0'" in version.value.message()


def test_the_default_call_sends_and_receives_binary_tensors(triton, model, pixels, sample):
    # set_data_from_numpy() sends binary data by default, and with no outputs named the client
    # asks for every output as binary (binary_data_output).
    result = triton.infer("digits", [_input(pixels)])
    labels, probabilities = _expected(model, pixels)
    assert result.as_numpy("label").tolist() == labels.tolist() == sample["labels"]
    np.testing.assert_allclose(result.as_numpy("probabilities"), probabilities, rtol=1e-6)
    response = result.get_response()
    assert all(o["parameters"]["binary_data_size"] > 0 and "data" not in o for o in response["outputs"])
    assert response["model_version"] == model.version


@pytest.mark.parametrize("binary_in", [True, False])
@pytest.mark.parametrize("label_binary, probabilities_binary", [(True, False), (False, True), (False, False)])
def test_requested_outputs_in_either_form(triton, model, pixels, binary_in, label_binary, probabilities_binary):
    outputs = [tritonhttp.InferRequestedOutput("probabilities", binary_data=probabilities_binary),
               tritonhttp.InferRequestedOutput("label", binary_data=label_binary)]
    result = triton.infer("digits", [_input(pixels[:5], binary=binary_in)], outputs=outputs)
    response = result.get_response()
    assert [o["name"] for o in response["outputs"]] == ["probabilities", "label"]  # as requested, in order
    labels, probabilities = _expected(model, pixels[:5])
    assert result.as_numpy("label").tolist() == labels.tolist()
    np.testing.assert_allclose(result.as_numpy("probabilities"), probabilities, atol=1e-6)


def test_only_the_requested_output_is_returned(triton, pixels):
    result = triton.infer("digits", [_input(pixels[:2])], outputs=[tritonhttp.InferRequestedOutput("label")])
    assert [o["name"] for o in result.get_response()["outputs"]] == ["label"]
    assert result.as_numpy("probabilities") is None


def test_id_version_and_parameters(triton, model, pixels):
    result = triton.infer("digits", [_input(pixels[:1])], model_version=model.version, request_id="req-42",
                          parameters={"tag": "canary", "attempt": 2})
    response = result.get_response()
    assert response["id"] == "req-42" and response["model_version"] == model.version
    assert response["parameters"] == {"tag": "canary", "attempt": 2}


@pytest.mark.parametrize("request_compression", [None, "gzip", "deflate"])
@pytest.mark.parametrize("response_compression", [None, "gzip", "deflate"])
def test_compression_both_ways(triton, model, pixels, request_compression, response_compression):
    result = triton.infer("digits", [_input(pixels)], request_compression_algorithm=request_compression,
                          response_compression_algorithm=response_compression)
    assert result.as_numpy("label").tolist() == _expected(model, pixels)[0].tolist()


CONVERSIONS = {"FP64": np.float64, "FP16": np.float16, "BF16": ml_dtypes.bfloat16, "INT64": np.int64,
               "INT32": np.int32, "INT8": np.int8, "UINT8": np.uint8, "UINT16": np.uint16}


# tritonclient sends BF16 only as binary data (its rule), so BF16 has no JSON case.
@pytest.mark.parametrize("datatype, binary", [(name, binary) for name in CONVERSIONS for binary in (True, False)
                                              if (name, binary) != ("BF16", False)])
def test_numeric_datatypes_are_converted(triton, model, pixels, sample, datatype, binary):
    # The digits are whole numbers 0-16, exact in every numeric type, so the answer must not change.
    values = lambda p: p.astype(CONVERSIONS[datatype])  # noqa: E731
    result = triton.infer("digits", [_input(values(pixels), datatype, binary)])
    assert result.as_numpy("label").tolist() == sample["labels"]


def test_a_1000_image_batch(triton, model, split):
    x_test = np.asarray(split[1][:1000], dtype=np.float32)
    result = triton.infer("digits", [_input(x_test)])
    assert result.as_numpy("label").tolist() == _expected(model, x_test)[0].tolist()


@pytest.mark.parametrize("tensor, fragment", [
    (lambda p: _input(p * 2), "pixels must lie in [0, 16]"),
    (lambda p: _input(np.full((1, 64), np.nan, np.float32)), "finite"),
    (lambda p: _input(np.ones((1, 64), bool), "BOOL"), "datatype BOOL cannot be converted"),
    (lambda p: _input(p[:, :32]), "shape must be [N, 64]"),
])
def test_bad_tensors_are_400_with_the_reason(triton, pixels, tensor, fragment):
    with pytest.raises(InferenceServerException) as error:
        triton.infer("digits", [tensor(pixels)])
    assert error.value.status() == "400" and fragment in error.value.message()


# Raw HTTP: what the client never sends, but a broken or hostile one might.
def _binary_request(head: dict, payload: bytes, header_length: int | str | None) -> bytes:
    document = json.dumps(head).encode()
    body = document + payload
    extra = b"" if header_length is None else f"inference-header-content-length: {header_length}\r\n".encode()
    return (b"POST /v2/models/digits/infer HTTP/1.1\r\nhost: x\r\ncontent-type: application/octet-stream\r\n"
            + extra + f"content-length: {len(body)}\r\n\r\n".encode() + body)


def _pixels_head(size, **tensor) -> dict:
    return {"inputs": [{"name": "pixels", "shape": [1, 64], "datatype": "FP32",
                        "parameters": {"binary_data_size": size}, **tensor}]}


ONE_IMAGE = np.ones((1, 64), "<f4").tobytes()


@pytest.mark.parametrize("head, payload, header_length, fragment", [
    (_pixels_head(256), ONE_IMAGE, 10 ** 6, "must be a length between 1 and the body's"),
    (_pixels_head(256), ONE_IMAGE, "abc", "Inference-Header-Content-Length 'abc'"),
    (_pixels_head(256), ONE_IMAGE, 0, "must be a length between 1"),
    (_pixels_head(256), ONE_IMAGE[:100], "json", "binary_data_size adds up to 256 bytes but the body carries 100"),
    (_pixels_head(256), ONE_IMAGE + b"xx", "json", "but the body carries 258"),
    (_pixels_head(128), ONE_IMAGE[:128], "json", "binary_data_size 128 does not match shape [1, 64] of FP32 (256"),
    (_pixels_head(-4), ONE_IMAGE, "json", "binary_data_size must be a non-negative integer"),
    (_pixels_head(256, data=[1] * 64), ONE_IMAGE, "json", "both data and binary_data_size"),
    (_pixels_head(256), ONE_IMAGE, None, "not valid JSON"),  # no header: the bytes are read as JSON
    ({"inputs": [{"name": "pixels", "shape": [1, 64], "datatype": "FP32", "data": [1] * 64}]}, ONE_IMAGE, "json",
     "no input has a binary_data_size parameter"),
])
def test_malformed_binary_bodies_are_400(live, head, payload, header_length, fragment):
    if header_length == "json":
        header_length = len(json.dumps(head).encode())
    status, headers, body = raw(live.port, _binary_request(head, payload, header_length))
    assert status == 400 and headers["content-type"] == "application/json"
    assert fragment in json.loads(body)["error"]


def test_a_binary_response_carries_its_json_length(live, model):
    head = {"inputs": [{"name": "pixels", "shape": [1, 64], "datatype": "FP32",
                        "parameters": {"binary_data_size": 256}}], "parameters": {"binary_data_output": True}}
    status, headers, body = raw(live.port, _binary_request(head, ONE_IMAGE, len(json.dumps(head))))
    assert status == 200 and headers["content-type"] == "application/octet-stream"
    cut = int(headers["inference-header-content-length"])
    document = json.loads(body[:cut])
    sizes = [o["parameters"]["binary_data_size"] for o in document["outputs"]]
    assert sizes == [8, 40] and len(body) == cut + sum(sizes)  # INT64 label, 10 FP32 probabilities
    label = np.frombuffer(body[cut:cut + 8], "<i8")[0]
    probabilities = np.frombuffer(body[cut + 8:], "<f4")
    assert label == probabilities.argmax() == model.predict_proba(np.ones((1, 64)))[0].argmax()
