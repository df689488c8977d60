"""IAM: one role per purpose, each with an inline policy scoped to this service's bucket and repository.

Least privilege here means: objects under named prefixes of *this* bucket, images of *this*
repository, logs of *this* log group. The one `"Resource": "*"` is `ecr:GetAuthorizationToken`,
which IAM only accepts unscoped (the token is per registry and grants nothing by itself; the
pull actions below stay scoped to the repository ARN).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Optional, Sequence

import pulumi
import pulumi_aws as aws

from components.providers.base import BuildContext

# Session Manager instead of SSH: instances register with SSM and open no inbound port.
SSM_CORE = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
ECR_PULL = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]


# Service principals whose role trust AWS documents with confused-deputy conditions, and the form
# of the source ARN they present. ECS tasks: "Amazon ECS task IAM role", trust policy with
# ArnLike aws:SourceArn arn:aws:ecs:<region>:<account>:* and StringEquals aws:SourceAccount,
# https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-iam-roles.html
# EC2 (instance profiles) and Lambda document no such condition for the role they assume: the
# service does not send a source ARN there, and a condition on it would make the role unusable.
SOURCE_ARN = {"ecs-tasks.amazonaws.com": "arn:aws:ecs:{region}:{account}:*"}


def assume_role(service: str, account: str | None = None, region: str | None = None) -> str:
    statement: dict = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    if service in SOURCE_ARN and account and region:
        statement["Condition"] = {"StringEquals": {"aws:SourceAccount": account},
                                  "ArnLike": {"aws:SourceArn": SOURCE_ARN[service].format(region=region,
                                                                                          account=account)}}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def account_id(parent: pulumi.Resource) -> pulumi.Output[str]:
    return aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=parent)).account_id


def s3_statements(bucket_arn: str, read: Sequence[str] = (), write: Sequence[str] = (),
                  restore: Sequence[str] = ()) -> list[dict]:
    """Object access under prefixes of one bucket, and listing limited to those prefixes.

    `restore`: prefixes whose old objects age into an archive class; reading one back needs
    s3:RestoreObject first (resource type: object; Service Authorization Reference, Amazon S3,
    https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html)."""
    statements: list[dict] = []
    if read:
        statements.append({"Sid": "ReadObjects", "Effect": "Allow", "Action": ["s3:GetObject"],
                           "Resource": [f"{bucket_arn}/{p}*" for p in read]})
    if restore:
        statements.append({"Sid": "RestoreArchivedObjects", "Effect": "Allow", "Action": ["s3:RestoreObject"],
                           "Resource": [f"{bucket_arn}/{p}*" for p in restore]})
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
    # Service Authorization Reference, Amazon CloudWatch Logs
    # (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudwatchlogs.html):
    # CreateLogStream is authorized on the log-group resource (…:log-group:<name>), PutLogEvents on
    # the log-stream (…:log-group:<name>:log-stream:<stream>). The group ARN from the provider has
    # no ":*" suffix, so both forms are listed.
    return [{"Sid": "WriteLogs", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
             "Resource": [log_group_arn, f"{log_group_arn}:log-stream:*"]}]


def policy_document(statements: pulumi.Input[list]) -> pulumi.Output[str]:
    return pulumi.Output.from_input(statements).apply(
        lambda s: json.dumps({"Version": "2012-10-17", "Statement": s}))


@dataclass
class Identity:
    role: aws.iam.Role
    # The inline policy and managed attachments: what starts a task or instance must depend on
    # these, or its first start can run before the permissions exist.
    grants: list[pulumi.Resource]
    profile: Optional[aws.iam.InstanceProfile] = None

    @property
    def ready(self) -> list[pulumi.Resource]:
        return [*self.grants, *([self.profile] if self.profile is not None else [])]


def role(ctx: BuildContext, parent: pulumi.Resource, purpose: str, service: str, statements: pulumi.Input[list],
         description: str, managed: Sequence[str] = ()) -> Identity:
    p = ctx.prefix
    opts = pulumi.ResourceOptions(parent=parent)
    if service in SOURCE_ARN:
        trust = account_id(parent).apply(lambda acct: assume_role(service, acct, ctx.spec.region))
    else:
        trust = assume_role(service)
    r = aws.iam.Role(f"{p}-{purpose}", assume_role_policy=trust, description=description,
                     max_session_duration=3600, tags=ctx.tags, opts=opts)
    grants: list[pulumi.Resource] = [aws.iam.RolePolicy(f"{p}-{purpose}-policy", role=r.id,
                                                        policy=policy_document(statements),
                                                        opts=pulumi.ResourceOptions(parent=r))]
    for i, arn in enumerate(managed):
        grants.append(aws.iam.RolePolicyAttachment(f"{p}-{purpose}-managed-{i}", role=r.name, policy_arn=arn,
                                                   opts=pulumi.ResourceOptions(parent=r)))
    return Identity(role=r, grants=grants)


def with_profile(ctx: BuildContext, ident: Identity, purpose: str) -> Identity:
    ident.profile = aws.iam.InstanceProfile(f"{ctx.prefix}-{purpose}-profile", role=ident.role.name, tags=ctx.tags,
                                            opts=pulumi.ResourceOptions(parent=ident.role))
    return ident


def _serving_prefixes(ctx: BuildContext) -> list[str]:
    # The model lives under models/ (and any other hot prefix): serving reads, never writes.
    return list(dict.fromkeys(["models/", *ctx.spec.service.storage.hot_prefixes]))


def secrets_statements(secret_arns: Sequence[str]) -> list[dict]:
    """Read the service's own secrets, nothing else. GetSecretValue accepts the secret ARN as
    resource (Service Authorization Reference, AWS Secrets Manager,
    https://docs.aws.amazon.com/service-authorization/latest/reference/list_awssecretsmanager.html);
    the secrets use the AWS managed key aws/secretsmanager, so no kms:Decrypt grant is needed
    ("Amazon ECS: required IAM permissions for Secrets Manager secrets",
    https://docs.aws.amazon.com/AmazonECS/latest/developerguide/secrets-envvar-secrets-manager.html)."""
    if not secret_arns:
        return []
    return [{"Sid": "ReadServiceSecrets", "Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"],
             "Resource": list(secret_arns)}]


def ecs_roles(ctx: BuildContext, parent: pulumi.Resource, log_group_arn,
              secret_arns: pulumi.Input[list] = ()) -> tuple[Identity, Identity]:
    """(task role: what the app may do, execution role: what ECS does to start it). The execution
    role reads the secrets: ECS fetches them and injects them before the container starts."""
    bucket_arn = ctx.storage.resource_id
    task = role(ctx, parent, "serving-task", "ecs-tasks.amazonaws.com",
                pulumi.Output.from_input(bucket_arn).apply(lambda b: s3_statements(b, read=_serving_prefixes(ctx))),
                "mlinfra serving task: reads models from the service bucket")
    execution = role(
        ctx, parent, "serving-execution", "ecs-tasks.amazonaws.com",
        pulumi.Output.all(ctx.registry.resource_id, log_group_arn, pulumi.Output.from_input(secret_arns)).apply(
            lambda a: ecr_statements(a[0]) + logs_statements(a[1]) + secrets_statements(a[2])),
        "mlinfra serving task execution: pulls the service image, writes its log group, reads its secrets")
    return task, execution


def vm_role(ctx: BuildContext, parent: pulumi.Resource, log_group_arn,
            secret_arns: pulumi.Input[list] = ()) -> Identity:
    statements = pulumi.Output.all(ctx.storage.resource_id, ctx.registry.resource_id, log_group_arn,
                                   pulumi.Output.from_input(secret_arns)).apply(
        lambda a: s3_statements(a[0], read=_serving_prefixes(ctx)) + ecr_statements(a[1]) + logs_statements(a[2])
        + secrets_statements(a[3]))
    ident = role(ctx, parent, "serving-instance", "ec2.amazonaws.com", statements,
                 "mlinfra serving instances: read models and secrets, pull the service image, write logs, SSM",
                 managed=[SSM_CORE])
    return with_profile(ctx, ident, "serving-instance")


def training_role(ctx: BuildContext, parent: pulumi.Resource, archived: Sequence[str] = ()) -> Identity:
    """Reads the data prefixes, writes runs and models, pulls training images from the service
    registry, and may restore `archived` prefixes (old objects in an archive storage class)."""
    st = ctx.spec.service.storage
    read = list(dict.fromkeys([*st.tiered_prefixes, "runs/", "models/"]))
    write = ["runs/", "models/"]
    statements = pulumi.Output.all(ctx.storage.resource_id, ctx.registry.resource_id).apply(
        lambda a: s3_statements(a[0], read=read, write=write, restore=archived) + ecr_statements(a[1]))
    ident = role(ctx, parent, "training", "ec2.amazonaws.com", statements,
                 "mlinfra training machines: read data, write runs and models, SSM sessions", managed=[SSM_CORE])
    return with_profile(ctx, ident, "training")
