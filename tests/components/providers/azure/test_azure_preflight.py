"""`mlinfra doctor` on Azure: requirements derived from the built-in plans; live ARM REST checks against
recorded answers with respx (tests/fixtures/doctor/azure.json): ok / missing / denied / throttled / timeout."""
from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
import respx

from components.providers.azure import preflight
from stacks import doctor
from stacks.doctor import LiveContext, Status
from stacks.offline import plan_environment
from tests.helpers import PROJECT_DIR

REAL_TOKEN = preflight.token  # the autouse fixture below stands a recorded token in for it
FIXTURES = json.loads((Path(__file__).resolve().parents[3] / "fixtures" / "doctor" / "azure.json").read_text())
SUB = "00000000-0000-0000-0000-00000000abcd"
LIVE = LiveContext(env={"ARM_SUBSCRIPTION_ID": SUB}, home=Path("/nonexistent"), config={}, timeout=2)
ARM = f"https://management.azure.com/subscriptions/{SUB}"
# API versions the doctor pins (each documented on its REST reference page).
VERSIONS = {"providers": "2021-04-01", "features": "2021-07-01", "usages": "2024-07-01", "permissions": "2022-04-01",
            "roleAssignments": "2022-04-01"}
OID = "11111111-2222-3333-4444-555555555555"
# An ARM token is a JWT whose payload names the caller's object id (`oid`); the signature is ARM's business.
TOKEN = "eyJhbGciOiJub25lIn0." + __import__("base64").urlsafe_b64encode(
    json.dumps({"oid": OID}).encode()).decode().rstrip("=") + ".sig"


@pytest.fixture(scope="module")
def prod():
    return plan_environment(PROJECT_DIR, "prod", "azure")


@pytest.fixture(scope="module")
def dev():
    return plan_environment(PROJECT_DIR, "dev", "azure")


@pytest.fixture(autouse=True)
def token(monkeypatch):
    monkeypatch.setattr(preflight, "token", lambda live: TOKEN)


def by_kind(reqs, kind):
    return {r.name: r for r in reqs if r.kind == kind}


def cloud_reqs(plan):
    return [r for r in doctor.requirements(plan) if r.kind != "tool"]


# -- derivation ------------------------------------------------------------------------------------
def test_resource_providers_from_the_plan(dev, prod):
    # Container Apps need Microsoft.App and Microsoft.OperationalInsights ("Quickstart: Deploy your first
    # container app"); Microsoft.Resources / Authorization / Consumption are registered by default.
    dev_ns, prod_ns = set(by_kind(doctor.requirements(dev), "provider")), set(by_kind(doctor.requirements(prod), "provider"))
    assert {"Microsoft.App", "Microsoft.OperationalInsights", "Microsoft.ContainerRegistry", "Microsoft.Storage"} <= dev_ns
    assert {"Microsoft.Compute", "Microsoft.Network"} <= prod_ns and "Microsoft.App" not in prod_ns
    assert not {"Microsoft.Resources", "Microsoft.Authorization", "Microsoft.Consumption"} & (dev_ns | prod_ns)
    assert by_kind(doctor.requirements(dev), "provider")["Microsoft.App"].fix.startswith(
        "az provider register --namespace Microsoft.App")


def test_encryption_at_host_needs_the_subscription_feature(prod, dev):
    # "You must enable the feature for your subscription before you can use encryption at host".
    features = by_kind(doctor.requirements(prod), "feature")
    assert list(features) == ["Microsoft.Compute/EncryptionAtHost"]
    assert "az feature register --namespace Microsoft.Compute --name EncryptionAtHost" in \
        features["Microsoft.Compute/EncryptionAtHost"].fix
    assert not by_kind(doctor.requirements(dev), "feature")


def test_vcpu_quota_per_family_and_spot(prod):
    # Regular VMs count against their family (Fsv2: standardFSv2Family) and "Total Regional vCPUs"
    # (cores); Spot VMs against lowPriorityCores only (Azure Spot VMs, "Quota"). Standard_F2s_v2 has
    # 2 vCPUs and Standard_NC4as_T4_v3 4 (VM sizes pages); each serving scale set may grow to its autoscale
    # maximum, and the quota must hold all of them at once.
    quotas = by_kind(doctor.requirements(prod), "quota")
    assert set(quotas) == {"cores in westeurope", "standardFSv2Family in westeurope", "lowPriorityCores in westeurope"}
    serving_max = sum(max(int(p["capacity"]["maximum"]) for p in a.inputs["profiles"])
                      for a in prod.of_type("azure-native:monitor:AutoscaleSetting"))
    assert all(r.inputs["sku"]["name"] == "Standard_F2s_v2" for r in prod.of_type("azure-native:compute:VirtualMachineScaleSet")
               if r.inputs.get("virtualMachineProfile", {}).get("priority") != "Spot")
    assert quotas["standardFSv2Family in westeurope"].data["need"] == 2 * serving_max
    assert quotas["cores in westeurope"].data["need"] == 2 * serving_max  # the spot GPU is not in cores
    assert quotas["lowPriorityCores in westeurope"].data["need"] == 4


@pytest.mark.parametrize("size, family", [
    ("Standard_NC4as_T4_v3", "standardNCASv3_T4Family"),
    ("Standard_NV36ads_A10_v5", "StandardNVADSA10v5Family"),
    ("Standard_NC24ads_A100_v4", "StandardNCADSA100v4Family"),
    ("Standard_D4s_v5", "standardDSv5Family"),
    ("Standard_F2s_v2", "standardFSv2Family"),
])
def test_family_names(size, family):
    assert preflight.family_of(size) == family


def test_role_assignments_need_the_deployer_right(dev):
    # Creating role assignments takes Microsoft.Authorization/roleAssignments/write (Owner, User Access
    # Administrator or Role Based Access Control Administrator; not Contributor).
    perms = by_kind(doctor.requirements(dev), "permission")
    assert list(perms) == ["Microsoft.Authorization/roleAssignments/write"]
    assert perms["Microsoft.Authorization/roleAssignments/write"].data == {"resource_group": "digits-dev-rg"}


# -- live checks -----------------------------------------------------------------------------------
def arm(answers: dict):
    """A fake ARM: answers by path suffix; checks the bearer token and the pinned api-version."""
    def answer(request: httpx.Request) -> httpx.Response:
        assert request.method == "GET" and request.headers["Authorization"] == f"Bearer {TOKEN}"
        path = request.url.path
        kind = ("features" if "/Microsoft.Features/" in path else "usages" if path.endswith("/usages")
                else "permissions" if path.endswith("/Microsoft.Authorization/permissions")
                else "roleAssignments" if path.endswith("/Microsoft.Authorization/roleAssignments") else "providers")
        if kind == "roleAssignments":
            assert request.url.params["$filter"] == f"atScope() and assignedTo('{OID}')"
        assert request.url.params["api-version"] == VERSIONS[kind]
        for suffix, reply in answers.items():
            if path.endswith(suffix):
                if isinstance(reply, Exception):
                    raise reply
                status, body = reply
                return httpx.Response(status, json=body)
        return httpx.Response(200, json=FIXTURES["provider_registered"])
    return answer


def run(plan, answers):
    with respx.mock() as mock:
        route = mock.route(host="management.azure.com").mock(side_effect=arm(answers))
        checked = preflight.check(plan, cloud_reqs(plan), LIVE)
    return {(r.kind, r.name): r for r in checked}, route


def test_everything_ok(prod, monkeypatch):
    usages = json.loads(json.dumps(FIXTURES["usages_westeurope"]))
    for row in usages["value"]:
        row["limit"] = 100
    checked, route = run(prod, {
        "/features/EncryptionAtHost": (200, FIXTURES["feature_registered"]),
        "/locations/westeurope/usages": (200, usages),
        "/resourceGroups/digits-prod-rg/providers/Microsoft.Authorization/permissions": (200, FIXTURES["permissions_owner"]),
    })
    assert {r.status for r in checked.values()} == {Status.ok}, [(k, r.detail) for k, r in checked.items()]
    assert doctor.exit_code(checked.values()) == 0
    usage_calls = [c for c in route.calls if c.request.url.path.endswith("/usages")]
    assert len(usage_calls) == 1  # one Usage - List answers every quota of the location


def test_missing_provider_feature_quota_and_contributor_cannot_assign_roles(prod):
    checked, _ = run(prod, {
        "/providers/Microsoft.Network": (200, {**FIXTURES["provider_not_registered"], "namespace": "Microsoft.Network"}),
        "/features/EncryptionAtHost": (200, FIXTURES["feature_not_registered"]),
        "/locations/westeurope/usages": (200, FIXTURES["usages_westeurope"]),
        "/resourceGroups/digits-prod-rg/providers/Microsoft.Authorization/permissions":
            (200, FIXTURES["permissions_contributor"]),
    })
    assert checked[("provider", "Microsoft.Network")].status == Status.missing
    assert checked[("provider", "Microsoft.Compute")].status == Status.ok
    assert checked[("feature", "Microsoft.Compute/EncryptionAtHost")].status == Status.missing
    spot = checked[("quota", "lowPriorityCores in westeurope")]
    assert spot.status == Status.missing and "0 vCPUs free of 0, 4 needed" in spot.detail
    assert checked[("quota", "standardFSv2Family in westeurope")].status == Status.ok
    # Contributor's NotActions include Microsoft.Authorization/*/Write (built-in roles, Contributor).
    role = checked[("permission", "Microsoft.Authorization/roleAssignments/write")]
    assert role.status == Status.missing and f"/subscriptions/{SUB}" in role.fix
    assert doctor.exit_code(checked.values()) == 1


def test_denied_throttled_timeout_and_no_group_yet_are_unknown(prod):
    checked, _ = run(prod, {
        "/providers/Microsoft.Network": (403, {"error": {"code": "AuthorizationFailed", "message": "no read"}}),
        "/features/EncryptionAtHost": (429, FIXTURES["throttled"]),
        "/locations/westeurope/usages": httpx.ReadTimeout("read timed out"),
        "/resourceGroups/digits-prod-rg/providers/Microsoft.Authorization/permissions": (404, FIXTURES["not_found"]),
        "/providers/Microsoft.Authorization/roleAssignments": (200, {"value": []}),
    })
    network = checked[("provider", "Microsoft.Network")]
    assert network.status == Status.unknown and "denied (HTTP 403): no read" in network.detail
    feature = checked[("feature", "Microsoft.Compute/EncryptionAtHost")]
    assert feature.status == Status.unknown and "throttled" in feature.detail
    assert all(r.status == Status.unknown and "timeout" in r.detail for k, r in checked.items() if k[0] == "quota")
    role = checked[("permission", "Microsoft.Authorization/roleAssignments/write")]
    assert role.status == Status.unknown and "does not exist yet" in role.detail
    assert doctor.exit_code(checked.values()) == 0


@pytest.mark.parametrize("role, status", [
    ("Owner", Status.ok), ("Role Based Access Control Administrator", Status.ok), ("AcrPush", Status.unknown)])
def test_before_the_group_exists_a_deployer_role_on_the_subscription_counts(prod, role, status):
    # The group is created by the program; a role assigned at the subscription is inherited by it.
    from components.providers.azure import roles

    guid = roles.BUILT_IN_ROLES[role].guid
    assignment = {"properties": {"scope": f"/subscriptions/{SUB}", "principalId": OID,
                                 "roleDefinitionId": f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{guid}"}}
    checked, _ = run(prod, {
        "/resourceGroups/digits-prod-rg/providers/Microsoft.Authorization/permissions": (404, FIXTURES["not_found"]),
        "/providers/Microsoft.Authorization/roleAssignments": (200, {"value": [assignment]}),
    })
    req = checked[("permission", "Microsoft.Authorization/roleAssignments/write")]
    assert req.status == status
    if status == Status.ok:
        assert req.detail == f"{role} at /subscriptions/{SUB}"


@pytest.mark.parametrize("actions, not_actions, allowed", [
    (["*"], [], True),  # Owner
    (["*"], ["Microsoft.Authorization/*/Write"], False),  # Contributor
    (["Microsoft.Authorization/roleAssignments/*"], [], True),  # Role Based Access Control Administrator
    (["*/read"], [], False),  # Reader
])
def test_effective_permissions_rule(actions, not_actions, allowed):
    # Azure RBAC: allowed = matched by Actions and not by NotActions; wildcards, case-insensitive.
    assert preflight._allows([{"actions": actions, "notActions": not_actions}],
                             "Microsoft.Authorization/roleAssignments/write") is allowed


def test_no_credentials_is_exit_4(prod, tmp_path):
    live = LiveContext(env={}, home=tmp_path, config={}, timeout=2)
    with pytest.raises(doctor.CredentialsAbsent) as err:
        doctor.check(prod, live)
    assert err.value.exit_code == 4 and "az login" in err.value.message


SP_LIVE = LiveContext(env={"ARM_SUBSCRIPTION_ID": SUB, "ARM_CLIENT_ID": "app", "ARM_TENANT_ID": "tenant",
                           "ARM_CLIENT_SECRET": "secret"}, home=Path("/nonexistent"), config={}, timeout=2)


def test_sign_in_service_unreachable_is_unknown_not_missing_credentials(prod, monkeypatch):
    import azure.identity
    from azure.core.exceptions import ClientAuthenticationError, ServiceRequestError

    def unreachable(self, *scopes, **kwargs):
        try:
            raise ServiceRequestError("Failed to resolve 'login.microsoftonline.com'")
        except ServiceRequestError as inner:
            raise ClientAuthenticationError("Authentication failed") from inner

    monkeypatch.setattr(preflight, "token", REAL_TOKEN)
    monkeypatch.setattr(azure.identity.ClientSecretCredential, "get_token", unreachable)
    checked = preflight.check(prod, cloud_reqs(prod), SP_LIVE)
    assert {r.status for r in checked} == {Status.unknown}
    assert all("could not reach Microsoft Entra ID" in r.detail for r in checked)


def test_refused_credentials_are_exit_4(prod, monkeypatch):
    import azure.identity
    from azure.core.exceptions import ClientAuthenticationError

    def refused(self, *scopes, **kwargs):
        raise ClientAuthenticationError("AADSTS7000215: Invalid client secret provided.")

    monkeypatch.setattr(preflight, "token", REAL_TOKEN)
    monkeypatch.setattr(azure.identity.ClientSecretCredential, "get_token", refused)
    with pytest.raises(doctor.CredentialsAbsent) as err:
        preflight.check(prod, cloud_reqs(prod), SP_LIVE)
    assert err.value.exit_code == 4 and "AADSTS7000215" in err.value.message
