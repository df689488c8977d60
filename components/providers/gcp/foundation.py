"""What every GCP part shares: the project, the caller's token, and the APIs the resources need.

A fresh project has almost no API enabled, and every resource call fails with 403
SERVICE_DISABLED until its API is on. Each resource built with `res_opts(parent, ctx)` gets a
transformation that looks its type up in apis.py, enables that API once per stack
(`gcp.projects.Service`, created on first need) and makes the resource depend on it. Only the
APIs the plan really uses are enabled; the bootstrap ones (apis.BOOTSTRAP_APIS) must already be
on, because enabling anything needs them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_gcp as gcp

from components.providers.base import BuildContext

from .apis import api_for_type

SERVICE_TYPE = "gcp:projects/service:Service"


@dataclass
class GcpBase:
    project: Any  # Output[str]: the project id (gcp:project, or the credentials' default)
    access_token: Any  # Output[str] (secret): the caller's OAuth token, for `docker login`
    owner: Any = None  # the MLService component: parent of the API resources
    prefix: str = ""
    apis: dict[str, Any] = field(default_factory=dict)  # service name -> gcp.projects.Service

    def api(self, service: str):
        """The resource enabling `service` in the project, created on first need."""
        if service not in self.apis:
            self.apis[service] = gcp.projects.Service(
                f"{self.prefix}-api-{service.split('.')[0]}", project=self.project, service=service,
                # Leave the API on when the stack goes: other workloads in the project may use it,
                # and disabling an API can delete its data (Artifact Registry deletes images
                # within 7 days: https://cloud.google.com/artifact-registry/docs/enable-service).
                disable_on_destroy=False,
                opts=pulumi.ResourceOptions(parent=self.owner))
        return self.apis[service]

    def needs_api(self, args: pulumi.ResourceTransformationArgs):
        """Transformation: the resource depends on the API its type calls."""
        service = api_for_type(args.type_)
        if service is None or args.type_ == SERVICE_TYPE:
            return None
        depends = args.opts.depends_on
        depends = [] if depends is None else list(depends) if isinstance(depends, (list, tuple)) else [depends]
        args.opts.depends_on = [*depends, self.api(service)]
        return pulumi.ResourceTransformationResult(args.props, args.opts)

    def invoke_needs(self, service: str, parent: pulumi.Resource) -> pulumi.InvokeOutputOptions:
        """Options for an invoke that calls `service` (e.g. compute.getZones)."""
        return pulumi.InvokeOutputOptions(parent=parent, depends_on=[self.api(service)])


def res_opts(parent: pulumi.Resource, ctx: BuildContext, **extra) -> pulumi.ResourceOptions:
    """ResourceOptions for every GCP resource: child of `parent`, depending on its API."""
    return pulumi.ResourceOptions(parent=parent, transformations=[ctx.base.needs_api], **extra)


def build_foundation(parent: pulumi.Resource, ctx: BuildContext) -> GcpBase:
    # A GCP project is the account boundary and already exists; nothing is created here. The
    # invoke runs under the service's explicit provider (inherited from `parent`) and calls no API.
    client = gcp.organizations.get_client_config_output(opts=pulumi.InvokeOutputOptions(parent=parent))
    return GcpBase(project=client.project, access_token=pulumi.Output.secret(client.access_token),
                   owner=parent, prefix=ctx.prefix)
