"""IAM: one role per purpose, each with an inline policy scoped to this service's bucket and repository.

Least privilege here means: objects under named prefixes of *this* bucket, images of *this*
repository, logs of *this* log group. The one `"Resource": "*"` is `ecr:GetAuthorizationToken`,
which IAM only accepts unscoped (the token is per registry and grants nothing by itself; the
pull actions below stay scoped to the repository ARN).
"""
from __future__ import annotations

import json
from typing import Sequence

import pulumi
import pulumi_aws as aws

from components.providers.base import BuildContext

# Session Manager instead of SSH: instances register with SSM and open no inbound port.
SSM_CORE = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
ECR_PULL = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]


def assume_role(service: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]})


def s3_statements(bucket_arn: str, read: Sequence[str] = (), write: Sequence[str] = ()) -> list[dict]:
    """Object access under prefixes of one bucket, and listing limited to those prefixes."""
    statements: list[dict] = []
    if read:
        statements.append({"Sid": "ReadObjects", "Effect": "Allow", "Action": ["s3:GetObject"],
                           "Resource": [f"{bucket_arn}/{p}*" for p in read]})
    if write:
        statements.append({"Sid": "WriteObjects", "Effect": "Allow", "Action": ["s3:PutObject"],
                           "Resource": [f"{bucket_arn}/{p}*" for p in write]})
    listed = list(dict.fromkeys([*read, *write]))
    if listed:
        statements.append({"Sid": "ListPrefixes", "Effect": "Allow", "Action": ["s3:ListBucket"],
                           "Resource": [bucket_arn],
                           "Condition": {"StringLike": {"s3:prefix": [pat for p in listed for pat in (p, f"{p}*")]}}})
    return statements


def ecr_statements(repository_arn: str) -> list[dict]:
    return [
        {"Sid": "PullImages", "Effect": "Allow", "Action": ECR_PULL, "Resource": [repository_arn]},
        # GetAuthorizationToken has no resource-level permissions: "*" is the only accepted value.
        {"Sid": "RegistryLogin", "Effect": "Allow", "Action": ["ecr:GetAuthorizationToken"], "Resource": "*"},
    ]


def logs_statements(log_group_arn: str) -> list[dict]:
    return [{"Sid": "WriteLogs", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
             "Resource": [f"{log_group_arn}:log-stream:*"]}]


def policy_document(statements: pulumi.Input[list]) -> pulumi.Output[str]:
    return pulumi.Output.from_input(statements).apply(
        lambda s: json.dumps({"Version": "2012-10-17", "Statement": s}))


def role(ctx: BuildContext, parent: pulumi.Resource, purpose: str, service: str, statements: pulumi.Input[list],
         description: str, managed: Sequence[str] = ()) -> aws.iam.Role:
    p = ctx.prefix
    opts = pulumi.ResourceOptions(parent=parent)
    r = aws.iam.Role(f"{p}-{purpose}", assume_role_policy=assume_role(service), description=description,
                     max_session_duration=3600, tags=ctx.tags, opts=opts)
    aws.iam.RolePolicy(f"{p}-{purpose}-policy", role=r.id, policy=policy_document(statements),
                       opts=pulumi.ResourceOptions(parent=r))
    for i, arn in enumerate(managed):
        aws.iam.RolePolicyAttachment(f"{p}-{purpose}-managed-{i}", role=r.name, policy_arn=arn,
                                     opts=pulumi.ResourceOptions(parent=r))
    return r


def instance_profile(ctx: BuildContext, r: aws.iam.Role, purpose: str) -> aws.iam.InstanceProfile:
    return aws.iam.InstanceProfile(f"{ctx.prefix}-{purpose}-profile", role=r.name, tags=ctx.tags,
                                   opts=pulumi.ResourceOptions(parent=r))


def _serving_prefixes(ctx: BuildContext) -> list[str]:
    # The model lives under models/ (and any other hot prefix): serving reads, never writes.
    return list(dict.fromkeys(["models/", *ctx.spec.service.storage.hot_prefixes]))


def ecs_roles(ctx: BuildContext, parent: pulumi.Resource, log_group_arn) -> tuple[aws.iam.Role, aws.iam.Role]:
    """(task role: what the app may do, execution role: what ECS does to start it)."""
    bucket_arn = ctx.storage.resource_id
    task = role(ctx, parent, "serving-task", "ecs-tasks.amazonaws.com",
                pulumi.Output.from_input(bucket_arn).apply(lambda b: s3_statements(b, read=_serving_prefixes(ctx))),
                "mlinfra serving task: reads models from the service bucket")
    execution = role(
        ctx, parent, "serving-execution", "ecs-tasks.amazonaws.com",
        pulumi.Output.all(ctx.registry.resource_id, log_group_arn).apply(
            lambda a: ecr_statements(a[0]) + logs_statements(a[1])),
        "mlinfra serving task execution: pulls the service image, writes its log group")
    return task, execution


def vm_role(ctx: BuildContext, parent: pulumi.Resource,
            log_group_arn) -> tuple[aws.iam.Role, aws.iam.InstanceProfile]:
    statements = pulumi.Output.all(ctx.storage.resource_id, ctx.registry.resource_id, log_group_arn).apply(
        lambda a: s3_statements(a[0], read=_serving_prefixes(ctx)) + ecr_statements(a[1]) + logs_statements(a[2]))
    r = role(ctx, parent, "serving-instance", "ec2.amazonaws.com", statements,
             "mlinfra serving instances: read models, pull the service image, write logs, SSM sessions",
             managed=[SSM_CORE])
    return r, instance_profile(ctx, r, "serving-instance")


def training_role(ctx: BuildContext, parent: pulumi.Resource) -> tuple[aws.iam.Role, aws.iam.InstanceProfile]:
    st = ctx.spec.service.storage
    # Reads the data prefixes, writes runs and models; pulls training images from the service registry.
    read = list(dict.fromkeys([*st.tiered_prefixes, "runs/", "models/"]))
    write = ["runs/", "models/"]
    statements = pulumi.Output.all(ctx.storage.resource_id, ctx.registry.resource_id).apply(
        lambda a: s3_statements(a[0], read=read, write=write) + ecr_statements(a[1]))
    r = role(ctx, parent, "training", "ec2.amazonaws.com", statements,
             "mlinfra training machines: read data, write runs and models, SSM sessions", managed=[SSM_CORE])
    return r, instance_profile(ctx, r, "training")
