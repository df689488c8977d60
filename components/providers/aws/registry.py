"""ECR: immutable tags, scan on push, KMS encryption, lifecycle keeping the last N images."""
from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

from components.providers.base import BuildContext, RegistryOutputs


def lifecycle_policy(ctx: BuildContext) -> str:
    reg = ctx.spec.service.registry
    return json.dumps({"rules": [
        {"rulePriority": 1, "description": f"expire untagged images after {reg.untagged_expire_days} days",
         "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days",
                       "countNumber": reg.untagged_expire_days},
         "action": {"type": "expire"}},
        {"rulePriority": 2, "description": f"keep the last {reg.keep_last_images} images",
         "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": reg.keep_last_images},
         "action": {"type": "expire"}},
    ]})


def build_registry(provider, parent: pulumi.Resource, ctx: BuildContext) -> RegistryOutputs:
    p = ctx.prefix
    repo = aws.ecr.Repository(
        f"{p}-images", name=provider.repository_name(ctx.spec), image_tag_mutability="IMMUTABLE",
        image_scanning_configuration={"scan_on_push": True},
        encryption_configurations=[{"encryption_type": "KMS"}],
        force_delete=ctx.spec.service.storage.force_destroy, tags=ctx.tags,
        opts=pulumi.ResourceOptions(parent=parent))
    aws.ecr.LifecyclePolicy(f"{p}-images-lifecycle", repository=repo.name, policy=lifecycle_policy(ctx),
                            opts=pulumi.ResourceOptions(parent=parent))
    token = aws.ecr.get_authorization_token_output(registry_id=repo.registry_id,
                                                   opts=pulumi.InvokeOutputOptions(parent=parent))
    server = repo.repository_url.apply(lambda url: url.split("/")[0])
    return RegistryOutputs(url=repo.repository_url, server=server, resource_id=repo.arn,
                           username=token.user_name, password=pulumi.Output.secret(token.password))
