"""Shared test helpers: plan a spec offline and pick resources out of the Plan."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from components.providers.base import cloud_names
from stacks.config import from_pairs
from stacks.offline import plan_environment
from stacks.plan import Plan, PlanResource

PROJECT_DIR = Path(__file__).resolve().parents[1]
CLOUDS = cloud_names()


def plan_spec(cloud: str, service: Optional[dict] = None, *, env: str = "dev", regions: Optional[dict] = None,
              tags: Optional[dict] = None, overrides: Optional[dict] = None, preview: Optional[dict] = None) -> Plan:
    """Plan a service described inline (as it would be in Pulumi.<env>.yaml) on `cloud`."""
    pairs: dict[str, Any] = {"mlinfra:cloud": cloud, "mlinfra:service": service or {}}
    if regions:
        pairs["mlinfra:regions"] = regions
    if tags:
        pairs["mlinfra:tags"] = tags
    if overrides:
        pairs["mlinfra:overrides"] = overrides
    if preview:
        pairs["mlinfra:preview"] = preview
    return plan_environment(PROJECT_DIR, env, cloud, raw=from_pairs(pairs, source="test"))


def one(plan: Plan, type_token: str) -> PlanResource:
    found = plan.of_type(type_token)
    assert len(found) == 1, f"expected one {type_token}, found {[r.name for r in found]}"
    return found[0]


def inputs(plan: Plan, type_token: str) -> dict:
    return one(plan, type_token).inputs
