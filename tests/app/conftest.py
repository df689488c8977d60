"""Shared fixtures: the committed model, its held-out split, and a ready service under TestClient."""
from __future__ import annotations

import json
import time

import pytest
from fastapi.testclient import TestClient

from app import MODEL_DIR
from app.model import SAMPLE_FILE, DigitsModel


def wait_ready(client: TestClient, timeout_s: float = 20.0) -> None:
    """The model loads in a background thread; wait for readiness (not a timing assertion)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if client.get("/v2/health/ready").status_code == 200:
            return
        time.sleep(0.02)
    raise AssertionError(f"not ready after {timeout_s} s: {client.get('/v2/health/ready').json()}")


@pytest.fixture(scope="session")
def model() -> DigitsModel:
    return DigitsModel.load(MODEL_DIR)


@pytest.fixture(scope="session")
def split():
    from app.train import load_split

    return load_split()


@pytest.fixture(scope="session")
def sample() -> dict:
    return json.loads((MODEL_DIR / SAMPLE_FILE).read_text())


@pytest.fixture(scope="module")
def client():
    from app.service import create_app

    with TestClient(create_app(model_uri=str(MODEL_DIR)), raise_server_exceptions=False) as test_client:
        wait_ready(test_client)
        yield test_client


def infer_body(rows: list, **extra) -> dict:
    return {"inputs": [{"name": "pixels", "shape": [len(rows), 64], "datatype": "FP32", "data": rows}], **extra}
