"""`mlinfra doctor` on AWS: requirements derived from the built-in plans, live checks against recorded
answers through botocore's Stubber (tests/fixtures/doctor/aws.json), ok / missing / denied / throttled / timeout."""
from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ReadTimeoutError
from botocore.stub import ANY, Stubber

from components.providers.aws import preflight
from stacks import doctor
from stacks.doctor import LiveContext, Status
from tests.helpers import PROJECT_DIR
from stacks.offline import plan_environment

FIXTURES = json.loads((Path(__file__).resolve().parents[3] / "fixtures" / "doctor" / "aws.json").read_text())


@pytest.fixture(scope="module")
def prod():
    return plan_environment(PROJECT_DIR, "prod", "aws")


@pytest.fixture(scope="module")
def untagged(prod):
    """prod as if the program activated no cost-allocation tag itself: its budget's tags are all prerequisites."""
    from dataclasses import replace

    return replace(prod, resources=[r for r in prod.resources if r.type != preflight.TAG_TYPE])


@pytest.fixture(scope="module")
def dev():
    return plan_environment(PROJECT_DIR, "dev", "aws")


def by_kind(reqs, kind):
    return {r.name: r for r in reqs if r.kind == kind}


# -- derivation ------------------------------------------------------------------------------------
def test_prod_spot_g4dn_needs_the_g_and_vt_spot_quota(prod):
    # prod trains on a spot g4dn.xlarge (T4, 4 vCPUs). EC2 "Spot Instance quotas": G instances launch
    # against "All G and VT Spot Instance Requests" (Service Quotas code L-3819A6DF), counted in vCPUs.
    quotas = by_kind(doctor.requirements(prod), "quota")
    assert list(quotas) == ["L-3819A6DF in eu-west-1"]
    req = quotas["L-3819A6DF in eu-west-1"]
    assert req.data == {"code": "L-3819A6DF", "need": 4, "region": "eu-west-1"}
    assert "digits-prod-training-lt" in req.why and "All G and VT Spot Instance Requests" in req.why
    assert "--quota-code L-3819A6DF --desired-value 4 --region eu-west-1" in req.fix


def test_dev_has_no_gpu_quota_and_no_budget_tags(dev):
    reqs = doctor.requirements(dev)
    assert not by_kind(reqs, "quota") and not by_kind(reqs, "tag")


@pytest.mark.parametrize("instance_type, spot, code", [
    # Quota names: EC2 User Guide, "On-Demand Instance quotas" and "Spot Instance quotas".
    ("g4dn.xlarge", False, "L-DB2E81BA"),  # Running On-Demand G and VT instances
    ("g6.12xlarge", True, "L-3819A6DF"),  # All G and VT Spot Instance Requests
    ("p4d.24xlarge", False, "L-417A185B"),  # Running On-Demand P instances
    ("p4d.24xlarge", True, "L-7212CCBC"),  # All P4, P3 and P2 Spot Instance Requests
    ("p5.48xlarge", True, "L-C4BD4855"),  # All P5 Spot Instance Requests
    ("c7i.large", False, None),  # standard family: not a GPU quota
])
def test_quota_codes_per_family(instance_type, spot, code):
    assert preflight.quota_code(instance_type, spot) == code


def test_budget_tag_filters_become_tag_requirements(prod):
    # "Activating user-defined cost allocation tags": a budget's tag filter counts nothing until the
    # key is activated; keys the program activates itself (costexplorer.CostAllocationTag) are not asked of the user.
    [budget] = prod.of_type("aws:budgets/budget:Budget")
    filtered = {f["tags"]["key"] for f in budget.inputs["filterExpression"].get("ands", [budget.inputs["filterExpression"]])
                if "tags" in f}
    activated = {t.inputs["tagKey"] for t in prod.of_type(preflight.TAG_TYPE)}
    assert filtered, "prod's budget filters on the service's tags"
    tags = by_kind(doctor.requirements(prod), "tag")
    assert set(tags) == filtered - activated
    for key, req in tags.items():
        assert f"--cost-allocation-tags-status TagKey={key},Status=Active" in req.fix


def test_tags_the_program_activates_are_not_prerequisites(prod):
    from dataclasses import replace

    from stacks.plan import PlanResource

    activated = PlanResource(urn="urn:tag", type=preflight.TAG_TYPE, name="tag-service", parent=None, custom=True,
                             inputs={"tagKey": "service", "status": "Active"})
    plan = replace(prod, resources=[*prod.resources, activated])
    assert set(by_kind(doctor.requirements(plan), "tag")) == {"environment"}


def _hands_over_a_role(resource) -> bool:
    i = resource.inputs
    return bool(i.get("iamInstanceProfile") or i.get("executionRoleArn") or i.get("taskRoleArn")
                or (resource.type == "aws:lambda/function:Function" and i.get("role")))


def test_iam_actions_follow_the_resource_types(prod, dev):
    # Service Authorization Reference: CreateBudget is authorised by budgets:ModifyBudget (there is no
    # budgets:CreateBudget action); a resource that hands a role to a service (instance profile, task or
    # function role) needs iam:PassRole.
    for plan in (prod, dev):
        actions = by_kind(doctor.requirements(plan), "permission")
        assert ("budgets:ModifyBudget" in actions) == bool(plan.of_type("aws:budgets/budget:Budget"))
        assert "budgets:CreateBudget" not in actions
        passing = [r for r in plan.custom() if _hands_over_a_role(r)]
        assert passing, "every built-in plan runs something under a role"
        assert any(r.name in actions["iam:PassRole"].why for r in passing)
        assert "s3:CreateBucket" in actions and "kms:CreateKey" in actions


# -- live checks -----------------------------------------------------------------------------------
def client(service: str, region: str = "eu-west-1"):
    return boto3.client(service, region_name=region, aws_access_key_id="AKIAEXAMPLE", aws_secret_access_key="x")


@pytest.fixture
def made():
    clients = {"sts": client("sts"), "iam": client("iam"), "service-quotas": client("service-quotas"),
               "ce": client("ce", "us-east-1")}
    stubs = {name: Stubber(c) for name, c in clients.items()}
    for s in stubs.values():
        s.activate()
    yield clients, stubs
    for s in stubs.values():
        s.deactivate()


LIVE = LiveContext(env={}, home=Path("/nonexistent"), config={}, timeout=2)


def cloud_reqs(plan):
    return [r for r in doctor.requirements(plan) if r.kind != "tool"]


def stub_simulation(stubs, reqs, denied=()):
    stubs["sts"].add_response("get_caller_identity", FIXTURES["caller_assumed_role"], {})
    actions = sorted({r.name for r in reqs if r.kind == "permission"})
    results = [{"EvalActionName": a, "EvalResourceName": "*",
                "EvalDecision": "implicitDeny" if a in denied else "allowed"} for a in actions]
    # An assumed-role session is simulated as its role (IAM policy simulator docs).
    stubs["iam"].add_response("simulate_principal_policy", {**FIXTURES["simulate_allowed"], "EvaluationResults": results},
                              {"PolicySourceArn": "arn:aws:iam::123456789012:role/deployer", "ActionNames": actions})


def test_everything_ok(untagged, made):
    clients, stubs = made
    reqs = cloud_reqs(untagged)
    stubs["service-quotas"].add_response("get_service_quota", FIXTURES["quota_g_spot_8"],
                                         {"ServiceCode": "ec2", "QuotaCode": "L-3819A6DF"})
    stubs["ce"].add_response("list_cost_allocation_tags", FIXTURES["tags_active"],
                             {"TagKeys": ANY, "Type": "UserDefined"})
    stub_simulation(stubs, reqs)
    checked = preflight.check(untagged, reqs, LIVE, made=clients)
    assert {r.status for r in checked} == {Status.ok}, [(r.name, r.detail) for r in checked if r.status != Status.ok]
    assert doctor.exit_code(checked) == 0
    for s in stubs.values():
        s.assert_no_pending_responses()


def test_missing_quota_tag_and_action_each_with_its_fix(untagged, made):
    clients, stubs = made
    reqs = cloud_reqs(untagged)
    stubs["service-quotas"].add_response("get_service_quota", FIXTURES["quota_g_spot_0"],
                                         {"ServiceCode": "ec2", "QuotaCode": "L-3819A6DF"})
    stubs["ce"].add_response("list_cost_allocation_tags", FIXTURES["tags_one_inactive"],
                             {"TagKeys": ANY, "Type": "UserDefined"})
    stub_simulation(stubs, reqs, denied={"iam:PassRole"})
    checked = {(r.kind, r.name): r for r in preflight.check(untagged, reqs, LIVE, made=clients)}
    quota = checked[("quota", "L-3819A6DF in eu-west-1")]
    assert quota.status == Status.missing and "0 vCPUs, 4 needed" in quota.detail
    assert checked[("tag", "environment")].status == Status.missing
    # Cost Explorer lists a key only after a resource carries it: unknown, not missing, before the first deploy.
    assert checked[("tag", "service")].status == Status.unknown
    assert checked[("permission", "iam:PassRole")].status == Status.missing
    assert checked[("permission", "s3:CreateBucket")].status == Status.ok
    assert doctor.exit_code(checked.values()) == 1
    lines = doctor.missing_lines(checked.values())
    assert any("L-3819A6DF" in ln and "request-service-quota-increase" in ln for ln in lines)


def test_quota_never_changed_reads_the_default(prod, made):
    # GetServiceQuota answers NoSuchResourceException for a quota with no applied value: the default applies.
    clients, stubs = made
    reqs = [r for r in cloud_reqs(prod) if r.kind == "quota"]
    stubs["service-quotas"].add_client_error("get_service_quota", "NoSuchResourceException", http_status_code=400)
    stubs["service-quotas"].add_response("get_aws_default_service_quota", FIXTURES["quota_g_spot_0"],
                                         {"ServiceCode": "ec2", "QuotaCode": "L-3819A6DF"})
    [checked] = preflight.check(prod, reqs, LIVE, made=clients)
    assert checked.status == Status.missing


@pytest.mark.parametrize("code, word", [("AccessDeniedException", "denied"), ("ThrottlingException", "throttled"),
                                        ("TooManyRequestsException", "throttled")])
def test_denied_or_throttled_is_unknown_with_the_reason(prod, made, code, word):
    clients, stubs = made
    reqs = [r for r in cloud_reqs(prod) if r.kind in ("quota", "permission")]
    stubs["service-quotas"].add_client_error("get_service_quota", code, http_status_code=400)
    stubs["sts"].add_response("get_caller_identity", FIXTURES["caller_assumed_role"], {})
    stubs["iam"].add_client_error("simulate_principal_policy", code, http_status_code=400)
    checked = preflight.check(prod, reqs, LIVE, made=clients)
    assert {r.status for r in checked} == {Status.unknown}
    assert all(word in r.detail for r in checked)
    assert doctor.exit_code(checked) == 0


def test_timeout_is_unknown(prod, made, monkeypatch):
    clients, _ = made
    reqs = [r for r in cloud_reqs(prod) if r.kind == "quota"]

    def slow(**kwargs):
        raise ReadTimeoutError(endpoint_url="https://servicequotas.eu-west-1.amazonaws.com")

    monkeypatch.setattr(clients["service-quotas"], "get_service_quota", slow)
    [checked] = preflight.check(prod, reqs, LIVE, made=clients)
    assert checked.status == Status.unknown and "timeout" in checked.detail


def test_root_user_is_allowed_without_simulating(prod, made):
    clients, stubs = made
    reqs = [r for r in cloud_reqs(prod) if r.kind == "permission"]
    stubs["sts"].add_response("get_caller_identity", FIXTURES["caller_root"], {})
    checked = preflight.check(prod, reqs, LIVE, made=clients)
    assert {r.status for r in checked} == {Status.ok}


@pytest.mark.parametrize("caller, principal", [
    ("arn:aws:sts::123456789012:assumed-role/deployer/ci", "arn:aws:iam::123456789012:role/deployer"),
    ("arn:aws-cn:sts::123456789012:assumed-role/ops/x", "arn:aws-cn:iam::123456789012:role/ops"),
    ("arn:aws:iam::123456789012:user/alice", "arn:aws:iam::123456789012:user/alice"),
    ("arn:aws:iam::123456789012:root", None),
])
def test_principal_for_the_policy_simulator(caller, principal):
    assert preflight.principal_arn(caller) == principal


def test_no_credentials_is_exit_4(prod, tmp_path):
    live = LiveContext(env={"PATH": ""}, home=tmp_path, config={}, timeout=2)
    with pytest.raises(doctor.CredentialsAbsent) as err:
        doctor.check(prod, live)
    assert err.value.exit_code == 4 and "AWS_ACCESS_KEY_ID" in err.value.message


def test_every_resource_type_of_the_built_in_plans_has_its_actions(prod, dev):
    # The simulator can only vouch for the actions it is asked about: a type with no entry would pass unchecked.
    for plan in (prod, dev):
        untabled = {r.type for r in plan.custom() if r.type.startswith("aws:") and r.type not in preflight.ACTIONS}
        assert not untabled, f"add the IAM actions these types take to preflight.ACTIONS: {sorted(untabled)}"
