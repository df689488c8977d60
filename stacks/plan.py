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
    def from_dict(cls, doc: Any, where: str = "plan") -> "Plan":
        """A plan entry as `plan --output json` writes it; anything else is one ConfigError naming the field."""
        entry = _field(doc, where, dict, "an object")
        resources = []
        for i, item in enumerate(_field(entry.get("resources", []), f"{where}.resources", list, "a list")):
            at = f"{where}.resources[{i}]"
            r = _field(item, at, dict, "an object")
            resources.append(PlanResource(
                urn=_text(r.get("urn"), f"{at}.urn"), type=_text(r.get("type"), f"{at}.type"),
                name=str(r.get("name", "")), parent=_optional_text(r.get("parent"), f"{at}.parent"),
                custom=bool(r.get("custom", True)),
                inputs=_field(r.get("inputs") or {}, f"{at}.inputs", dict, "an object"),
                dependsOn=[_text(u, f"{at}.dependsOn") for u in _field(r.get("dependsOn") or [], f"{at}.dependsOn",
                                                                      list, "a list")],
                options=_field(r.get("options") or {}, f"{at}.options", dict, "an object")))
        stack = _text(entry.get("stack"), f"{where}.stack")
        return cls(stack=stack, env=_text(entry.get("env", stack), f"{where}.env"),
                   cloud=_text(entry.get("cloud"), f"{where}.cloud"),
                   region=str(entry.get("region") or ""), resources=resources,
                   outputs=_field(entry.get("outputs") or {}, f"{where}.outputs", dict, "an object"))


def _field(value: Any, where: str, kind: type, what: str) -> Any:
    if not isinstance(value, kind):
        got = "null" if value is None else type(value).__name__
        raise ConfigError(f"{where}: expected {what}, got {got}; not a plan document (as `mlinfra plan --output json` writes)")
    return value


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where}: required text is missing; not a plan document (as `mlinfra plan --output json` writes)")
    return value


def _optional_text(value: Any, where: str) -> Optional[str]:
    return None if value is None else _text(value, where)


def plans_document(plans: list[Plan]) -> dict[str, Any]:
    return {"plans": [p.to_dict() for p in plans]}


MAX_PLAN_BYTES = 256 * 1024 * 1024


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in JSON")


def read_plans(path: Path) -> list[Plan]:
    """Read a `mlinfra plan --output json` document (or a single plan entry)."""
    from components.files import read_limited, utf8

    where = f"--plan-file {path}"
    text = utf8(read_limited(path, MAX_PLAN_BYTES, where, "not a plan document"), where, "not a plan document")
    try:
        doc = json.loads(text, parse_constant=_no_constants)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{where}: not JSON: {exc.msg} at line {exc.lineno}") from None
    except ValueError as exc:
        raise ConfigError(f"{where}: not JSON: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{where}: nested too deeply; not a plan document") from None
    if not isinstance(doc, dict):
        raise ConfigError(f"{where}: expected a JSON object with a 'plans' list")
    entries = doc["plans"] if "plans" in doc else [doc]
    if not isinstance(entries, list):
        raise ConfigError(f"{where}: 'plans' must be a list")
    return [Plan.from_dict(e, where=f"{where}: plans[{i}]") for i, e in enumerate(entries)]
