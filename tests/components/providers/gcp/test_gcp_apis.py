"""The API table: every GCP resource type the program plans maps to the service Google names for it."""
from __future__ import annotations

import pytest

from components.providers.gcp.apis import API_FOR_TYPE, BOOTSTRAP_APIS, api_for_type, apis_for_types
from stacks.offline import plan_environment
from tests.helpers import PROJECT_DIR

SERVICE = "gcp:projects/service:Service"
SERVICE_USAGE_API = "serviceusage.googleapis.com"


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


# -- the program enables what it uses ------------------------------------------------------------
@pytest.fixture(scope="module", params=["dev", "prod"])
def builtin(request):
    return plan_environment(PROJECT_DIR, request.param, "gcp")


def test_every_resource_depends_on_the_api_it_calls(builtin):
    # A fresh project answers 403 SERVICE_DISABLED until the API is enabled, and enabling is
    # eventually consistent, so each resource must wait for its own API's enablement
    # (terraform-provider-google guide "google_project_service": newly activated service errors).
    enabling = {r.urn: r.inputs["service"] for r in builtin.of_type(SERVICE)}
    for r in builtin.resources:
        if not r.custom or not r.type.startswith("gcp:") or r.type == SERVICE:
            continue
        need = api_for_type(r.type)
        assert need is not None, f"{r.type} has no API in apis.API_FOR_TYPE"
        got = {enabling[u] for u in r.dependsOn if u in enabling}
        if "maxSurgeFixed" in str(r.inputs.get("updatePolicy")) and not got:
            # Its zone count comes from compute.getZones, an invoke that itself depends on the
            # compute API: the dependency is carried by that input, not recorded as explicit.
            continue
        assert need in got, f"{r.name} ({r.type}) does not depend on {need}"


def test_apis_stay_enabled_on_destroy_and_bootstrap_is_not_the_programs_job(builtin):
    services = builtin.of_type(SERVICE)
    assert services, "the program enables the APIs its resources use"
    for s in services:
        # disable_on_destroy=False: other workloads may use the API; disabling Artifact Registry
        # deletes its images (https://cloud.google.com/artifact-registry/docs/enable-service).
        assert s.inputs["disableOnDestroy"] is False
    assert SERVICE_USAGE_API not in {s.inputs["service"] for s in services}
