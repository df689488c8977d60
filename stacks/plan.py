"""The Plan: every resource a program registers, and its stack outputs.

Printing, policy checks and cost estimates read a Plan, so they work alike on a mocked run
and on a plan document written elsewhere (`--plan-file`). The JSON shape is a contract:
ARCHITECTURE.md, "Contracts other tools rely on".
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator, Optional

from components.errors import ConfigError


@dataclass
class PlanResource:
    urn: str
    type: str
    name: str
    parent: Optional[str]
    custom: bool
    inputs: dict[str, Any]
    # Explicit `depends_on` URNs (not those implied by inputs), so reviewers can see ordering.
    dependsOn: list[str] = field(default_factory=list)
    # Resource options that change what an update or destroy may do, only when set:
    # protect, retainOnDelete, ignoreChanges, replaceOnChanges, deleteBeforeReplace.
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class Plan:
    stack: str
    env: str
    cloud: str
    region: str
    resources: list[PlanResource] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    # Later parts attach their verdicts here ("policy", "cost"), keyed by name.
    extra: dict[str, Any] = field(default_factory=dict)

    def of_type(self, type_token: str) -> list[PlanResource]:
        return [r for r in self.resources if r.type == type_token]

    def custom(self) -> Iterator[PlanResource]:
        return (r for r in self.resources if r.custom)

    def to_dict(self) -> dict[str, Any]:
        doc = {
            "stack": self.stack, "env": self.env, "cloud": self.cloud, "region": self.region,
            "resources": [asdict(r) for r in self.resources],
            "outputs": self.outputs,
        }
        doc.update(self.extra)
        return doc

    @classmethod
    def from_dict(cls, doc: dict[str, Any], where: str = "plan") -> "Plan":
        try:
            resources = [
                PlanResource(urn=str(r["urn"]), type=str(r["type"]), name=str(r.get("name", "")),
                             parent=r.get("parent"), custom=bool(r.get("custom", True)),
                             inputs=dict(r.get("inputs") or {}),
                             dependsOn=[str(u) for u in (r.get("dependsOn") or [])],
                             options=dict(r.get("options") or {}))
                for r in doc.get("resources", [])
            ]
            return cls(stack=str(doc["stack"]), env=str(doc.get("env", doc["stack"])), cloud=str(doc["cloud"]),
                       region=str(doc.get("region", "")), resources=resources, outputs=dict(doc.get("outputs") or {}))
        except (KeyError, TypeError, AttributeError) as exc:
            raise ConfigError(f"{where}: not a plan document: missing or malformed {exc}") from None


def plans_document(plans: list[Plan]) -> dict[str, Any]:
    return {"plans": [p.to_dict() for p in plans]}


def read_plans(path: Path) -> list[Plan]:
    """Read a `mlinfra plan --output json` document (or a single plan entry)."""
    try:
        doc = json.loads(path.read_text())
    except OSError as exc:
        raise ConfigError(f"--plan-file {path}: cannot read: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"--plan-file {path}: not JSON: {exc.msg} at line {exc.lineno}") from None
    if not isinstance(doc, dict):
        raise ConfigError(f"--plan-file {path}: expected a JSON object with a 'plans' list")
    entries = doc["plans"] if "plans" in doc else [doc]
    if not isinstance(entries, list):
        raise ConfigError(f"--plan-file {path}: 'plans' must be a list")
    return [Plan.from_dict(e, where=f"--plan-file {path}: plans[{i}]") for i, e in enumerate(entries)]
