"""The CrossGuard pack: `pulumi preview --policy-pack policy [--policy-pack-config FILE]`.

Each rule of policy/rules.py becomes one CrossGuard policy calling the same function the offline
runner calls. Importing this module builds nothing; the pack starts (and serves the engine) only
when run as `__main__`, which is how the Pulumi CLI runs a Python policy pack.
"""
from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Optional

if __name__ == "__main__":  # the CLI runs this file from policy/: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pulumi_policy import (EnforcementLevel, Policy, PolicyConfigSchema, PolicyPack, ReportViolation,
                           ResourceValidationArgs, ResourceValidationPolicy, Severity, StackValidationArgs,
                           StackValidationPolicy)
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError

from policy.config import PolicyConfig, load, settings_of
from policy.rules import RULES, Finding, Resource, Rule, Stack, check_resource, check_stack

PACK_NAME = "mlinfra"
_LEVELS = {"advisory": EnforcementLevel.ADVISORY, "mandatory": EnforcementLevel.MANDATORY,
           "remediate": EnforcementLevel.REMEDIATE, "disabled": EnforcementLevel.DISABLED}
_JSON_TYPES = {"string", "number", "integer", "boolean", "array", "object"}


def plain(value: Any) -> Any:
    """The engine's props as plain data, unknowns kept as their sentinels, so a rule decides what
    to do with them (the policy SDK's proxies would raise on first touch instead)."""
    if isinstance(value, Mapping):
        inner = value["__target"] if type(value).__name__ == "_DictProxy" else value
        return {k: plain(v) for k, v in inner.items()}
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        inner = value["__target"] if type(value).__name__ == "_ListProxy" else value
        return [plain(v) for v in inner]
    return value


def _schema(rule: Rule) -> Optional[PolicyConfigSchema]:
    """The rule's settings as a CrossGuard config schema, so the engine checks `--policy-pack-config`."""
    props = rule.settings.model_json_schema().get("properties", {})
    if not props:
        return None
    out = {}
    for name, spec in props.items():
        kind = spec.get("type")
        out[name] = {"type": kind} if kind in _JSON_TYPES else {}
        if "description" in spec:
            out[name]["description"] = spec["description"]
    return PolicyConfigSchema(properties=out)


def _report(findings: list[Finding], report_violation: ReportViolation, urn: Optional[str]) -> None:
    """Definite findings become violations; an undecided one becomes the SDK's UnknownValueError,
    which the engine reports as advisory ("can't run policy ... during preview")."""
    undecided = [f for f in findings if f.undecided]
    for f in findings:
        if not f.undecided:
            report_violation(f.message, f.urn or urn)
    if undecided:
        raise UnknownValueError(UNKNOWN_STRING_VALUE, (undecided[0].path or "value").split("."))


def _settings(rule: Rule, given: Optional[Mapping[str, Any]], defaults: PolicyConfig):
    return settings_of(rule.name, dict(given), "--policy-pack-config") if given else defaults.settings_for(rule.name)


def policy_for(rule: Rule, defaults: PolicyConfig) -> Policy:
    common = dict(description=rule.description, enforcement_level=_LEVELS[rule.level],
                  config_schema=_schema(rule), severity=Severity(rule.severity))
    if rule.kind == "resource":
        def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
            settings = _settings(rule, args.get_config(), defaults)
            findings = check_resource(rule, args.resource_type, plain(args.props), settings, urn=args.urn)
            _report(findings, report_violation, args.urn)

        return ResourceValidationPolicy(rule.name, validate=validate, **common)

    def validate_stack(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        settings = _settings(rule, args.get_config(), defaults)
        stack = Stack(Resource(urn=r.urn, type=r.resource_type, name=r.name, inputs=plain(r.props),
                               parent=r.parent.urn if r.parent is not None else None,
                               deps={k: tuple(d.urn for d in v) for k, v in (r.property_dependencies or {}).items()})
                      for r in args.resources)
        _report(check_stack(rule, stack, settings), report_violation, None)

    return StackValidationPolicy(rule.name, validate=validate_stack, **common)


def policies(config: Optional[PolicyConfig] = None) -> list[Policy]:
    config = config if config is not None else load(None)
    return [policy_for(rule, config) for rule in RULES]


def initial_config(config: PolicyConfig) -> dict[str, Any]:
    """config.default.json for the engine: the pack's defaults, which `--policy-pack-config` overrides."""
    out: dict[str, Any] = {}
    for name, section in config.pack_config().items():
        section = dict(section)
        out[name] = {**section, "enforcementLevel": _LEVELS[section.pop("enforcementLevel")]}
    return out


def main() -> None:
    config = load(None)
    PolicyPack(PACK_NAME, policies(config), enforcement_level=EnforcementLevel.MANDATORY,
               initial_config=initial_config(config),
               description="mlinfra: the security and cost rules every ML service stack must meet.")


if __name__ == "__main__":
    main()
