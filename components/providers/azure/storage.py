"""Blob storage tiers: a private, Entra-ID-only storage account whose data prefixes age to archive."""
from __future__ import annotations

import pulumi
import pulumi_azure_native as azure_native

from components.providers.base import BuildContext, StorageOutputs

CONTAINER = "ml"
# Soft delete keeps deleted blobs and containers restorable this long.
DELETE_RETENTION_DAYS = 7


def storage_sku(ctx: BuildContext) -> str:
    # The archive tier is only available on LRS / GRS / RA-GRS accounts: zone-redundant (ZRS, GZRS) accounts
    # cannot hold archived blobs. So prod keeps a second copy in the paired region (GRS) and every other
    # environment, short-lived or rebuilt from prod data, stays on the cheapest LRS.
    return "Standard_GRS" if ctx.spec.env == "prod" else "Standard_LRS"


def management_rules(ctx: BuildContext) -> list[dict]:
    st = ctx.spec.service.storage
    # Azure's prefix match starts with the container name (`ml/data/`).
    rules: list[dict] = [{
        "name": f"tier-{prefix.rstrip('/').replace('.', '-').replace('_', '-')}",
        "type": "Lifecycle",
        "enabled": True,
        "definition": {
            "filters": {"blob_types": ["blockBlob"], "prefix_match": [f"{CONTAINER}/{prefix}"]},
            "actions": {"base_blob": {
                "tier_to_cool": {"days_after_modification_greater_than": st.warm_after_days},
                "tier_to_cold": {"days_after_modification_greater_than": st.cold_after_days},
                "tier_to_archive": {"days_after_modification_greater_than": st.archive_after_days},
            }},
        },
    } for prefix in st.tiered_prefixes]
    rules.append({
        "name": "expire-old-versions",
        "type": "Lifecycle",
        "enabled": True,
        "definition": {
            "filters": {"blob_types": ["blockBlob"]},
            "actions": {"version": {"delete": {"days_after_creation_greater_than": st.noncurrent_expire_days}}},
        },
    })
    return rules


def network_rules(ctx: BuildContext, parent) -> dict:
    """Prod with VM serving: the account refuses every network but the service's own subnets.

    "Configure Azure Storage firewalls and virtual networks": defaultAction Deny with virtualNetworkRules
    for subnets that have the Microsoft.Storage service endpoint; bypass None (no trusted-service
    exception is needed). Elsewhere (dev, serverless: Container Apps here are not in a virtual network)
    the account stays reachable with Entra ID only, no keys, no anonymous access.
    """
    serving = ctx.spec.service.serving
    if ctx.spec.env != "prod" or serving.mode != "vm":
        return {}
    from .network import network

    net = network(ctx, parent)
    subnets = [stack.subnet for stack in net.serving]
    if net.training_subnet is not None:
        subnets.append(net.training_subnet)
    return {"public_network_access": "Enabled", "network_rule_set": {
        "default_action": "Deny", "bypass": "None",
        "virtual_network_rules": [{"virtual_network_resource_id": s.id, "action": "Allow"} for s in subnets]}}


def build_storage(provider, parent: pulumi.Resource, ctx: BuildContext) -> StorageOutputs:
    p = ctx.prefix
    rg = ctx.base
    opts = pulumi.ResourceOptions(parent=parent)
    restricted = network_rules(ctx, parent)
    account = azure_native.storage.StorageAccount(
        f"{p}-data", account_name=provider.storage_account_name(ctx.spec), resource_group_name=rg.name,
        location=ctx.spec.region, kind="StorageV2", sku={"name": storage_sku(ctx)}, access_tier="Hot",
        enable_https_traffic_only=True, minimum_tls_version="TLS1_2", allow_blob_public_access=False,
        # Entra ID (role assignments) only: no account keys, no SAS tokens signed with them.
        allow_shared_key_access=False, default_to_o_auth_authentication=True,
        allow_cross_tenant_replication=False, **restricted,
        encryption={"key_source": "Microsoft.Storage", "services": {
            "blob": {"enabled": True, "key_type": "Account"}, "file": {"enabled": True, "key_type": "Account"}}},
        tags=ctx.tags, opts=opts)
    dep = pulumi.ResourceOptions(parent=parent, depends_on=[account])
    blob_service = azure_native.storage.BlobServiceProperties(
        f"{p}-data-blob-service", account_name=account.name, resource_group_name=rg.name,
        blob_services_name="default", is_versioning_enabled=True,
        delete_retention_policy={"enabled": True, "days": DELETE_RETENTION_DAYS},
        container_delete_retention_policy={"enabled": True, "days": DELETE_RETENTION_DAYS}, opts=dep)
    container = azure_native.storage.BlobContainer(
        f"{p}-data-container", account_name=account.name, resource_group_name=rg.name, container_name=CONTAINER,
        public_access="None", opts=dep)
    azure_native.storage.ManagementPolicy(
        f"{p}-data-lifecycle", account_name=account.name, resource_group_name=rg.name,
        management_policy_name="default", policy={"rules": management_rules(ctx)},
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[blob_service]))
    ctx.shared["azure_storage_account"] = account
    ctx.shared["azure_container_id"] = container.id
    return StorageOutputs(bucket=container.name, url=pulumi.Output.concat("az://", account.name, "/", container.name),
                          resource_id=account.id)
