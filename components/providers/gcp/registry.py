"""Artifact Registry: a regional Docker repository with immutable tags and cleanup policies."""
from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from components.providers.base import BuildContext, RegistryOutputs

from .foundation import res_opts


def cleanup_policies(ctx: BuildContext) -> list[dict]:
    """Delete every version older than `untagged_expire_days`, except the `keep_last_images` newest.

    A keep policy only exempts versions from a delete policy; on its own it deletes nothing, and
    a version matching both is kept (https://cloud.google.com/artifact-registry/docs/repositories/cleanup-policy-overview).
    So the delete rule matches tagged and untagged versions alike (tag_state ANY) and the keep
    rule carves out the newest ones. Services run images by digest: with keep_last_images >= 1
    the running one is always among the newest unless more than that many were pushed since.
    """
    reg = ctx.spec.service.registry
    return [
        {"id": "keep-recent", "action": "KEEP", "most_recent_versions": {"keep_count": reg.keep_last_images}},
        {"id": "delete-old", "action": "DELETE",
         "condition": {"tag_state": "ANY", "older_than": f"{reg.untagged_expire_days * 86400}s"}},
    ]


def image_name(ctx: BuildContext) -> str:
    # The image segment under the repository: one image per service.
    return ctx.spec.service.name


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
    # An image is LOCATION-docker.pkg.dev/PROJECT/REPOSITORY/IMAGE[:TAG|@DIGEST]; the repository
    # path alone is not an image name (https://cloud.google.com/artifact-registry/docs/docker/names).
    url = pulumi.Output.concat(server, "/", repo.project, "/", repo.repository_id, "/", image_name(ctx))
    # `docker login -u oauth2accesstoken` with the caller's OAuth access token: no long-lived key
    # (https://cloud.google.com/artifact-registry/docs/docker/authentication#token).
    return RegistryOutputs(url=url, server=server, resource_id=repo.id, username="oauth2accesstoken",
                           password=ctx.base.access_token)
