"""The service in a real uvicorn process on 127.0.0.1 (`python -m app`): HTTP over a socket,
limits included: slow bodies, header size and time, malformed HTTP, HEAD and disconnects."""
from __future__ import annotations

import json
import re
import socket
import time

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.server import MAX_HEADER_BYTES

from .live import raw, read_response, serve

MAX_CONCURRENCY = 2
SLOW_CLIENTS = 64
BODY_TIMEOUT_S = 3
HEADER_TIMEOUT_S = 1


@pytest.fixture(scope="module")
def server():
    with serve(MAX_CONCURRENCY=str(MAX_CONCURRENCY), BODY_TIMEOUT_S=str(BODY_TIMEOUT_S),
               HEADER_TIMEOUT_S=str(HEADER_TIMEOUT_S)) as live:
        yield live


def _json_error(status: int, headers: dict, body: bytes) -> str:
    assert headers["content-type"] == "application/json", (status, headers, body)
    document = json.loads(body)
    assert list(document) == ["error"]
    return document["error"]


def test_predict_and_infer_over_a_socket(server, sample):
    body = httpx.post(f"{server.base}/predict", json={"pixels": sample["pixels"][0]}).json()
    assert body["label"] == sample["labels"][0]
    request = {"inputs": [{"name": "pixels", "shape": [16, 64], "datatype": "FP32", "data": sample["pixels"]}]}
    outputs = httpx.post(f"{server.base}/v2/models/digits/infer", json=request).json()["outputs"]
    assert outputs[0]["data"] == sample["labels"]
    assert httpx.get(f"{server.base}/v2/health/live").json() == {"live": True}
    assert 'route="/predict"' in httpx.get(f"{server.base}/metrics").text


def test_declared_oversized_body_is_refused_before_it_is_sent(server):
    # Only the headers go out: the 413 must come back without the 100 kB body ever arriving.
    status, headers, body = raw(server.port, b"POST /predict HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
                                             b"content-length: 100000\r\n\r\n")
    assert status == 413 and _json_error(status, headers, body) == "request body exceeds 65536 bytes"


def test_slow_clients_trickling_bodies_starve_nothing(server, sample):
    # Issue 20: 64 clients that send headers and then trickle the body used to take every
    # concurrency slot. The body is now read under a deadline before a slot is taken.
    slow = []
    try:
        for _ in range(SLOW_CLIENTS):
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=BODY_TIMEOUT_S + 10)
            sock.sendall(b"POST /predict HTTP/1.1\r\nhost: x\r\ncontent-length: 300\r\n\r\n{\"pixels\": [")
            slow.append(sock)
        for sock in slow[:8]:  # trickle a little more on some of them
            sock.sendall(b"1,")
        assert httpx.get(f"{server.base}/v2/health/ready", timeout=5).status_code == 200
        for pixels, label in zip(sample["pixels"][:4], sample["labels"]):
            response = httpx.post(f"{server.base}/predict", json={"pixels": pixels}, timeout=5)
            assert response.status_code == 200 and response.json()["label"] == label
        # Each slow client is then told its body came too late, and the connection is closed.
        for sock in slow:
            status, headers, body = read_response(sock)
            assert status == 408 and headers["connection"] == "close"
            assert "did not arrive within" in _json_error(status, headers, body)
    finally:
        for sock in slow:
            sock.close()


def test_headers_past_the_size_limit_are_431(server):
    filler = b"x-filler: " + b"a" * (MAX_HEADER_BYTES + 1) + b"\r\n"
    status, headers, body = raw(server.port, b"GET /v2/health/live HTTP/1.1\r\nhost: x\r\n" + filler + b"\r\n")
    assert status == 431 and "request headers exceed" in _json_error(status, headers, body)


def test_headers_that_never_finish_are_408(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=HEADER_TIMEOUT_S + 10) as sock:
        sock.sendall(b"GET /v2/health/live HTTP/1.1\r\nhost: x\r\nx-slow: ")
        status, headers, body = read_response(sock)
        assert status == 408 and "request headers did not arrive within 1 s" == _json_error(status, headers, body)
        assert sock.recv(1) == b""  # and the connection is closed


@pytest.mark.parametrize("request_bytes", [b"NOT HTTP AT ALL\r\n\r\n", b"GET / HTTP/1.1\r\nbad header\r\n\r\n",
                                           b"POST /predict HTTP/1.1\r\nhost: x\r\ncontent-length: abc\r\n\r\n"])
def test_malformed_http_gets_the_json_error_shape(server, request_bytes):
    status, headers, body = raw(server.port, request_bytes)
    assert status == 400 and _json_error(status, headers, body) == "invalid HTTP request"


@pytest.mark.parametrize("path", ["/v2/health/live", "/v2/health/ready", "/", "/v2", "/metrics"])
def test_head_answers_like_get_without_a_body(server, path):
    # RFC 9110 section 9.3.2: the same status and header fields as GET, and no content.
    response = httpx.head(f"{server.base}{path}")
    assert response.status_code == 200 and response.content == b""
    assert response.headers["content-type"] == httpx.get(f"{server.base}{path}").headers["content-type"]


def test_a_client_that_disconnects_mid_request_is_no_error(server):
    # Issue 20: no traceback in the log and no 500 in the metrics, however the client leaves.
    for _ in range(3):
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            sock.sendall(b"POST /v2/models/digits/infer HTTP/1.1\r\nhost: x\r\ncontent-length: 900\r\n\r\n{\"in")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        text = httpx.get(f"{server.base}/metrics").text
        closed = re.search(r'http_requests_total\{code="499",method="POST",route="/v2/models/digits/infer"\} (\S+)',
                           text)
        if closed and float(closed.group(1)) >= 3:
            break
        time.sleep(0.05)
    assert closed and float(closed.group(1)) >= 3, text
    assert 'code="500"' not in text
    assert "Traceback" not in server.output()


def test_the_pure_python_parser_gets_the_same_limits():
    # Where httptools is missing uvicorn falls back to h11: the header deadline and the JSON
    # error shape must hold there too (h11 bounds the size of an incomplete head itself).
    with serve("-m", "uvicorn", "--factory", "app.service:create_app", "--host", "127.0.0.1", "--port", "{port}",
               "--http", "app.server:GuardedH11Protocol", "--h11-max-incomplete-event-size", str(MAX_HEADER_BYTES),
               HEADER_TIMEOUT_S=str(HEADER_TIMEOUT_S)) as live:
        status, headers, body = raw(live.port, b"NOT HTTP AT ALL\r\n\r\n")
        assert status == 400 and _json_error(status, headers, body) == "invalid HTTP request"
        with socket.create_connection(("127.0.0.1", live.port), timeout=HEADER_TIMEOUT_S + 10) as sock:
            sock.sendall(b"GET /v2/health/live HTTP/1.1\r\nhost: x\r\nx-slow: ")
            status, headers, body = read_response(sock)
            assert status == 408 and "did not arrive within" in _json_error(status, headers, body)
        assert httpx.head(f"{live.base}/v2/health/ready").status_code == 200


_FRAMING = {b"content-length", b"transfer-encoding", b"expect", b"connection", b"upgrade", b"content-encoding"}
_token = st.binary(min_size=1, max_size=12)
_header = st.tuples(_token.filter(lambda n: n.strip().lower() not in _FRAMING),
                    st.binary(max_size=40).filter(lambda v: b"\n" not in v and b"\r" not in v))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(method=st.sampled_from([b"GET", b"POST", b"HEAD", b"PUT", b"DELETE", b"OPTIONS"]) | _token,
       path=st.sampled_from([b"/predict", b"/v2/models/digits/infer", b"/v2/health/ready", b"/v2", b"/"])
       | st.binary(min_size=1, max_size=30).map(lambda p: b"/" + p),
       headers=st.lists(_header, max_size=4), body=st.binary(max_size=200))
def test_any_request_over_the_socket_gets_an_answer_in_the_error_shape(server, method, path, headers, body):
    # Issue 20: whatever reaches the server, the answer is never a 5xx and every error is the
    # service's JSON {"error": ...}, whether the app or the HTTP layer refuses it.
    request = method + b" " + path + b" HTTP/1.1\r\nhost: x\r\n" + b"".join(n + b": " + v + b"\r\n" for n, v in headers) \
        + b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(request)
        status, headers_out, answer = read_response(sock, no_body=method == b"HEAD")
    assert status < 500, (status, answer)
    if status >= 400 and method != b"HEAD":
        _json_error(status, headers_out, answer)
