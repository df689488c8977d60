"""Helpers for the Azure provider tests: plans of typical services and named resources from a Plan."""
from __future__ import annotations

from stacks.plan import Plan, PlanResource
from tests.helpers import plan_spec

REGION = "westeurope"
EMAIL = "ml-oncall@example.com"
# dev: serverless, scale to zero, smallest sizes, the image built from app/.
DEV = {"serving": {"min_instances": 0, "cpu": 1, "memory_gib": 2}, "alerts": {"emails": [EMAIL]}}
# prod: VMs across zones, 75 / 25 %, training template with no machine, a budget.
PROD = {"serving": {"mode": "vm", "min_instances": 3, "max_instances": 10, "image": "registry.example.com/digits:1"},
        "training": {"enabled": True}, "alerts": {"emails": [EMAIL]}, "budget": {"monthly_usd": 2000}}
SUB = "00000000-0000-0000-0000-000000000000"


def plan_azure(service: dict | None = None, **kwargs) -> Plan:
    kwargs.setdefault("regions", {"azure": REGION})
    return plan_spec("azure", service if service is not None else DEV, **kwargs)


def named(plan: Plan, name: str) -> PlanResource:
    found = [r for r in plan.resources if r.name == name]
    assert len(found) == 1, f"expected one resource named {name}, found {len(found)}"
    return found[0]


def rg_id(env: str = "dev") -> str:
    return f"/subscriptions/{SUB}/resourceGroups/digits-{env}-rg"


def role_id(guid: str) -> str:
    return f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{guid}"
