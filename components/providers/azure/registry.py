"""Azure Container Registry: Entra ID only (admin user and anonymous pull off), purge keeping the last N."""
from __future__ import annotations

import base64

import pulumi
import pulumi_azure_native as azure_native

from components.providers.base import BuildContext, RegistryOutputs

# Standard, not Premium: Premium's untagged-manifest retention policy and private endpoints cost about
# 2.5x more, and a scheduled `acr purge` task (any SKU) covers both "keep the last N" and old untagged
# images. Premium would only add geo-replication and private link, which no environment asks for yet.
SKU = "Standard"
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
        location=ctx.spec.region, sku={"name": SKU}, admin_user_enabled=False, anonymous_pull_enabled=False,
        tags=ctx.tags, opts=opts)
    azure_native.containerregistry.Task(
        f"{p}-images-purge", registry_name=registry.name, resource_group_name=rg.name, location=ctx.spec.region,
        task_name="purge", status="Enabled", is_system_task=False,
        platform={"os": "Linux", "architecture": "amd64"}, agent_configuration={"cpu": 2},
        step={"type": "EncodedTask",
              "encoded_task_content": base64.b64encode(purge_task_yaml(ctx).encode()).decode()},
        trigger={"timer_triggers": [{"name": "daily", "schedule": PURGE_SCHEDULE, "status": "Enabled"}]},
        tags=ctx.tags, opts=pulumi.ResourceOptions(parent=parent, depends_on=[registry]))
    # The admin user is off, so there are no push credentials to hand out: username / password stay None
    # and the image build pushes with the ambient docker login (`az acr login --name <registry>`).
    ctx.shared["azure_registry"] = registry
    return RegistryOutputs(url=pulumi.Output.concat(registry.login_server, "/", ctx.spec.service.name),
                           server=registry.login_server, resource_id=registry.id)
