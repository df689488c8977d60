"""Every Azure built-in role the program assigns or asks of its deployer, in one table. Plain data, no SDK.

Source of every GUID: Microsoft, "Azure built-in roles"
(https://learn.microsoft.com/azure/role-based-access-control/built-in-roles, the table of each
category, column "ID"; MicrosoftDocs/azure-docs articles/role-based-access-control/built-in-roles.md
and built-in-roles/{containers,storage,security,privileged}.md). Built-in role definition ids are the
same in every subscription and tenant. Never write a role GUID anywhere else: import it from here.
"""
from __future__ import annotations

from dataclasses import dataclass

SOURCE = "https://learn.microsoft.com/azure/role-based-access-control/built-in-roles"


@dataclass(frozen=True)
class BuiltInRole:
    name: str  # roleName exactly as the built-in roles table spells it
    guid: str
    why: str  # what this program uses it for


# roleName -> role. Category pages in brackets.
BUILT_IN_ROLES: dict[str, BuiltInRole] = {r.name: r for r in (
    # [Containers] "Pull artifacts from a container registry."
    BuiltInRole("AcrPull", "7f951dda-4ed3-4680-a7ca-43fe172d538d",
                "serving and training identities pull images from the service's registry"),
    # [Containers] "Push artifacts to or pull artifacts from a container registry."
    BuiltInRole("AcrPush", "8311e382-0749-4cb8-b61a-304f252e45ec",
                "the deploying identity may push images (the program itself pushes with a scoped ACR token)"),
    # [Storage] "Read and list Azure Storage containers and blobs."
    BuiltInRole("Storage Blob Data Reader", "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",
                "serving reads models/ (narrowed by an ABAC condition)"),
    # [Storage] "Read, write, and delete Azure Storage containers and blobs."
    BuiltInRole("Storage Blob Data Contributor", "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
                "training reads data and writes runs/ and models/ (narrowed by ABAC conditions)"),
    # [Security] "Read secret contents. Only works for key vaults that use the 'Azure role-based access
    # control' permission model."
    BuiltInRole("Key Vault Secrets User", "4633458b-17de-408a-b874-0445c86b69e6",
                "the serving identity reads serving.secrets from the environment's Key Vault"),
    # [Security] "Perform any action on the secrets of a key vault, except manage permissions."
    BuiltInRole("Key Vault Secrets Officer", "b86a8fe4-44ce-4948-aee5-eccb2c155cd7",
                "whoever runs `mlinfra secrets set` writes secret values (never granted by the program)"),
    # [Privileged] "Grants full access to manage all resources, including the ability to assign roles in Azure RBAC."
    BuiltInRole("Owner", "8e3af657-a8ff-443c-a75c-2fe8c4bcb635", "deployer: may create role assignments"),
    # [Privileged] "Grants full access to manage all resources, but does not allow you to assign roles in Azure
    # RBAC ..."
    BuiltInRole("Contributor", "b24988ac-6180-42a0-ab88-20f7382dd24c",
                "never granted by the program (policy azure-no-privileged-roles forbids it)"),
    # [Privileged] "Lets you manage user access to Azure resources."
    BuiltInRole("User Access Administrator", "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9",
                "deployer (with Contributor): may create role assignments"),
    # [Privileged] "Manage access to Azure resources by assigning roles using Azure RBAC."
    BuiltInRole("Role Based Access Control Administrator", "f58310d9-a9f6-439a-9e8d-f62e7b41a168",
                "deployer (with Contributor): may create role assignments, best with a condition limiting "
                "the roles it may assign to the ones below"),
)}

ACR_PULL = BUILT_IN_ROLES["AcrPull"].guid
ACR_PUSH = BUILT_IN_ROLES["AcrPush"].guid
STORAGE_BLOB_DATA_READER = BUILT_IN_ROLES["Storage Blob Data Reader"].guid
STORAGE_BLOB_DATA_CONTRIBUTOR = BUILT_IN_ROLES["Storage Blob Data Contributor"].guid
KEY_VAULT_SECRETS_USER = BUILT_IN_ROLES["Key Vault Secrets User"].guid
KEY_VAULT_SECRETS_OFFICER = BUILT_IN_ROLES["Key Vault Secrets Officer"].guid
# What policy azure-no-privileged-roles refuses to see assigned.
PRIVILEGED = tuple(BUILT_IN_ROLES[n].guid for n in ("Owner", "Contributor", "User Access Administrator"))

# Roles the program assigns to the identities it creates: a deployer with a constrained
# "Role Based Access Control Administrator" assignment must be allowed to assign exactly these.
ASSIGNED_BY_PROGRAM = (ACR_PULL, STORAGE_BLOB_DATA_READER, STORAGE_BLOB_DATA_CONTRIBUTOR, KEY_VAULT_SECRETS_USER)

# The deploying identity creates role assignments, which needs the action below at the resource group
# (or subscription) scope. Azure docs, "Assign Azure roles using the Azure portal" / "Prerequisites":
# `Microsoft.Authorization/roleAssignments/write` permissions, such as Role Based Access Control
# Administrator or User Access Administrator (Owner includes it). Contributor does NOT: its NotActions
# exclude Microsoft.Authorization/*/Write.
DEPLOYER_ACTION = "Microsoft.Authorization/roleAssignments/write"
DEPLOYER_ROLES = ("Owner", "User Access Administrator", "Role Based Access Control Administrator")
DEPLOYER_REQUIREMENT = (
    "the deploying identity needs Microsoft.Authorization/roleAssignments/write on the subscription or the "
    "environment's resource group: Owner, or Contributor plus Role Based Access Control Administrator "
    "(preferably conditioned to AcrPull, Storage Blob Data Reader/Contributor and Key Vault Secrets User) "
    "or User Access Administrator; e.g. `az role assignment create --assignee <deployer> --role \"Role Based "
    "Access Control Administrator\" --scope /subscriptions/<subscription-id>`")


def role_definition_path(guid: str, subscription_id: str) -> str:
    """The roleDefinitionId a role assignment takes: subscription-scoped path of a built-in role."""
    return f"/subscriptions/{subscription_id}/providers/Microsoft.Authorization/roleDefinitions/{guid}"
