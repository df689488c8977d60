"""Azure prerequisites of a plan (`mlinfra doctor`): resource providers, subscription features,
regional vCPU quota per VM family, and the deployer's right to create role assignments.

Live checks are plain ARM REST over httpx with a token from azure-identity; every call is a GET
with the context's timeout. Sources are cited at each table.
"""
from __future__ import annotations

import json
import logging
from collections import defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Any, Optional

from components import catalog
from components.providers.azure import prerequisites, roles
from stacks.doctor import (CredentialsAbsent, LiveContext, Requirement, Status, Unknown, Unreachable, once, rest_json,
                           settle, why)

CLOUD = "azure"
ARM = "https://management.azure.com"
ARM_SCOPE = "https://management.azure.com/.default"

# Resource providers per type, subscription features and the deployer's role come from the Azure
# program's own tables (components/providers/azure/prerequisites.py and roles.py, sources cited there),
# so the program and the doctor agree.

# VM size -> (quota family as the Compute usages API names it, vCPUs). The family is the `family`
# of the size in the Resource SKUs API and the `name.value` of its row in
# `az vm list-usage` / Microsoft.Compute usages (https://learn.microsoft.com/azure/virtual-machines/quotas);
# names compared case-insensitively because the API's casing differs between families.
# GPU sizes: https://learn.microsoft.com/azure/virtual-machines/sizes/overview (GPU accelerated).
VM_FAMILIES: dict[str, str] = {
    "Standard_NC4as_T4_v3": "standardNCASv3_T4Family",
    "Standard_NC8as_T4_v3": "standardNCASv3_T4Family",
    "Standard_NC16as_T4_v3": "standardNCASv3_T4Family",
    "Standard_NC64as_T4_v3": "standardNCASv3_T4Family",
    "Standard_NV36ads_A10_v5": "StandardNVADSA10v5Family",
    "Standard_NV72ads_A10_v5": "StandardNVADSA10v5Family",
    "Standard_NC24ads_A100_v4": "StandardNCADSA100v4Family",
    "Standard_NC48ads_A100_v4": "StandardNCADSA100v4Family",
    "Standard_NC96ads_A100_v4": "StandardNCADSA100v4Family",
    "Standard_ND96asr_v4": "standardNDASv4_A100Family",
    "Standard_NC40ads_H100_v5": "StandardNCadsH100v5Family",
    "Standard_NC80adis_H100_v5": "StandardNCadsH100v5Family",
    "Standard_ND96isr_H100_v5": "standardNDSH100v5Family",
}
# Serving sizes (components/providers/azure/sizes.py VM_SIZES): series -> family.
_SERIES_FAMILY = (("_v5", "s_v5", {"D": "standardDSv5Family", "E": "standardESv5Family"}),
                  ("_v2", "s_v2", {"F": "standardFSv2Family"}))
# "Increase Spot vCPU quotas" (https://learn.microsoft.com/azure/quotas/spot-quota): standard vCPU
# quotas are enforced at two tiers, the total regional vCPUs and the VM family; "Spot vCPU quotas apply
# to Spot VMs across all VM families (SKUs)". In the usages API those are `cores` ("Total Regional
# vCPUs"), the family row, and `lowPriorityCores` ("Total Regional Low-priority vCPUs").
SPOT_QUOTA = "lowPriorityCores"
TOTAL_QUOTA = "cores"

ROLE_ASSIGNMENT_WRITE = roles.DEPLOYER_ACTION


def family_of(size: str) -> Optional[str]:
    if size in VM_FAMILIES:
        return VM_FAMILIES[size]
    for suffix, tail, families in _SERIES_FAMILY:
        if size.endswith(tail) and size.startswith("Standard_"):
            letter = size.removeprefix("Standard_")[:1]
            if letter in families:
                return families[letter]
    return None


def vcpus_of(size: str) -> Optional[int]:
    offer = next((o for o in catalog.offers(CLOUD) if o.machine_type == size), None)
    if offer:
        return offer.vcpus
    from components.providers.azure.sizes import VM_SIZES

    return next((v for name, v, _ in VM_SIZES if name == size), None)


# -- derivation from the plan --------------------------------------------------------------------
def _max_capacity(plan: Any, vmss: Any) -> int:
    """The most instances the scale set may run: its autoscale maximum, else its capacity (at least 1,
    so that a template with no machine running still needs quota for its first one)."""
    name = str(vmss.inputs.get("vmScaleSetName") or vmss.name)
    capacity = int((vmss.inputs.get("sku") or {}).get("capacity") or 0)
    for auto in plan.of_type("azure-native:monitor:AutoscaleSetting"):
        if str(auto.inputs.get("targetResourceUri", "")).lower().endswith(f"/virtualmachinescalesets/{name.lower()}"):
            for profile in auto.inputs.get("profiles") or []:
                capacity = max(capacity, int((profile.get("capacity") or {}).get("maximum") or 0))
    return max(capacity, 1)


def _location(plan: Any, resource: Any) -> str:
    return str(resource.inputs.get("location") or plan.region)


def requirements(plan: Any) -> list[Requirement]:
    reqs: list[Requirement] = []
    by_type: dict[str, list[Any]] = defaultdict(list)
    for r in plan.resources:
        by_type[r.type].append(r)
    for ns, types in prerequisites.providers_for_types(list(by_type)).items():
        users = [r for t in types for r in by_type[t]]
        reqs.append(Requirement(CLOUD, "provider", ns, why(users), f"{prerequisites.register_command(ns)} --wait"))
    for full_name in prerequisites.features_for_resources((r.type, r.inputs) for r in plan.resources):
        feature = prerequisites.feature(full_name)
        users = [r for r in plan.resources if feature.used_by(r.type, r.inputs or {})]
        reqs.append(Requirement(
            CLOUD, "feature", full_name, f"{why(users)}: {feature.why}", f"{feature.command} ({feature.source})",
            data={"namespace": feature.namespace, "feature": feature.name}))
    scale_sets = by_type.get("azure-native:compute:VirtualMachineScaleSet", [])
    # vCPU quota per scale set: spot ones against lowPriorityCores, others against family and total.
    need: dict[tuple[str, str], dict[str, Any]] = {}
    for vmss in scale_sets:
        size = str((vmss.inputs.get("sku") or {}).get("name") or "")
        vcpus = vcpus_of(size)
        if not vcpus:
            continue
        spot = (vmss.inputs.get("virtualMachineProfile") or {}).get("priority") == "Spot"
        location = _location(plan, vmss)
        count = _max_capacity(plan, vmss)
        quotas = [SPOT_QUOTA] if spot else [q for q in (family_of(size), TOTAL_QUOTA) if q]
        for quota in quotas:
            entry = need.setdefault((quota, location), {"vcpus": 0, "users": [], "sizes": set()})
            entry["vcpus"] += vcpus * count
            entry["users"].append(vmss)
            entry["sizes"].add(f"{count} x {size} ({vcpus} vCPU{', Spot' if spot else ''})")
    for (quota, location), entry in sorted(need.items()):
        reqs.append(Requirement(
            CLOUD, "quota", f"{quota} in {location}", f"{why(entry['users'])}: {', '.join(sorted(entry['sizes']))}",
            f"request {entry['vcpus']} vCPUs: https://portal.azure.com/#view/Microsoft_Azure_Capacity/QuotaMenuBlade"
            f"/~/myQuotas (Compute, {location}, {quota}); see https://learn.microsoft.com/azure/quotas/per-vm-quota-requests",
            data={"quota": quota, "location": location, "need": entry["vcpus"]}))
    assignments = by_type.get("azure-native:authorization:RoleAssignment", [])
    if assignments:
        groups = by_type.get("azure-native:resources:ResourceGroup", [])
        group = str(groups[0].inputs.get("resourceGroupName") or groups[0].name) if groups else ""
        reqs.append(Requirement(
            CLOUD, "permission", ROLE_ASSIGNMENT_WRITE, why(assignments),
            roles.DEPLOYER_REQUIREMENT,
            data={"resource_group": group}))
    return reqs


# -- live checks ---------------------------------------------------------------------------------
# API versions: Providers - Get 2021-04-01 (https://learn.microsoft.com/rest/api/resources/providers/get),
# Features - Get 2021-07-01 (https://learn.microsoft.com/rest/api/resources/features/get),
# Usage - List 2024-07-01 (https://learn.microsoft.com/rest/api/compute/usage/list),
# Permissions - List For Resource Group 2022-04-01 (https://learn.microsoft.com/rest/api/authorization/permissions).
PROVIDERS_API = "2021-04-01"
FEATURES_API = "2021-07-01"
USAGES_API = "2024-07-01"
PERMISSIONS_API = "2022-04-01"


def token(live: LiveContext, scope: str = ARM_SCOPE) -> str:
    """A token for `scope` (ARM by default) from azure-identity: the ARM_* service principal the Pulumi
    provider uses, else DefaultAzureCredential (AZURE_* variables, workload identity, managed identity,
    `az login`)."""
    try:
        from azure.core.exceptions import ClientAuthenticationError, ServiceRequestError, ServiceResponseError
        from azure.identity import ClientSecretCredential, DefaultAzureCredential
    except ImportError:
        raise CredentialsAbsent("the Azure checks need azure-identity: pip install 'mlinfra-iac[cloud]'") from None
    env = live.env
    try:
        if env.get("ARM_CLIENT_ID") and env.get("ARM_TENANT_ID") and env.get("ARM_CLIENT_SECRET"):
            cred = ClientSecretCredential(env["ARM_TENANT_ID"], env["ARM_CLIENT_ID"], env["ARM_CLIENT_SECRET"],
                                          connection_timeout=live.timeout, read_timeout=live.timeout)
        else:
            cred = DefaultAzureCredential(process_timeout=int(live.timeout))
        # azure-identity logs each failed attempt as a warning; the doctor says it once, in its own words.
        logging.getLogger("azure.identity").setLevel(logging.ERROR)
        return cred.get_token(scope).token
    except (ServiceRequestError, ServiceResponseError) as exc:
        raise Unreachable(f"could not reach Microsoft Entra ID for a token: {exc}"[:300]) from None
    except ClientAuthenticationError as exc:
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, (ServiceRequestError, ServiceResponseError)):
            # The sign-in service did not answer: that says nothing about the credentials themselves.
            raise Unreachable(f"could not reach Microsoft Entra ID for a token: {cause}"[:300]) from None
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise CredentialsAbsent(f"no usable Azure credentials ({first}); run `az login`, or set ARM_CLIENT_ID, "
                                "ARM_TENANT_ID and ARM_CLIENT_SECRET") from None


def subscription(live: LiveContext) -> str:
    """The subscription the program deploys to: stack config, ARM_/AZURE_SUBSCRIPTION_ID, or `az login`'s default."""
    found = live.config.get("azure-native:subscriptionId") or live.env.get("ARM_SUBSCRIPTION_ID") \
        or live.env.get("AZURE_SUBSCRIPTION_ID")
    if found:
        return found
    profile = Path(live.env.get("AZURE_CONFIG_DIR") or live.home / ".azure") / "azureProfile.json"
    try:
        doc = json.loads(profile.read_text(encoding="utf-8-sig"))
        found = next((s["id"] for s in doc.get("subscriptions", []) if s.get("isDefault")), None)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        found = None
    if not found:
        raise CredentialsAbsent("no Azure subscription to check: set ARM_SUBSCRIPTION_ID, or "
                                "`az account set --subscription <id>`")
    return found


def check(plan: Any, reqs: list[Requirement], live: LiveContext) -> list[Requirement]:
    import httpx

    sub = subscription(live)
    try:
        bearer = token(live)
    except Unknown as exc:
        return [r.settled(Status.unknown, exc.reason) for r in reqs]
    reqs = [replace(r, fix=r.fix.replace("<subscription-id>", sub)) for r in reqs]
    memo: dict[str, Any] = {"_oid": _claim(bearer, "oid")}
    with httpx.Client(timeout=live.timeout, headers={"Authorization": f"Bearer {bearer}"}) as client:
        return [settle(r, lambda r: _check_one(client, sub, r, memo)) for r in reqs]


def _check_one(client: Any, sub: str, req: Requirement, memo: dict[str, Any]) -> tuple[Status, str]:
    base = f"{ARM}/subscriptions/{sub}"
    if req.kind == "provider":
        body = rest_json(client, "GET", f"{base}/providers/{req.name}", "Providers - Get",
                         params={"api-version": PROVIDERS_API})
        state = str(body.get("registrationState") or "")
        return (Status.ok, state) if state == "Registered" else (Status.missing, f"{state or 'unknown state'}")
    if req.kind == "feature":
        ns, feature = req.data["namespace"], req.data["feature"]
        try:
            body = rest_json(client, "GET", f"{base}/providers/Microsoft.Features/providers/{ns}/features/{feature}",
                             "Features - Get", params={"api-version": FEATURES_API})
        except LookupError as exc:
            raise Unknown(str(exc)) from None
        state = str((body.get("properties") or {}).get("state") or "")
        return (Status.ok, state) if state == "Registered" else (Status.missing, state or "NotRegistered")
    if req.kind == "quota":
        location = req.data["location"]
        usages = once(memo, f"usages:{location}", lambda: _usages(client, base, location))
        row = usages.get(req.data["quota"].lower())
        if row is None:
            return Status.missing, f"no {req.data['quota']} quota in {location} (the size is not offered to this subscription)"
        free = float(row.get("limit") or 0) - float(row.get("currentValue") or 0)
        need = int(req.data["need"])
        detail = f"{free:g} vCPUs free of {float(row.get('limit') or 0):g}, {need} needed"
        return (Status.ok, detail) if free >= need else (Status.missing, detail)
    if req.kind == "permission":
        group = req.data.get("resource_group")
        try:
            body = rest_json(client, "GET", f"{base}/resourceGroups/{group}/providers/Microsoft.Authorization/permissions",
                             "Permissions - List For Resource Group", params={"api-version": PERMISSIONS_API})
        except LookupError:
            # The program creates the group: the permissions API has nothing to answer for yet, so look
            # for a built-in deployer role assigned at the subscription or above instead.
            return _deployer_role(client, base, memo.get("_oid"), group)
        allowed = _allows(body.get("value") or [], req.name)
        return (Status.ok, "allowed") if allowed else (Status.missing, f"not allowed on resource group {group}")
    raise Unknown(f"no live check for {req.kind}")


# Role Assignments - List For Subscription 2022-04-01 with `$filter=atScope() and assignedTo('{id}')`:
# the caller's assignments (groups included) at the subscription and above, which the new resource
# group inherits (https://learn.microsoft.com/rest/api/authorization/role-assignments/list-for-subscription).
ROLE_ASSIGNMENTS_API = "2022-04-01"


def _claim(jwt: str, name: str) -> Optional[str]:
    """A claim of an ARM access token (a JWT; read, not verified: ARM verifies it) such as `oid`."""
    import base64

    try:
        payload = jwt.split(".")[1]
        return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))).get(name)
    except (IndexError, ValueError, AttributeError):
        return None


def _deployer_role(client: Any, base: str, oid: Optional[str], group: str) -> tuple[Status, str]:
    if not oid:
        raise Unknown(f"resource group {group} does not exist yet and the token names no object id to look up")
    body = rest_json(client, "GET", f"{base}/providers/Microsoft.Authorization/roleAssignments",
                     "Role Assignments - List For Subscription",
                     params={"api-version": ROLE_ASSIGNMENTS_API, "$filter": f"atScope() and assignedTo('{oid}')"})
    deployer = {roles.BUILT_IN_ROLES[name].guid: name for name in roles.DEPLOYER_ROLES}
    for assignment in body.get("value") or []:
        props = assignment.get("properties") or {}
        guid = str(props.get("roleDefinitionId", "")).rsplit("/", 1)[-1].lower()
        if guid in deployer:
            condition = " (with a condition on the roles it may assign)" if props.get("condition") else ""
            return Status.ok, f"{deployer[guid]} at {props.get('scope')}{condition}"
    # A custom role may still grant the action: say so instead of blocking the deploy.
    raise Unknown(f"resource group {group} does not exist yet and no Owner, User Access Administrator or Role "
                  "Based Access Control Administrator assignment covers the subscription (a custom role may)")


def _usages(client: Any, base: str, location: str) -> dict[str, dict]:
    body = rest_json(client, "GET", f"{base}/providers/Microsoft.Compute/locations/{location}/usages",
                     "Usage - List", params={"api-version": USAGES_API})
    return {str((u.get("name") or {}).get("value", "")).lower(): u for u in body.get("value") or []}


def _matches(pattern: str, action: str) -> bool:
    """Azure RBAC action wildcards: `*` matches any run of characters, case-insensitively
    (https://learn.microsoft.com/azure/role-based-access-control/role-definitions#actions)."""
    import fnmatch

    return fnmatch.fnmatchcase(action.lower(), pattern.lower().replace("[", "[[]"))


def _allows(permissions: list[dict], action: str) -> bool:
    """Effective permissions: an action is allowed when some entry's actions match it and that same
    entry's notActions do not (https://learn.microsoft.com/azure/role-based-access-control/role-definitions#notactions)."""
    for perm in permissions:
        if any(_matches(p, action) for p in perm.get("actions") or []) and \
                not any(_matches(p, action) for p in perm.get("notActions") or []):
            return True
    return False
