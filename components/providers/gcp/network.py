"""One VPC per service, shared by VM serving and training (cached in `ctx.shared`).

Instances never get an external IP: Cloud NAT gives them outbound access (image pulls, pip),
Private Google Access reaches Google APIs, and SSH comes only through IAP TCP forwarding.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_gcp as gcp

from components.providers.base import BuildContext

from .foundation import res_opts
from .limits import gce_name

# Where Google's own traffic comes from (documented, fixed ranges):
# health checks and the global external Application Load Balancer's proxies (GFEs use the health
# check ranges: https://cloud.google.com/load-balancing/docs/firewall-rules) ...
GOOGLE_LB_RANGES = ("35.191.0.0/16", "130.211.0.0/22")
# ... and Identity-Aware Proxy TCP forwarding (`gcloud compute ssh --tunnel-through-iap`).
IAP_RANGE = "35.235.240.0/20"
# One /20 per purpose; Filestore takes a /29 outside both.
SUBNETS = {"serve": "10.10.0.0/20", "train": "10.20.0.0/20"}
FILESTORE_RANGE = "10.30.0.0/29"
SHARED_KEY = "gcp:network"


@dataclass
class Network:
    vpc: Any
    subnets: dict[str, Any] = field(default_factory=dict)
    zones: Any = None  # Output[list[str]]: the region's zones that are UP


def network(parent: pulumi.Resource, ctx: BuildContext) -> Network:
    if SHARED_KEY in ctx.shared:
        return ctx.shared[SHARED_KEY]
    p = ctx.prefix
    region = ctx.spec.region
    opts = res_opts(parent, ctx)
    vpc = gcp.compute.Network(f"{p}-vpc", name=gce_name(p, "vpc"), auto_create_subnetworks=False,
                              routing_mode="REGIONAL", description=f"mlinfra: {p}", opts=opts)
    gcp.compute.Firewall(
        f"{p}-allow-iap-ssh", name=gce_name(p, "allow-iap-ssh"), network=vpc.id, direction="INGRESS",
        description="SSH only through Identity-Aware Proxy; never from the internet",
        allows=[{"protocol": "tcp", "ports": ["22"]}], source_ranges=[IAP_RANGE], opts=opts)
    router = gcp.compute.Router(f"{p}-router", name=gce_name(p, "router"), network=vpc.id, region=region, opts=opts)
    gcp.compute.RouterNat(
        f"{p}-nat", name=gce_name(p, "nat"), router=router.name, region=region,
        nat_ip_allocate_option="AUTO_ONLY", source_subnetwork_ip_ranges_to_nat="ALL_SUBNETWORKS_ALL_IP_RANGES",
        log_config={"enable": True, "filter": "ERRORS_ONLY"}, opts=opts)
    zones = gcp.compute.get_zones_output(region=region, status="UP",
                                         opts=ctx.base.invoke_needs("compute.googleapis.com", parent))
    net = ctx.shared[SHARED_KEY] = Network(vpc=vpc, zones=zones.names)
    return net


def subnet(parent: pulumi.Resource, ctx: BuildContext, role: str):
    """The subnet of one purpose (`serve`, `train`), created on first use."""
    net = network(parent, ctx)
    if role not in net.subnets:
        p = ctx.prefix
        net.subnets[role] = gcp.compute.Subnetwork(
            f"{p}-{role}-subnet", name=gce_name(p, f"{role}-subnet"), network=net.vpc.id, region=ctx.spec.region,
            ip_cidr_range=SUBNETS[role], private_ip_google_access=True, opts=res_opts(parent, ctx))
    return net.subnets[role]
