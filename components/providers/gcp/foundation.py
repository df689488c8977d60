"""What every GCP part shares: the project the explicit provider deploys into."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_gcp as gcp

from components.providers.base import BuildContext


@dataclass
class GcpBase:
    project: Any  # Output[str]: the project id (gcp:project, or the credentials' default)
    access_token: Any  # Output[str] (secret): the caller's OAuth token, for `docker login`


def build_foundation(parent: pulumi.Resource, ctx: BuildContext) -> GcpBase:
    # A GCP project is the account boundary and already exists; nothing is created here. The
    # invoke runs under the service's explicit provider (inherited from `parent`).
    client = gcp.organizations.get_client_config_output(opts=pulumi.InvokeOutputOptions(parent=parent))
    return GcpBase(project=client.project, access_token=pulumi.Output.secret(client.access_token))
