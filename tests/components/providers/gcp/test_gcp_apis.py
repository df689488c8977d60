"""The API table: every GCP resource type the program plans maps to the service Google names for it."""
from __future__ import annotations

from components.providers.gcp.apis import API_FOR_TYPE, BOOTSTRAP_APIS, api_for_type, apis_for_types


def test_longest_prefix_wins():
    # projects.Service calls Service Usage (services.enable); projects.IAMMember calls Resource Manager
    # (projects.setIamPolicy). https://cloud.google.com/service-usage/docs/reference/rest/v1/services/enable
    assert api_for_type("gcp:projects/service:Service") == "serviceusage.googleapis.com"
    assert api_for_type("gcp:projects/iAMMember:IAMMember") == "cloudresourcemanager.googleapis.com"
    # The Budget API is its own service, not Cloud Billing (403 SERVICE_DISABLED names billingbudgets).
    assert api_for_type("gcp:billing/budget:Budget") == "billingbudgets.googleapis.com"
    assert api_for_type("gcp:cloudrunv2/service:Service") == "run.googleapis.com"
    assert api_for_type("pulumi:providers:gcp") is None


def test_apis_for_types_groups_tokens_by_service():
    got = apis_for_types(["gcp:compute/network:Network", "gcp:compute/firewall:Firewall",
                          "gcp:compute/network:Network", "mlinfra:serving:Serving"])
    assert got == {"compute.googleapis.com": ["gcp:compute/firewall:Firewall", "gcp:compute/network:Network"]}


def test_bootstrap_apis_are_the_ones_project_services_need():
    # The provider's project-service resource reads the project via Resource Manager before enabling
    # anything through Service Usage (resource_google_project_service.go, terraform-provider-google).
    assert set(BOOTSTRAP_APIS) == {"serviceusage.googleapis.com", "cloudresourcemanager.googleapis.com"}
    assert all(v.endswith(".googleapis.com") for v in API_FOR_TYPE.values())
