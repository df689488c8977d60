"""Built-in role GUIDs and subscription prerequisites, against Microsoft's documentation."""
from __future__ import annotations

import re

from components.providers.azure import prerequisites, roles

from .util import role_id

# Rows copied from Microsoft's "Azure built-in roles" table (built-in role | ID),
# https://learn.microsoft.com/azure/role-based-access-control/built-in-roles (categories Containers,
# Storage, Security, Privileged). The program's table must agree with every one of them.
DOCUMENTED_BUILT_IN_ROLES = {
    "AcrPull": "7f951dda-4ed3-4680-a7ca-43fe172d538d",
    "AcrPush": "8311e382-0749-4cb8-b61a-304f252e45ec",
    "Storage Blob Data Reader": "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",
    "Storage Blob Data Contributor": "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
    "Key Vault Secrets User": "4633458b-17de-408a-b874-0445c86b69e6",
    "Key Vault Secrets Officer": "b86a8fe4-44ce-4948-aee5-eccb2c155cd7",
    "Owner": "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
    "Contributor": "b24988ac-6180-42a0-ab88-20f7382dd24c",
    "User Access Administrator": "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9",
    "Role Based Access Control Administrator": "f58310d9-a9f6-439a-9e8d-f62e7b41a168",
}


def test_every_role_guid_is_the_documented_one():
    assert {name: r.guid for name, r in roles.BUILT_IN_ROLES.items()} == DOCUMENTED_BUILT_IN_ROLES


def test_policy_refuses_the_documented_privileged_roles():
    from policy.rules_identity import PrivilegedRoleSettings

    assert set(PrivilegedRoleSettings().role_ids) == {DOCUMENTED_BUILT_IN_ROLES[n] for n in (
        "Owner", "Contributor", "User Access Administrator")}


def test_acr_pull_is_not_the_old_wrong_guid():
    # The program once assigned 7f951dca-4ed3-4395-888d-c9db6a7a5c6a, which is no role at all.
    assert roles.ACR_PULL == "7f951dda-4ed3-4680-a7ca-43fe172d538d"


def test_every_role_assignment_in_the_plans_uses_a_documented_role(dev_plan, prod_plan):
    documented = {role_id(g) for g in DOCUMENTED_BUILT_IN_ROLES.values()}
    for plan in (dev_plan, prod_plan):
        assignments = plan.of_type("azure-native:authorization:RoleAssignment")
        assert assignments
        for a in assignments:
            assert a.inputs["roleDefinitionId"] in documented, a.name


def test_no_other_module_writes_a_role_guid():
    # One table: a GUID-shaped literal in any other Azure module would be a second source.
    from pathlib import Path

    folder = Path(roles.__file__).parent
    guid = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
    known = set(DOCUMENTED_BUILT_IN_ROLES.values())
    for path in folder.glob("*.py"):
        if path.name in ("roles.py", "mocks.py"):
            continue
        assert not known & set(guid.findall(path.read_text())), path.name


def test_deployer_needs_role_assignment_write():
    # "To assign Azure roles, you must have Microsoft.Authorization/roleAssignments/write permissions, such
    # as Role Based Access Control Administrator or User Access Administrator" (Azure docs, "Assign Azure
    # roles using the Azure portal", Prerequisites). Owner includes it; Contributor excludes
    # Microsoft.Authorization/*/Write.
    assert roles.DEPLOYER_ACTION == "Microsoft.Authorization/roleAssignments/write"
    assert set(roles.DEPLOYER_ROLES) == {"Owner", "User Access Administrator",
                                         "Role Based Access Control Administrator"}
    assert "Contributor" not in roles.DEPLOYER_ROLES


# -- resource providers and features ----------------------------------------------------------------------
def test_type_tokens_map_to_their_documented_namespaces():
    # "Resource providers for Azure services" (learn.microsoft.com/azure/azure-resource-manager/management/
    # azure-services-resource-providers): Container Apps -> Microsoft.App, Azure Monitor -> microsoft.insights,
    # Log Analytics -> Microsoft.OperationalInsights, Application Gateway / DNS / LB -> Microsoft.Network.
    cases = {
        "azure-native:app:ContainerApp": "Microsoft.App",
        "azure-native:containerregistry:Registry": "Microsoft.ContainerRegistry",
        "azure-native:operationalinsights:Workspace": "Microsoft.OperationalInsights",
        "azure-native:monitor:MetricAlert": "Microsoft.Insights",
        "azure-native:monitor:AutoscaleSetting": "Microsoft.Insights",
        "azure-native:storage:StorageAccount": "Microsoft.Storage",
        "azure-native:compute:VirtualMachineScaleSet": "Microsoft.Compute",
        "azure-native:network:ApplicationGateway": "Microsoft.Network",
        "azure-native:dns:RecordSet": "Microsoft.Network",
        "azure-native:managedidentity:UserAssignedIdentity": "Microsoft.ManagedIdentity",
        "azure-native:keyvault:Vault": "Microsoft.KeyVault",
        "azure-native:consumption:Budget": "Microsoft.Consumption",
        # Front Door Standard/Premium is Microsoft.Cdn/profiles; its WAF policies are
        # Microsoft.Network/frontDoorWebApplicationFirewallPolicies.
        "azure-native:cdn:Profile": "Microsoft.Cdn",
        "azure-native:frontdoor:Policy": "Microsoft.Network",
    }
    for token, namespace in cases.items():
        assert prerequisites.namespace_of(token) == namespace, token
    assert prerequisites.namespace_of("mlinfra:storage:StorageTiers") is None


def test_providers_registered_by_default_are_not_prerequisites():
    # Microsoft.Authorization, Microsoft.Consumption, Microsoft.Resources: "Registered by default".
    need = prerequisites.providers_for_types(["azure-native:authorization:RoleAssignment",
                                              "azure-native:consumption:Budget",
                                              "azure-native:resources:ResourceGroup"])
    assert need == {}


def test_container_apps_also_need_operational_insights():
    # Container Apps quickstart: register Microsoft.App and Microsoft.OperationalInsights.
    need = prerequisites.providers_for_types(["azure-native:app:ContainerApp"])
    assert need == {"Microsoft.App": ["azure-native:app:ContainerApp"],
                    "Microsoft.OperationalInsights": ["azure-native:app:ContainerApp"]}
    assert prerequisites.register_command("Microsoft.App") == "az provider register --namespace Microsoft.App"


def test_dev_and_prod_plans_need_these_providers(dev_plan, prod_plan):
    dev = prerequisites.providers_for_types(r.type for r in dev_plan.resources)
    assert {"Microsoft.App", "Microsoft.OperationalInsights", "Microsoft.ContainerRegistry", "Microsoft.Storage",
            "Microsoft.ManagedIdentity", "Microsoft.Insights"} <= set(dev)
    prod = prerequisites.providers_for_types(r.type for r in prod_plan.resources)
    assert {"Microsoft.Compute", "Microsoft.Network", "Microsoft.Insights", "Microsoft.Storage"} <= set(prod)


def test_encryption_at_host_is_a_feature_of_the_prod_scale_set(dev_plan, prod_plan):
    # "You must enable the feature for your subscription before you can use encryption at host":
    # az feature register --namespace Microsoft.Compute --name EncryptionAtHost (Azure docs, "Use the Azure
    # CLI to enable end-to-end encryption using encryption at host").
    prod = prerequisites.features_for_resources((r.type, r.inputs) for r in prod_plan.resources)
    assert prod == {"Microsoft.Compute/EncryptionAtHost": ["azure-native:compute:VirtualMachineScaleSet"]}
    feature = prerequisites.feature("Microsoft.Compute/EncryptionAtHost")
    assert "az feature register --namespace Microsoft.Compute --name EncryptionAtHost" in feature.command
    assert "az provider register --namespace Microsoft.Compute" in feature.command
    assert prerequisites.features_for_resources((r.type, r.inputs) for r in dev_plan.resources) == {}
