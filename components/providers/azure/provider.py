"""Azure: which regions, what it cannot do, its tag rules and names. Builders live beside this file
and are imported on first use, so checking a spec never loads pulumi_azure_native."""
from __future__ import annotations

import re
from typing import Mapping

from components.errors import ConfigError
from components.naming import alnum, checked, short_hash
from components.providers.base import BaseProvider, BuildContext, Feature

from .sizes import NEEDS_OWN_IMAGE, container_app_resources_error, serving_vm_size

REGIONS = frozenset({
    "eastus", "eastus2", "centralus", "northcentralus", "southcentralus", "westcentralus", "westus", "westus2",
    "westus3", "canadacentral", "canadaeast", "brazilsouth", "mexicocentral", "northeurope", "westeurope",
    "uksouth", "ukwest", "francecentral", "germanywestcentral", "italynorth", "norwayeast", "polandcentral",
    "spaincentral", "swedencentral", "switzerlandnorth", "israelcentral", "qatarcentral", "uaenorth",
    "southafricanorth", "centralindia", "southindia", "eastasia", "southeastasia", "japaneast", "japanwest",
    "koreacentral", "australiaeast", "australiasoutheast", "newzealandnorth", "indonesiacentral", "malaysiawest",
})
# Regions with availability zones, copied entry by entry from Microsoft's "Regions with availability zones"
# table (learn.microsoft.com/azure/reliability/availability-zones-region-support, section "Regions with
# availability zones", tab All). Zones still in preview there (North Central US) are left out: a prod scale
# set there stays regional. Every other region in REGIONS has no zones: scale sets there are regional.
ZONE_REGIONS = frozenset({
    "australiaeast", "brazilsouth", "canadacentral", "centralindia", "centralus", "eastasia", "eastus",
    "eastus2", "francecentral", "germanywestcentral", "indonesiacentral", "israelcentral", "italynorth",
    "japaneast", "japanwest", "koreacentral", "malaysiawest", "mexicocentral", "newzealandnorth", "northeurope",
    "norwayeast", "polandcentral", "qatarcentral", "southafricanorth", "southcentralus", "southeastasia",
    "spaincentral", "swedencentral", "switzerlandnorth", "uaenorth", "uksouth", "westeurope", "westus2", "westus3",
})
NO_ZONES = REGIONS - ZONE_REGIONS
# Azure tag names may not contain these characters.
_TAG_NAME_FORBIDDEN = re.compile(r"[<>%&\\?/]")
# An image for training: a marketplace URN (publisher:offer:sku:version) or an image / gallery resource id.
_IMAGE_URN = re.compile(r"[A-Za-z0-9._-]+:[A-Za-z0-9._-]+:[A-Za-z0-9._-]+:[A-Za-z0-9._-]+")


class AzureProvider(BaseProvider):
    name = "azure"
    display_name = "Azure"
    packages = ("azure-native",)
    # Resources that hold data: protected (and retained on delete) in protected environments.
    # Azure Resource Manager Tags API: "The specified entity can have a maximum of 50 tags".
    MAX_TAGS = 50
    STATEFUL_TYPES = frozenset({"azure-native:storage:StorageAccount", "azure-native:storage:BlobContainer",
                                "azure-native:storage:FileShare", "azure-native:containerregistry:Registry",
                                # deleting the vault or a secret deletes values set with `mlinfra secrets set`
                                "azure-native:keyvault:Vault", "azure-native:keyvault:Secret"})
    default_region = "eastus"
    regions = REGIONS
    UNSUPPORTED: Mapping[Feature, str] = {
        Feature.VM_SCALE_TO_ZERO: (
            "a scale set behind a load balancer scales on its own CPU, which no instance reports once all are "
            "gone, so nothing would ever scale it back out; set serving.min_instances >= 1, or use "
            "serving.mode: serverless (Container Apps scale to zero)"),
    }

    # -- names -------------------------------------------------------------------------------
    def resource_group_name(self, spec) -> str:
        # Resource group: 1-90 of letters, digits, '_', '-', '.', '(', ')'; not ending in '.'.
        return checked(f"{spec.service.name}-{spec.env}-rg", what="resource group", pattern=r"[A-Za-z0-9_().-]*[^.]",
                       min_len=1, max_len=90, limit="Azure resource group: 1-90 letters, digits, _ - . ( )")

    def _global_name(self, spec, max_len: int) -> str:
        # Globally unique names get a 6-char hash of project/stack/region/service/env. The readable stem
        # (service + env, alphanumerics only) is cut so stem + hash fits; the hash covers the full
        # names, so two stacks whose stems are cut alike still differ.
        digest = short_hash(spec.project, spec.stack, spec.region, spec.service.name, spec.env)
        stem = alnum(spec.service.name + spec.env)[: max_len - len(digest)]
        return stem + digest

    def storage_account_name(self, spec) -> str:
        # Azure storage account: 3-24 lowercase letters and digits, globally unique (it is a DNS name).
        # A 20-char service in `prod` gives a 24-char stem: cut to 18 + the 6-char hash.
        return checked(self._global_name(spec, 24), what="storage account", pattern=r"[a-z0-9]+", min_len=3,
                       max_len=24, limit="Azure storage account: 3-24 lowercase letters and digits")

    def files_account_name(self, spec) -> str:
        # The training share's premium FileStorage account: same rule, a different hash.
        digest = short_hash(spec.project, spec.stack, spec.region, spec.service.name, spec.env, "files")
        name = "fs" + alnum(spec.service.name + spec.env)[: 24 - 2 - len(digest)] + digest
        return checked(name, what="file storage account", pattern=r"[a-z0-9]+", min_len=3, max_len=24,
                       limit="Azure storage account: 3-24 lowercase letters and digits")

    def key_vault_name(self, spec) -> str:
        # Key Vault: 3-24 letters, digits and '-', starting with a letter, globally unique (`<name>.vault.azure.net`).
        digest = short_hash(spec.project, spec.stack, spec.region, spec.service.name, spec.env, "vault")
        name = "kv" + alnum(spec.service.name + spec.env)[: 24 - 2 - len(digest)] + digest
        return checked(name, what="key vault", pattern=r"[a-z][a-z0-9]+", min_len=3, max_len=24,
                       limit="Azure key vault: 3-24 letters, digits and '-', starting with a letter")

    def registry_name(self, spec) -> str:
        # Azure container registry: 5-50 alphanumerics, globally unique (`<name>.azurecr.io`).
        return checked(self._global_name(spec, 50), what="container registry", pattern=r"[a-z0-9]+", min_len=5,
                       max_len=50, limit="Azure container registry: 5-50 letters and digits")

    def container_app_name(self, spec) -> str:
        # Container app: 2-32 lowercase letters, digits, '-'; starts with a letter, ends alphanumeric, no '--'.
        name = f"{spec.service.name}-{spec.env}"
        if len(name) > 32:
            name = f"{name[:25].rstrip('-')}-{short_hash(name)}"
        return checked(name, what="container app", pattern=r"[a-z](?!.*--)[a-z0-9-]*[a-z0-9]", min_len=2,
                       max_len=32, limit="Azure container app: 2-32 lowercase letters, digits and '-'")

    def check_names(self, spec) -> None:
        self.resource_group_name(spec)
        self.storage_account_name(spec)
        self.registry_name(spec)
        self.container_app_name(spec)
        if spec.service.serving.secrets:
            self.key_vault_name(spec)
        if spec.service.training.enabled and spec.service.training.shared_filesystem:
            self.files_account_name(spec)

    def check_cloud_specific(self, spec) -> None:
        serving = spec.service.serving
        if serving.domain and serving.ingress != "public":
            raise ConfigError("mlinfra:service.serving.domain: a custom domain on Azure needs serving.ingress: "
                              "public (internal endpoints answer on their private address only)")
        # serving.certificate (a certificate the user brings, e.g. an ACM ARN for AWS in a shared config) is
        # not used here: Container Apps and Front Door issue and renew the domain's certificate themselves.
        if serving.firewall and serving.mode == "serverless":
            raise ConfigError("mlinfra:service.serving.firewall: a web application firewall on Azure is built in "
                              "front of VM serving (Front Door Premium); with serving.mode: serverless remove it")
        if serving.dns_zone and serving.dns_zone.count("/") > 1:
            raise ConfigError(f"mlinfra:service.serving.dns_zone: {serving.dns_zone!r}: give an Azure DNS zone "
                              "name (zone in the environment's resource group) or resource-group/zone")
        if serving.mode == "serverless":
            error = container_app_resources_error(serving.cpu, serving.memory_gib)
            if error:
                raise ConfigError(error)
        else:
            serving_vm_size(serving)  # raises ConfigError when nothing fits
        training = spec.service.training
        if training.enabled:
            self.training_offer(spec)
            image = training.image
            if not image and training.accelerator in NEEDS_OWN_IMAGE:
                raise ConfigError(
                    f"mlinfra:service.training.accelerator: {training.accelerator} on Azure needs "
                    f"{NEEDS_OWN_IMAGE[training.accelerator]}, which the default HPC image does not carry; set "
                    "training.image to an image with it, or choose T4, A100 or H100")
            if image and not (image.startswith("/subscriptions/") or _IMAGE_URN.fullmatch(image)):
                raise ConfigError(
                    f"mlinfra:service.training.image: {image!r} is not an Azure image; use a marketplace "
                    "URN publisher:offer:sku:version or an image / gallery image resource id (/subscriptions/...)")

    def training_offer(self, spec):
        """The catalog's offer for the training accelerator in this region (ConfigError when absent)."""
        from components import catalog

        t = spec.service.training
        return catalog.lookup("azure", t.accelerator, t.gpus_per_machine, spec.region)

    def zones(self, spec) -> list[str] | None:
        return None if spec.region in NO_ZONES else ["1", "2", "3"]

    # -- tags --------------------------------------------------------------------------------
    def tags(self, tags: Mapping[str, str]) -> dict[str, str]:
        # Azure tags: names up to 512 characters without < > % & \ ? /, values up to 256.
        return {_TAG_NAME_FORBIDDEN.sub("_", k)[:512]: v[:256] for k, v in tags.items()}

    # -- builders ----------------------------------------------------------------------------
    def sdk_provider(self, name: str, spec):
        import pulumi_azure_native as azure_native

        return azure_native.Provider(f"{name}-azure", location=spec.region)

    def foundation(self, parent, name: str, ctx: BuildContext):
        import pulumi
        import pulumi_azure_native as azure_native

        # Everything of one environment lives in one resource group: the budget's scope, one delete.
        return azure_native.resources.ResourceGroup(
            f"{ctx.prefix}-rg", resource_group_name=self.resource_group_name(ctx.spec), location=ctx.spec.region,
            tags=ctx.tags, opts=pulumi.ResourceOptions(parent=parent))
