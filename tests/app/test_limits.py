"""Limits and errors: 413 before parsing, 422 for bad inputs, 503 over the concurrency limit,
and every error a JSON `{"error": ...}`."""
from __future__ import annotations

import asyncio

import httpx
import pytest

from app import MODEL_DIR
from app.limits import MAX_BODY_BYTES
from app.service import create_app

from .conftest import infer_body


def assert_error(response: httpx.Response, status: int, fragment: str = "") -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert list(body) == ["error"] and fragment in body["error"]


def test_body_over_64_kib_is_413_by_content_length(client):
    assert_error(client.post("/predict", content=b" " * (MAX_BODY_BYTES + 1)), 413, "exceeds 65536 bytes")
    assert_error(client.post("/v2/models/digits/infer", content=b"[" * (MAX_BODY_BYTES + 1)), 413)


def test_body_exactly_64_kib_is_parsed(client):
    body = b'{"pixels": [' + b",".join([b"1"] * 64) + b"]}"
    padded = body + b" " * (MAX_BODY_BYTES - len(body))
    response = client.post("/predict", content=padded)
    assert response.status_code == 200 and "label" in response.json()


def test_streamed_body_over_64_kib_is_413_without_content_length(client):
    chunks = iter([b'{"pixels": [', b"1," * 20000, b"1," * 20000, b"1]}"])  # chunked: no Content-Length
    assert_error(client.post("/predict", content=chunks), 413, "exceeds 65536 bytes")


@pytest.mark.parametrize("body, fragment", [
    ({"pixels": [1] * 63}, "expected 64 pixel values"),
    ({"pixels": [1] * 65}, "expected 64 pixel values"),
    ({"pixels": [17] + [1] * 63}, "lie in [0, 16]"),
    ({"pixels": [-1] + [1] * 63}, "lie in [0, 16]"),
    ({"pixels": ["1"] * 64}, "must be numbers"),
    ({"pixels": [[1] * 64] * 2}, "expected 64 pixel values"),
    ({"pixels": 5}, "non-empty array"),
    ({"image": [1] * 64}, "non-empty array"),
    ([1] * 64, "must be a JSON object"),
])
def test_predict_rejects_bad_inputs_with_422(client, body, fragment):
    assert_error(client.post("/predict", json=body), 422, fragment)


@pytest.mark.parametrize("raw", [b'{"pixels": [NaN' + b",1" * 63 + b"]}", b'{"pixels": [1e999' + b",1" * 63 + b"]}",
                                 b"{not json", b"", b"\xff\xfe", b"[" * 5000])
def test_non_finite_and_malformed_json_is_422(client, raw):
    assert_error(client.post("/predict", content=raw), 422, "not valid JSON")


def _with(body: dict, **tensor) -> dict:
    body["inputs"][0].update(tensor)
    return body


@pytest.mark.parametrize("body, fragment", [
    (infer_body([[1] * 64] * 65), "1 to 64 images, got 65"),
    (_with(infer_body([[1] * 64] * 2), shape=[3, 64]), "expected 192 pixel values"),
    (_with(infer_body([[1] * 64]), shape=[1, 32]), "shape must be [N, 64]"),
    (_with(infer_body([[1] * 64]), shape=[1, 64, 1]), "shape must be [N, 64]"),
    (_with(infer_body([[1] * 64]), shape=["1", 64]), "shape must be [N, 64]"),
    (_with(infer_body([[1] * 64]), datatype="FP64"), "datatype must be FP32"),
    (_with(infer_body([[1] * 64]), name="image"), "named 'pixels'"),
    (_with(infer_body([[1] * 64]), data=[[1] * 64, 1]), "all numbers or all rows"),
    (infer_body([[16.5] * 64]), "lie in [0, 16]"),
    ({"inputs": []}, "one tensor"),
    ({"inputs": [infer_body([[1] * 64])["inputs"][0]] * 2}, "one tensor"),
    (infer_body([[1] * 64], outputs=[{"name": "logits"}]), "outputs may name only"),
    (infer_body([[1] * 64], id=7), "id must be a string"),
])
def test_infer_rejects_bad_batches_with_422(client, body, fragment):
    assert_error(client.post("/v2/models/digits/infer", json=body), 422, fragment)


def test_unknown_route_and_method_are_json_errors(client):
    assert_error(client.get("/nope"), 404, "no route GET /nope")
    assert_error(client.get("/predict"), 405)
    assert_error(client.delete("/v2/models/digits/infer"), 405)
    assert_error(client.post("/v2/health/live"), 405)


async def _saturate(max_concurrency: int):
    """Hold `max_concurrency` requests inside the app (their bodies never finish), then probe."""
    app = create_app(model_uri=str(MODEL_DIR), max_concurrency=max_concurrency)
    app.state.runtime.load(str(MODEL_DIR))  # ASGITransport runs no lifespan
    release = asyncio.Event()

    async def stalled_body():
        yield b'{"pixels": ['
        await release.wait()
        yield b",".join([b"2"] * 64) + b"]}"

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        held = [asyncio.create_task(client.post("/predict", content=stalled_body())) for _ in range(max_concurrency)]
        for _ in range(100):  # let the held requests enter the app
            await asyncio.sleep(0)
        over = await client.post("/predict", json={"pixels": [1] * 64})
        live = await client.get("/v2/health/live")
        ready = await client.get("/v2/health/ready")
        release.set()
        finished = await asyncio.gather(*held)
        after = await client.post("/predict", json={"pixels": [1] * 64})
    return over, live, ready, finished, after


def test_over_the_concurrency_limit_is_503_and_probes_still_answer():
    over, live, ready, finished, after = asyncio.run(_saturate(2))
    assert_error(over, 503, "over the concurrency limit (2)")
    assert over.headers["retry-after"] == "1"
    assert live.status_code == 200 and ready.status_code == 200  # probes are exempt
    assert [r.status_code for r in finished] == [200, 200]
    assert after.status_code == 200  # the slots were given back
