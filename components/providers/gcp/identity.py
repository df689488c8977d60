"""Service accounts, one per purpose, granted only this service's bucket prefixes and repository.

Bucket grants are bucket-level IAM members with an IAM condition on the object name, so a
serving account reads `models/` and nothing else in the bucket (uniform bucket-level access is
on, which conditions need). Listing is allowed only with a prefix the account may read.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_gcp as gcp

from components.providers.base import BuildContext

from .foundation import res_opts

# Project-level roles a VM needs to ship its own logs and metrics; nothing broader (never owner/editor).
AGENT_ROLES = ("roles/logging.logWriter", "roles/monitoring.metricWriter")


@dataclass
class Identity:
    account: Any  # gcp.serviceaccount.Account
    grants: list = field(default_factory=list)  # every IAM member granted to it: what must exist before it acts


def prefix_condition(bucket: str, prefixes: tuple[str, ...]) -> str:
    """CEL: objects under any of `prefixes`, or a list request restricted to one of them."""
    terms = [f"resource.name.startsWith({json.dumps(f'projects/_/buckets/{bucket}/objects/{p}')})" for p in prefixes]
    terms += [f"api.getAttribute('storage.googleapis.com/objectListPrefix', '').startsWith({json.dumps(p)})"
              for p in prefixes]
    return " || ".join(terms)


def service_account(provider, parent: pulumi.Resource, ctx: BuildContext, role: str, purpose: str):
    return gcp.serviceaccount.Account(
        f"{ctx.prefix}-{role}-sa", account_id=provider.account_id(ctx.spec, role),
        display_name=f"{ctx.prefix} {purpose}", description=f"mlinfra: {purpose} identity of {ctx.prefix}",
        opts=res_opts(parent, ctx))


def grant_prefixes(parent: pulumi.Resource, ctx: BuildContext, name: str, account, role: str,
                   prefixes: tuple[str, ...], title: str):
    return gcp.storage.BucketIAMMember(
        name, bucket=ctx.storage.bucket, role=role, member=account.member,
        condition={"title": title, "description": f"only objects under {', '.join(prefixes)}",
                   "expression": ctx.storage.bucket.apply(lambda b: prefix_condition(b, prefixes))},
        opts=res_opts(parent, ctx))


def grant_registry_reader(parent: pulumi.Resource, ctx: BuildContext, name: str, account):
    return gcp.artifactregistry.RepositoryIamMember(
        name, project=ctx.base.project, location=ctx.spec.region, repository=ctx.registry.resource_id,
        role="roles/artifactregistry.reader", member=account.member, opts=res_opts(parent, ctx))


def grant_agent_roles(parent: pulumi.Resource, ctx: BuildContext, role: str, account) -> list:
    return [gcp.projects.IAMMember(
        f"{ctx.prefix}-{role}-{agent_role.split('.')[-1].lower()}", project=ctx.base.project, role=agent_role,
        member=account.member, opts=res_opts(parent, ctx)) for agent_role in AGENT_ROLES]


def serving_identity(provider, parent: pulumi.Resource, ctx: BuildContext, *, vm: bool) -> Identity:
    """Reads the hot prefixes (models/) and pulls from the registry; VMs also write their logs."""
    sa = service_account(provider, parent, ctx, "serve", "serving")
    ident = Identity(sa, [
        grant_prefixes(parent, ctx, f"{ctx.prefix}-serve-models-read", sa, "roles/storage.objectViewer",
                       ctx.spec.service.storage.hot_prefixes, "serving-reads-models"),
        grant_registry_reader(parent, ctx, f"{ctx.prefix}-serve-registry-read", sa)])
    if vm:  # Cloud Run ships logs and metrics itself; a VM's agents do it as this account
        ident.grants += grant_agent_roles(parent, ctx, "serve", sa)
    return ident


# Training writes its outputs here and nowhere else.
TRAINING_WRITES = ("runs/",)


def training_identity(provider, parent: pulumi.Resource, ctx: BuildContext) -> Identity:
    """Reads every data prefix and the served models, writes runs/ only, pulls from the registry.

    models/ is what serving loads (components/release.py): a training job must not be able to
    replace the production model. A run's output is promoted to models/ by a release step
    (`mlinfra model publish`) under the deployer's own identity.
    """
    st = ctx.spec.service.storage
    sa = service_account(provider, parent, ctx, "train", "training")
    read = tuple(dict.fromkeys(st.tiered_prefixes + st.hot_prefixes))
    ident = Identity(sa, [
        grant_prefixes(parent, ctx, f"{ctx.prefix}-train-data-read", sa, "roles/storage.objectViewer", read,
                       "training-reads-data"),
        # objectUser (create, overwrite, delete) rather than objectCreator: checkpoints are overwritten.
        # Versioning keeps what is overwritten for noncurrent_expire_days.
        grant_prefixes(parent, ctx, f"{ctx.prefix}-train-runs-write", sa, "roles/storage.objectUser",
                       TRAINING_WRITES, "training-writes-runs"),
        grant_registry_reader(parent, ctx, f"{ctx.prefix}-train-registry-read", sa)])
    ident.grants += grant_agent_roles(parent, ctx, "train", sa)
    return ident
