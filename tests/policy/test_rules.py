"""Every rule against hand-written fixtures, through both runners: the offline runner over a Plan,
and the CrossGuard policies' own `validate` with the args the engine would build."""
from __future__ import annotations

import copy

import pytest
from pulumi_policy import PolicyResource, PolicyResourceOptions, ResourceValidationArgs, StackValidationArgs
from pulumi_policy.policy import PolicyCustomTimeouts
from pulumi_policy.proxy import UnknownValueError, unknown_checking_proxy

from policy.__main__ import policies
from policy.config import load
from policy.rules import BY_NAME, RULES
from policy.runner import evaluate
from tests.policy.fixtures import CASES, Case

CONFIG = load(None)
PACK = {p.name: p for p in policies(CONFIG)}


def offline(case: Case):
    """(definite violations as {(urn, message)}, levels seen, any undecided) for the case's rule."""
    found = [v for v in evaluate(case.plan(), CONFIG).violations if v.rule == case.rule]
    undecided = [v for v in found if v.message.startswith("cannot decide")]
    definite = [v for v in found if v not in undecided]
    return {(v.urn, v.message) for v in definite}, {v.level for v in definite}, bool(undecided), undecided


def crossguard(case: Case):
    """The same through the CrossGuard policy: its validate(), called as the analyzer calls it."""
    policy = PACK[case.rule]
    config = {k: v for k, v in CONFIG.pack_config()[case.rule].items() if k != "enforcementLevel"}
    opts = PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])
    plan = case.plan()
    violations: set[tuple[str, str]] = set()
    undecided = False

    def run(call, urn):
        nonlocal undecided

        def report(message, at=None):
            violations.add((at or urn or "", message))  # "" : the stack as a whole, as the runner reports it
        try:
            call(report)
        except UnknownValueError:
            undecided = True

    if BY_NAME[case.rule].kind == "resource":
        for r in plan.resources:
            args = ResourceValidationArgs(r.type, unknown_checking_proxy(copy.deepcopy(r.inputs)), r.urn, r.name, opts,
                                          None, config)
            run(lambda report, a=args: policy.validate(a, report), r.urn)
    else:
        resources = [PolicyResource(r.type, unknown_checking_proxy(copy.deepcopy(r.inputs)), r.urn, r.name, opts, None,
                                    None, [], {}) for r in plan.resources]
        args = StackValidationArgs(resources, config)
        run(lambda report: policy.validate(args, report), None)
    return violations, undecided


@pytest.mark.parametrize("case", CASES, ids=[f"{c.rule}:{c.id}" for c in CASES])
def test_rule_verdict_offline(case: Case):
    definite, levels, undecided, advisories = offline(case)
    if case.expect == "pass":
        assert not definite and not undecided, definite
    elif case.expect == "fail":
        assert definite and not undecided, f"{case.rule} did not flag {case.id}"
        assert levels == {CONFIG.level(case.rule)}
    else:
        assert not definite and undecided
        assert {v.level for v in advisories} == {"advisory"}, "an undecided verdict is advisory, never a pass"


@pytest.mark.parametrize("case", CASES, ids=[f"{c.rule}:{c.id}" for c in CASES])
def test_crossguard_agrees_with_offline(case: Case):
    definite, _, undecided, _ = offline(case)
    cg_violations, cg_undecided = crossguard(case)
    assert cg_violations == definite
    assert cg_undecided == undecided


def test_every_rule_has_a_compliant_and_a_violating_fixture():
    for rule in RULES:
        expects = {c.expect for c in CASES if c.rule == rule.name}
        assert {"pass", "fail"} <= expects, f"{rule.name} lacks fixtures: has {sorted(expects)}"


def test_rules_are_fully_described():
    for rule in RULES:
        assert rule.description and rule.severity in ("low", "medium", "high", "critical")
        assert rule.level in ("mandatory", "advisory") and rule.kind in ("resource", "stack")
        assert rule.types, f"{rule.name} names no resource type"


def test_crossguard_policies_mirror_the_rules():
    assert list(PACK) == [r.name for r in RULES]
    for rule in RULES:
        policy = PACK[rule.name]
        assert policy.description == rule.description
        assert policy.enforcement_level.value == rule.level
        assert policy.severity.value == rule.severity


def test_budget_rule_is_mandatory_now_that_budgets_exist():
    case = next(c for c in CASES if c.id == "prod-without-budget")
    definite, levels, _, _ = offline(case)
    assert levels == {"mandatory"}
    assert evaluate(case.plan(), CONFIG).mandatory_failed == 1


def test_plaintext_prod_endpoint_is_mandatory_and_advisory_elsewhere():
    """Issue 18: a public endpoint without TLS is a mandatory violation in prod and advisory elsewhere;
    a prod endpoint without a firewall is advisory."""
    prod = next(c for c in CASES if c.id == "alb-http-forwards")
    dev = next(c for c in CASES if c.id == "dev-alb-http-forwards")
    no_waf = next(c for c in CASES if c.id == "alb-without-waf")
    assert offline(prod)[1] == {"mandatory"}
    assert offline(dev)[1] == {"advisory"}
    assert offline(no_waf)[1] == {"advisory"}
    tls_in_dev = [v for v in evaluate(dev.plan(), CONFIG).violations if v.rule.startswith("endpoint-tls")]
    assert [v.rule for v in tls_in_dev] == ["endpoint-tls"], "dev is left to the advisory rule"
