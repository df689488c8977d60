"""The rule set: every rule once, run alike by the CrossGuard pack (policy/__main__.py) and the
offline runner (policy/runner.py). Rules live by topic in rules_*.py; this module lists them and
holds the one place where a rule's verdicts become findings."""
from __future__ import annotations

from typing import Any, Mapping

from policy.rules_base import Finding, Resource, Rule, Stack, Undecided
from policy.rules_ingress import endpoint_firewall, endpoint_tls, endpoint_tls_prod
from policy.rules_identity import (azure_no_privileged_roles, azure_role_assignment_scope, gcp_no_primitive_roles,
                                   iam_no_wildcards)
from policy.rules_network import imdsv2_required, no_admin_ports_open, no_public_ip, tls_minimum
from policy.rules_registry import registry_admin_user_off, registry_image_scanning, registry_immutable_tags
from policy.rules_stack import (allowed_gpu_types, allowed_instance_types, budget_required, ingress_matches_spec)
from policy.rules_storage import data_bucket_lifecycle, data_bucket_versioning, encryption_at_rest, no_public_storage, \
    s3_bucket_controls
from policy.rules_tags import required_tags

RULES: tuple[Rule, ...] = (
    no_public_storage, s3_bucket_controls, encryption_at_rest, data_bucket_versioning, data_bucket_lifecycle,
    tls_minimum, no_admin_ports_open, imdsv2_required, no_public_ip,
    registry_admin_user_off, registry_image_scanning, registry_immutable_tags,
    ingress_matches_spec, iam_no_wildcards, gcp_no_primitive_roles, azure_role_assignment_scope,
    azure_no_privileged_roles, required_tags, allowed_instance_types, allowed_gpu_types, budget_required,
    endpoint_tls_prod, endpoint_tls, endpoint_firewall,
)
BY_NAME: dict[str, Rule] = {rule.name: rule for rule in RULES}
assert len(BY_NAME) == len(RULES), "rule names must be unique"

__all__ = ["RULES", "BY_NAME", "Finding", "Resource", "Rule", "Stack", "check_resource", "check_stack"]


def check_resource(rule: Rule, type_: str, inputs: Mapping[str, Any], settings: Any, urn: str = "") -> list[Finding]:
    """A resource rule's findings on one resource; an unknown value ends the check with an undecided finding."""
    findings: list[Finding] = []
    try:
        for message in rule.check(type_, inputs, settings):
            findings.append(Finding(message, urn))
    except Undecided as und:
        findings.append(Finding(f"cannot decide: {und.path} is unknown until the update runs", urn,
                                undecided=True, path=und.path))
    return findings


def check_stack(rule: Rule, stack: Stack, settings: Any) -> list[Finding]:
    findings: list[Finding] = []
    try:
        findings.extend(rule.check(stack, settings))
    except Undecided as und:
        urn = stack.service.urn if stack.service is not None else None
        findings.append(Finding(f"cannot decide: {und.path} is unknown until the update runs", urn,
                                undecided=True, path=und.path))
    return findings
