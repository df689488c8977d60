"""GCP prerequisites of a plan (`mlinfra doctor`): APIs, regional GPU quota, IAM permissions.

Live checks are plain REST over httpx with an OAuth access token (google-auth's application
default credentials, or GOOGLE_OAUTH_ACCESS_TOKEN as the Pulumi provider reads it); every call
is read-only and has the context's timeout. Sources are cited at each table.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from typing import Any, Iterable, Optional

from components import catalog
from components.providers.gcp import apis
from stacks.doctor import (CredentialsAbsent, LiveContext, Requirement, Status, Unknown, Unreachable, once, rest_json,
                           settle, why)

CLOUD = "gcp"

# The API each resource type needs and the bootstrap APIs come from the GCP program's own table
# (components/providers/gcp/apis.py, sources cited there), so the program and the doctor agree.


def _apis_for(types: Iterable[str]) -> dict[str, set[str]]:
    """API -> the resource types that need it."""
    return {api: set(tokens) for api, tokens in apis.apis_for_types(types).items()}


# Resource type -> the IAM permissions creating it takes, tested on the project with
# projects.testIamPermissions. Names from the IAM permissions reference
# (https://cloud.google.com/iam/docs/permissions-reference); a name the API does not know fails the
# whole call with HTTP 400, which the doctor reports as `unknown`.
PERMISSIONS: dict[str, tuple[str, ...]] = {
    "gcp:storage/bucket:Bucket": ("storage.buckets.create",),
    "gcp:storage/bucketIAMMember:BucketIAMMember": ("storage.buckets.setIamPolicy",),
    "gcp:artifactregistry/repository:Repository": ("artifactregistry.repositories.create",),
    "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember": ("artifactregistry.repositories.setIamPolicy",),
    "gcp:cloudrunv2/service:Service": ("run.services.create", "iam.serviceAccounts.actAs"),
    "gcp:cloudrunv2/serviceIamMember:ServiceIamMember": ("run.services.setIamPolicy",),
    "gcp:serviceaccount/account:Account": ("iam.serviceAccounts.create",),
    "gcp:projects/iAMMember:IAMMember": ("resourcemanager.projects.setIamPolicy",),
    "gcp:projects/service:Service": ("serviceusage.services.enable",),
    "gcp:compute/instanceTemplate:InstanceTemplate": ("compute.instanceTemplates.create", "iam.serviceAccounts.actAs"),
    # Regional managed instance groups and autoscalers use the same permissions as zonal ones
    # (https://cloud.google.com/compute/docs/access/iam-permissions).
    "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager": ("compute.instanceGroupManagers.create",),
    "gcp:compute/regionAutoscaler:RegionAutoscaler": ("compute.autoscalers.create",),
    "gcp:compute/network:Network": ("compute.networks.create",),
    "gcp:compute/subnetwork:Subnetwork": ("compute.subnetworks.create",),
    "gcp:compute/firewall:Firewall": ("compute.firewalls.create",),
    "gcp:compute/router:Router": ("compute.routers.create",),
    "gcp:compute/routerNat:RouterNat": ("compute.routers.update",),
    "gcp:compute/healthCheck:HealthCheck": ("compute.healthChecks.create",),
    "gcp:compute/backendService:BackendService": ("compute.backendServices.create",),
    "gcp:compute/uRLMap:URLMap": ("compute.urlMaps.create",),
    "gcp:compute/targetHttpProxy:TargetHttpProxy": ("compute.targetHttpProxies.create",),
    "gcp:compute/targetHttpsProxy:TargetHttpsProxy": ("compute.targetHttpsProxies.create",),
    "gcp:compute/globalForwardingRule:GlobalForwardingRule": ("compute.globalForwardingRules.create",),
    "gcp:compute/globalAddress:GlobalAddress": ("compute.globalAddresses.create",),
    "gcp:compute/managedSslCertificate:ManagedSslCertificate": ("compute.sslCertificates.create",),
    "gcp:compute/sSLPolicy:SSLPolicy": ("compute.sslPolicies.create",),
    "gcp:compute/securityPolicy:SecurityPolicy": ("compute.securityPolicies.create",),
    "gcp:logging/projectSink:ProjectSink": ("logging.sinks.create",),
    "gcp:dns/recordSet:RecordSet": ("dns.resourceRecordSets.create", "dns.changes.create"),
    "gcp:secretmanager/secret:Secret": ("secretmanager.secrets.create",),
    "gcp:secretmanager/secretIamMember:SecretIamMember": ("secretmanager.secrets.setIamPolicy",),
    "gcp:monitoring/alertPolicy:AlertPolicy": ("monitoring.alertPolicies.create",),
    "gcp:monitoring/notificationChannel:NotificationChannel": ("monitoring.notificationChannels.create",),
    "gcp:monitoring/uptimeCheckConfig:UptimeCheckConfig": ("monitoring.uptimeCheckConfigs.create",),
}
# A budget is created on the billing account, not the project: tested there
# (billingAccounts.testIamPermissions; billing.budgets.create is in Billing Account Costs Manager,
# https://cloud.google.com/billing/docs/how-to/budget-api-overview#permissions).
BUDGET_TYPE = "gcp:billing/budget:Budget"
BUDGET_PERMISSION = "billing.budgets.create"

# GPU model (the accelerator id, components/data/accelerators.json gpu_type) -> regional quota metric.
# Metric names: Compute Engine Quota.metric enum (compute v1 `Quota`) and "GPU quota" in
# https://cloud.google.com/compute/resource-usage#gpu_quota. Spot VMs use the PREEMPTIBLE_ metric
# when the project has that quota and the standard one otherwise ("GPUs on Spot VMs",
# https://cloud.google.com/compute/docs/gpus/about-gpus#gpus-spot and "Preemptible quotas",
# https://cloud.google.com/compute/resource-usage#preemptible_quotas).
GPU_METRICS: dict[str, str] = {
    "nvidia-tesla-t4": "NVIDIA_T4_GPUS",
    "nvidia-l4": "NVIDIA_L4_GPUS",
    "nvidia-tesla-a100": "NVIDIA_A100_GPUS",
    "nvidia-a100-80gb": "NVIDIA_A100_80GB_GPUS",
    "nvidia-h100-80gb": "NVIDIA_H100_GPUS",
    "nvidia-h100-mega-80gb": "NVIDIA_H100_MEGA_GPUS",
    "nvidia-tesla-v100": "NVIDIA_V100_GPUS",
    "nvidia-tesla-p100": "NVIDIA_P100_GPUS",
    "nvidia-tesla-p4": "NVIDIA_P4_GPUS",
}


# -- derivation from the plan --------------------------------------------------------------------
def _gpus(resource: Any) -> Optional[tuple[str, int, bool]]:
    """(gpu type, count, spot) of an instance template that carries GPUs, from its inputs or the catalog."""
    inputs = resource.inputs
    sched = inputs.get("scheduling") or {}
    spot = sched.get("provisioningModel") == "SPOT" or bool(sched.get("preemptible"))
    accels = inputs.get("guestAccelerators") or []
    if accels:
        return str(accels[0].get("type")), int(sum(int(a.get("count") or 0) for a in accels)), spot
    # A2/G2/A3 machine types carry their GPUs; the catalog knows which and how many.
    offer = next((o for o in catalog.offers(CLOUD) if o.machine_type == inputs.get("machineType")), None)
    return (offer.gpu_type, offer.gpus, spot) if offer else None


def requirements(plan: Any) -> list[Requirement]:
    reqs: list[Requirement] = []
    by_type: dict[str, list[Any]] = defaultdict(list)
    for r in plan.resources:
        by_type[r.type].append(r)
    # APIs the program enables itself (gcp.projects.Service) are not prerequisites; the bootstrap ones are.
    enabled_by_plan = {str(r.inputs.get("service")) for r in by_type.get("gcp:projects/service:Service", [])}
    bootstrap = apis.BOOTSTRAP_APIS
    needed = _apis_for(by_type)
    for api in bootstrap:
        needed.setdefault(api, set())
    for api, types in sorted(needed.items()):
        if api in enabled_by_plan and api not in bootstrap:
            continue
        users = [r for t in types for r in by_type.get(t, [])]
        reason = why(users) if users else "enabling the other APIs and reading the project (bootstrap)"
        reqs.append(Requirement(
            CLOUD, "api", api, reason, f"gcloud services enable {api} --project PROJECT_ID",
            data={"api": api}))
    # Regional GPU quota for one training machine (training templates start no machine by themselves).
    for r in by_type.get("gcp:compute/instanceTemplate:InstanceTemplate", []):
        gpus = _gpus(r)
        if not gpus:
            continue
        gpu_type, count, spot = gpus
        metric = GPU_METRICS.get(gpu_type)
        if metric is None:
            continue
        name = f"PREEMPTIBLE_{metric}" if spot else metric
        reqs.append(Requirement(
            CLOUD, "quota", f"{name} in {plan.region}",
            f"{why([r])}: {count} x {gpu_type}{' on Spot VMs' if spot else ''} per machine",
            "request it at https://console.cloud.google.com/iam-admin/quotas (filter: metric "
            f"compute.googleapis.com/{name.lower()}, region {plan.region}); "
            "see https://cloud.google.com/compute/resource-usage#gpu_quota",
            data={"metric": metric, "spot": spot, "need": count, "region": plan.region}))
    perms: dict[str, list[Any]] = defaultdict(list)
    for typ, rs in by_type.items():
        for perm in PERMISSIONS.get(typ, ()):
            perms[perm].extend(rs)
    for perm, rs in sorted(perms.items()):
        reqs.append(Requirement(
            CLOUD, "permission", perm, why(rs),
            "grant the deploying identity a role that contains it: "
            "gcloud projects add-iam-policy-binding PROJECT_ID --member=user:YOU --role=ROLE "
            "(https://cloud.google.com/iam/docs/permissions-reference)",
            data={"scope": "project"}))
    for budget in by_type.get(BUDGET_TYPE, []):
        account = str(budget.inputs.get("billingAccount") or "")
        reqs.append(Requirement(
            CLOUD, "permission", BUDGET_PERMISSION, why([budget]),
            f"gcloud billing accounts add-iam-policy-binding {account or 'BILLING_ACCOUNT'} --member=user:YOU "
            "--role=roles/billing.costsManager",
            data={"scope": "billing", "account": account}))
    return reqs


# -- live checks ---------------------------------------------------------------------------------
SCOPE = "https://www.googleapis.com/auth/cloud-platform"
SERVICE_USAGE = "https://serviceusage.googleapis.com/v1"
COMPUTE = "https://compute.googleapis.com/compute/v1"
RESOURCE_MANAGER = "https://cloudresourcemanager.googleapis.com/v1"
BILLING = "https://cloudbilling.googleapis.com/v1"
PROJECT_VARS = ("GOOGLE_PROJECT", "GOOGLE_CLOUD_PROJECT", "GCLOUD_PROJECT", "CLOUDSDK_CORE_PROJECT")


def credentials(live: LiveContext) -> tuple[str, Optional[str], Optional[str]]:
    """(access token, project from the credentials, quota project). GOOGLE_OAUTH_ACCESS_TOKEN wins, as in
    the Pulumi provider; else application default credentials (google-auth), refreshed once."""
    token = live.env.get("GOOGLE_OAUTH_ACCESS_TOKEN") or live.env.get("CLOUDSDK_AUTH_ACCESS_TOKEN")
    if token:
        return token, None, live.env.get("GOOGLE_CLOUD_QUOTA_PROJECT")
    try:
        import google.auth
        import google.auth.transport.requests
        from google.auth.exceptions import DefaultCredentialsError, RefreshError, TransportError
    except ImportError:
        raise CredentialsAbsent("the GCP checks need google-auth: pip install 'mlinfra-iac[cloud]'") from None
    try:
        creds, project = google.auth.default(scopes=[SCOPE])
    except DefaultCredentialsError as exc:
        raise CredentialsAbsent(f"no usable GCP credentials ({exc}); run `gcloud auth application-default login` "
                                "or set GOOGLE_APPLICATION_CREDENTIALS") from None
    request = google.auth.transport.requests.Request()
    try:
        creds.refresh(_timed(request, live.timeout))
    except RefreshError as exc:
        raise CredentialsAbsent(f"GCP credentials were refused ({exc}); run "
                                "`gcloud auth application-default login` again") from None
    except TransportError as exc:
        raise Unreachable(f"could not reach Google to get a token: {exc}") from None
    return creds.token, project, getattr(creds, "quota_project_id", None)


def _timed(request: Any, timeout: float) -> Any:
    def call(*args: Any, **kwargs: Any) -> Any:
        kwargs["timeout"] = timeout
        return request(*args, **kwargs)
    return call


def _project(plan: Any, live: LiveContext, from_creds: Optional[str]) -> str:
    project = live.config.get("gcp:project") or next((live.env[v] for v in PROJECT_VARS if live.env.get(v)), None) \
        or from_creds
    if not project:
        raise CredentialsAbsent("no GCP project to check: set GOOGLE_PROJECT, or `pulumi config set gcp:project <id>`")
    return project


def check(plan: Any, reqs: list[Requirement], live: LiveContext) -> list[Requirement]:
    import httpx

    try:
        token, from_creds, quota_project = credentials(live)
    except Unknown as exc:
        return [r.settled(Status.unknown, exc.reason) for r in reqs]
    project = _project(plan, live, from_creds)
    reqs = [replace(r, fix=r.fix.replace("PROJECT_ID", project)) for r in reqs]
    memo: dict[str, Any] = {
        "_apis": [r.name for r in reqs if r.kind == "api"],
        "_perms": [r.name for r in reqs if r.kind == "permission" and r.data.get("scope") == "project"],
    }
    headers = {"Authorization": f"Bearer {token}"}
    if quota_project:
        # User credentials (gcloud auth application-default login) bill API calls to a quota project,
        # sent as x-goog-user-project ("Set the quota project", https://cloud.google.com/docs/quotas/set-quota-project).
        headers["x-goog-user-project"] = quota_project
    with httpx.Client(timeout=live.timeout, headers=headers) as client:
        return [settle(r, lambda r: _check_one(client, project, r, memo)) for r in reqs]


def _check_one(client: Any, project: str, req: Requirement, memo: dict[str, Any]) -> tuple[Status, str]:
    if req.kind == "api":
        states = once(memo, "services", lambda: _enabled_services(client, project, memo["_apis"]))
        state = states.get(req.name)
        if state == "ENABLED":
            return Status.ok, "enabled"
        return Status.missing, f"{state or 'not enabled'} in project {project}"
    if req.kind == "quota":
        region = req.data["region"]
        quotas = once(memo, f"region:{region}", lambda: _region_quotas(client, project, region))
        return _quota_status(quotas, req)
    if req.kind == "permission" and req.data.get("scope") == "billing":
        account = req.data.get("account")
        if not account:
            raise Unknown("the plan names no billing account to test")
        granted = once(memo, f"billing:{account}", lambda: _test_permissions(
            client, f"{BILLING}/billingAccounts/{account.removeprefix('billingAccounts/')}:testIamPermissions",
            [BUDGET_PERMISSION], "billingAccounts.testIamPermissions"))
        return (Status.ok, "granted on the billing account") if req.name in granted else \
            (Status.missing, f"not granted on billing account {account}")
    if req.kind == "permission":
        granted = once(memo, "project-perms", lambda: _test_permissions(
            client, f"{RESOURCE_MANAGER}/projects/{project}:testIamPermissions", memo["_perms"],
            "projects.testIamPermissions"))
        return (Status.ok, "granted") if req.name in granted else (Status.missing, f"not granted on {project}")
    raise Unknown(f"no live check for {req.kind}")


def _enabled_services(client: Any, project: str, names: list[str]) -> dict[str, str]:
    """Service Usage services.batchGet (at most 30 names per call):
    https://cloud.google.com/service-usage/docs/reference/rest/v1/services/batchGet"""
    out: dict[str, str] = {}
    for i in range(0, len(names), 30):
        chunk = names[i:i + 30]
        body = rest_json(client, "GET", f"{SERVICE_USAGE}/projects/{project}/services:batchGet",
                         "Service Usage services.batchGet",
                         params=[("names", f"projects/{project}/services/{n}") for n in chunk])
        for svc in body.get("services") or []:
            name = (svc.get("config") or {}).get("name") or str(svc.get("name", "")).rsplit("/", 1)[-1]
            out[name] = str(svc.get("state") or "")
    return out


def _region_quotas(client: Any, project: str, region: str) -> dict[str, dict]:
    """compute regions.get: the region's `quotas` [{metric, limit, usage}]
    (https://cloud.google.com/compute/docs/reference/rest/v1/regions/get)."""
    try:
        body = rest_json(client, "GET", f"{COMPUTE}/projects/{project}/regions/{region}", "Compute regions.get")
    except LookupError as exc:
        raise Unknown(str(exc)) from None
    return {str(q.get("metric")): q for q in body.get("quotas") or []}


def _quota_status(quotas: dict[str, dict], req: Requirement) -> tuple[Status, str]:
    need, metric, spot = int(req.data["need"]), req.data["metric"], bool(req.data["spot"])
    candidates = [f"PREEMPTIBLE_{metric}", metric] if spot else [metric]
    seen = []
    for name in candidates:
        q = quotas.get(name)
        if q is None:
            continue
        free = float(q.get("limit") or 0) - float(q.get("usage") or 0)
        seen.append(f"{name} {free:g} free of {float(q.get('limit') or 0):g}")
        if free >= need:
            return Status.ok, f"{name}: {free:g} free, {need} needed"
    if not seen:
        return Status.missing, f"the region has no {' or '.join(candidates)} quota (0); {need} needed"
    return Status.missing, f"{'; '.join(seen)}; {need} needed"


def _test_permissions(client: Any, url: str, permissions: list[str], what: str) -> set[str]:
    """testIamPermissions answers the subset of `permissions` the caller holds (an empty body: none)."""
    try:
        body = rest_json(client, "POST", url, what, json={"permissions": permissions})
    except LookupError as exc:
        raise Unknown(str(exc)) from None
    return set(body.get("permissions") or [])
