"""Limits and errors: 413 before parsing (and after decompression), 408 for slow bodies, 415 for
unknown encodings, 422 (/predict) or 400 (OIP) for bad inputs, 503 over the concurrency limit,
and every error a JSON `{"error": ...}`."""
from __future__ import annotations

import asyncio
import gzip
import json
import zlib

import httpx
from fastapi.testclient import TestClient
import numpy as np
import pytest

from starlette.responses import Response
from starlette.routing import Route

from app import MODEL_DIR
from app.limits import MAX_BODY_BYTES, MAX_INFER_BODY_BYTES, GuardMiddleware
from app.service import create_app

from .conftest import infer_body


def assert_error(response: httpx.Response, status: int, fragment: str = "") -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert list(body) == ["error"] and fragment in body["error"]


def test_body_over_the_limit_is_413_by_content_length(client):
    assert_error(client.post("/predict", content=b" " * (MAX_BODY_BYTES + 1)), 413, "exceeds 65536 bytes")
    # The batch route takes up to 1,024 images, so its bodies may be larger, up to their own limit.
    assert_error(client.post("/v2/models/digits/infer", content=b"[" * (MAX_INFER_BODY_BYTES + 1)), 413,
                 f"exceeds {MAX_INFER_BODY_BYTES} bytes")


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


# OIP REST, "Inference Response JSON Error Object": a failed inference request is an HTTP error
# status (typically 400) whose body is {"error": <message>}.
@pytest.mark.parametrize("body, fragment", [
    (infer_body([[1] * 64] * 1025), "1 to 1024 images, got 1025"),
    (_with(infer_body([[1] * 64] * 2), shape=[3, 64]), "expected 192 pixel values"),
    (_with(infer_body([[1] * 64]), shape=[1, 32]), "shape must be [N, 64]"),
    (_with(infer_body([[1] * 64]), shape=[1, 64, 1]), "shape must be [N, 64]"),
    (_with(infer_body([[1] * 64]), shape=["1", 64]), "shape must be [N, 64]"),
    (_with(infer_body([[1] * 64]), datatype="BOOL"), "datatype BOOL cannot be converted"),
    (_with(infer_body([[1] * 64]), datatype="BYTES"), "datatype BYTES cannot be converted"),
    (_with(infer_body([[1] * 64]), datatype="FP128"), "unknown datatype 'FP128'; use one of UINT8"),
    (_with(infer_body([[1.5] * 64]), datatype="INT32"), "INT32 data must be integers"),
    (_with(infer_body([[1] * 64]), name="image"), "named 'pixels'"),
    (_with(infer_body([[1] * 64]), data=[[1] * 64, 1]), "all numbers or all rows"),
    (infer_body([[16.5] * 64]), "lie in [0, 16]"),
    (_with(infer_body([[300] * 64]), datatype="UINT8"), "lie in [0, 16]"),
    ({"inputs": []}, "one tensor"),
    ({"inputs": [infer_body([[1] * 64])["inputs"][0]] * 2}, "one tensor"),
    (infer_body([[1] * 64], outputs=[{"name": "logits"}]), "outputs may name only"),
    (infer_body([[1] * 64], outputs=[{"name": "label"}, {"name": "label"}]), "same tensor twice"),
    (infer_body([[1] * 64], outputs=[{"name": "label", "parameters": {"classification": 3}}]),
     "classification extension is not supported"),
    (infer_body([[1] * 64], outputs=[{"name": "label", "parameters": {"binary_data": "yes"}}]),
     "binary_data must be true or false"),
    (infer_body([[1] * 64], parameters={"binary_data_output": 1}), "binary_data_output must be true or false"),
    (infer_body([[1] * 64], parameters={"x": [1]}), "parameters must be an object of strings, numbers"),
    (infer_body([[1] * 64], parameters=[1]), "parameters must be an object"),
    (infer_body([[1] * 64], id=7), "id must be a string"),
])
def test_infer_rejects_bad_batches_with_400(client, body, fragment):
    assert_error(client.post("/v2/models/digits/infer", json=body), 400, fragment)


@pytest.mark.parametrize("raw", [b"{not json", b"", b"\xff\xfe", b"[" * 5000, b"[1, 2]"])
def test_malformed_json_on_infer_is_a_400_json_error(client, raw):
    assert_error(client.post("/v2/models/digits/infer", content=raw), 400)


@pytest.mark.parametrize("datatype, dtype", [("FP64", np.float64), ("FP16", np.float16), ("INT64", np.int64),
                                             ("INT8", np.int8), ("UINT8", np.uint8), ("UINT64", np.uint64)])
def test_other_numeric_datatypes_are_converted(client, sample, datatype, dtype):
    # OIP "Tensor Data Types": the server may coerce elements to the type it needs; every numeric
    # type holds the pixel range [0, 16] exactly, so these must give the FP32 answer.
    rows = np.asarray(sample["pixels"][:4], dtype=dtype).tolist()
    body = _with(infer_body(rows), datatype=datatype)
    response = client.post("/v2/models/digits/infer", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["outputs"][0]["data"] == sample["labels"][:4]


def test_unknown_route_and_method_are_json_errors(client):
    assert_error(client.get("/nope"), 404, "no route GET /nope")
    assert_error(client.get("/predict"), 405)
    assert_error(client.delete("/v2/models/digits/infer"), 405)
    assert_error(client.post("/v2/health/live"), 405)


async def _saturate(max_concurrency: int):
    """Hold `max_concurrency` requests inside the app, and as many slow bodies, then probe."""
    app = create_app(model_uri=str(MODEL_DIR), max_concurrency=max_concurrency)
    app.state.runtime.load(str(MODEL_DIR))  # ASGITransport runs no lifespan
    release_work, release_bodies, entered = asyncio.Event(), asyncio.Event(), asyncio.Semaphore(0)

    async def hold(request):  # a request the app is working on, for as long as the test likes
        entered.release()
        await release_work.wait()
        return Response(b"{}", media_type="application/json")

    app.router.routes.insert(0, Route("/hold", hold, methods=["POST"]))

    async def stalled_body():
        yield b'{"pixels": ['
        await release_bodies.wait()
        yield b",".join([b"2"] * 64) + b"]}"

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        held = [asyncio.create_task(client.post("/hold", content=b"{}")) for _ in range(max_concurrency)]
        for _ in held:
            await entered.acquire()
        slow = [asyncio.create_task(client.post("/predict", content=stalled_body())) for _ in range(max_concurrency)]
        over = await client.post("/predict", json={"pixels": [1] * 64})
        live = await client.get("/v2/health/live")
        ready = await client.get("/v2/health/ready")
        release_work.set()
        finished = await asyncio.gather(*held)
        release_bodies.set()  # slow bodies that held no slot now find free ones
        finished += await asyncio.gather(*slow)
        after = await client.post("/predict", json={"pixels": [1] * 64})
    return over, live, ready, finished, after


def test_over_the_concurrency_limit_is_503_and_probes_still_answer():
    over, live, ready, finished, after = asyncio.run(_saturate(2))
    assert_error(over, 503, "over the concurrency limit (2)")
    assert over.headers["retry-after"] == "1"
    assert live.status_code == 200 and ready.status_code == 200  # probes are exempt
    assert [r.status_code for r in finished] == [200] * 4
    assert after.status_code == 200  # the slots were given back


async def _slow_bodies_then_predict(count: int):
    app = create_app(model_uri=str(MODEL_DIR), max_concurrency=2)
    app.state.runtime.load(str(MODEL_DIR))
    release = asyncio.Event()

    async def stalled_body():
        yield b'{"pixels": ['
        await release.wait()
        yield b",".join([b"2"] * 64) + b"]}"

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc") as client:
        slow = [asyncio.create_task(client.post("/predict", content=stalled_body())) for _ in range(count)]
        for _ in range(100):  # let the slow requests start
            await asyncio.sleep(0)
        real = await client.post("/predict", json={"pixels": [1] * 64})
        release.set()
        return real, await asyncio.gather(*slow)


def test_slow_bodies_take_no_concurrency_slot():
    # Issue 20: the body is read, under a deadline, before the request takes a slot.
    real, slow = asyncio.run(_slow_bodies_then_predict(64))
    assert real.status_code == 200
    assert {r.status_code for r in slow} == {200}


def test_a_body_slower_than_the_deadline_is_408_and_counted():
    async def scenario():
        app = create_app(model_uri=str(MODEL_DIR), body_timeout_s=0.1)
        app.state.runtime.load(str(MODEL_DIR))

        async def never_finishes():
            yield b'{"pixels": ['
            await asyncio.Event().wait()

        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc") as client:
            response = await client.post("/predict", content=never_finishes())
            return response, (await client.get("/metrics")).text

    response, metrics = asyncio.run(scenario())
    assert_error(response, 408, "did not arrive within 0.1 s")
    assert response.headers["connection"] == "close"
    assert 'http_requests_total{code="408",method="POST",route="/predict"} 1.0' in metrics


def test_a_client_that_disconnects_mid_body_is_499_not_500():
    # Issue 20: a disconnect is no server error; 499 is nginx's "client closed request".
    app = create_app(model_uri=str(MODEL_DIR))
    app.state.runtime.load(str(MODEL_DIR))
    messages = iter([{"type": "http.request", "body": b'{"pixels": [', "more_body": True},
                     {"type": "http.disconnect"}])
    sent = []

    async def receive():
        return next(messages)

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/predict", "raw_path": b"/predict", "query_string": b"",
             "headers": [(b"content-type", b"application/json")], "http_version": "1.1", "scheme": "http",
             "server": ("svc", 80), "client": ("c", 1), "root_path": "", "asgi": {"version": "3.0"}}
    asyncio.run(app(scope, receive, send))
    assert sent == []  # nobody to answer
    text = app.state.runtime.metrics.render().decode()
    assert 'http_requests_total{code="499",method="POST",route="/predict"} 1.0' in text
    assert 'code="500"' not in text


def _compressed(body: bytes, encoding: str) -> bytes:
    return gzip.compress(body) if encoding == "gzip" else zlib.compress(body)


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_compressed_bodies_are_accepted(client, sample, encoding):
    # tritonclient's request_compression_algorithm: gzip, or deflate meaning the zlib format
    # (RFC 9110 section 8.4.1.2).
    raw = json.dumps(infer_body(sample["pixels"][:3])).encode()
    response = client.post("/v2/models/digits/infer", content=_compressed(raw, encoding),
                           headers={"content-encoding": encoding})
    assert response.status_code == 200 and response.json()["outputs"][0]["data"] == sample["labels"][:3]


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_a_compression_bomb_is_413_without_inflating_it(client, encoding):
    bomb = _compressed(b" " * (64 * 1024 * 1024), encoding)  # 64 MiB of spaces, ~64 KiB compressed
    assert len(bomb) < MAX_INFER_BODY_BYTES
    assert_error(client.post("/v2/models/digits/infer", content=bomb, headers={"content-encoding": encoding}),
                 413, f"exceeds {MAX_INFER_BODY_BYTES} bytes once decompressed")
    assert_error(client.post("/predict", content=bomb[:60000], headers={"content-encoding": encoding}),
                 413, "exceeds 65536 bytes once decompressed")


@pytest.mark.parametrize("body, fragment", [
    (b"not gzip at all", "request body is corrupt"),
    (gzip.compress(b'{"inputs": []}')[:-12], "request body is truncated"),
    (gzip.compress(b'{"inputs": []}') + b"trailing", "data follows the end of the gzip stream"),
])
def test_malformed_gzip_is_400(client, body, fragment):
    assert_error(client.post("/v2/models/digits/infer", content=body, headers={"content-encoding": "gzip"}),
                 400, fragment)


def test_an_unsupported_content_encoding_is_415_naming_the_accepted_ones(client):
    # RFC 9110 section 15.5.16: 415 for an unsupported content coding, with Accept-Encoding.
    response = client.post("/v2/models/digits/infer", content=b"{}", headers={"content-encoding": "br"})
    assert_error(response, 415, "Content-Encoding 'br' is not supported")
    assert response.headers["accept-encoding"] == "gzip, deflate"


def test_bodies_being_read_are_bounded_in_total():
    async def scenario():
        async def app(scope, receive, send):  # never reached
            raise AssertionError

        from app.metrics import Metrics

        guard = GuardMiddleware(app, metrics=Metrics(), route_label=lambda path: path, exempt=frozenset(),
                                max_buffered_bytes=10)
        guard.buffered = 8  # other requests' bodies being read
        sent = []

        async def receive():
            return {"type": "http.request", "body": b"12345", "more_body": False}

        async def send(message):
            sent.append(message)

        scope = {"type": "http", "method": "POST", "path": "/p", "headers": []}
        await guard(scope, receive, send)
        return guard, sent

    guard, sent = asyncio.run(scenario())
    assert sent[0]["status"] == 503 and b"too many request bodies" in sent[1]["body"]
    assert guard.buffered == 8  # what this request buffered was given back


@pytest.mark.parametrize("path", ["/predict", "/v2/models/digits/infer", "/v2/models/digits/versions/{v}/infer"])
def test_a_bug_in_inference_is_a_json_500(model, path, monkeypatch):
    app = create_app(model_uri=str(MODEL_DIR))
    app.state.runtime.load(str(MODEL_DIR))

    def broken(*args):
        raise RuntimeError("boom")

    monkeypatch.setattr(app.state.runtime, "predict_one", broken)
    monkeypatch.setattr(app.state.runtime, "infer", broken)
    client = TestClient(app, raise_server_exceptions=False)
    body = {"pixels": [1] * 64} if path == "/predict" else infer_body([[1] * 64])
    response = client.post(path.format(v=model.version), json=body)
    assert response.status_code == 500 and response.headers["content-type"] == "application/json"
    assert response.json()["error"].startswith("internal error")
