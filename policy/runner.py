"""The offline runner: every rule over a Plan, no engine, no credentials.

`evaluate(plan)` gives the same verdicts CrossGuard gives during `pulumi preview --policy-pack
policy`, from the same functions (policy/rules.py). A verdict a rule could not reach because a
value is unknown is reported as advisory, whatever the rule's level.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Optional

from policy.config import PolicyConfig, load
from policy.rules import RULES, Resource, Stack, check_resource, check_stack

if TYPE_CHECKING:
    from stacks.plan import Plan


@dataclass(frozen=True)
class Violation:
    rule: str
    level: str  # mandatory | advisory
    severity: str
    urn: str
    type: str
    message: str


@dataclass
class Report:
    violations: list[Violation] = field(default_factory=list)

    @property
    def mandatory_failed(self) -> int:
        return sum(1 for v in self.violations if v.level == "mandatory")

    @property
    def advisory(self) -> int:
        return sum(1 for v in self.violations if v.level == "advisory")

    def to_dict(self) -> dict[str, Any]:
        return {"violations": [asdict(v) for v in self.violations],
                "mandatory_failed": self.mandatory_failed, "advisory": self.advisory}


def stack_of(plan: "Plan") -> Stack:
    return Stack(Resource(urn=r.urn, type=r.type, name=r.name, inputs=r.inputs, parent=r.parent)
                 for r in plan.resources)


def evaluate(plan: "Plan", config: Optional[PolicyConfig] = None) -> Report:
    config = config if config is not None else load(None)
    stack = stack_of(plan)
    types = {r.urn: r.type for r in stack.resources}
    fallback = stack.service
    report = Report()
    for rule in RULES:
        level = config.level(rule.name)
        if level == "disabled":
            continue
        settings = config.settings_for(rule.name)
        if rule.kind == "resource":
            findings = [f for r in stack.resources
                        for f in check_resource(rule, r.type, r.inputs, settings, urn=r.urn)]
        else:
            findings = check_stack(rule, stack, settings)
        for f in findings:
            urn = f.urn or (fallback.urn if fallback is not None else "")
            report.violations.append(Violation(
                rule=rule.name, level="advisory" if f.undecided else level, severity=rule.severity,
                urn=urn, type=types.get(urn, ""), message=f.message))
    return report
