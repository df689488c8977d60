"""`mlinfra doctor` on GCP: requirements derived from the built-in plans; live checks (plain REST over
httpx) against recorded answers with respx (tests/fixtures/doctor/gcp.json): ok / missing / denied /
throttled / timeout."""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
import respx

from components.providers.gcp import preflight
from stacks import doctor
from stacks.doctor import LiveContext, Status
from stacks.offline import plan_environment
from tests.helpers import PROJECT_DIR

FIXTURES = json.loads((Path(__file__).resolve().parents[3] / "fixtures" / "doctor" / "gcp.json").read_text())
PROJECT = "demo-project"
BILLING_ACCOUNT = "012345-6789AB-CDEF01"  # Pulumi.prod.yaml budget.gcp_billing_account
LIVE = LiveContext(env={"GOOGLE_OAUTH_ACCESS_TOKEN": "ya29.recorded"}, home=Path("/nonexistent"),
                   config={"gcp:project": PROJECT}, timeout=2)
BATCH_GET = f"https://serviceusage.googleapis.com/v1/projects/{PROJECT}/services:batchGet"
REGION = f"https://compute.googleapis.com/compute/v1/projects/{PROJECT}/regions/europe-west1"
PROJECT_PERMS = f"https://cloudresourcemanager.googleapis.com/v1/projects/{PROJECT}:testIamPermissions"
BILLING_PERMS = f"https://cloudbilling.googleapis.com/v1/billingAccounts/{BILLING_ACCOUNT}:testIamPermissions"


@pytest.fixture(scope="module")
def prod():
    return plan_environment(PROJECT_DIR, "prod", "gcp")


@pytest.fixture(scope="module")
def dev():
    return plan_environment(PROJECT_DIR, "dev", "gcp")


def by_kind(reqs, kind):
    return {r.name: r for r in reqs if r.kind == kind}


def cloud_reqs(plan):
    return [r for r in doctor.requirements(plan) if r.kind != "tool"]


# -- derivation ------------------------------------------------------------------------------------
def test_apis_the_program_enables_are_not_prerequisites_but_the_bootstrap_ones_are(dev, prod):
    # Enabling a service is a Service Usage call and the provider reads the project through Resource
    # Manager, so those two must be on first (components/providers/gcp/apis.py BOOTSTRAP_APIS).
    for plan in (dev, prod):
        assert set(by_kind(doctor.requirements(plan), "api")) == {"serviceusage.googleapis.com",
                                                                  "cloudresourcemanager.googleapis.com"}


def test_without_project_services_in_the_plan_every_api_is_a_prerequisite(prod):
    plan = replace(prod, resources=[r for r in prod.resources if r.type != "gcp:projects/service:Service"])
    apis = by_kind(doctor.requirements(plan), "api")
    assert {"compute.googleapis.com", "artifactregistry.googleapis.com", "billingbudgets.googleapis.com",
            "storage.googleapis.com", "monitoring.googleapis.com", "iam.googleapis.com"} <= set(apis)
    assert apis["compute.googleapis.com"].why.startswith("needed by gcp:compute/")
    assert apis["compute.googleapis.com"].fix == "gcloud services enable compute.googleapis.com --project PROJECT_ID"


def test_prod_spot_t4_needs_regional_preemptible_t4_quota(prod, dev):
    # prod trains on n1-standard-4 + 1 x nvidia-tesla-t4 as a Spot VM: regional GPU quota metric
    # NVIDIA_T4_GPUS, and PREEMPTIBLE_NVIDIA_T4_GPUS for Spot ("GPU quota", Compute Engine allocation quotas).
    quotas = by_kind(doctor.requirements(prod), "quota")
    assert list(quotas) == ["PREEMPTIBLE_NVIDIA_T4_GPUS in europe-west1"]
    req = quotas["PREEMPTIBLE_NVIDIA_T4_GPUS in europe-west1"]
    assert req.data == {"metric": "NVIDIA_T4_GPUS", "spot": True, "need": 1, "region": "europe-west1"}
    assert "compute.googleapis.com/preemptible_nvidia_t4_gpus" in req.fix
    assert not by_kind(doctor.requirements(dev), "quota")


def test_permissions_follow_the_resource_types(prod, dev):
    prod_perms, dev_perms = by_kind(doctor.requirements(prod), "permission"), by_kind(doctor.requirements(dev), "permission")
    assert {"compute.instanceTemplates.create", "compute.instanceGroupManagers.create", "iam.serviceAccounts.actAs",
            "serviceusage.services.enable", "storage.buckets.create"} <= set(prod_perms)
    assert {"run.services.create", "iam.serviceAccounts.actAs"} <= set(dev_perms)
    # A budget lives on the billing account: its permission is tested there, not on the project.
    budget = prod_perms["billing.budgets.create"]
    assert budget.data == {"scope": "billing", "account": BILLING_ACCOUNT}
    assert "billing.budgets.create" not in dev_perms


# -- live checks -----------------------------------------------------------------------------------
def services_answer(disabled=()):
    def answer(request: httpx.Request) -> httpx.Response:
        assert request.headers["Authorization"] == "Bearer ya29.recorded"
        names = request.url.params.get_list("names")
        assert 0 < len(names) <= 30  # batchGet takes at most 30 names
        return httpx.Response(200, json={"services": [
            {"name": n, "config": {"name": n.rsplit("/", 1)[-1]}, "parent": f"projects/{PROJECT}",
             "state": "DISABLED" if n.rsplit("/", 1)[-1] in disabled else "ENABLED"} for n in names]})
    return answer


def permissions_answer(denied=()):
    def answer(request: httpx.Request) -> httpx.Response:
        asked = json.loads(request.content)["permissions"]
        return httpx.Response(200, json={"permissions": [p for p in asked if p not in denied]})
    return answer


def test_everything_ok_spot_falls_back_to_standard_gpu_quota(prod):
    # No PREEMPTIBLE_NVIDIA_T4_GPUS quota but NVIDIA_T4_GPUS 1: Spot VMs use the standard GPU quota when the
    # project has no preemptible one ("GPUs on Spot VMs", About GPUs; "Preemptible quotas").
    with respx.mock(assert_all_called=True) as mock:
        mock.get(BATCH_GET).mock(side_effect=services_answer())
        mock.get(REGION).respond(200, json=FIXTURES["region_t4_standard_only"])
        mock.post(PROJECT_PERMS).mock(side_effect=permissions_answer())
        mock.post(BILLING_PERMS).mock(side_effect=permissions_answer())
        checked = preflight.check(prod, cloud_reqs(prod), LIVE)
    assert {r.status for r in checked} == {Status.ok}, [(r.name, r.detail) for r in checked if r.status != Status.ok]
    assert doctor.exit_code(checked) == 0


def test_missing_api_quota_and_permissions_with_their_fixes(prod):
    with respx.mock() as mock:
        mock.get(BATCH_GET).mock(side_effect=services_answer(disabled={"cloudresourcemanager.googleapis.com"}))
        mock.get(REGION).respond(200, json=FIXTURES["region_t4_none"])
        mock.post(PROJECT_PERMS).mock(side_effect=permissions_answer(denied={"compute.instanceTemplates.create"}))
        mock.post(BILLING_PERMS).respond(200, json={})  # an empty answer: none of them is granted
        checked = {(r.kind, r.name): r for r in preflight.check(prod, cloud_reqs(prod), LIVE)}
    api = checked[("api", "cloudresourcemanager.googleapis.com")]
    assert api.status == Status.missing
    assert api.fix == f"gcloud services enable cloudresourcemanager.googleapis.com --project {PROJECT}"
    assert checked[("api", "serviceusage.googleapis.com")].status == Status.ok
    quota = checked[("quota", "PREEMPTIBLE_NVIDIA_T4_GPUS in europe-west1")]
    assert quota.status == Status.missing and "1 needed" in quota.detail
    assert checked[("permission", "compute.instanceTemplates.create")].status == Status.missing
    assert checked[("permission", "storage.buckets.create")].status == Status.ok
    assert checked[("permission", "billing.budgets.create")].status == Status.missing
    assert doctor.exit_code(checked.values()) == 1


def test_denied_throttled_and_timeout_are_unknown_with_the_reason(prod):
    with respx.mock() as mock:
        mock.get(BATCH_GET).respond(403, json=FIXTURES["denied"])
        mock.get(REGION).respond(429, json=FIXTURES["throttled"])
        mock.post(PROJECT_PERMS).mock(side_effect=httpx.ReadTimeout("read timed out"))
        mock.post(BILLING_PERMS).mock(side_effect=httpx.ConnectError("no route"))
        checked = preflight.check(prod, cloud_reqs(prod), LIVE)
    by = {r.kind: r for r in checked}
    assert {r.status for r in checked} == {Status.unknown}
    assert "denied (HTTP 403)" in by["api"].detail and "serviceusage.services.get" in by["api"].detail
    assert "throttled (HTTP 429)" in by["quota"].detail
    assert "timeout" in next(r for r in checked if r.name == "storage.buckets.create").detail
    assert "ConnectError" in next(r for r in checked if r.name == "billing.budgets.create").detail
    assert doctor.exit_code(checked) == 0


def test_one_call_per_answer(prod):
    with respx.mock() as mock:
        services = mock.get(BATCH_GET).mock(side_effect=services_answer())
        region = mock.get(REGION).respond(200, json=FIXTURES["region_t4_standard_only"])
        perms = mock.post(PROJECT_PERMS).mock(side_effect=permissions_answer())
        mock.post(BILLING_PERMS).mock(side_effect=permissions_answer())
        preflight.check(prod, cloud_reqs(prod), LIVE)
    assert (services.call_count, region.call_count, perms.call_count) == (1, 1, 1)


def test_no_credentials_is_exit_4(prod, tmp_path):
    live = LiveContext(env={}, home=tmp_path, config={}, timeout=2)
    with pytest.raises(doctor.CredentialsAbsent) as err:
        doctor.check(prod, live)
    assert err.value.exit_code == 4 and "gcloud auth application-default login" in err.value.message


def test_quota_project_header_with_user_credentials(prod):
    # User credentials bill calls to a quota project sent as x-goog-user-project ("Set the quota project").
    from dataclasses import replace as with_

    live = with_(LIVE, env={**LIVE.env, "GOOGLE_CLOUD_QUOTA_PROJECT": "billing-project"})
    seen = []

    def answer(request):
        seen.append(request.headers.get("x-goog-user-project"))
        return services_answer()(request)

    with respx.mock() as mock:
        mock.get(BATCH_GET).mock(side_effect=answer)
        preflight.check(prod, [r for r in cloud_reqs(prod) if r.kind == "api"], live)
    assert seen == ["billing-project"]


def test_every_resource_type_of_the_built_in_plans_has_its_permissions(prod, dev):
    # testIamPermissions can only vouch for what it is asked about: a type with no entry would pass unchecked.
    for plan in (prod, dev):
        untabled = {r.type for r in plan.custom() if r.type.startswith("gcp:") and r.type not in preflight.PERMISSIONS
                    and r.type != preflight.BUDGET_TYPE}
        assert not untabled, f"add the IAM permissions these types take to preflight.PERMISSIONS: {sorted(untabled)}"
