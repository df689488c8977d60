"""User-assigned identities and their role assignments: this container, this registry, nothing else.

Blob access is narrowed below the container with ABAC conditions (version 2.0) on the blob path:
serving may read `models/` only; training reads the data prefixes and writes `runs/` and `models/`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_azure_native as azure_native

from components.providers.base import BuildContext

from .roles import ACR_PULL as ROLE_ACR_PULL
from .roles import STORAGE_BLOB_DATA_CONTRIBUTOR as ROLE_STORAGE_BLOB_DATA_CONTRIBUTOR
from .roles import STORAGE_BLOB_DATA_READER as ROLE_STORAGE_BLOB_DATA_READER

_BLOBS = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs"
_PATH = f"@Resource[{_BLOBS}:path]"
WRITE_ACTIONS = (f"{_BLOBS}/write", f"{_BLOBS}/add/action", f"{_BLOBS}/delete", f"{_BLOBS}/move/action")


@dataclass
class Identity:
    resource: azure_native.managedidentity.UserAssignedIdentity
    id: pulumi.Output  # ARM id, for `identity` blocks
    principal_id: pulumi.Output
    client_id: pulumi.Output
    # What must exist before anything runs as this identity (an image pull fails without AcrPull).
    assignments: list = field(default_factory=list)
    # The propagation wait after `assignments` (created on first need by `propagated`).
    wait: object = None


def _starts_with_any(prefixes) -> str:
    return " OR ".join(f"{_PATH} StringStartsWith '{prefix}'" for prefix in prefixes)


def read_condition(prefixes) -> str:
    """Reads (not listings: a listing has no blob path) allowed only under `prefixes`."""
    return (
        "(\n"
        f" (\n  !(ActionMatches{{'{_BLOBS}/read'}} AND NOT SubOperationMatches{{'Blob.List'}})\n )\n"
        " OR\n"
        f" (\n  {_starts_with_any(prefixes)}\n )\n"
        ")"
    )


def write_condition(prefixes) -> str:
    """Writes, adds, deletes and moves allowed only under `prefixes`."""
    actions = " OR ".join(f"ActionMatches{{'{a}'}}" for a in WRITE_ACTIONS)
    return f"(\n (\n  !({actions})\n )\n OR\n (\n  {_starts_with_any(prefixes)}\n )\n)"


def role_definition_id(guid: str) -> pulumi.Output:
    config = azure_native.authorization.get_client_config_output()
    return config.subscription_id.apply(
        lambda sub: f"/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/{guid}")


def _identity(ctx: BuildContext, parent, purpose: str) -> Identity:
    ident = azure_native.managedidentity.UserAssignedIdentity(
        f"{ctx.prefix}-{purpose}-identity", resource_name_=f"{ctx.prefix}-{purpose}", resource_group_name=ctx.base.name,
        location=ctx.spec.region, tags=ctx.tags, opts=pulumi.ResourceOptions(parent=parent))
    return Identity(ident, ident.id, ident.principal_id, ident.client_id)


def _assign(ctx: BuildContext, parent, name: str, ident: Identity, role: str, scope, description: str,
            condition: str | None = None) -> azure_native.authorization.RoleAssignment:
    extra = {"condition": condition, "condition_version": "2.0"} if condition else {}
    assignment = azure_native.authorization.RoleAssignment(
        f"{ctx.prefix}-{name}", principal_id=ident.principal_id, principal_type="ServicePrincipal",
        role_definition_id=role_definition_id(role), scope=scope, description=description,
        opts=pulumi.ResourceOptions(parent=parent), **extra)
    ident.assignments.append(assignment)
    return assignment


# "When you assign roles or remove role assignments, it can take up to 10 minutes for changes to take
# effect" (Azure docs, "Troubleshoot Azure RBAC", Symptom - Role assignment changes are not being detected).
PROPAGATION = "10m"


def propagated(ctx: BuildContext, parent, ident: Identity, purpose: str) -> list:
    """What a resource that must act as `ident` at creation (a Container App's first revision pulling its
    image, reading its Key Vault secrets) depends on: the assignments, then a wait for them to propagate.

    The wait runs when the sleep is created, i.e. when the assignments are new (its triggers are their ids),
    not on later deploys; scale sets need none: their start script retries until the pull works.
    """
    if ident.wait is None:
        import pulumiverse_time as time

        ident.wait = time.Sleep(
            f"{ctx.prefix}-{purpose}-rbac-propagation", create_duration=PROPAGATION,
            triggers={f"assignment{i}": a.id for i, a in enumerate(ident.assignments)},
            opts=pulumi.ResourceOptions(parent=parent, depends_on=list(ident.assignments)))
    return [*ident.assignments, ident.wait]


def serving_identity(ctx: BuildContext, parent) -> Identity:
    """Reads the bucket's models (hot prefixes) and pulls from the registry."""
    if "azure_serving_identity" in ctx.shared:
        return ctx.shared["azure_serving_identity"]
    ident = _identity(ctx, parent, "serving")
    models = ctx.spec.service.storage.hot_prefixes
    _assign(ctx, parent, "serving-models-read", ident, ROLE_STORAGE_BLOB_DATA_READER, ctx.shared["azure_container_id"],
            f"read {', '.join(models)} of this service's container", read_condition(models))
    _assign(ctx, parent, "serving-acr-pull", ident, ROLE_ACR_PULL, ctx.registry.resource_id,
            "pull images from this service's registry")
    ctx.shared["azure_serving_identity"] = ident
    return ident


def training_identity(ctx: BuildContext, parent) -> Identity:
    """Reads the data prefixes, writes runs/ and models/, pulls from the registry."""
    st = ctx.spec.service.storage
    ident = _identity(ctx, parent, "training")
    readable = tuple(dict.fromkeys((*st.tiered_prefixes, *st.hot_prefixes)))
    writable = tuple(dict.fromkeys(("runs/", *st.hot_prefixes)))
    # One contributor assignment, both conditions ANDed: reads only under the data prefixes, writes
    # only under runs/ and models/.
    _assign(ctx, parent, "training-data-rw", ident, ROLE_STORAGE_BLOB_DATA_CONTRIBUTOR,
            ctx.shared["azure_container_id"],
            f"read {', '.join(readable)}; write {', '.join(writable)} of this service's container",
            f"{read_condition(readable)}\nAND\n{write_condition(writable)}")
    _assign(ctx, parent, "training-acr-pull", ident, ROLE_ACR_PULL, ctx.registry.resource_id,
            "pull images from this service's registry")
    return ident
