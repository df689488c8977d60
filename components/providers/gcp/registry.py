"""Artifact Registry: a regional Docker repository with immutable tags and cleanup policies."""
from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from components.providers.base import BuildContext, RegistryOutputs

from .foundation import res_opts


def cleanup_policies(ctx: BuildContext) -> list[dict]:
    reg = ctx.spec.service.registry
    # KEEP wins over DELETE in Artifact Registry, so the newest images survive whatever their age.
    return [
        {"id": "keep-recent", "action": "KEEP", "most_recent_versions": {"keep_count": reg.keep_last_images}},
        {"id": "delete-untagged", "action": "DELETE",
         "condition": {"tag_state": "UNTAGGED", "older_than": f"{reg.untagged_expire_days * 86400}s"}},
    ]


def build_registry(provider, parent: pulumi.Resource, ctx: BuildContext) -> RegistryOutputs:
    region = ctx.spec.region
    repo = gcp.artifactregistry.Repository(
        f"{ctx.prefix}-images", repository_id=provider.repository_id(ctx.spec), location=region, format="DOCKER",
        description=f"{ctx.prefix} serving images", docker_config={"immutable_tags": True},
        cleanup_policies=cleanup_policies(ctx), cleanup_policy_dry_run=False,
        # INHERITED: scanned on push whenever the project has the Container Scanning API on.
        vulnerability_scanning_config={"enablement_config": "INHERITED"},
        labels=ctx.tags, opts=res_opts(parent, ctx))
    server = f"{region}-docker.pkg.dev"
    url = pulumi.Output.concat(server, "/", repo.project, "/", repo.repository_id)
    # `docker login -u oauth2accesstoken` with the caller's token: no long-lived key is created.
    return RegistryOutputs(url=url, server=server, resource_id=repo.id, username="oauth2accesstoken",
                           password=ctx.base.access_token)
