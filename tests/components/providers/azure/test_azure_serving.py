"""Serving on Azure: Container Apps (serverless) and a scale set behind a load balancer (VM)."""
from __future__ import annotations

import pytest

from components.providers.azure.roles import ACR_PULL as ROLE_ACR_PULL
from components.providers.azure.roles import STORAGE_BLOB_DATA_CONTRIBUTOR as ROLE_STORAGE_BLOB_DATA_CONTRIBUTOR
from components.providers.azure.roles import STORAGE_BLOB_DATA_READER as ROLE_STORAGE_BLOB_DATA_READER
from tests.helpers import inputs

from .util import REGION, SUB, named, plan_azure, rg_id, role_id

CONTAINER_SCOPE_SUFFIX = "/blobServices/default/containers/ml"


@pytest.fixture(scope="module")
def internal_app_plan():
    return plan_azure({"serving": {"min_instances": 2, "max_instances": 7, "ingress": "internal", "cpu": 0.5,
                                   "memory_gib": 1, "concurrency": 25, "scale_out_cpu_percent": 60,
                                   "image": "x/model:2", "env": {"LOG_LEVEL": "debug"}},
                       "alerts": {"enabled": False}})


# -- serverless --------------------------------------------------------------------------------
def test_environment_logs_to_its_own_workspace(dev_plan):
    ws = inputs(dev_plan, "azure-native:operationalinsights:Workspace")
    assert ws["retentionInDays"] == 30 and ws["sku"] == {"name": "PerGB2018"} and ws["location"] == REGION
    env = inputs(dev_plan, "azure-native:app:ManagedEnvironment")
    # The workspace's shared key is a secret, which makes the whole logs block secret in the plan.
    assert env["appLogsConfiguration"] == "[secret]"
    assert env["location"] == REGION and env["environmentName"] == "digits-dev-apps"
    assert inputs(dev_plan, "azure-native:app:ContainerApp")["managedEnvironmentId"].endswith(
        "/providers/Microsoft.App/managedEnvironments/digits-dev-apps")


def test_container_app_runs_the_built_image_with_probes_and_scale_to_zero(dev_plan):
    app = inputs(dev_plan, "azure-native:app:ContainerApp")
    [container] = app["template"]["containers"]
    assert container["image"] == dev_plan.outputs["image"]
    assert container["resources"] == {"cpu": 1, "memory": "2Gi"}
    probes = {p["type"]: p for p in container["probes"]}
    assert set(probes) == {"Startup", "Liveness", "Readiness"}
    assert probes["Startup"]["httpGet"] == {"path": "/v2/health/ready", "port": 8080, "scheme": "HTTP"}
    assert probes["Readiness"]["httpGet"]["path"] == "/v2/health/ready"
    assert probes["Liveness"]["httpGet"]["path"] == "/v2/health/live"
    scale = app["template"]["scale"]
    assert (scale["minReplicas"], scale["maxReplicas"]) == (0, 3)
    # "Applications that scale on CPU or memory load can't scale to zero" (Azure Container Apps overview):
    # with min 0, only the HTTP concurrency rule, which also wakes the app from zero.
    assert scale["rules"] == [
        {"name": "http-concurrency", "http": {"metadata": {"concurrentRequests": "80"}}},
    ]
    assert not [r for r in scale["rules"] if r.get("custom", {}).get("type") in ("cpu", "memory")]


def test_container_app_public_https_ingress_and_identity_pull(dev_plan):
    app = inputs(dev_plan, "azure-native:app:ContainerApp")
    identity_id = (f"{rg_id()}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/digits-dev-serving")
    assert app["identity"] == {"type": "UserAssigned", "userAssignedIdentities": [identity_id]}
    assert app["configuration"]["ingress"] == {"external": True, "targetPort": 8080, "transport": "auto",
                                               "allowInsecure": False}
    server = f"{inputs(dev_plan, 'azure-native:containerregistry:Registry')['registryName']}.azurecr.io"
    assert app["configuration"]["registries"] == [{"server": server, "identity": identity_id}]
    assert app["containerAppName"] == "digits-dev"
    assert dev_plan.outputs["endpoint"].startswith("https://digits-dev.")
    assert dev_plan.outputs["endpoint"].endswith(f".{REGION}.azurecontainerapps.io")


def test_internal_container_app(internal_app_plan):
    app = inputs(internal_app_plan, "azure-native:app:ContainerApp")
    assert app["configuration"]["ingress"]["external"] is False
    [container] = app["template"]["containers"]
    assert container["image"] == "x/model:2" and container["resources"] == {"cpu": 0.5, "memory": "1Gi"}
    assert {"name": "LOG_LEVEL", "value": "debug"} in container["env"]
    scale = app["template"]["scale"]
    assert (scale["minReplicas"], scale["maxReplicas"]) == (2, 7)
    assert scale["rules"][0]["http"]["metadata"] == {"concurrentRequests": "25"}
    # With a floor of replicas the CPU rule may scale too (min 2 here; it cannot scale to zero).
    assert scale["rules"][1]["custom"] == {"type": "cpu", "metadata": {"type": "Utilization", "value": "60"}}
    assert ".internal." in internal_app_plan.outputs["endpoint"]
    assert not internal_app_plan.of_type("azure-native:network:LoadBalancer")


# -- identity ----------------------------------------------------------------------------------
def test_serving_identity_reads_models_only_and_pulls_from_this_registry(dev_plan):
    account = inputs(dev_plan, "azure-native:storage:StorageAccount")["accountName"]
    registry = inputs(dev_plan, "azure-native:containerregistry:Registry")["registryName"]
    principal = dev_plan.outputs["serving_identity"]
    read = named(dev_plan, "digits-dev-serving-models-read").inputs
    assert read["scope"] == f"{rg_id()}/providers/Microsoft.Storage/storageAccounts/{account}{CONTAINER_SCOPE_SUFFIX}"
    assert read["roleDefinitionId"] == role_id(ROLE_STORAGE_BLOB_DATA_READER)
    assert read["principalId"] == principal and read["principalType"] == "ServicePrincipal"
    assert read["conditionVersion"] == "2.0"
    cond = read["condition"]
    assert "StringStartsWith 'models/'" in cond and "data/" not in cond and "runs/" not in cond
    assert "ActionMatches{'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read'}" in cond
    pull = named(dev_plan, "digits-dev-serving-acr-pull").inputs
    assert pull["scope"] == f"{rg_id()}/providers/Microsoft.ContainerRegistry/registries/{registry}"
    assert pull["roleDefinitionId"] == role_id(ROLE_ACR_PULL) and "condition" not in pull
    assignments = dev_plan.of_type("azure-native:authorization:RoleAssignment")
    assert len(assignments) == 2  # no serving.secrets in dev: no Key Vault role
    for a in assignments:
        assert a.inputs["scope"].startswith(f"{rg_id()}/providers/"), "never a subscription or group scope"
    assert ROLE_STORAGE_BLOB_DATA_CONTRIBUTOR not in str([a.inputs for a in assignments])
    assert f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/" in read["roleDefinitionId"]
