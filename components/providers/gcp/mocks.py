"""Realistic outputs for the offline plan: what GCP would answer for each resource and invoke."""
from __future__ import annotations

import hashlib

PROJECT = "mlinfra-mock-project"
PROJECT_NUMBER = "123456789012"
COMPUTE = "https://www.googleapis.com/compute/v1"

# Zones per region where they are not the usual a/b/c.
ZONES = {"europe-west1": ("b", "c", "d"), "us-central1": ("a", "b", "c", "f"), "us-east1": ("b", "c", "d")}

# Compute Engine types: (collection, regional?). The id is `projects/<p>/{global|regions/<r>}/<collection>/<name>`.
_COMPUTE = {
    "network:Network": ("networks", False), "firewall:Firewall": ("firewalls", False),
    "healthCheck:HealthCheck": ("healthChecks", False), "backendService:BackendService": ("backendServices", False),
    "uRLMap:URLMap": ("urlMaps", False), "targetHttpProxy:TargetHttpProxy": ("targetHttpProxies", False),
    "targetHttpsProxy:TargetHttpsProxy": ("targetHttpsProxies", False),
    "globalForwardingRule:GlobalForwardingRule": ("forwardingRules", False),
    "globalAddress:GlobalAddress": ("addresses", False), "instanceTemplate:InstanceTemplate": ("instanceTemplates", False),
    "managedSslCertificate:ManagedSslCertificate": ("sslCertificates", False),
    "sSLPolicy:SSLPolicy": ("sslPolicies", False), "securityPolicy:SecurityPolicy": ("securityPolicies", False),
    "subnetwork:Subnetwork": ("subnetworks", True), "router:Router": ("routers", True),
    "regionInstanceGroupManager:RegionInstanceGroupManager": ("instanceGroupManagers", True),
    "regionAutoscaler:RegionAutoscaler": ("autoscalers", True),
    "regionNetworkEndpointGroup:RegionNetworkEndpointGroup": ("networkEndpointGroups", True),
}


def _hex(name: str, n: int = 10) -> str:
    return hashlib.sha1(name.encode()).hexdigest()[:n]


def _num(name: str, digits: int = 19) -> str:
    return str(int(_hex(name, 16), 16))[:digits]


def run_region_code(region: str) -> str:
    # Cloud Run's short region code in *.a.run.app hosts: europe-west1 -> ew, us-central1 -> uc.
    return "".join(part[0] for part in region.rstrip("0123456789").split("-"))


def zones(region: str) -> list[str]:
    return [f"{region}-{z}" for z in ZONES.get(region, ("a", "b", "c"))]


def new_resource(typ: str, name: str, inputs: dict, region: str = "us-central1") -> tuple[str, dict]:
    out = dict(inputs)
    project = inputs.get("project") or PROJECT
    out["project"] = project
    region = inputs.get("region") or region
    kind = typ.split("/", 1)[-1]
    if typ == "gcp:storage/bucket:Bucket":
        bucket = inputs.get("name") or f"{name}-{_hex(name, 7)}"
        out.update(name=bucket, url=f"gs://{bucket}", selfLink=f"https://www.googleapis.com/storage/v1/b/{bucket}")
        return bucket, out
    if typ == "gcp:artifactregistry/repository:Repository":
        repo = inputs.get("repositoryId") or name
        rid = f"projects/{project}/locations/{inputs.get('location') or region}/repositories/{repo}"
        out.update(name=repo, repositoryId=repo, createTime="2026-01-01T00:00:00Z")
        return rid, out
    if typ == "gcp:serviceaccount/account:Account":
        email = f"{inputs['accountId']}@{project}.iam.gserviceaccount.com"
        out.update(email=email, member=f"serviceAccount:{email}", uniqueId=_num(name, 21),
                   name=f"projects/{project}/serviceAccounts/{email}")
        return out["name"], out
    if typ == "gcp:cloudrunv2/service:Service":
        svc = inputs.get("name") or name
        location = inputs.get("location") or region
        out.update(uri=f"https://{svc}-{_hex(name, 10)}-{run_region_code(location)}.a.run.app",
                   urls=[f"https://{svc}-{PROJECT_NUMBER}.{location}.run.app"], uid=_hex(name, 32),
                   latestReadyRevision=f"{svc}-00001-abc", latestCreatedRevision=f"{svc}-00001-abc")
        return f"projects/{project}/locations/{location}/services/{svc}", out
    if typ == "gcp:cloudrun/domainMapping:DomainMapping":
        out.update(statuses=[{"resourceRecords": [{"name": "", "rrdata": "ghs.googlehosted.com.", "type": "CNAME"}]}])
        return f"locations/{inputs.get('location') or region}/namespaces/{project}/domainmappings/{inputs.get('name')}", out
    if kind in _COMPUTE:
        collection, regional = _COMPUTE[kind]
        res = inputs.get("name") or (inputs.get("namePrefix") or f"{name}-") + _num(name, 26)
        scope = f"regions/{region}" if regional else "global"
        rid = f"projects/{project}/{scope}/{collection}/{res}"
        out.update(name=res, selfLink=f"{COMPUTE}/{rid}")
        if kind == "globalAddress:GlobalAddress":
            h = int(_hex(name, 4), 16)
            out["address"] = f"34.{110 + h % 50}.{h % 251}.{(h >> 8) % 251}"
        if kind == "instanceTemplate:InstanceTemplate":
            out["selfLinkUnique"] = f"{COMPUTE}/{rid}?uniqueId={_num(name)}"
        if kind == "regionInstanceGroupManager:RegionInstanceGroupManager":
            out["instanceGroup"] = f"{COMPUTE}/projects/{project}/regions/{region}/instanceGroups/{res}"
        if kind == "managedSslCertificate:ManagedSslCertificate":
            out["certificateId"] = int(_num(name, 12))
        return rid, out
    if typ == "gcp:logging/projectSink:ProjectSink":
        out["writerIdentity"] = f"serviceAccount:service-{PROJECT_NUMBER}@gcp-sa-logging.iam.gserviceaccount.com"
        return f"projects/{project}/sinks/{inputs.get('name') or name}", out
    if typ == "gcp:secretmanager/secret:Secret":
        sid = inputs.get("secretId") or name
        out.update(secretId=sid, name=f"projects/{PROJECT_NUMBER}/secrets/{sid}", createTime="2026-01-01T00:00:00Z")
        return f"projects/{project}/secrets/{sid}", out
    if typ == "gcp:filestore/instance:Instance":
        networks = [dict(n, ipAddresses=["10.30.0.2"]) for n in inputs.get("networks", [])]
        out.update(networks=networks, createTime="2026-01-01T00:00:00Z")
        return f"projects/{project}/locations/{inputs.get('location')}/instances/{inputs.get('name') or name}", out
    if typ.startswith("gcp:monitoring/"):
        collection = {"notificationChannel:NotificationChannel": "notificationChannels",
                      "alertPolicy:AlertPolicy": "alertPolicies",
                      "uptimeCheckConfig:UptimeCheckConfig": "uptimeCheckConfigs"}.get(kind, "objects")
        ident = f"{name}-{_hex(name, 8)}" if collection == "uptimeCheckConfigs" else _num(name)
        out.update(name=f"projects/{project}/{collection}/{ident}")
        if collection == "uptimeCheckConfigs":
            out["uptimeCheckId"] = ident
        return out["name"], out
    if typ == "gcp:billing/budget:Budget":
        out.pop("project")
        bid = f"billingAccounts/{inputs.get('billingAccount')}/budgets/{_hex(name, 8)}-{_hex(name + 'b', 4)}"
        out.update(name=bid)
        return bid, out
    if "IamMember" in typ or "IAMMember" in typ:
        out["etag"] = f"BwY{_hex(name, 9)}="
        return f"{name}-{_hex(name, 8)}", out
    return f"{name}-{_hex(name, 8)}", out


def call(token: str, args: dict, region: str = "us-central1") -> dict:
    if token == "gcp:organizations/getClientConfig:getClientConfig":
        return {"accessToken": "ya29.mock-access-token", "project": PROJECT, "region": region,
                "zone": zones(region)[0], "id": f"projects/{PROJECT}/regions/{region}/zones/{zones(region)[0]}",
                "defaultLabels": {}}
    if token == "gcp:organizations/getProject:getProject":
        pid = args.get("projectId") or PROJECT
        return {"projectId": pid, "number": PROJECT_NUMBER, "name": pid, "id": f"projects/{pid}",
                "labels": {}, "effectiveLabels": {}}
    if token == "gcp:compute/getZones:getZones":
        return {"names": zones(args.get("region") or region), "id": f"projects/{PROJECT}/regions/{region}",
                "project": PROJECT, "region": args.get("region") or region}
    if token == "gcp:compute/getImage:getImage":
        project = args.get("project") or PROJECT
        family = args.get("family") or "image"
        image = f"{family}-v20261101"
        return {"name": image, "family": family, "project": project, "status": "READY", "diskSizeGb": 10,
                "selfLink": f"{COMPUTE}/projects/{project}/global/images/{image}",
                "id": f"projects/{project}/global/images/{image}"}
    return {}
