"""Helpers for the AWS provider tests: named resources and parsed policy documents from a Plan."""
from __future__ import annotations

import json

from stacks.plan import Plan, PlanResource
from tests.helpers import plan_spec

# The smallest service AWS accepts: Fargate cannot idle at zero tasks.
SERVERLESS = {"serving": {"min_instances": 1}}
VM = {"serving": {"mode": "vm", "min_instances": 3, "max_instances": 10}}


def plan_aws(service: dict | None = None, **kwargs) -> Plan:
    kwargs.setdefault("regions", {"aws": "eu-west-1"})
    return plan_spec("aws", service if service is not None else SERVERLESS, **kwargs)


def named(plan: Plan, name: str) -> PlanResource:
    found = [r for r in plan.resources if r.name == name]
    assert len(found) == 1, f"expected one resource named {name}, found {len(found)}"
    return found[0]


def statements(resource: PlanResource) -> list[dict]:
    return json.loads(resource.inputs["policy"])["Statement"]


def by_sid(resource: PlanResource) -> dict[str, dict]:
    return {s["Sid"]: s for s in statements(resource)}


def sg_id(name: str) -> str:
    """The id the offline mocks give the security group registered as `name`."""
    from components.providers.aws.mocks import _hex

    return f"sg-{_hex(name)}"
