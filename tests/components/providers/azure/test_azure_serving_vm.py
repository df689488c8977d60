"""VM serving on Azure: scale sets behind a Standard load balancer, zonal stacks in prod, the release path."""
from __future__ import annotations

import base64
import re
import shlex
from types import SimpleNamespace

import pytest

from components.providers.azure import serving_vm
from tests.helpers import inputs

from .util import REGION, named, plan_azure

ZONES = ("1", "2", "3")


@pytest.fixture(scope="module")
def internal_vm_plan():
    return plan_azure({"serving": {"mode": "vm", "min_instances": 1, "max_instances": 4, "ingress": "internal",
                                   "cpu": 4, "memory_gib": 16, "port": 9000, "image": "x/model@sha256:" + "a" * 64,
                                   "env": {"MODEL": "digits v2"}, "scale_out_cpu_percent": 60,
                                   "scale_in_cpu_percent": 20}, "alerts": {"enabled": False}})


def scale_set(plan, zone):
    return named(plan, f"digits-prod-vmss-z{zone}").inputs


def release(vmss) -> dict[str, str]:
    """The files the release extension writes, decoded from its command."""
    [ext] = vmss["virtualMachineProfile"]["extensionProfile"]["extensions"]
    command = ext["settings"]["commandToExecute"]
    return {path: base64.b64decode(data).decode()
            for data, path in re.findall(r"echo ([A-Za-z0-9+/=]+) \| base64 -d > (\S+)", shlex.split(command)[2])}


# -- zonal stacks ---------------------------------------------------------------------------------
def test_prod_has_one_scale_set_subnet_and_nat_gateway_per_zone(prod_plan):
    # "NAT gateway is a zonal resource"; a subnet takes one NAT gateway, so zone resilience is a zonal stack
    # per zone: subnet + NAT gateway + zonal public IP + the zone's instances ("Azure NAT Gateway and
    # availability zones", design considerations).
    for zone in ZONES:
        vmss = scale_set(prod_plan, zone)
        assert vmss["zones"] == [zone] and "zoneBalance" not in vmss  # only settable with several zones
        [nic] = vmss["virtualMachineProfile"]["networkProfile"]["networkInterfaceConfigurations"]
        subnet_name = nic["ipConfigurations"][0]["subnet"]["id"].rsplit("/", 1)[1]
        subnet = named(prod_plan, f"digits-prod-{subnet_name}-subnet").inputs
        nat_name = subnet["natGateway"]["id"].rsplit("/", 1)[1]
        assert nat_name == f"digits-prod-nat-z{zone}"
        nat = named(prod_plan, nat_name).inputs
        assert nat["zones"] == [zone]
        ip = named(prod_plan, f"digits-prod-nat-z{zone}-ip").inputs
        assert ip["zones"] == [zone] and nat["publicIpAddresses"][0]["id"].endswith(f"/digits-prod-nat-z{zone}-ip")
    assert len(prod_plan.of_type("azure-native:network:NatGateway")) == 3


def test_zonal_capacity_splits_min_and_max(prod_plan):
    # prod: 3..10 instances over 3 zones -> 1..4 per zone (rounded up: never fewer than asked).
    for zone in ZONES:
        assert scale_set(prod_plan, zone)["sku"] == {"name": "Standard_F2s_v2", "tier": "Standard", "capacity": 1}
        auto = named(prod_plan, f"digits-prod-autoscale-z{zone}").inputs
        assert auto["profiles"][0]["capacity"] == {"minimum": "1", "maximum": "4", "default": "1"}
        assert auto["targetResourceUri"].endswith(f"/virtualMachineScaleSets/digits-prod-vmss-z{zone}")


def test_outside_prod_one_scale_set_spans_the_zones_behind_one_nat(internal_vm_plan):
    vmss = named(internal_vm_plan, "digits-dev-vmss").inputs
    assert vmss["zones"] == list(ZONES) and vmss["zoneBalance"] is True
    assert [r.name for r in internal_vm_plan.of_type("azure-native:network:NatGateway")] == ["digits-dev-nat"]


def test_capacity_is_not_ignored_but_read_back(prod_plan):
    # azure-native sends the whole model on update; an ignored capacity is sent from the last deployment's
    # inputs and resets what autoscale chose. The program reads the live capacity instead.
    for zone in ZONES:
        assert "sku.capacity" not in named(prod_plan, f"digits-prod-vmss-z{zone}").options.get("ignoreChanges", [])


def _found(capacity):
    return SimpleNamespace(sku=SimpleNamespace(capacity=capacity))


def test_live_capacity_keeps_what_autoscale_chose(monkeypatch):
    ctx = SimpleNamespace(provider=SimpleNamespace(resource_group_name=lambda spec: "rg"), spec=None)
    monkeypatch.setattr(serving_vm.azure_native.compute, "get_virtual_machine_scale_set", lambda **_: _found(7))
    assert serving_vm.live_capacity(ctx, None, "vmss", 1, 1, 4) == 4  # clamped to the autoscale range
    monkeypatch.setattr(serving_vm.azure_native.compute, "get_virtual_machine_scale_set", lambda **_: _found(2))
    assert serving_vm.live_capacity(ctx, None, "vmss", 1, 1, 4) == 2

    def missing(**_):
        raise Exception("invoke failed: (ResourceNotFound) The Resource ... was not found")

    monkeypatch.setattr(serving_vm.azure_native.compute, "get_virtual_machine_scale_set", missing)
    assert serving_vm.live_capacity(ctx, None, "vmss", 3, 1, 4) == 3

    def denied(**_):
        raise Exception("invoke failed: (AuthorizationFailed) does not have authorization")

    monkeypatch.setattr(serving_vm.azure_native.compute, "get_virtual_machine_scale_set", denied)
    with pytest.raises(Exception, match="AuthorizationFailed"):
        serving_vm.live_capacity(ctx, None, "vmss", 3, 1, 4)


# -- machines ----------------------------------------------------------------------------------------
def test_disks_encrypted_and_login_without_password_or_held_key(prod_plan, internal_vm_plan):
    profile = scale_set(prod_plan, "1")["virtualMachineProfile"]
    assert profile["securityProfile"]["encryptionAtHost"] is True
    assert profile["securityProfile"]["securityType"] == "TrustedLaunch"
    assert profile["storageProfile"]["osDisk"]["managedDisk"] == {"storageAccountType": "Premium_LRS"}
    assert profile["storageProfile"]["imageReference"]["publisher"] == "Canonical"
    linux = profile["osProfile"]["linuxConfiguration"]
    assert linux["disablePasswordAuthentication"] is True and "adminPassword" not in profile["osProfile"]
    assert linux["ssh"]["publicKeys"][0]["keyData"].endswith("mlinfra-no-private-key")
    # Outside prod: Standard SSD, the cheapest SSD managed disk.
    dev = named(internal_vm_plan, "digits-dev-vmss").inputs["virtualMachineProfile"]
    assert dev["storageProfile"]["osDisk"]["managedDisk"] == {"storageAccountType": "StandardSSD_LRS"}


def test_machine_image_is_pinned_from_the_spec():
    plan = plan_azure({"serving": {"mode": "vm", "min_instances": 1, "image": "x/y:1",
                                   "machine_image": "Canonical:ubuntu-24_04-lts:server:24.04.202411030"},
                       "alerts": {"enabled": False}})
    ref = named(plan, "digits-dev-vmss").inputs["virtualMachineProfile"]["storageProfile"]["imageReference"]
    assert ref == {"publisher": "Canonical", "offer": "ubuntu-24_04-lts", "sku": "server",
                   "version": "24.04.202411030"}


def test_boot_installs_a_service_that_retries_and_holds_no_release(prod_plan):
    profile = scale_set(prod_plan, "1")["virtualMachineProfile"]
    script = base64.b64decode(profile["osProfile"]["customData"]).decode()
    assert script.startswith("#cloud-config\n") and "docker.io" in script
    # systemd: Restart=always restarts the service whenever it exits; StartLimitIntervalSec=0 disables the
    # start rate limit, so a pull that fails until the role assignment propagates is retried forever.
    assert "Restart=always" in script and "RestartSec=15" in script and "StartLimitIntervalSec=0" in script
    assert "metadata/identity/oauth2/token" in script and "/oauth2/exchange" in script
    # The image is not in custom data (cloud-init runs once; a rolling upgrade would not re-run it).
    assert "registry.example.com/digits" not in script


def test_the_release_is_in_the_model_the_rolling_upgrade_compares(prod_plan):
    vmss = scale_set(prod_plan, "1")
    assert vmss["upgradePolicy"]["mode"] == "Rolling"
    [ext] = vmss["virtualMachineProfile"]["extensionProfile"]["extensions"]
    # "Custom Script Extension Version 2 with Linux": publisher Microsoft.Azure.Extensions, type CustomScript 2.1.
    assert (ext["publisher"], ext["type"], ext["typeHandlerVersion"]) == (
        "Microsoft.Azure.Extensions", "CustomScript", "2.1")
    files = release(vmss)
    assert "IMAGE=registry.example.com/digits:1\n" in files["/etc/mlinfra/release"]
    app_env = files["/etc/mlinfra/app.env"]
    account = inputs(prod_plan, "azure-native:storage:StorageAccount")["accountName"]
    assert f"MODEL_URI=az://{account}/ml/models/digits/current/\n" in app_env
    assert "PORT=8080\n" in app_env
    client_id = re.search(r"AZURE_CLIENT_ID=(\S+)", app_env).group(1)
    assert f"CLIENT_ID={client_id}\n" in files["/etc/mlinfra/release"]


def test_a_new_image_changes_the_model_not_the_custom_data():
    def vmss(image):
        plan = plan_azure({"serving": {"mode": "vm", "min_instances": 1, "image": image},
                           "alerts": {"enabled": False}})
        return named(plan, "digits-dev-vmss").inputs

    a, b = vmss("x/model@sha256:" + "1" * 64), vmss("x/model@sha256:" + "2" * 64)
    assert a["virtualMachineProfile"]["osProfile"]["customData"] == b["virtualMachineProfile"]["osProfile"]["customData"]
    assert a["virtualMachineProfile"]["extensionProfile"] != b["virtualMachineProfile"]["extensionProfile"]
    assert "IMAGE=x/model@sha256:" + "2" * 64 in release(b)["/etc/mlinfra/release"]


# -- network -----------------------------------------------------------------------------------------
def test_public_load_balancer_probes_the_health_path(prod_plan):
    lb = inputs(prod_plan, "azure-native:network:LoadBalancer")
    assert lb["sku"] == {"name": "Standard", "tier": "Regional"}
    [frontend] = lb["frontendIPConfigurations"]
    pip = named(prod_plan, "digits-prod-lb-ip").inputs
    assert pip["sku"]["name"] == "Standard" and pip["zones"] == list(ZONES)  # zone-redundant frontend
    assert frontend["publicIPAddress"]["id"].endswith("/publicIPAddresses/digits-prod-lb-ip")
    [probe] = lb["probes"]
    assert (probe["protocol"], probe["port"], probe["requestPath"]) == ("Http", 8080, "/v2/health/ready")
    for zone in ZONES:
        [nic] = scale_set(prod_plan, zone)["virtualMachineProfile"]["networkProfile"]["networkInterfaceConfigurations"]
        [ipconfig] = nic["ipConfigurations"]
        assert "publicIPAddressConfiguration" not in ipconfig
        assert ipconfig["loadBalancerBackendAddressPools"][0]["id"].endswith("/loadBalancers/digits-prod-lb/"
                                                                             "backendAddressPools/backend")


def test_no_ssh_or_rdp_rule_and_app_port_only(prod_plan):
    for nsg in prod_plan.of_type("azure-native:network:NetworkSecurityGroup"):
        for rule in nsg.inputs["securityRules"]:
            if rule["access"] == "Allow":
                assert rule["destinationPortRange"] == "8080", (nsg.name, rule)
    rules = {r["name"]: r for r in named(prod_plan, "digits-prod-serving-nsg").inputs["securityRules"]}
    assert rules["allow-lb-health-probe"]["sourceAddressPrefix"] == "AzureLoadBalancer"
    assert rules["deny-internet-inbound"]["access"] == "Deny"


def test_subnets_leave_through_nat_only(prod_plan):
    for subnet in prod_plan.of_type("azure-native:network:Subnet"):
        assert subnet.inputs["defaultOutboundAccess"] is False
        assert re.search(r"/natGateways/digits-prod-nat-z[123]$", subnet.inputs["natGateway"]["id"])


def test_internal_vm_serving(internal_vm_plan):
    lb = inputs(internal_vm_plan, "azure-native:network:LoadBalancer")
    [frontend] = lb["frontendIPConfigurations"]
    assert "publicIPAddress" not in frontend and frontend["subnet"]["id"].endswith("/subnets/serving")
    assert not [r for r in internal_vm_plan.of_type("azure-native:network:PublicIPAddress")
                if r.name != "digits-dev-nat-ip"]
    rules = {r["name"]: r for r in named(internal_vm_plan, "digits-dev-serving-nsg").inputs["securityRules"]}
    assert rules["allow-app-clients"]["sourceAddressPrefix"] == "VirtualNetwork"
    assert rules["allow-app-clients"]["destinationPortRange"] == "9000"
    vmss = named(internal_vm_plan, "digits-dev-vmss").inputs
    assert vmss["sku"]["name"] == "Standard_D4s_v5"
    assert "MODEL=digits v2\n" in release(vmss)["/etc/mlinfra/app.env"]
    assert internal_vm_plan.outputs["endpoint"].startswith("http://10.20.1.")
    assert not internal_vm_plan.of_type("azure-native:cdn:Profile")


def test_machine_type_override(misc_plan):
    assert named(misc_plan, "digits-dev-vmss").inputs["sku"] == {"name": "Standard_D8s_v5", "tier": "Standard",
                                                                 "capacity": 1}


def test_prod_storage_admits_only_the_service_subnets(prod_plan, dev_plan):
    # "Configure Azure Storage firewalls and virtual networks": defaultAction Deny plus virtual network
    # rules for subnets with the Microsoft.Storage service endpoint.
    account = named(prod_plan, "digits-prod-data").inputs
    rules = account["networkRuleSet"]
    assert rules["defaultAction"] == "Deny" and rules["bypass"] == "None"
    allowed = {r["virtualNetworkResourceId"].rsplit("/", 1)[1] for r in rules["virtualNetworkRules"]}
    assert allowed == {"serving", "serving-z2", "serving-z3", "training"}
    for name in allowed:
        subnet = named(prod_plan, f"digits-prod-{name}-subnet").inputs
        assert {"service": "Microsoft.Storage", "locations": [REGION]} in subnet["serviceEndpoints"]
    assert "networkRuleSet" not in named(dev_plan, "digits-dev-data").inputs
    assert account["allowSharedKeyAccess"] is False and account["allowBlobPublicAccess"] is False


def test_vm_identity_waits_for_its_role_assignments_only(prod_plan):
    # Scale sets retry their pull, so they need the assignments to exist but no propagation sleep.
    vmss = named(prod_plan, "digits-prod-vmss-z1")
    assignments = {r.urn for r in prod_plan.of_type("azure-native:authorization:RoleAssignment")
                   if r.name.startswith("digits-prod-serving-")}
    assert assignments and assignments <= set(vmss.dependsOn)
    assert not [u for u in vmss.dependsOn if "Sleep" in u]
