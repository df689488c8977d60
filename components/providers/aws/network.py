"""The service's own VPC: two zones, public subnets for the load balancer only, private subnets
for tasks, instances and training machines. Built once per service and shared via ctx.shared.

Egress: one NAT gateway plus a free S3 gateway endpoint. Private machines need ECR (API and
image layers), CloudWatch Logs, SSM and, for training, package indexes on the internet. VPC
interface endpoints would cover only the AWS services, and the six of them in two zones cost
more each month than one NAT gateway; the S3 gateway endpoint keeps the bulk bytes (image
layers, data, models) off NAT data-processing charges. One NAT (not one per zone) is a cost
choice: if its zone fails, machines in the other zone keep serving but cannot pull new images
until it is back.
"""
from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.providers.base import BuildContext

VPC_CIDR = "10.0.0.0/16"
ZONES = 2
# /24 public subnets hold only load balancer nodes and the NAT; /20 private ones leave room
# for one IP per Fargate task and instance.
PUBLIC_CIDRS = ("10.0.0.0/24", "10.0.1.0/24")
PRIVATE_CIDRS = ("10.0.128.0/20", "10.0.144.0/20")
ANYWHERE = "0.0.0.0/0"
HTTPS = 443
HTTP = 80


@dataclass
class Network:
    vpc: aws.ec2.Vpc
    public_subnets: list[aws.ec2.Subnet]
    private_subnets: list[aws.ec2.Subnet]
    zones: pulumi.Output  # list[str] of the zone names used

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
    eip = aws.ec2.Eip(f"{p}-nat-ip", domain="vpc", tags=named("nat-ip"), opts=child)
    nat = aws.ec2.NatGateway(f"{p}-nat", allocation_id=eip.id, subnet_id=public[0].id, connectivity_type="public",
                             tags=named("nat"), opts=pulumi.ResourceOptions(parent=vpc, depends_on=[igw]))
    private_rt = aws.ec2.RouteTable(f"{p}-private-rt", vpc_id=vpc.id,
                                    routes=[{"cidr_block": ANYWHERE, "nat_gateway_id": nat.id}],
                                    tags=named("private-rt"), opts=child)
    for subnets, rt, kind in ((public, public_rt, "public"), (private, private_rt, "private")):
        for i, subnet in enumerate(subnets):
            aws.ec2.RouteTableAssociation(f"{p}-{kind}-{'ab'[i]}-rt", subnet_id=subnet.id, route_table_id=rt.id,
                                          opts=child)
    aws.ec2.VpcEndpoint(f"{p}-s3-endpoint", vpc_id=vpc.id, vpc_endpoint_type="Gateway",
                        service_name=f"com.amazonaws.{ctx.spec.region}.s3",
                        route_table_ids=[private_rt.id], tags=named("s3-endpoint"), opts=child)
    used = zones.names.apply(lambda names: list(names[:ZONES]))
    return Network(vpc=vpc, public_subnets=public, private_subnets=private, zones=used)


def security_group(ctx: BuildContext, net: Network, role: str, description: str, ingress: list[dict],
                   egress: list[dict]) -> aws.ec2.SecurityGroup:
    """A security group with inline rules, so the whole rule set is visible (and tested) in one place."""
    return aws.ec2.SecurityGroup(f"{ctx.prefix}-{role}-sg", vpc_id=net.vpc.id, description=description,
                                 ingress=ingress, egress=egress, revoke_rules_on_delete=True,
                                 tags={**ctx.tags, "Name": f"{ctx.prefix}-{role}"},
                                 opts=pulumi.ResourceOptions(parent=net.vpc))


def https_out(description: str) -> dict:
    # Image pulls, AWS APIs (ECR, S3, Logs, SSM) and package indexes are all HTTPS.
    return {"protocol": "tcp", "from_port": HTTPS, "to_port": HTTPS, "cidr_blocks": [ANYWHERE],
            "description": description}
