"""Which Google API (Service Usage service name) each GCP resource type needs enabled, as data.

The GCP program enables these itself (`gcp.projects.Service`, apis_enabled.py) and makes each
resource depend on its API; `mlinfra doctor` reads the same table to list API prerequisites from
a plan. Nothing here imports pulumi or pulumi_gcp.

Keys are Pulumi type-token prefixes (`gcp:<module>/` or a longer `gcp:<module>/<resource>:`); the
longest matching prefix wins, so `gcp:projects/service:` (Service Usage) overrides `gcp:projects/`
(Resource Manager IAM). Service names are the ones each product's docs tell you to enable
(`gcloud services enable <name>`), and the ones Google's 403 SERVICE_DISABLED errors name:
- Cloud Run Admin API `run.googleapis.com`: https://cloud.google.com/run/docs/reference/cloud-run-admin-api-overview
- Artifact Registry `artifactregistry.googleapis.com`: https://cloud.google.com/artifact-registry/docs/enable-service
- Compute Engine `compute.googleapis.com` (VMs, load balancers, Cloud Armor, SSL policies, managed
  SSL certificates): https://cloud.google.com/compute/docs/reference/rest/v1
- IAM `iam.googleapis.com` (service accounts): https://cloud.google.com/iam/docs/reference/rest
- Cloud Resource Manager `cloudresourcemanager.googleapis.com` (project IAM policy, project
  lookup): https://cloud.google.com/resource-manager/reference/rest
- Service Usage `serviceusage.googleapis.com` (enabling services): https://cloud.google.com/service-usage/docs/overview
- Cloud Storage `storage.googleapis.com`: https://cloud.google.com/storage/docs/json_api
- Cloud Monitoring `monitoring.googleapis.com`: https://cloud.google.com/monitoring/api/v3
- Cloud Billing Budget API `billingbudgets.googleapis.com` (the 403 names it; see
  terraform-google-modules/terraform-google-project-factory#720):
  https://cloud.google.com/billing/docs/reference/budget/rest
- Filestore `file.googleapis.com` (api_id in googleapis' Filestore client metadata):
  https://cloud.google.com/filestore/docs/reference/rest
- Secret Manager `secretmanager.googleapis.com`: https://cloud.google.com/secret-manager/docs/reference/rest
- Cloud DNS `dns.googleapis.com`: https://cloud.google.com/dns/docs/reference/rest/v1
- Certificate Manager `certificatemanager.googleapis.com`: https://cloud.google.com/certificate-manager/docs/reference/certificate-manager/rest
- Cloud Logging `logging.googleapis.com`: https://cloud.google.com/logging/docs/reference/v2/rest
"""
from __future__ import annotations

from typing import Iterable

SERVICE_USAGE = "serviceusage.googleapis.com"
RESOURCE_MANAGER = "cloudresourcemanager.googleapis.com"

# Type-token prefix -> the service it calls. Keep the names stable: `mlinfra doctor` imports them.
API_FOR_TYPE: dict[str, str] = {
    "gcp:cloudrunv2/": "run.googleapis.com",
    "gcp:cloudrun/": "run.googleapis.com",
    "gcp:artifactregistry/": "artifactregistry.googleapis.com",
    "gcp:compute/": "compute.googleapis.com",
    "gcp:serviceaccount/": "iam.googleapis.com",
    "gcp:iam/": "iam.googleapis.com",
    "gcp:projects/": RESOURCE_MANAGER,  # projects.IAMMember: getIamPolicy / setIamPolicy on the project
    "gcp:projects/service:": SERVICE_USAGE,  # projects.Service: services.enable
    "gcp:storage/": "storage.googleapis.com",
    "gcp:monitoring/": "monitoring.googleapis.com",
    "gcp:billing/budget:": "billingbudgets.googleapis.com",
    "gcp:filestore/": "file.googleapis.com",
    "gcp:secretmanager/": "secretmanager.googleapis.com",
    "gcp:dns/": "dns.googleapis.com",
    "gcp:certificatemanager/": "certificatemanager.googleapis.com",
    "gcp:logging/": "logging.googleapis.com",
}

# Enabled before the program can enable anything else, so the program cannot enable them itself:
# `services.enable` is a Service Usage call, and the provider's project-service resource first
# reads the project through Resource Manager (`Projects.Get` in resource_google_project_service.go,
# hashicorp/terraform-provider-google). Enable once per project:
#   gcloud services enable serviceusage.googleapis.com cloudresourcemanager.googleapis.com
BOOTSTRAP_APIS: tuple[str, ...] = (SERVICE_USAGE, RESOURCE_MANAGER)


def api_for_type(type_token: str) -> str | None:
    """The service a resource of this type needs, by longest matching prefix; None if none is known."""
    best = max((prefix for prefix in API_FOR_TYPE if type_token.startswith(prefix)), key=len, default=None)
    return API_FOR_TYPE[best] if best is not None else None


def apis_for_types(types: Iterable[str]) -> dict[str, list[str]]:
    """service -> the (sorted, distinct) type tokens that need it; types needing no known API are left out."""
    needed: dict[str, set[str]] = {}
    for token in types:
        api = api_for_type(token)
        if api is not None:
            needed.setdefault(api, set()).add(token)
    return {api: sorted(tokens) for api, tokens in sorted(needed.items())}
