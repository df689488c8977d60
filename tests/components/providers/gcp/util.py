"""Helpers for the GCP provider tests: plan a service in the built-in GCP region, pick resources."""
from __future__ import annotations

from stacks.config import from_pairs
from stacks.offline import plan_environment
from stacks.plan import Plan, PlanResource
from tests.helpers import PROJECT_DIR, plan_spec

REGION = "europe-west1"
IMAGE = "europe-docker.pkg.dev/acme/ml/digits:1.0"  # prebuilt: serving tests need no image build
VM = {"serving": {"mode": "vm", "min_instances": 3, "max_instances": 10, "image": IMAGE}}
BILLING = "012345-6789AB-CDEF01"


def plan_gcp(service: dict | None = None, **kwargs) -> Plan:
    kwargs.setdefault("regions", {"gcp": REGION})
    return plan_spec("gcp", service if service is not None else {}, **kwargs)


def named(plan: Plan, name: str) -> PlanResource:
    found = [r for r in plan.resources if r.name == name]
    assert len(found) == 1, f"expected one resource named {name}, found {len(found)}"
    return found[0]


def names(plan: Plan, type_token: str) -> set[str]:
    return {r.name for r in plan.of_type(type_token)}


def plan_gcp_config(service: dict, config: dict, env: str = "dev") -> Plan:
    """Plan with extra stack config beside mlinfra's (e.g. the provider's `gcp:project`)."""
    pairs = {"mlinfra:cloud": "gcp", "mlinfra:regions": {"gcp": REGION}, "mlinfra:service": service, **config}
    return plan_environment(PROJECT_DIR, env, "gcp", raw=from_pairs(pairs, source="test"))
