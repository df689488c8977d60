"""Serving on Azure: Container Apps (serverless) and a scale set behind a load balancer (VM)."""
from __future__ import annotations

import base64

import pytest

from components.providers.azure.roles import ACR_PULL as ROLE_ACR_PULL
from components.providers.azure.roles import STORAGE_BLOB_DATA_CONTRIBUTOR as ROLE_STORAGE_BLOB_DATA_CONTRIBUTOR
from components.providers.azure.roles import STORAGE_BLOB_DATA_READER as ROLE_STORAGE_BLOB_DATA_READER
from tests.helpers import inputs

from .util import REGION, SUB, named, plan_azure, rg_id, role_id

CONTAINER_SCOPE_SUFFIX = "/blobServices/default/containers/ml"


@pytest.fixture(scope="module")
def internal_vm_plan():
    return plan_azure({"serving": {"mode": "vm", "min_instances": 1, "max_instances": 4, "ingress": "internal",
                                   "cpu": 4, "memory_gib": 16, "port": 9000, "image": "x/model:2",
                                   "env": {"MODEL": "digits v2"}, "scale_out_cpu_percent": 60,
                                   "scale_in_cpu_percent": 20}, "alerts": {"enabled": False}})


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
    assert scale["rules"] == [
        {"name": "http-concurrency", "http": {"metadata": {"concurrentRequests": "80"}}},
        {"name": "cpu", "custom": {"type": "cpu", "metadata": {"type": "Utilization", "value": "75"}}},
    ]


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
    assert container["env"] == [{"name": "LOG_LEVEL", "value": "debug"}]
    scale = app["template"]["scale"]
    assert (scale["minReplicas"], scale["maxReplicas"]) == (2, 7)
    assert scale["rules"][0]["http"]["metadata"] == {"concurrentRequests": "25"}
    assert scale["rules"][1]["custom"]["metadata"] == {"type": "Utilization", "value": "60"}
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
    assert len(assignments) == 2
    for a in assignments:
        assert a.inputs["scope"].startswith(f"{rg_id()}/providers/"), "never a subscription or group scope"
    assert ROLE_STORAGE_BLOB_DATA_CONTRIBUTOR not in str([a.inputs for a in assignments])
    assert f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/" in read["roleDefinitionId"]


# -- VM mode -----------------------------------------------------------------------------------
def test_scale_set_spreads_across_zones_without_public_ips(prod_plan):
    vmss = named(prod_plan, "digits-prod-vmss").inputs
    assert vmss["zones"] == ["1", "2", "3"] and vmss["zoneBalance"] is True
    assert vmss["sku"] == {"name": "Standard_F2s_v2", "tier": "Standard", "capacity": 3}
    [nic] = vmss["virtualMachineProfile"]["networkProfile"]["networkInterfaceConfigurations"]
    [ipconfig] = nic["ipConfigurations"]
    assert "publicIPAddressConfiguration" not in ipconfig
    assert ipconfig["subnet"]["id"].endswith("/virtualNetworks/digits-prod-vnet/subnets/serving")
    lb = f"{rg_id('prod')}/providers/Microsoft.Network/loadBalancers/digits-prod-lb"
    assert ipconfig["loadBalancerBackendAddressPools"] == [{"id": f"{lb}/backendAddressPools/backend"}]
    assert vmss["virtualMachineProfile"]["networkProfile"]["healthProbe"] == {"id": f"{lb}/probes/health"}
    assert vmss["identity"]["userAssignedIdentities"] == [
        f"{rg_id('prod')}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/digits-prod-serving"]


def test_scale_set_disks_encrypted_and_login_without_password_or_held_key(prod_plan):
    profile = named(prod_plan, "digits-prod-vmss").inputs["virtualMachineProfile"]
    assert profile["securityProfile"]["encryptionAtHost"] is True
    assert profile["securityProfile"]["securityType"] == "TrustedLaunch"
    assert profile["storageProfile"]["osDisk"]["managedDisk"] == {"storageAccountType": "Premium_LRS"}
    assert profile["storageProfile"]["imageReference"]["publisher"] == "Canonical"
    linux = profile["osProfile"]["linuxConfiguration"]
    assert linux["disablePasswordAuthentication"] is True and "adminPassword" not in profile["osProfile"]
    assert linux["ssh"]["publicKeys"][0]["keyData"].endswith("mlinfra-no-private-key")


def test_cloud_init_logs_in_with_the_identity_and_runs_the_image(prod_plan):
    profile = named(prod_plan, "digits-prod-vmss").inputs["virtualMachineProfile"]
    script = base64.b64decode(profile["osProfile"]["customData"]).decode()
    registry = inputs(prod_plan, "azure-native:containerregistry:Registry")["registryName"]
    assert script.startswith("#cloud-config\n") and "docker.io" in script
    assert "metadata/identity/oauth2/token" in script and "client_id=" in script
    assert f"https://{registry}.azurecr.io/oauth2/exchange" in script
    assert "docker run -d --name model --restart unless-stopped -p 8080:8080 registry.example.com/digits:1" in script


def test_autoscale_between_min_and_max_on_cpu_thresholds(prod_plan):
    auto = inputs(prod_plan, "azure-native:monitor:AutoscaleSetting")
    vmss_id = f"{rg_id('prod')}/providers/Microsoft.Compute/virtualMachineScaleSets/digits-prod-vmss"
    assert auto["targetResourceUri"] == vmss_id and auto["enabled"] is True
    [profile] = auto["profiles"]
    assert profile["capacity"] == {"minimum": "3", "maximum": "10", "default": "3"}
    out, into = profile["rules"]
    assert out["metricTrigger"]["metricName"] == "Percentage CPU"
    assert (out["metricTrigger"]["operator"], out["metricTrigger"]["threshold"]) == ("GreaterThan", 75)
    assert out["scaleAction"]["direction"] == "Increase"
    assert (into["metricTrigger"]["operator"], into["metricTrigger"]["threshold"]) == ("LessThan", 25)
    assert into["scaleAction"]["direction"] == "Decrease"
    assert out["metricTrigger"]["metricResourceUri"] == vmss_id


def test_public_load_balancer_probes_the_health_path(prod_plan):
    lb = inputs(prod_plan, "azure-native:network:LoadBalancer")
    assert lb["sku"] == {"name": "Standard", "tier": "Regional"}
    [frontend] = lb["frontendIPConfigurations"]
    pip = named(prod_plan, "digits-prod-lb-ip").inputs
    assert pip["sku"]["name"] == "Standard" and pip["publicIPAllocationMethod"] == "Static"
    assert frontend["publicIPAddress"]["id"].endswith("/publicIPAddresses/digits-prod-lb-ip")
    [probe] = lb["probes"]
    assert (probe["protocol"], probe["port"], probe["requestPath"]) == ("Http", 8080, "/v2/health/ready")
    [rule] = lb["loadBalancingRules"]
    assert (rule["frontendPort"], rule["backendPort"], rule["protocol"]) == (80, 8080, "Tcp")
    assert rule["probe"]["id"].endswith("/loadBalancers/digits-prod-lb/probes/health")
    assert prod_plan.outputs["endpoint"].startswith("http://20.")


def test_no_ssh_or_rdp_rule_and_app_port_only(prod_plan):
    for nsg in prod_plan.of_type("azure-native:network:NetworkSecurityGroup"):
        for rule in nsg.inputs["securityRules"]:
            if rule["access"] == "Allow":
                assert rule["destinationPortRange"] == "8080", (nsg.name, rule)
                assert rule["direction"] == "Inbound"
    rules = {r["name"]: r for r in named(prod_plan, "digits-prod-serving-nsg").inputs["securityRules"]}
    assert rules["allow-lb-health-probe"]["sourceAddressPrefix"] == "AzureLoadBalancer"
    assert rules["allow-app-clients"]["sourceAddressPrefix"] == "Internet"
    assert rules["deny-internet-inbound"]["access"] == "Deny"


def test_subnets_leave_through_nat_only(prod_plan):
    for subnet in prod_plan.of_type("azure-native:network:Subnet"):
        assert subnet.inputs["defaultOutboundAccess"] is False
        assert subnet.inputs["natGateway"]["id"].endswith("/natGateways/digits-prod-nat")


def test_internal_vm_serving(internal_vm_plan):
    lb = inputs(internal_vm_plan, "azure-native:network:LoadBalancer")
    [frontend] = lb["frontendIPConfigurations"]
    assert "publicIPAddress" not in frontend and frontend["subnet"]["id"].endswith("/subnets/serving")
    assert not [r for r in internal_vm_plan.of_type("azure-native:network:PublicIPAddress")
                if r.name != "digits-dev-nat-ip"]
    # No training: no training subnet nor its security group.
    assert [r.name for r in internal_vm_plan.of_type("azure-native:network:Subnet")] == ["digits-dev-serving-subnet"]
    assert len(internal_vm_plan.of_type("azure-native:network:NetworkSecurityGroup")) == 1
    rules = {r["name"]: r for r in named(internal_vm_plan, "digits-dev-serving-nsg").inputs["securityRules"]}
    assert rules["allow-app-clients"]["sourceAddressPrefix"] == "VirtualNetwork"
    assert rules["allow-app-clients"]["destinationPortRange"] == "9000"
    vmss = named(internal_vm_plan, "digits-dev-vmss").inputs
    assert vmss["sku"]["name"] == "Standard_D4s_v5"
    script = base64.b64decode(vmss["virtualMachineProfile"]["osProfile"]["customData"]).decode()
    assert "-p 9000:9000 -e 'MODEL=digits v2' x/model:2" in script
    auto = inputs(internal_vm_plan, "azure-native:monitor:AutoscaleSetting")["profiles"][0]
    assert auto["capacity"] == {"minimum": "1", "maximum": "4", "default": "1"}
    assert [r["metricTrigger"]["threshold"] for r in auto["rules"]] == [60, 20]
    assert internal_vm_plan.outputs["endpoint"].startswith("http://10.20.1.")


def test_machine_type_override(misc_plan):
    assert named(misc_plan, "digits-dev-vmss").inputs["sku"] == {"name": "Standard_D8s_v5", "tier": "Standard",
                                                                 "capacity": 1}
