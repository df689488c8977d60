"""Secrets Manager: one secret container per `serving.secrets` entry, never a value.

The program creates the containers (name, tags, deletion window) and grants read access to the
serving identity only; values are written out of band (`mlinfra secrets set`), so they never
appear in the program, the plan or the state. A task or instance that starts before a value is
set fails to fetch it: set values right after the first deploy.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING

from components.errors import ConfigError

if TYPE_CHECKING:  # the SDK is loaded only when resources are built, never by provider.check()
    import pulumi
    import pulumi_aws as aws

    from components.providers.base import BuildContext

# Secret names: letters, digits and /_+=.@- ("aws.secretsmanager.Secret", name,
# https://www.pulumi.com/registry/packages/aws/api-docs/secretsmanager/secret/); 512 at most
# (CreateSecret, Name: https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_CreateSecret.html).
SECRET_NAME = r"[A-Za-z0-9/_+=.@-]{1,512}"
# Deleted secrets are kept for this many days (7-30; 0 deletes at once): previews, which are
# destroyed and re-created under the same names, delete at once.
RECOVERY_DAYS = 30


def secret_id(spec, name: str) -> str:
    """The Secrets Manager name of the service's secret `name`: scoped to this service and environment."""
    full = f"mlinfra/{spec.service.name}-{spec.env}/{name}"
    if not re.fullmatch(SECRET_NAME, full):
        raise ConfigError(f"mlinfra:service.serving.secrets: {name!r} is not a Secrets Manager name; allowed: "
                          "letters, digits and /_+=.@- (512 characters with the mlinfra/<service>-<env>/ prefix)")
    return full


def check(spec) -> None:
    for name in spec.service.serving.secrets.values():
        secret_id(spec, name)


def service_secrets(ctx: "BuildContext", parent: "pulumi.Resource") -> "dict[str, aws.secretsmanager.Secret]":
    """Environment variable name -> its secret container."""
    import pulumi
    import pulumi_aws as aws

    sv = ctx.spec.service.serving
    window = 0 if ctx.spec.service.storage.force_destroy else RECOVERY_DAYS
    return {
        env: aws.secretsmanager.Secret(
            f"{ctx.prefix}-secret-{env.lower().replace('_', '-')}", name=secret_id(ctx.spec, name),
            description=f"mlinfra {ctx.prefix}: {env} for the serving container (value set with mlinfra secrets set)",
            recovery_window_in_days=window, tags=ctx.tags, opts=pulumi.ResourceOptions(parent=parent))
        for env, name in sorted(sv.secrets.items())
    }
