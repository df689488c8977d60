"""Estimate the monthly cost of a Plan from the cloud's dated price snapshot, in the plan's region.

Only a Plan is read (resources with type tokens and camelCase inputs), so a mocked run and a
saved plan document (`mlinfra cost --plan-file`) are priced alike. The service description
travels as the inputs of the `mlinfra:service:MLService` component; its `usage` section
(components.spec.UsageSpec) drives the usage-based lines, with UsageSpec's documented defaults
when a plan carries none. How each type token is priced lives in `cost/pricing_rules/<cloud>.json`;
the prices in the snapshot `cost/prices/<cloud>.json` (cost/snapshot.py), read in the plan's own
region: a price the snapshot lacks there makes the resource unpriced, with the reason.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Optional

from pydantic import ValidationError

from components.errors import ConfigError
from components.spec import UsageSpec
from cost.snapshot import PRICES_DIR, Unpriced, price, snapshot_date  # noqa: F401  (re-exported)
from stacks.plan import Plan, PlanResource

RULES_DIR = Path(__file__).resolve().parent / "pricing_rules"
SERVICE_TYPE = "mlinfra:service:MLService"
# Usage lines the idle figure leaves out: data held, images kept and logs written are usage, not idle cost.
USAGE_CATEGORIES = ("storage", "registry", "usage")


@dataclass
class Line:
    urn: str
    type: str
    name: str
    monthly_usd: float
    basis: str  # the arithmetic, with the price rows' units and region
    assumption: bool  # depends on usage assumptions (storage GB, requests, training hours...)
    category: str = ""  # storage / registry / usage: left out of the idle figure; monitoring: of the mode comparison

    def to_dict(self) -> dict[str, Any]:
        return {"urn": self.urn, "type": self.type, "name": self.name, "monthly_usd": round(self.monthly_usd, 4),
                "basis": self.basis, "assumption": self.assumption, "category": self.category}


@dataclass
class CostReport:
    stack: str
    env: str
    cloud: str
    region: str
    snapshot_date: str
    usage: UsageSpec
    lines: list[Line] = field(default_factory=list)
    unpriced: list[dict[str, str]] = field(default_factory=list)

    @property
    def monthly_usd(self) -> float:
        return sum(line.monthly_usd for line in self.lines)

    @property
    def idle_usd(self) -> float:
        """What the lines cost that are not storage or registry usage (with zero-traffic usage: idle)."""
        return sum(line.monthly_usd for line in self.lines if line.category not in USAGE_CATEGORIES)

    def to_dict(self) -> dict[str, Any]:
        return {
            "monthly_usd": round(self.monthly_usd, 2),
            "currency": "USD",
            "lines": [line.to_dict() for line in self.lines],
            "unpriced": list(self.unpriced),
            "region": self.region,
            "snapshot_date": self.snapshot_date,
            "usage": self.usage.model_dump(),
        }


@lru_cache(maxsize=None)
def price_book(cloud: str) -> dict[str, Any]:
    """The cloud's pricing rules (type token -> rule), with the snapshot's hours per month."""
    path = RULES_DIR / f"{cloud}.json"
    if not path.is_file():
        known = sorted(p.stem for p in RULES_DIR.glob("*.json"))
        raise ConfigError(f"cost: no price file for cloud {cloud!r}; priced clouds: {', '.join(known)}")
    from cost.snapshot import snapshot

    return {**json.loads(path.read_text()), "hours_per_month": snapshot(cloud)["hours_per_month"]}


def get(tree: Any, path: str) -> Any:
    """`template.containers.0.resources.limits.cpu` -> the value, or None when any step is missing."""
    for part in path.split("."):
        if isinstance(tree, dict):
            tree = tree.get(part)
        elif isinstance(tree, list) and part.isdigit() and int(part) < len(tree):
            tree = tree[int(part)]
        else:
            return None
        if tree is None:
            return None
    return tree


def usage_of(plan: Plan, where: str = "mlinfra:service.usage") -> UsageSpec:
    """The usage the plan's service description carries, validated; UsageSpec defaults when absent."""
    service = next((r for r in plan.resources if r.type == SERVICE_TYPE), None)
    raw = get(service.inputs, "service.usage") if service is not None else None
    try:
        return UsageSpec.model_validate(raw or {})
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"])
            msg = err["msg"].removeprefix("Value error, ")
            lines.append(f"{where}.{key}: {json.dumps(err.get('input'), default=str)} is not allowed: {msg}")
        raise ConfigError("\n".join(dict.fromkeys(lines))) from None


def description(plan: Plan) -> dict[str, Any]:
    service = next((r for r in plan.resources if r.type == SERVICE_TYPE), None)
    return dict(get(service.inputs, "service") or {}) if service is not None else {}


@dataclass
class Context:
    """What a rule may read: the plan, the cloud's price book and the usage assumptions."""

    plan: Plan
    book: dict[str, Any]
    usage: UsageSpec
    service: dict[str, Any]

    @property
    def hours(self) -> float:
        return float(self.book.get("hours_per_month", 730))

    def price(self, price_id: str) -> tuple[float, str]:
        """(usd, 'usd USD/unit (what, region)') for a snapshot row in the plan's region, or Unpriced."""
        found = price(self.plan.cloud, price_id, self.plan.region)
        return found.usd, found.describe()

    def related(self, resource: PlanResource, type_token: str, ref: Any) -> Optional[PlanResource]:
        """The resource of `type_token` that `ref` (an id, ARN or urn in resource's inputs) points at.

        Mocked ids do not carry names, so: the urn or name inside `ref`, else the only candidate
        under the same parent component, else the only candidate in the plan.
        """
        candidates = self.plan.of_type(type_token)
        text = str(ref or "")
        named = [c for c in candidates if c.urn == text or (c.name and c.name in text)]
        if len(named) == 1:
            return named[0]
        for pool in ([c for c in candidates if c.parent == resource.parent], candidates):
            if len(pool) == 1:
                return pool[0]
        return None


def estimate(plan: Plan, usage: Optional[UsageSpec] = None) -> CostReport:
    """Price every custom resource of `plan` in its region; `usage` replaces the plan's usage section.

    Raises ConfigError on invalid usage values.
    """
    from cost.rules import RULES

    book = price_book(plan.cloud)
    ctx = Context(plan=plan, book=book, usage=usage or usage_of(plan), service=description(plan))
    report = CostReport(stack=plan.stack, env=plan.env, cloud=plan.cloud, region=plan.region,
                        snapshot_date=snapshot_date(plan.cloud), usage=ctx.usage)
    free = set(book.get("free", ()))
    for res in plan.resources:
        if not res.custom or res.type.startswith("pulumi:providers:") or res.type in free:
            continue
        rule = book["rules"].get(res.type)
        if rule is not None and "component" in rule and rule["component"] not in (res.parent or ""):
            # e.g. an access-log bucket: not the storage tiers the usage section describes
            rule = rule["otherwise"]
        if rule is None:
            report.unpriced.append({"urn": res.urn, "type": res.type, "reason": "no price rule for this type"})
            continue
        try:
            found = RULES[rule["kind"]](ctx, res, rule)
        except Unpriced as why:
            report.unpriced.append({"urn": res.urn, "type": res.type, "reason": str(why),
                                    **({"category": rule["category"]} if rule.get("category") else {})})
            continue
        except (KeyError, ValueError, TypeError) as exc:  # inputs shaped unlike the rule expects: say so
            report.unpriced.append({"urn": res.urn, "type": res.type,
                                    "reason": f"cannot read its inputs ({type(exc).__name__}: {exc})"})
            continue
        report.lines.extend(Line(urn=res.urn, type=res.type, name=res.name, monthly_usd=usd, basis=basis,
                                 assumption=assumed, category=rule.get("category", ""))
                            for usd, basis, assumed in found)
    return report


def estimate_dict(plan: Plan) -> dict[str, Any]:
    """The `"cost"` key of a plan entry in `mlinfra plan --output json`."""
    return estimate(plan).to_dict()
