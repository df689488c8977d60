"""The service's keep-alive against the load balancers each cloud's plan actually builds.

A backend that closes an idle connection before its load balancer does races the balancer's
next request on it (a 502). So app/server.py's keep-alive must exceed every balancer idle time:
- AWS ALB `idle_timeout.timeout_seconds` (default 60 s; Elastic Load Balancing, "Connection idle timeout");
- Azure Load Balancer rule `idleTimeoutInMinutes` (default 4; "Configure TCP reset and idle timeout");
- Google Cloud external Application Load Balancer: backend keepalive fixed at 600 s, which the
  backend's must exceed (Cloud Load Balancing, "Timeouts and retries"; not a plan input).
"""
from __future__ import annotations

import pytest

from app.server import KEEP_ALIVE_S
from stacks.offline import plan_environment
from tests.helpers import PROJECT_DIR

GCP_BACKEND_KEEPALIVE_S = 600


def _idle_timeouts(cloud: str) -> list[float]:
    plan = plan_environment(PROJECT_DIR, "prod", cloud)  # prod serves from VMs behind each cloud's balancer
    found = [r.inputs.get("idleTimeout", 60) for r in plan.of_type("aws:lb/loadBalancer:LoadBalancer")]
    for balancer in plan.of_type("azure-native:network:LoadBalancer"):
        found += [60 * rule.get("idleTimeoutInMinutes", 4) for rule in balancer.inputs.get("loadBalancingRules", [])]
    found += [GCP_BACKEND_KEEPALIVE_S for _ in plan.of_type("gcp:compute/backendService:BackendService")]
    return found


@pytest.mark.parametrize("cloud", ["aws", "gcp", "azure"])
def test_keep_alive_exceeds_the_planned_load_balancer_idle_timeout(cloud):
    timeouts = _idle_timeouts(cloud)
    assert timeouts, f"the {cloud} prod plan has no load balancer to compare with"
    assert all(KEEP_ALIVE_S > seconds for seconds in timeouts), (KEEP_ALIVE_S, timeouts)
