"""Load benchmark of the inference service against a bare FastAPI endpoint, in one run.

    python bench/app_load.py [--seconds 4] [--concurrency 8] [--batch 64] [--big-batch 1000]

Starts two servers on 127.0.0.1 (one worker each): a bare FastAPI app on plain uvicorn whose
POST endpoint ignores its body and returns a constant (the baseline: what the server and
framework cost), and the real service as the container runs it (`python -m app`, with its
header limits and body deadline). Drives them in turn, in interleaved rounds, with a bounded
asyncio load over keep-alive connections (at most 64 concurrent, at most 30 s of load in all)
and prints requests/s, p50 and p99 for /predict, for a JSON batch, and for a 1,000-image batch
sent as JSON and as binary tensor data (Triton's binary tensor data extension, binary outputs
too), with /predict's throughput as a share of the baseline's. Figures only: nothing here
passes or fails.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"  # never anything but loopback
MAX_CONCURRENCY = 64
MAX_TOTAL_SECONDS = 30.0
PHASES = 5  # baseline, /predict, batch, big batch as JSON, big batch as binary


def bare_app():
    """The baseline: FastAPI with one POST route that does no work."""
    from fastapi import FastAPI

    app = FastAPI()

    @app.post("/predict")
    async def predict():
        return {"label": 0}

    return app


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def start_server(target: str | None, port: int) -> subprocess.Popen:
    """`target` on plain uvicorn, or (None) the service as its container starts it."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "bench")]),
           "OMP_NUM_THREADS": "1", "MAX_CONCURRENCY": str(MAX_CONCURRENCY), "HOST": HOST, "PORT": str(port),
           "WEB_CONCURRENCY": "1"}
    env.pop("MODEL_URI", None)
    command = [sys.executable, "-m", "app"] if target is None else \
        [sys.executable, "-m", "uvicorn", "--factory", target, "--host", HOST, "--port", str(port), "--workers", "1",
         "--log-level", "warning", "--no-access-log"]
    proc = subprocess.Popen(command, env=env, cwd=ROOT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{target} exited with {proc.returncode}")
        status, _ = asyncio.run(_one(port, b"GET /v2/health/ready HTTP/1.1\r\nhost: x\r\n\r\n"))
        if status in (200, 404):  # the baseline has no readiness route: 404 means it is up
            return proc
        time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"{target} did not become ready on port {port}")


def stop_server(proc: subprocess.Popen) -> None:
    sys.path.insert(0, str(ROOT))
    from tests.processes import stop

    stop(proc)


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return status, await reader.readexactly(length)


async def _one(port: int, request: bytes) -> tuple[int, bytes]:
    try:
        reader, writer = await asyncio.open_connection(HOST, port)
    except OSError:
        return 0, b""
    try:
        writer.write(request)
        return await _read_response(reader)
    except (OSError, asyncio.IncompleteReadError):
        return 0, b""
    finally:
        writer.close()


def post(path: str, body: bytes, **headers: str) -> bytes:
    extra = "".join(f"{name.replace('_', '-')}: {value}\r\n" for name, value in headers.items())
    return (f"POST {path} HTTP/1.1\r\nhost: {HOST}\r\ncontent-type: application/json\r\n{extra}"
            f"content-length: {len(body)}\r\n\r\n").encode() + body


def binary_infer(rows: list) -> bytes:
    """A Triton-binary-extension request: JSON header, then the FP32 tensor; binary outputs."""
    data = np.asarray(rows, dtype="<f4").tobytes()
    head = json.dumps({"inputs": [{"name": "pixels", "shape": [len(rows), 64], "datatype": "FP32",
                                   "parameters": {"binary_data_size": len(data)}}],
                       "parameters": {"binary_data_output": True}}).encode()
    return post("/v2/models/digits/infer", head + data, inference_header_content_length=str(len(head)))


async def drive(port: int, request: bytes, concurrency: int, seconds: float) -> tuple[list[float], int, float]:
    """Closed-loop load: `concurrency` keep-alive connections, each sending as soon as answered.

    Returns (latencies of 200 answers in seconds, other answers, elapsed seconds).
    """
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def client():
        nonlocal errors
        reader, writer = await asyncio.open_connection(HOST, port)
        try:
            while (start := time.perf_counter()) < deadline:
                writer.write(request)
                status, _ = await _read_response(reader)
                if status == 200:
                    latencies.append(time.perf_counter() - start)
                else:
                    errors += 1
        finally:
            writer.close()

    begin = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    return latencies, errors, time.perf_counter() - begin


def summarise(latencies: list[float], errors: int, elapsed: float) -> dict:
    latencies = sorted(latencies)

    def pick(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000 if latencies else float("nan")

    return {"requests": len(latencies), "errors": errors, "rps": len(latencies) / elapsed,
            "p50_ms": pick(0.50), "p99_ms": pick(0.99)}


def run_interleaved(phases: dict[str, tuple[int, bytes]], concurrency: int, seconds: float, rounds: int) -> dict:
    """Drive each phase in turn, `rounds` times, so that a slow spell of a shared machine
    (CPU steal, another process) falls on every phase alike rather than on one of them."""
    totals = {name: ([], 0, 0.0) for name in phases}
    for name, (port, request) in phases.items():  # warm-up, not counted
        asyncio.run(drive(port, request, concurrency, 0.5))
    for _ in range(rounds):
        for name, (port, request) in phases.items():
            latencies, errors, elapsed = asyncio.run(drive(port, request, concurrency, seconds / rounds))
            seen = totals[name]
            totals[name] = (seen[0] + latencies, seen[1] + errors, seen[2] + elapsed)
    return {name: summarise(*total) for name, total in totals.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="load per phase (3 phases, plus warm-ups)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds the phase time is split into")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--batch", type=int, default=64, help="images per batch request (at most 64)")
    parser.add_argument("--big-batch", type=int, default=1000, help="images per big batch (at most 1024)")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args(argv)
    concurrency = max(1, min(args.concurrency, MAX_CONCURRENCY))
    # Warm-ups take 0.5 s per phase; the rest of the 20 s budget is split between the phases.
    seconds = max(0.5, min(args.seconds, (MAX_TOTAL_SECONDS - 0.5 * PHASES) / PHASES))
    batch = max(1, min(args.batch, 64))
    big = max(1, min(args.big_batch, 1024))

    sys.path.insert(0, str(ROOT))
    sample = json.loads((ROOT / "app" / "model" / "selftest.json").read_text())["pixels"]
    one = json.dumps({"pixels": sample[0]}).encode()
    rows = [sample[i % len(sample)] for i in range(batch)]
    def as_json(images: list) -> bytes:
        return json.dumps({"inputs": [{"name": "pixels", "shape": [len(images), 64], "datatype": "FP32",
                                       "data": images}]}).encode()

    big_rows = [sample[i % len(sample)] for i in range(big)]

    bare_port, service_port = free_port(), free_port()
    servers = [start_server("app_load:bare_app", bare_port), start_server(None, service_port)]
    try:
        results = run_interleaved({"baseline": (bare_port, post("/predict", one)),
                                   "predict": (service_port, post("/predict", one)),
                                   "infer": (service_port, post("/v2/models/digits/infer", as_json(rows))),
                                   "big_json": (service_port, post("/v2/models/digits/infer", as_json(big_rows))),
                                   "big_binary": (service_port, binary_infer(big_rows))},
                                  concurrency, seconds, args.rounds)
    finally:
        for proc in servers:
            stop_server(proc)
    baseline, single, batched = results["baseline"], results["predict"], results["infer"]
    batched["images_per_s"] = batched["rps"] * batch
    for name in ("big_json", "big_binary"):
        results[name]["images_per_s"] = results[name]["rps"] * big
    report = {"concurrency": concurrency, "seconds_per_phase": seconds, "batch": batch, "big_batch": big,
              "baseline": baseline, "predict": single, "infer_batch": batched,
              "infer_big_json": results["big_json"], "infer_big_binary": results["big_binary"],
              "predict_to_baseline": single["rps"] / baseline["rps"] if baseline["rps"] else float("nan"),
              "big_binary_to_json": results["big_binary"]["rps"] / results["big_json"]["rps"]
              if results["big_json"]["rps"] else float("nan")}
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"one uvicorn worker per server, {HOST}, concurrency {concurrency}, {seconds:g} s per phase")
    for name, row in (("bare FastAPI POST", baseline), ("/predict", single), (f"infer x{batch}", batched),
                      (f"infer x{big} JSON", results["big_json"]), (f"infer x{big} binary", results["big_binary"])):
        extra = f"  {row['images_per_s']:9.0f} images/s" if "images_per_s" in row else ""
        print(f"  {name:<18} {row['rps']:8.0f} req/s  p50 {row['p50_ms']:6.2f} ms  p99 {row['p99_ms']:6.2f} ms"
              f"  errors {row['errors']}{extra}")
    print(f"  /predict throughput = {report['predict_to_baseline']:.1%} of the bare endpoint")
    print(f"  x{big} batch: binary tensors = {report['big_binary_to_json']:.2f}x the JSON throughput")
    print("  (a shared machine: figures vary by 10-20 % between runs; compare within one run)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
