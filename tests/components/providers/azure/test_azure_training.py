"""GPU training on Azure: the catalog's NC/ND size in a scale set, spot or regular, private, least privilege."""
from __future__ import annotations

import base64

import pytest

from components import catalog
from components.providers.azure.roles import ACR_PULL as ROLE_ACR_PULL
from components.providers.azure.roles import STORAGE_BLOB_DATA_CONTRIBUTOR as ROLE_STORAGE_BLOB_DATA_CONTRIBUTOR
from tests.helpers import inputs

from .util import REGION, named, plan_azure, rg_id, role_id

# One plan per catalog accelerator, each also varying spot, machine count, image and shared filesystem.
CASES = {
    "A10": {"accelerator": "A10", "gpus_per_machine": 2, "spot": False, "machines": 2,
            "image": "Canonical:ubuntu-24_04-lts:server:latest"},
    "A100": {"accelerator": "A100", "gpus_per_machine": 8, "spot": True, "machines": 1, "shared_filesystem": True,
             "shared_filesystem_gib": 2048, "boot_disk_gib": 512},
    "H100": {"accelerator": "H100", "gpus_per_machine": 1, "spot": False,
             "image": "/subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/galleries/gal/images/dl/versions/1.0.0"},
}


@pytest.fixture(scope="module", params=sorted(CASES))
def case(request):
    training = {"enabled": True, **CASES[request.param]}
    plan = plan_azure({"serving": {"min_instances": 1, "image": "x/y:1"}, "training": training,
                       "alerts": {"enabled": False}})
    return training, plan


def training_vmss(plan, env="dev"):
    return named(plan, f"digits-{env}-gpu").inputs


def test_prod_template_is_a_spot_t4_scale_set_with_no_machine(prod_plan):
    offer = catalog.lookup("azure", "T4", 1, REGION)
    vmss = training_vmss(prod_plan, "prod")
    assert vmss["sku"] == {"name": "Standard_NC4as_T4_v3", "tier": "Standard", "capacity": 0}
    assert offer.machine_type == "Standard_NC4as_T4_v3"
    profile = vmss["virtualMachineProfile"]
    # Delete: deallocated spot VMs "count against your quota, and you will be charged storage costs for the
    # underlying disks" ("Use Azure Spot Virtual Machines").
    assert profile["priority"] == "Spot" and profile["evictionPolicy"] == "Delete"
    assert profile["billingProfile"] == {"maxPrice": -1}
    assert profile["storageProfile"]["osDisk"]["managedDisk"] == {"storageAccountType": "Premium_LRS"}
    assert profile["storageProfile"]["imageReference"] == {"publisher": "microsoft-dsvm", "offer": "ubuntu-hpc",
                                                           "sku": "2204", "version": "latest"}
    assert profile["storageProfile"]["osDisk"]["diskSizeGB"] == 200
    assert prod_plan.outputs["training_machine_type"] == "Standard_NC4as_T4_v3"
    assert prod_plan.outputs["training_template"] == (
        f"{rg_id('prod')}/providers/Microsoft.Compute/virtualMachineScaleSets/digits-prod-gpu")


def test_training_machines_are_private(prod_plan):
    profile = training_vmss(prod_plan, "prod")["virtualMachineProfile"]
    [nic] = profile["networkProfile"]["networkInterfaceConfigurations"]
    [ipconfig] = nic["ipConfigurations"]
    assert "publicIPAddressConfiguration" not in ipconfig
    assert ipconfig["subnet"]["id"].endswith("/virtualNetworks/digits-prod-vnet/subnets/training")
    assert profile["osProfile"]["linuxConfiguration"]["disablePasswordAuthentication"] is True
    rules = named(prod_plan, "digits-prod-training-nsg").inputs["securityRules"]
    assert [r["access"] for r in rules] == ["Deny"]


def test_training_identity_scope(prod_plan):
    account = inputs(prod_plan, "azure-native:storage:StorageAccount")["accountName"]
    registry = inputs(prod_plan, "azure-native:containerregistry:Registry")["registryName"]
    rw = named(prod_plan, "digits-prod-training-data-rw").inputs
    assert rw["scope"] == (f"{rg_id('prod')}/providers/Microsoft.Storage/storageAccounts/{account}"
                           "/blobServices/default/containers/ml")
    assert rw["roleDefinitionId"] == role_id(ROLE_STORAGE_BLOB_DATA_CONTRIBUTOR)
    assert rw["conditionVersion"] == "2.0"
    read, write = rw["condition"].split("\nAND\n")
    for prefix in ("data/", "runs/", "models/"):
        assert f"StringStartsWith '{prefix}'" in read
    assert "StringStartsWith 'runs/'" in write and "StringStartsWith 'models/'" in write
    assert "'data/'" not in write
    assert "blobs/write'}" in write and "blobs/delete'}" in write
    pull = named(prod_plan, "digits-prod-training-acr-pull").inputs
    assert pull["scope"] == f"{rg_id('prod')}/providers/Microsoft.ContainerRegistry/registries/{registry}"
    assert pull["roleDefinitionId"] == role_id(ROLE_ACR_PULL)
    identity = f"{rg_id('prod')}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/digits-prod-training"
    assert training_vmss(prod_plan, "prod")["identity"]["userAssignedIdentities"] == [identity]


def test_machine_type_follows_the_catalog(case):
    training, plan = case
    offer = catalog.lookup("azure", training["accelerator"], training["gpus_per_machine"], REGION)
    vmss = training_vmss(plan)
    assert vmss["sku"] == {"name": offer.machine_type, "tier": "Standard", "capacity": training.get("machines", 0)}
    assert plan.outputs["training_machine_type"] == offer.machine_type
    assert offer.machine_type.startswith(("Standard_NC", "Standard_ND", "Standard_NV"))


def test_spot_or_regular(case):
    training, plan = case
    profile = training_vmss(plan)["virtualMachineProfile"]
    if training["spot"]:
        assert (profile["priority"], profile["evictionPolicy"]) == ("Spot", "Delete")
        assert profile["billingProfile"] == {"maxPrice": -1}
    else:
        assert profile["priority"] == "Regular"
        assert "evictionPolicy" not in profile and "billingProfile" not in profile


def test_image_override(case):
    training, plan = case
    ref = training_vmss(plan)["virtualMachineProfile"]["storageProfile"]["imageReference"]
    image = training.get("image")
    if image is None:
        assert ref["offer"] == "ubuntu-hpc"
    elif image.startswith("/subscriptions/"):
        assert ref == {"id": image}
    else:
        publisher, offer, sku, version = image.split(":")
        assert ref == {"publisher": publisher, "offer": offer, "sku": sku, "version": version}


def test_shared_filesystem_only_from_the_training_subnet(case):
    training, plan = case
    accounts = {r.name: r.inputs for r in plan.of_type("azure-native:storage:StorageAccount")}
    if not training.get("shared_filesystem"):
        assert set(accounts) == {"digits-dev-data"}
        assert not plan.of_type("azure-native:storage:FileShare")
        return
    files = accounts["digits-dev-training-files"]
    assert files["kind"] == "FileStorage" and files["sku"] == {"name": "Premium_LRS"}
    assert files["allowSharedKeyAccess"] is False and files["allowBlobPublicAccess"] is False
    subnet = f"{rg_id()}/providers/Microsoft.Network/virtualNetworks/digits-dev-vnet/subnets/training"
    assert files["networkRuleSet"] == {"defaultAction": "Deny", "bypass": "None",
                                       "virtualNetworkRules": [{"virtualNetworkResourceId": subnet, "action": "Allow"}]}
    share = inputs(plan, "azure-native:storage:FileShare")
    assert share["enabledProtocols"] == "NFS" and share["shareQuota"] == training["shared_filesystem_gib"]
    assert share["accountName"] == files["accountName"]
    training_subnet = named(plan, "digits-dev-training-subnet").inputs
    assert training_subnet["serviceEndpoints"] == [{"service": "Microsoft.Storage", "locations": [REGION]}]
    script = base64.b64decode(training_vmss(plan)["virtualMachineProfile"]["osProfile"]["customData"]).decode()
    assert f"{files['accountName']}.file.core.windows.net:/{files['accountName']}/shared" in script
    assert training_vmss(plan)["virtualMachineProfile"]["storageProfile"]["osDisk"]["diskSizeGB"] == 512


def test_serverless_service_gets_the_training_subnet_only(case):
    _, plan = case
    assert [r.name for r in plan.of_type("azure-native:network:Subnet")] == ["digits-dev-training-subnet"]
    assert [r.name for r in plan.of_type("azure-native:network:NetworkSecurityGroup")] == ["digits-dev-training-nsg"]
    subnet = named(plan, "digits-dev-training-subnet").inputs
    assert subnet["defaultOutboundAccess"] is False and subnet["addressPrefix"] == "10.20.2.0/24"


def test_dev_training_disk_is_standard_ssd(case):
    _, plan = case
    # Outside prod the cheapest SSD (Standard SSD); Premium SSD is prod's.
    disk = training_vmss(plan)["virtualMachineProfile"]["storageProfile"]["osDisk"]["managedDisk"]
    assert disk == {"storageAccountType": "StandardSSD_LRS"}


def test_a10_without_an_image_is_refused_with_the_reason():
    # NVadsA10 v5 sizes need the NVIDIA GRID (GPU-P) driver ("NVadsA10 v5-series"); the HPC image carries the
    # CUDA data-center driver only. With no image of the user's, the spec is refused before any resource.
    from components.errors import ConfigError

    with pytest.raises(ConfigError) as err:
        plan_azure({"serving": {"min_instances": 1, "image": "x/y:1"},
                    "training": {"enabled": True, "accelerator": "A10"}})
    assert err.value.exit_code == 3
    assert err.value.message.startswith("mlinfra:service.training.accelerator: A10 on Azure needs")
    assert "GRID" in err.value.message and "training.image" in err.value.message


@pytest.mark.parametrize("accelerator", [a for a in catalog.accelerators()
                                         if any(o.cloud == "azure" and o.accelerator == a
                                                for o in catalog._offers())])
def test_every_catalog_accelerator_has_an_image_path_or_a_clear_refusal(accelerator):
    from components.errors import ConfigError
    from components.providers.azure.sizes import NEEDS_OWN_IMAGE

    offer = next(o for o in catalog._offers() if o.cloud == "azure" and o.accelerator == accelerator)
    service = {"serving": {"min_instances": 1, "image": "x/y:1"}, "alerts": {"enabled": False},
               "training": {"enabled": True, "accelerator": accelerator, "gpus_per_machine": offer.gpus}}
    region = offer.regions[0]
    if accelerator in NEEDS_OWN_IMAGE:
        with pytest.raises(ConfigError):
            plan_azure(service, regions={"azure": region})
    else:
        plan = plan_azure(service, regions={"azure": region})
        ref = training_vmss(plan)["virtualMachineProfile"]["storageProfile"]["imageReference"]
        assert ref["offer"] == "ubuntu-hpc"
