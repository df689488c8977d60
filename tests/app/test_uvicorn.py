"""The service in a real uvicorn process on 127.0.0.1: HTTP over a socket, limits included."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
MAX_CONCURRENCY = 2


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MAX_CONCURRENCY": str(MAX_CONCURRENCY), "OMP_NUM_THREADS": "1"}
    env.pop("MODEL_URI", None)
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "--factory", "app.service:create_app",
                             "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"uvicorn exited: {proc.stdout.read().decode(errors='replace')}")
            try:
                if httpx.get(f"{base}/v2/health/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("uvicorn did not become ready in 30 s")
            time.sleep(0.1)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _raw(port: int, request: bytes) -> tuple[int, dict]:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            data += sock.recv(65536)
        head, _, body = data.partition(b"\r\n\r\n")
        length = int([line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")][0])
        while len(body) < length:
            body += sock.recv(65536)
    return int(head[9:12]), json.loads(body)


def test_predict_and_infer_over_a_socket(server, sample):
    base = f"http://127.0.0.1:{server}"
    body = httpx.post(f"{base}/predict", json={"pixels": sample["pixels"][0]}).json()
    assert body["label"] == sample["labels"][0]
    request = {"inputs": [{"name": "pixels", "shape": [16, 64], "datatype": "FP32", "data": sample["pixels"]}]}
    outputs = httpx.post(f"{base}/v2/models/digits/infer", json=request).json()["outputs"]
    assert outputs[0]["data"] == sample["labels"]
    assert httpx.get(f"{base}/v2/health/live").json() == {"live": True}
    assert 'route="/predict"' in httpx.get(f"{base}/metrics").text


def test_declared_oversized_body_is_refused_before_it_is_sent(server):
    # Only the headers go out: the 413 must come back without the 100 kB body ever arriving.
    status, body = _raw(server, b"POST /predict HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
                                b"content-length: 100000\r\n\r\n")
    assert status == 413 and body == {"error": "request body exceeds 65536 bytes"}


def test_concurrency_limit_over_real_connections(server):
    held = []
    try:
        for _ in range(MAX_CONCURRENCY):  # requests whose bodies never finish hold their slots
            sock = socket.create_connection(("127.0.0.1", server), timeout=5)
            sock.sendall(b"POST /predict HTTP/1.1\r\nhost: x\r\ncontent-length: 300\r\n\r\n{\"pixels\": [")
            held.append(sock)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # until the server has taken up the held requests
            status, body = _raw(server, b"POST /predict HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\n\r\n{}")
            if status == 503:
                break
            time.sleep(0.05)
        assert status == 503 and "concurrency limit (2)" in body["error"]
        assert httpx.get(f"http://127.0.0.1:{server}/v2/health/ready").status_code == 200
    finally:
        for sock in held:
            sock.close()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # closed connections give their slots back
        status, _ = _raw(server, b"POST /predict HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\n\r\n{}")
        if status != 503:
            break
        time.sleep(0.05)
    assert status == 422
