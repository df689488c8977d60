"""The service in a real uvicorn process on 127.0.0.1, started as the container starts it (`python -m app`)."""
from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from tests.processes import stop

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Live:
    def __init__(self, port: int, log: Path):
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.log = log

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@contextlib.contextmanager
def serve(*command: str, **settings: str):
    """Run `python -m app` (or `command`) with one worker and these environment settings; yield a Live."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HOST": "127.0.0.1", "PORT": str(port), "WEB_CONCURRENCY": "1",
           "OMP_NUM_THREADS": "1", **settings}
    env.pop("MODEL_URI", None)
    with tempfile.TemporaryDirectory() as folder:
        log = Path(folder) / "server.log"
        with log.open("wb") as sink:
            argv = [sys.executable, *(c.replace("{port}", str(port)) for c in command)] if command \
                else [sys.executable, "-m", "app"]
            proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=sink,
                                    stderr=subprocess.STDOUT)
        live = Live(port, log)
        try:
            deadline = time.monotonic() + 30
            while True:
                if proc.poll() is not None:
                    raise AssertionError(f"the service exited: {live.output()}")
                try:
                    if httpx.get(f"{live.base}/v2/health/ready", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise AssertionError(f"the service was not ready in 30 s: {live.output()}")
                time.sleep(0.1)
            yield live
        finally:
            stop(proc)


def read_response(sock: socket.socket, no_body: bool = False) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 response off a socket: (status, lower-cased headers, body); `no_body`: the answer to a HEAD request."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before a full response: {data!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:])}
    length = 0 if no_body else int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(lines[0][9:12]), headers, body


def raw(port: int, request: bytes, timeout: float = 10) -> tuple[int, dict[str, str], bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request)
        return read_response(sock)
