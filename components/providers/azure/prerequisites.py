"""What an Azure subscription must have before the plan's resources can be created. Plain data, no SDK.

Resource providers: "Before you use a resource provider, you must make sure your Azure subscription is
registered for the resource provider" (Azure docs, "Azure resource providers and types",
https://learn.microsoft.com/azure/azure-resource-manager/management/resource-providers-and-types).
The program cannot register them itself: azure-native has no provider-registration resource (ARM's
register is a POST, and the native provider only models PUT resources: pulumi/pulumi-azure-native#1075),
so each is a listed prerequisite that `mlinfra doctor` checks (components/providers/azure/preflight.py)
and whose fix is `az provider register --namespace <ns>`.

Namespaces per type: "Resource providers for Azure services"
(https://learn.microsoft.com/azure/azure-resource-manager/management/azure-services-resource-providers),
which also marks the ones registered by default on every subscription.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

# azure-native type token prefix (`azure-native:<module>:`) -> resource provider namespace.
# A whole-module prefix unless a type of that module belongs to another namespace (listed first).
PROVIDER_FOR_TYPE: dict[str, str] = {
    "azure-native:resources:": "Microsoft.Resources",  # resourceGroups
    "azure-native:storage:": "Microsoft.Storage",  # storageAccounts and their blob/file services
    "azure-native:containerregistry:": "Microsoft.ContainerRegistry",  # registries, tasks, tokens, scopeMaps
    "azure-native:managedidentity:": "Microsoft.ManagedIdentity",  # userAssignedIdentities
    "azure-native:authorization:": "Microsoft.Authorization",  # roleAssignments
    "azure-native:operationalinsights:": "Microsoft.OperationalInsights",  # workspaces
    "azure-native:app:": "Microsoft.App",  # managedEnvironments, containerApps, managed certificates
    "azure-native:network:": "Microsoft.Network",  # vnets, NSGs, NAT, load balancers, app gateways, WAF
    "azure-native:dns:": "Microsoft.Network",  # dnsZones/* record sets
    "azure-native:compute:": "Microsoft.Compute",  # virtualMachineScaleSets
    "azure-native:monitor:": "Microsoft.Insights",  # metricAlerts, actionGroups, autoscalesettings, diagnostics
    "azure-native:insights:": "Microsoft.Insights",
    "azure-native:consumption:": "Microsoft.Consumption",  # budgets
    "azure-native:keyvault:": "Microsoft.KeyVault",  # vaults, secrets
    "azure-native:features:": "Microsoft.Features",
    "azure-native:cdn:": "Microsoft.Cdn",  # Front Door Standard/Premium profiles, endpoints, routes
    "azure-native:frontdoor:": "Microsoft.Network",  # frontDoorWebApplicationFirewallPolicies
}

# "Registered by default" in "Resource providers for Azure services": never missing, never listed.
REGISTERED_BY_DEFAULT = frozenset({
    "Microsoft.Authorization", "Microsoft.Consumption", "Microsoft.Features", "Microsoft.Resources",
    "Microsoft.CostManagement", "Microsoft.Billing", "Microsoft.Commerce", "Microsoft.Portal",
    "Microsoft.ResourceGraph", "Microsoft.SerialConsole", "Microsoft.MarketplaceOrdering",
})

# Namespaces one namespace's resources need besides their own. Container Apps: "az provider register
# --namespace Microsoft.App" and "--namespace Microsoft.OperationalInsights" (Azure Container Apps,
# "Quickstart: Deploy your first container app", https://learn.microsoft.com/azure/container-apps/get-started).
ALSO_NEEDS: dict[str, tuple[str, ...]] = {
    "Microsoft.App": ("Microsoft.OperationalInsights",),
}


def namespace_of(type_token: str) -> str | None:
    """The resource provider namespace a type token belongs to; None for non-Azure or component types."""
    for prefix, namespace in PROVIDER_FOR_TYPE.items():
        if type_token.startswith(prefix):
            return namespace
    return None


def providers_for_types(types: Iterable[str]) -> dict[str, list[str]]:
    """Namespace -> the plan's type tokens that need it (sorted), leaving out what Azure registers by default."""
    need: dict[str, set[str]] = {}
    for token in types:
        namespace = namespace_of(token)
        if namespace is None:
            continue
        for ns in (namespace, *ALSO_NEEDS.get(namespace, ())):
            if ns not in REGISTERED_BY_DEFAULT:
                need.setdefault(ns, set()).add(token)
    return {ns: sorted(tokens) for ns, tokens in sorted(need.items())}


def register_command(namespace: str) -> str:
    return f"az provider register --namespace {namespace}"


# -- subscription features -------------------------------------------------------------------------------
def _encryption_at_host(type_token: str, inputs: Mapping[str, Any]) -> bool:
    if type_token not in ("azure-native:compute:VirtualMachineScaleSet", "azure-native:compute:VirtualMachine"):
        return False
    profile = inputs.get("virtualMachineProfile") or inputs
    return bool(((profile or {}).get("securityProfile") or {}).get("encryptionAtHost"))


@dataclass(frozen=True)
class SubscriptionFeature:
    namespace: str
    name: str
    why: str
    command: str  # the documented way to register it (then re-register the namespace to propagate)
    check: str
    source: str
    used_by: Callable[[str, Mapping[str, Any]], bool]  # (type token, wire inputs) -> does it need the feature

    @property
    def full_name(self) -> str:
        return f"{self.namespace}/{self.name}"


FEATURES: tuple[SubscriptionFeature, ...] = (
    # "Prerequisites: You must enable the feature for your subscription before you can use encryption at
    # host": `az feature register --namespace Microsoft.Compute --name EncryptionAtHost`, wait until
    # `az feature show` says Registered, then `az provider register --namespace Microsoft.Compute`.
    SubscriptionFeature(
        namespace="Microsoft.Compute", name="EncryptionAtHost",
        why="securityProfile.encryptionAtHost: true (scale-set temp disks and caches encrypted on the host)",
        command=("az feature register --namespace Microsoft.Compute --name EncryptionAtHost && "
                 "az provider register --namespace Microsoft.Compute"),
        check="az feature show --namespace Microsoft.Compute --name EncryptionAtHost --query properties.state",
        source="https://learn.microsoft.com/azure/virtual-machines/linux/disks-enable-host-based-encryption-cli",
        used_by=_encryption_at_host),
)


def features_for_resources(resources: Iterable[tuple[str, Mapping[str, Any]]]) -> dict[str, list[str]]:
    """Feature full name (`Microsoft.Compute/EncryptionAtHost`) -> type tokens whose inputs need it."""
    need: dict[str, set[str]] = {}
    for token, inputs in resources:
        for feature in FEATURES:
            if feature.used_by(token, inputs or {}):
                need.setdefault(feature.full_name, set()).add(token)
    return {name: sorted(tokens) for name, tokens in sorted(need.items())}


def feature(full_name: str) -> SubscriptionFeature:
    return next(f for f in FEATURES if f.full_name == full_name)
