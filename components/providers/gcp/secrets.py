"""Secret Manager containers for `serving.secrets`, readable by the serving account only.

The program creates each secret (its container and replication policy), never a version: values
are added out of band (`mlinfra secrets set`, which calls `secrets.versions.add`), so no value is
in the program, the plan or the state. The serving account gets Secret Manager Secret Accessor
(roles/secretmanager.secretAccessor: secretmanager.versions.access) on each secret, not on the
project (https://cloud.google.com/secret-manager/docs/access-control).

Cloud Run reads them as secret environment references resolved when an instance starts
(https://cloud.google.com/run/docs/configuring/services/secrets); VMs fetch them at boot
(serving_vm.secret_lines). `latest` is read at instance start: a value set later reaches new
instances, not running ones. Needs a live project to confirm: a revision whose secret has no
version yet fails to start, so values are set before the first deploy that references them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_gcp as gcp

from components.providers.base import BuildContext

from . import limits
from .foundation import res_opts

ACCESSOR = "roles/secretmanager.secretAccessor"


@dataclass
class ServingSecrets:
    secrets: dict[str, Any] = field(default_factory=dict)  # env name -> gcp.secretmanager.Secret
    grants: list = field(default_factory=list)

    def run_envs(self) -> list[dict]:
        """Cloud Run v2 env entries that reference each secret's latest version."""
        return [{"name": env, "value_source": {"secret_key_ref": {"secret": s.secret_id, "version": "latest"}}}
                for env, s in sorted(self.secrets.items())]

    def resource_names(self) -> dict[str, Any]:
        """env name -> Output `projects/<project>/secrets/<id>`, what the VM's boot script reads."""
        return {env: s.id for env, s in sorted(self.secrets.items())}


def serving_secrets(parent: pulumi.Resource, ctx: BuildContext, account) -> ServingSecrets:
    out = ServingSecrets()
    for env, name in sorted(ctx.spec.service.serving.secrets.items()):
        secret_id = limits.secret_id(ctx.spec, name)
        secret = gcp.secretmanager.Secret(
            f"{ctx.prefix}-secret-{name}", secret_id=secret_id, replication={"auto": {}}, labels=ctx.tags,
            opts=res_opts(parent, ctx))
        out.secrets[env] = secret
        out.grants.append(gcp.secretmanager.SecretIamMember(
            f"{ctx.prefix}-secret-{name}-read", project=secret.project, secret_id=secret.id, role=ACCESSOR,
            member=account.member, opts=res_opts(parent, ctx)))
    return out
