"""The service's own VPC: two zones, public subnets for the load balancer, private subnets for
instances and training machines. Built once per service and shared via ctx.shared.

Egress is chosen from what the service runs (`egress_plan`), because a NAT gateway is billed
by the hour whether or not anything uses it:

- nothing private (Fargate only, one zone's worth of tasks): no NAT at all. Tasks run in the
  public subnets with a public IP and reach ECR, S3, Logs and Secrets Manager directly; their
  security group admits only the load balancer, so the public address accepts nothing else.
  (Fargate needs a route to ECR either through a public IP or a NAT: "Fargate task networking",
  https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-task-networking.html)
- private machines (VM serving, training) in a service that is not zone-redundant: one NAT.
- a zone-redundant service (serving.min_instances >= ZONES): one NAT gateway per zone, each
  zone's private subnet routed to its own, so losing a zone does not cut the other zone's egress
  ("NAT gateways ... create a NAT gateway in each Availability Zone",
  https://docs.aws.amazon.com/vpc/latest/userguide/vpc-nat-gateway.html).

A free S3 gateway endpoint keeps image layers, data and models off NAT data-processing charges.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.providers.base import BuildContext

VPC_CIDR = "10.0.0.0/16"
ZONES = 2
# /24 public subnets hold load balancer nodes, NAT gateways and (without NAT) Fargate tasks;
# /20 private ones leave room for one IP per task and instance.
PUBLIC_CIDRS = ("10.0.0.0/24", "10.0.1.0/24")
PRIVATE_CIDRS = ("10.0.128.0/20", "10.0.144.0/20")
ANYWHERE = "0.0.0.0/0"
HTTPS = 443
HTTP = 80


def zone_redundant(spec) -> bool:
    """The service keeps an instance in every zone: its egress and insight must survive a zone too."""
    return spec.service.serving.min_instances >= ZONES


def has_private_machines(spec) -> bool:
    svc = spec.service
    return svc.serving.mode == "vm" or svc.training.enabled or zone_redundant(spec)


def nat_gateways(spec) -> int:
    """How many NAT gateways the service needs: 0, 1, or one per zone (see the module docstring)."""
    if not has_private_machines(spec):
        return 0
    return ZONES if zone_redundant(spec) else 1


@dataclass
class Network:
    vpc: aws.ec2.Vpc
    public_subnets: list[aws.ec2.Subnet]
    private_subnets: list[aws.ec2.Subnet]
    zones: pulumi.Output  # list[str] of the zone names used
    # What a machine needs in place before it starts: subnet routes (and the NATs they point to).
    # Services and groups depend on these explicitly: the subnet ids alone do not order them.
    public_routes: list[pulumi.Resource] = field(default_factory=list)
    private_routes: list[pulumi.Resource] = field(default_factory=list)
    private_egress: bool = True

    @property
    def public_ids(self) -> list[pulumi.Output[str]]:
        return [s.id for s in self.public_subnets]

    @property
    def private_ids(self) -> list[pulumi.Output[str]]:
        return [s.id for s in self.private_subnets]


def network(ctx: BuildContext, parent: pulumi.Resource) -> Network:
    """The service's VPC, created on first use (serving or training) and reused after."""
    if "aws:network" not in ctx.shared:
        ctx.shared["aws:network"] = _build(ctx, parent)
    return ctx.shared["aws:network"]


def _build(ctx: BuildContext, parent: pulumi.Resource) -> Network:
    p = ctx.prefix
    opts = pulumi.ResourceOptions(parent=parent)

    def named(role: str) -> dict[str, str]:
        return {**ctx.tags, "Name": f"{p}-{role}"}

    zones = aws.get_availability_zones_output(state="available", opts=pulumi.InvokeOutputOptions(parent=parent))
    vpc = aws.ec2.Vpc(f"{p}-vpc", cidr_block=VPC_CIDR, enable_dns_support=True, enable_dns_hostnames=True,
                      tags=named("vpc"), opts=opts)
    child = pulumi.ResourceOptions(parent=vpc)
    # The default security group allows all traffic between its members; nothing uses it, so empty it.
    aws.ec2.DefaultSecurityGroup(f"{p}-default-sg", vpc_id=vpc.id, ingress=[], egress=[],
                                 tags=named("default-deny"), opts=child)
    igw = aws.ec2.InternetGateway(f"{p}-igw", vpc_id=vpc.id, tags=named("igw"), opts=child)

    public, private = [], []
    for i in range(ZONES):
        az = zones.names.apply(lambda names, i=i: names[i])
        letter = "ab"[i]
        public.append(aws.ec2.Subnet(f"{p}-public-{letter}", vpc_id=vpc.id, cidr_block=PUBLIC_CIDRS[i],
                                     availability_zone=az, map_public_ip_on_launch=False,
                                     tags=named(f"public-{letter}"), opts=child))
        private.append(aws.ec2.Subnet(f"{p}-private-{letter}", vpc_id=vpc.id, cidr_block=PRIVATE_CIDRS[i],
                                      availability_zone=az, map_public_ip_on_launch=False,
                                      tags=named(f"private-{letter}"), opts=child))

    public_rt = aws.ec2.RouteTable(f"{p}-public-rt", vpc_id=vpc.id,
                                   routes=[{"cidr_block": ANYWHERE, "gateway_id": igw.id}],
                                   tags=named("public-rt"), opts=child)
    public_routes: list[pulumi.Resource] = [
        aws.ec2.RouteTableAssociation(f"{p}-public-{'ab'[i]}-rt", subnet_id=s.id, route_table_id=public_rt.id,
                                      opts=child)
        for i, s in enumerate(public)]

    count = nat_gateways(ctx.spec)
    nats = []
    for i in range(count):
        # One NAT keeps its historical name; per-zone ones are suffixed by zone letter.
        suffix = "" if count == 1 else f"-{'ab'[i]}"
        eip = aws.ec2.Eip(f"{p}-nat-ip{suffix}", domain="vpc", tags=named(f"nat-ip{suffix}"), opts=child)
        nats.append(aws.ec2.NatGateway(
            f"{p}-nat{suffix}", allocation_id=eip.id, subnet_id=public[i].id, connectivity_type="public",
            tags=named(f"nat{suffix}"), opts=pulumi.ResourceOptions(parent=vpc, depends_on=[igw])))

    # Per-zone NATs: each zone's private subnet has its own route table to its own NAT. Otherwise one
    # shared private table, routed to the single NAT, or with no default route when nothing runs there.
    if count == ZONES:
        private_rts = [aws.ec2.RouteTable(f"{p}-private-rt-{'ab'[i]}", vpc_id=vpc.id,
                                          routes=[{"cidr_block": ANYWHERE, "nat_gateway_id": nats[i].id}],
                                          tags=named(f"private-rt-{'ab'[i]}"), opts=child) for i in range(ZONES)]
    else:
        routes = [{"cidr_block": ANYWHERE, "nat_gateway_id": nats[0].id}] if nats else []
        private_rts = [aws.ec2.RouteTable(f"{p}-private-rt", vpc_id=vpc.id, routes=routes,
                                          tags=named("private-rt"), opts=child)] * ZONES
    private_routes: list[pulumi.Resource] = [
        aws.ec2.RouteTableAssociation(f"{p}-private-{'ab'[i]}-rt", subnet_id=s.id, route_table_id=private_rts[i].id,
                                      opts=child)
        for i, s in enumerate(private)]
    aws.ec2.VpcEndpoint(f"{p}-s3-endpoint", vpc_id=vpc.id, vpc_endpoint_type="Gateway",
                        service_name=f"com.amazonaws.{ctx.spec.region}.s3",
                        route_table_ids=[rt.id for rt in [public_rt, *dict.fromkeys(private_rts)]], tags=named("s3-endpoint"),
                        opts=child)
    used = zones.names.apply(lambda names: list(names[:ZONES]))
    return Network(vpc=vpc, public_subnets=public, private_subnets=private, zones=used,
                   public_routes=public_routes, private_routes=[*private_routes, *nats],
                   private_egress=count > 0)


def security_group(ctx: BuildContext, net: Network, role: str, description: str, ingress: list[dict],
                   egress: list[dict]) -> aws.ec2.SecurityGroup:
    """A security group with inline rules, so the whole rule set is visible (and tested) in one place."""
    return aws.ec2.SecurityGroup(f"{ctx.prefix}-{role}-sg", vpc_id=net.vpc.id, description=description,
                                 ingress=ingress, egress=egress, revoke_rules_on_delete=True,
                                 tags={**ctx.tags, "Name": f"{ctx.prefix}-{role}"},
                                 opts=pulumi.ResourceOptions(parent=net.vpc))


def https_out(description: str) -> dict:
    # Image pulls, AWS APIs (ECR, S3, Logs, SSM, Secrets Manager) are all HTTPS.
    return {"protocol": "tcp", "from_port": HTTPS, "to_port": HTTPS, "cidr_blocks": [ANYWHERE],
            "description": description}
