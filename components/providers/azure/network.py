"""One virtual network per environment, shared by VM serving and training (cached in ctx.shared).

No machine has a public IP and no rule admits SSH or RDP: outbound traffic leaves through a NAT
gateway, inbound traffic reaches serving only through its load balancer, and a shell is had
through Azure Bastion or Run Command (`az vmss run-command invoke`), both gated by Entra ID.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import pulumi
import pulumi_azure_native as azure_native

from components.providers.base import BuildContext

ADDRESS_SPACE = "10.20.0.0/16"
SERVING_SUBNET = "10.20.1.0/24"
TRAINING_SUBNET = "10.20.2.0/24"
# One serving subnet per zone in zonal prod: zone 1 keeps 10.20.1.0/24, zones 2 and 3 use .3 and .4.
ZONE_SUBNETS = {"1": SERVING_SUBNET, "2": "10.20.3.0/24", "3": "10.20.4.0/24"}
# Below Azure's own default rules (65000+) and above anything we allow: an explicit, visible deny.
DENY_PRIORITY = 4000


@dataclass
class Stack:
    """What one zone's (or, without zonal stacks, the region's) scale set sits in."""

    zone: Optional[str]  # None: one regional stack for every zone
    subnet: azure_native.network.Subnet
    nat: azure_native.network.NatGateway


@dataclass
class Network:
    vnet: azure_native.network.VirtualNetwork
    # Each subnet (and its security group) exists only when its part is built.
    serving: list = field(default_factory=list)  # list[Stack]
    training_subnet: Optional[azure_native.network.Subnet] = None

    @property
    def serving_subnet(self):
        return self.serving[0].subnet if self.serving else None


def zonal(ctx: BuildContext) -> list[str] | None:
    """Zones that get a stack each (subnet + NAT gateway + scale set), or None for one regional stack.

    A NAT gateway is zonal: "NAT gateway is a zonal resource ... if that zone goes down, outbound
    connectivity is lost" for every subnet it serves, and a subnet takes a single NAT gateway; zone
    resilience is one zonal stack per zone ("Azure NAT Gateway and availability zones", design
    considerations). Prod only: elsewhere one NAT gateway is the cheaper, accepted single point.
    """
    zones = ctx.provider.zones(ctx.spec)
    if ctx.spec.env == "prod" and zones and ctx.spec.service.serving.mode == "vm":
        return list(zones)
    return None


def _rule(name: str, priority: int, access: str, source: str, port: str, protocol: str = "Tcp") -> dict:
    return {"name": name, "priority": priority, "direction": "Inbound", "access": access, "protocol": protocol,
            "source_address_prefix": source, "source_port_range": "*", "destination_address_prefix": "*",
            "destination_port_range": port}


def serving_rules(serving, front_door: bool = False) -> list[dict]:
    port = str(serving.port)
    # A Standard load balancer passes the client's own address through, so public ingress has to admit
    # the Internet on the app port; the instances have no public IP, so the load balancer is the only way
    # in. Behind Front Door only Front Door's back ends ("AzureFrontDoor.Backend" service tag, "Secure
    # traffic to Azure Front Door origins"), so nothing reaches the app around the firewall. Internal
    # ingress: the virtual network only. Health probes come from AzureLoadBalancer.
    if serving.ingress != "public":
        clients = "VirtualNetwork"
    else:
        clients = "AzureFrontDoor.Backend" if front_door else "Internet"
    return [
        _rule("allow-lb-health-probe", 100, "Allow", "AzureLoadBalancer", port),
        _rule("allow-app-clients", 110, "Allow", clients, port),
        _rule("deny-internet-inbound", DENY_PRIORITY, "Deny", "Internet", "*", protocol="*"),
    ]


def network(ctx: BuildContext, parent) -> Network:
    if "azure_network" in ctx.shared:
        return ctx.shared["azure_network"]
    from .front_door import uses_front_door

    p = ctx.prefix
    rg = ctx.base
    region = ctx.spec.region
    serving = ctx.spec.service.serving
    opts = pulumi.ResourceOptions(parent=parent)
    vnet = azure_native.network.VirtualNetwork(
        f"{p}-vnet", virtual_network_name=f"{p}-vnet", resource_group_name=rg.name, location=region,
        address_space={"address_prefixes": [ADDRESS_SPACE]}, tags=ctx.tags, opts=opts)

    def nat(suffix: str, zone: Optional[str]):
        zones = [zone] if zone else None
        ip = azure_native.network.PublicIPAddress(
            f"{p}-nat{suffix}-ip", public_ip_address_name=f"{p}-nat{suffix}-ip", resource_group_name=rg.name,
            location=region, sku={"name": "Standard", "tier": "Regional"}, public_ip_allocation_method="Static",
            public_ip_address_version="IPv4", zones=zones, tags=ctx.tags, opts=opts)
        return azure_native.network.NatGateway(
            f"{p}-nat{suffix}", nat_gateway_name=f"{p}-nat{suffix}", resource_group_name=rg.name, location=region,
            sku={"name": "Standard"}, public_ip_addresses=[{"id": ip.id}], idle_timeout_in_minutes=4,
            zones=zones, tags=ctx.tags, opts=opts)

    chain: list = []

    def subnet(role: str, prefix: str, nsg, service_endpoints: list[dict], nat_gateway=None):
        # Subnets of one network are updated one at a time by ARM: chain them.
        extra = {"nat_gateway": {"id": nat_gateway.id}} if nat_gateway is not None else {}
        made = azure_native.network.Subnet(
            f"{p}-{role}-subnet", subnet_name=role, virtual_network_name=vnet.name, resource_group_name=rg.name,
            address_prefix=prefix, network_security_group={"id": nsg.id},
            # Azure's implicit outbound access is retiring; the NAT gateway is the only way out.
            default_outbound_access=False, service_endpoints=service_endpoints,
            opts=pulumi.ResourceOptions(parent=parent, depends_on=chain[-1:] or None), **extra)
        chain.append(made)
        return made

    # Blob storage admits the service's own subnets only (prod): through the Microsoft.Storage endpoint.
    storage_endpoint = [{"service": "Microsoft.Storage", "locations": [region]}]
    net = Network(vnet)
    regional_nat = None
    if serving.mode == "vm":
        serving_nsg = azure_native.network.NetworkSecurityGroup(
            f"{p}-serving-nsg", network_security_group_name=f"{p}-serving-nsg", resource_group_name=rg.name,
            location=region, security_rules=serving_rules(serving, uses_front_door(ctx)), tags=ctx.tags, opts=opts)
        zones = zonal(ctx)
        if zones:
            for zone in zones:
                zone_nat = nat(f"-z{zone}", zone)
                role = "serving" if zone == "1" else f"serving-z{zone}"
                net.serving.append(Stack(zone, subnet(role, ZONE_SUBNETS[zone], serving_nsg, storage_endpoint,
                                                      zone_nat), zone_nat))
        else:
            regional_nat = nat("", None)
            net.serving.append(Stack(None, subnet("serving", SERVING_SUBNET, serving_nsg, storage_endpoint,
                                                  regional_nat), regional_nat))
    if ctx.spec.service.training.enabled:
        training_nsg = azure_native.network.NetworkSecurityGroup(
            f"{p}-training-nsg", network_security_group_name=f"{p}-training-nsg", resource_group_name=rg.name,
            location=region, tags=ctx.tags, opts=opts,
            security_rules=[_rule("deny-internet-inbound", DENY_PRIORITY, "Deny", "Internet", "*", "*")])
        # Training is regional (GPU capacity differs per zone): it shares the first NAT gateway.
        training_nat = net.serving[0].nat if net.serving else (regional_nat or nat("", None))
        # The training share's storage account and the blob account admit this subnet through the endpoint.
        net.training_subnet = subnet("training", TRAINING_SUBNET, training_nsg, storage_endpoint, training_nat)
    ctx.shared["azure_network"] = net
    return net
