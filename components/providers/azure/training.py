"""GPU training: a scale set of the catalog's NC/ND size (spot by default), sized to `machines`
(0 keeps the definition and runs nothing), with an optional NFS share reachable from its subnet only."""
from __future__ import annotations

import base64

import pulumi
import pulumi_azure_native as azure_native

from components.providers.base import BuildContext, TrainingOutputs

from .access import computer_name_prefix, linux_os_profile
from .identity import training_identity
from .network import network

# Ubuntu HPC: NVIDIA driver, CUDA, NCCL and InfiniBand drivers preinstalled (the Azure HPC/AI image).
HPC_IMAGE = {"publisher": "microsoft-dsvm", "offer": "ubuntu-hpc", "sku": "2204", "version": "latest"}
SHARE = "shared"
MOUNT = "/mnt/shared"
NFS_OPTIONS = "vers=4,minorversion=1,sec=sys,nconnect=4,_netdev"


def image_reference(image: str | None) -> dict:
    if not image:
        return HPC_IMAGE
    if image.startswith("/subscriptions/"):
        return {"id": image}
    publisher, offer, sku, version = image.split(":")
    return {"publisher": publisher, "offer": offer, "sku": sku, "version": version}


# OS disk: Premium SSD in prod; Standard SSD (the cheapest SSD) elsewhere.
OS_DISK = {"prod": "Premium_LRS"}
DEFAULT_OS_DISK = "StandardSSD_LRS"

def spot_settings(spot: bool) -> dict:
    if not spot:
        return {"priority": "Regular"}
    # Delete, not Deallocate: deallocated spot VMs "count against your quota, and you will be charged
    # storage costs for the underlying disks" ("Use Azure Spot Virtual Machines", eviction policy).
    # Training checkpoints to the bucket (runs/), so an evicted machine is replaced, not resumed. max_price -1 pays up to the on-demand price instead of being evicted for price.
    return {"priority": "Spot", "eviction_policy": "Delete", "billing_profile": {"max_price": -1}}


def mount_cloud_init(account: str) -> str:
    source = f"{account}.file.core.windows.net:/{account}/{SHARE}"
    return ("#cloud-config\npackages: [nfs-common]\n"
            f"mounts:\n  - [\"{source}\", \"{MOUNT}\", nfs, \"{NFS_OPTIONS}\", \"0\", \"0\"]\n"
            f"runcmd:\n  - mkdir -p {MOUNT}\n  - mount -a\n")


def shared_filesystem(provider, parent, ctx: BuildContext, subnet) -> azure_native.storage.StorageAccount:
    p = ctx.prefix
    rg = ctx.base
    t = ctx.spec.service.training
    opts = pulumi.ResourceOptions(parent=parent)
    account = azure_native.storage.StorageAccount(
        f"{p}-training-files", account_name=provider.files_account_name(ctx.spec), resource_group_name=rg.name,
        location=ctx.spec.region, kind="FileStorage", sku={"name": "Premium_LRS"},
        # NFS 4.1 shares refuse "secure transfer required" (NFS has no TLS here); the network rules below
        # keep the traffic inside the virtual network instead: only the training subnet may connect.
        enable_https_traffic_only=False, minimum_tls_version="TLS1_2", allow_blob_public_access=False,
        allow_shared_key_access=False, public_network_access="Enabled",
        network_rule_set={"default_action": "Deny", "bypass": "None",
                          "virtual_network_rules": [{"virtual_network_resource_id": subnet.id, "action": "Allow"}]},
        encryption={"key_source": "Microsoft.Storage", "services": {"file": {"enabled": True, "key_type": "Account"}}},
        tags=ctx.tags, opts=opts)
    azure_native.storage.FileShare(
        f"{p}-training-share", account_name=account.name, resource_group_name=rg.name, share_name=SHARE,
        enabled_protocols="NFS", root_squash="RootSquash", share_quota=t.shared_filesystem_gib,
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[account]))
    return account


def build_training(provider, parent: pulumi.Resource, ctx: BuildContext) -> TrainingOutputs:
    p = ctx.prefix
    rg = ctx.base
    t = ctx.spec.service.training
    offer = provider.training_offer(ctx.spec)
    identity = training_identity(ctx, parent)
    net = network(ctx, parent)
    custom_data = None
    if t.shared_filesystem:
        files = shared_filesystem(provider, parent, ctx, net.training_subnet)
        custom_data = files.name.apply(lambda name: base64.b64encode(mount_cloud_init(name).encode()).decode())
    vmss = azure_native.compute.VirtualMachineScaleSet(
        f"{p}-gpu", vm_scale_set_name=f"{p}-gpu", resource_group_name=rg.name, location=ctx.spec.region,
        sku={"name": offer.machine_type, "tier": "Standard", "capacity": t.machines},
        orchestration_mode="Uniform", overprovision=False, single_placement_group=False,
        # Regional: GPU capacity differs per zone, so Azure picks wherever the size is available.
        identity={"type": "UserAssigned", "user_assigned_identities": [identity.id]},
        upgrade_policy={"mode": "Manual"},
        virtual_machine_profile={
            **spot_settings(t.spot),
            "os_profile": linux_os_profile(ctx, computer_name_prefix(ctx, "trn"), custom_data),
            "storage_profile": {
                "image_reference": image_reference(t.image),
                # Managed disks are always encrypted at rest (platform keys); encryption at host is not
                # offered on every GPU size, so it is not asked for here.
                "os_disk": {"create_option": "FromImage", "caching": "ReadWrite", "disk_size_gb": t.boot_disk_gib,
                            "managed_disk": {"storage_account_type": OS_DISK.get(ctx.spec.env, DEFAULT_OS_DISK)}},
            },
            "network_profile": {"network_interface_configurations": [{
                "name": "nic", "primary": True, "enable_accelerated_networking": True,
                # No public_ip_address_configuration: training machines have private addresses only.
                "ip_configurations": [{"name": "ipconfig", "primary": True, "subnet": {"id": net.training_subnet.id}}],
            }]},
            "diagnostics_profile": {"boot_diagnostics": {"enabled": True}},
        },
        tags=ctx.tags, opts=pulumi.ResourceOptions(parent=parent, depends_on=identity.assignments))
    ctx.shared["azure_training_vmss"] = vmss
    return TrainingOutputs(template=vmss.id, machine_type=offer.machine_type, identity=identity.principal_id)
