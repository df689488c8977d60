"""Azure Container Registry: Entra ID only (admin user and anonymous pull off), purge keeping the last N."""
from __future__ import annotations

import base64

import pulumi
import pulumi_azure_native as azure_native

from components.providers.base import BuildContext, RegistryOutputs

# Prod: Standard, not Premium: Premium's untagged-manifest retention policy and private endpoints cost about
# 2.5x more, and a scheduled `acr purge` task (any SKU) covers both "keep the last N" and old untagged
# images. Premium would only add geo-replication and private link, which no environment asks for yet.
# Every other environment: Basic, the cheapest tier (10 GiB included, same features we use: Entra ID
# auth, tasks, tokens and scope maps; "Azure Container Registry service tiers").
SKU = {"prod": "Standard"}
DEFAULT_SKU = "Basic"
# Repository-scoped token for the image push: "content/write" pushes, "content/read" is needed with it to
# push layers that already exist ("Create a token with repository-scoped permissions", scope map actions).
PUSH_ACTIONS = ("content/read", "content/write")
PURGE_SCHEDULE = "0 3 * * *"  # daily, 03:00 UTC


def purge_task_yaml(ctx: BuildContext) -> str:
    reg = ctx.spec.service.registry
    repo = ctx.spec.service.name
    # Keeps the newest N tags of the repository; anything else older than untagged_expire_days goes,
    # and `--untagged` also deletes manifests no tag points at (superseded builds) past that age.
    return (
        "version: v1.1.0\n"
        "steps:\n"
        f"  - cmd: acr purge --filter '{repo}:.*' --keep {reg.keep_last_images} "
        f"--ago {reg.untagged_expire_days}d --untagged\n"
        "    disableWorkingDirectoryOverride: true\n"
        "    timeout: 3600\n"
    )


def build_registry(provider, parent: pulumi.Resource, ctx: BuildContext) -> RegistryOutputs:
    p = ctx.prefix
    rg = ctx.base
    opts = pulumi.ResourceOptions(parent=parent)
    registry = azure_native.containerregistry.Registry(
        f"{p}-images", registry_name=provider.registry_name(ctx.spec), resource_group_name=rg.name,
        location=ctx.spec.region, sku={"name": SKU.get(ctx.spec.env, DEFAULT_SKU)}, admin_user_enabled=False,
        anonymous_pull_enabled=False,
        tags=ctx.tags, opts=opts)
    azure_native.containerregistry.Task(
        f"{p}-images-purge", registry_name=registry.name, resource_group_name=rg.name, location=ctx.spec.region,
        task_name="purge", status="Enabled", is_system_task=False,
        platform={"os": "Linux", "architecture": "amd64"}, agent_configuration={"cpu": 2},
        step={"type": "EncodedTask",
              "encoded_task_content": base64.b64encode(purge_task_yaml(ctx).encode()).decode()},
        trigger={"timer_triggers": [{"name": "daily", "schedule": PURGE_SCHEDULE, "status": "Enabled"}]},
        tags=ctx.tags, opts=pulumi.ResourceOptions(parent=parent, depends_on=[registry]))
    username, password = push_token(ctx, parent, registry)
    ctx.shared["azure_registry"] = registry
    return RegistryOutputs(url=pulumi.Output.concat(registry.login_server, "/", ctx.spec.service.name),
                           server=registry.login_server, resource_id=registry.id, username=username,
                           password=password)


def push_token(ctx: BuildContext, parent, registry) -> tuple:
    """(username, password) the image build pushes with: an ACR token limited to this service's repository.

    The admin user stays off (listCredentials only returns admin credentials) and nothing relies on an
    ambient `az acr login`: "Create a token with repository-scoped permissions" (Azure Container Registry
    docs) gives a token whose scope map allows push and read on one repository; its password is generated
    by the registry when the token is created and kept as a Pulumi secret.
    """
    if ctx.spec.service.serving.image:
        return None, None  # a prebuilt image: nothing is pushed
    repo = ctx.spec.service.name
    rg = ctx.base
    scope = azure_native.containerregistry.ScopeMap(
        f"{ctx.prefix}-images-push-scope", registry_name=registry.name, resource_group_name=rg.name,
        scope_map_name=f"{repo}-push", description=f"push and read {repo} only",
        actions=[f"repositories/{repo}/{action}" for action in PUSH_ACTIONS],
        opts=pulumi.ResourceOptions(parent=parent))
    token = azure_native.containerregistry.Token(
        f"{ctx.prefix}-images-push-token", registry_name=registry.name, resource_group_name=rg.name,
        token_name=f"{repo}-push", scope_map_id=scope.id, status="enabled",
        credentials={"passwords": [{"name": "password1"}]},
        opts=pulumi.ResourceOptions(parent=parent, additional_secret_outputs=["credentials"]))
    password = token.credentials.apply(
        lambda c: next((p.value for p in (c.passwords or []) if p.value), None) if c else None)
    return token.name, pulumi.Output.secret(password)
