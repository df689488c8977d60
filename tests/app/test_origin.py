"""Behind Azure Front Door the service answers only requests carrying its profile's X-Azure-FDID.

Microsoft, "Secure traffic to Azure Front Door origins" (Public IP address-based origins): use the
AzureFrontDoor.Backend service tag AND "configure your application to check the X-Azure-FDID
header value, which Front Door sends to your origin" — the service tag alone admits every
customer's Front Door. "Protocol support for HTTP headers in Azure Front Door": X-Azure-FDID
"identifies the request as coming from a specific Front Door resource".
"""
from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app import MODEL_DIR
from app.service import create_app
from tests.app.conftest import wait_ready

FDID = "a0a0a0a0-bbbb-cccc-dddd-e1e1e1e1e1e1"


@pytest.fixture
def fronted(monkeypatch):
    monkeypatch.setenv("FRONT_DOOR_ID", FDID)
    with TestClient(create_app(model_uri=str(MODEL_DIR))) as client:
        wait_ready(client)
        yield client


def test_requests_without_the_profiles_id_are_refused(fronted, sample):
    for headers in ({}, {"X-Azure-FDID": "ffffffff-0000-0000-0000-000000000000"}):
        answer = fronted.post("/predict", json={"pixels": sample["pixels"][0]}, headers=headers)  # the fast path too
        assert answer.status_code == 403
        assert answer.json() == {"error": "this service answers only through its Front Door endpoint"}
        assert fronted.get("/v2/models/digits", headers=headers).status_code == 403


def test_requests_through_its_front_door_are_served(fronted, sample):
    answer = fronted.post("/predict", json={"pixels": sample["pixels"][0]}, headers={"X-Azure-FDID": FDID.upper()})
    assert answer.status_code == 200, answer.text


def test_health_stays_open_for_the_load_balancers_probe(fronted):
    # The Azure Load Balancer probe comes from AzureLoadBalancer, without Front Door's header.
    assert fronted.get("/v2/health/ready").status_code == 200
    assert fronted.get("/v2/health/live").status_code == 200


def test_nothing_is_checked_without_a_front_door(client, sample):
    assert client.post("/predict", json={"pixels": sample["pixels"][0]}).status_code == 200
