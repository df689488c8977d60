"""How uvicorn runs the service: workers, keep-alive, header limits, and errors as JSON.

`python -m app` (the container's CMD) and `mlinfra serve` both go through run().

- Keep-alive: a load balancer reuses its connections to the backend, and if the backend closes
  an idle one first, a request the balancer sends on it at that moment fails (502). So the
  backend's idle timeout must exceed every balancer's:
    AWS ALB idle timeout: 60 s by default (Elastic Load Balancing, "Connection idle timeout").
    Google Cloud external Application Load Balancer: the backend keepalive timeout is fixed at
    600 s, and the backend's must be greater (Cloud Load Balancing, "Timeouts and retries",
    backend HTTP keepalive timeout).
    Azure Load Balancer: TCP idle timeout 4 minutes by default, 4-100 configurable (Azure docs,
    "Configure TCP reset and idle timeout"); Container Apps ingress: 240 s request timeout.
  The largest default is GCP's 600 s, so 620 s. (Checked against documentation only; the
  balancers' real behaviour needs a live deployment.)
- Workers: one event loop per vCPU the container is given, else one worker on 2 vCPUs never
  reaches the 75 % CPU scale-out threshold. The vCPUs are the scheduler affinity, capped by the
  cgroup CPU quota (cgroup v2 `cpu.max` "$MAX $PERIOD", "max" = no limit; cgroup v1
  `cpu.cfs_quota_us` / `cpu.cfs_period_us`, -1 = no limit; Linux admin-guide cgroup-v2.rst and
  scheduler/sched-bwc.rst). WEB_CONCURRENCY overrides, as uvicorn and gunicorn document.
- Headers: at most MAX_HEADER_BYTES (431) and HEADER_TIMEOUT_S from their first byte (408);
  uvicorn itself bounds neither with httptools, so a client trickling header bytes held a
  connection forever. Malformed HTTP gets the service's JSON error shape, not text/plain.
"""
from __future__ import annotations

import math
import os
from http import HTTPStatus
from pathlib import Path
from typing import Callable, Mapping

KEEP_ALIVE_S = 620
MAX_HEADER_BYTES = 16 * 1024  # as h11's default incomplete-event bound; this API needs no cookies
CGROUP_ROOT = Path("/sys/fs/cgroup")


def env_number(name: str, default, kind: type = int, environ: Mapping[str, str] | None = None):
    """A positive int or float from the environment, or exit with one line naming the variable."""
    raw = (os.environ if environ is None else environ).get(name)
    if raw is None or raw == "":
        return default
    try:
        value = kind(raw)
        if not value > 0 or not math.isfinite(value):
            raise ValueError
    except ValueError:
        noun = "whole number" if kind is int else "number"
        raise SystemExit(f"{name}={raw!r}: expected a positive {noun}") from None
    return value


def cgroup_cpu_limit(root: Path = CGROUP_ROOT) -> float | None:
    """The CPU quota of this cgroup in CPUs, or None when there is none (or no cgroup files)."""
    try:
        quota, period = (root / "cpu.max").read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    for folder in (root / "cpu", root / "cpu,cpuacct", root):  # cgroup v1 mount layouts
        try:
            quota = int((folder / "cpu.cfs_quota_us").read_text())
            period = int((folder / "cpu.cfs_period_us").read_text())
        except (OSError, ValueError):
            continue
        return None if quota <= 0 or period <= 0 else quota / period
    return None


def available_cpus(root: Path = CGROUP_ROOT, affinity: Callable[[int], set] = os.sched_getaffinity) -> int:
    cpus = len(affinity(0))
    limit = cgroup_cpu_limit(root)
    if limit is not None:  # a quota of 1.5 CPUs keeps two loops busy
        cpus = min(cpus, math.ceil(limit))
    return max(1, cpus)


def worker_count(environ: Mapping[str, str] | None = None, root: Path = CGROUP_ROOT,
                 affinity: Callable[[int], set] = os.sched_getaffinity) -> int:
    explicit = env_number("WEB_CONCURRENCY", None, int, environ)
    return explicit if explicit is not None else available_cpus(root, affinity)


def _json_close(status: int, message: str) -> bytes:
    from app.limits import error_body

    body = error_body(message)
    return (f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n").encode() + body


# Read once per worker process (each imports this module); tests shorten it.
HEADER_TIMEOUT_S = env_number("HEADER_TIMEOUT_S", 10.0, float)


class _Guard:
    """Header size and time limits and JSON errors, mixed into uvicorn's HTTP protocols."""

    _header_timer = None
    _header_bytes = 0
    _header_overflow = False

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        # A new connection that never sends a request is as idle as a kept-alive one.
        self.timeout_keep_alive_task = self.loop.call_later(self.timeout_keep_alive, self.timeout_keep_alive_handler)

    def connection_lost(self, exc) -> None:
        self._stop_header_timer()
        super().connection_lost(exc)

    def _start_header_timer(self) -> None:
        # Armed only when a request's headers span several reads: most arrive whole in one, and
        # a timer per request would cost as much as a tenth of a /predict.
        if self._header_timer is None and not self.transport.is_closing():
            self._header_timer = self.loop.call_later(HEADER_TIMEOUT_S, self._headers_too_slow)

    def _stop_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            self.transport.write(_json_close(408, f"request headers did not arrive within {HEADER_TIMEOUT_S:g} s"))
            self.transport.close()

    def _count_header_bytes(self, size: int) -> None:
        self._header_bytes += size
        if self._header_bytes > MAX_HEADER_BYTES:
            self._header_overflow = True
            raise ValueError("request headers too large")  # the parser turns it into its error

    def send_400_response(self, msg: str) -> None:
        self._stop_header_timer()
        if self._header_overflow:
            self.transport.write(_json_close(431, f"request headers exceed {MAX_HEADER_BYTES} bytes"))
        else:
            self.transport.write(_json_close(400, "invalid HTTP request"))
        self.transport.close()


def _protocol_classes():
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class GuardedH11Protocol(_Guard, H11Protocol):
        """h11 bounds header size itself (h11_max_incomplete_event_size, answered 400); the timer is ours."""

        def data_received(self, data: bytes) -> None:
            import h11

            super().data_received(data)
            if self.conn.their_state is h11.IDLE and data:  # a request began and its headers are incomplete
                self._start_header_timer()
            else:
                self._stop_header_timer()

    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:  # httptools is not installed: the pure-Python parser
        return GuardedH11Protocol, GuardedH11Protocol

    class GuardedHttpToolsProtocol(_Guard, HttpToolsProtocol):
        _headers_pending = False

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self._headers_pending:
                self._start_header_timer()

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._headers_pending = True
            self._header_bytes = 0

        def on_url(self, url: bytes) -> None:
            self._count_header_bytes(len(url))
            self.url += url

        def on_header(self, name: bytes, value: bytes) -> None:
            self._count_header_bytes(len(name) + len(value) + 4)
            super().on_header(name, value)

        def on_headers_complete(self) -> None:
            self._headers_pending = False
            self._stop_header_timer()
            super().on_headers_complete()

    return GuardedHttpToolsProtocol, GuardedH11Protocol


GuardedProtocol, GuardedH11Protocol = _protocol_classes()


def run(host: str, port: int, *, workers: int | None = None, proxy_headers: bool = True) -> None:
    import uvicorn

    uvicorn.run("app.service:create_app", factory=True, host=host, port=port,
                workers=workers if workers is not None else worker_count(),
                http="app.server:GuardedProtocol", timeout_keep_alive=KEEP_ALIVE_S,
                h11_max_incomplete_event_size=MAX_HEADER_BYTES, access_log=False,
                proxy_headers=proxy_headers, forwarded_allow_ips="*" if proxy_headers else None)
