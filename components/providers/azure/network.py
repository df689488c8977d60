"""One virtual network per environment, shared by VM serving and training (cached in ctx.shared).

No machine has a public IP and no rule admits SSH or RDP: outbound traffic leaves through a NAT
gateway, inbound traffic reaches serving only through its load balancer, and a shell is had
through Azure Bastion or Run Command (`az vmss run-command invoke`), both gated by Entra ID.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_azure_native as azure_native

from components.providers.base import BuildContext

ADDRESS_SPACE = "10.20.0.0/16"
SERVING_SUBNET = "10.20.1.0/24"
TRAINING_SUBNET = "10.20.2.0/24"
# Below Azure's own default rules (65000+) and above anything we allow: an explicit, visible deny.
DENY_PRIORITY = 4000


@dataclass
class Network:
    vnet: azure_native.network.VirtualNetwork
    # Each subnet (and its security group) exists only when its part is built.
    serving_subnet: Optional[azure_native.network.Subnet]
    training_subnet: Optional[azure_native.network.Subnet]


def _rule(name: str, priority: int, access: str, source: str, port: str, protocol: str = "Tcp") -> dict:
    return {"name": name, "priority": priority, "direction": "Inbound", "access": access, "protocol": protocol,
            "source_address_prefix": source, "source_port_range": "*", "destination_address_prefix": "*",
            "destination_port_range": port}


def serving_rules(serving) -> list[dict]:
    port = str(serving.port)
    # A Standard load balancer passes the client's own address through, so public ingress has to admit
    # the Internet on the app port; the instances have no public IP, so the load balancer is the only way
    # in. Internal ingress admits the virtual network only. Health probes come from AzureLoadBalancer.
    clients = "Internet" if serving.ingress == "public" else "VirtualNetwork"
    return [
        _rule("allow-lb-health-probe", 100, "Allow", "AzureLoadBalancer", port),
        _rule("allow-app-clients", 110, "Allow", clients, port),
        _rule("deny-internet-inbound", DENY_PRIORITY, "Deny", "Internet", "*", protocol="*"),
    ]


def network(ctx: BuildContext, parent) -> Network:
    if "azure_network" in ctx.shared:
        return ctx.shared["azure_network"]
    p = ctx.prefix
    rg = ctx.base
    region = ctx.spec.region
    opts = pulumi.ResourceOptions(parent=parent)
    vnet = azure_native.network.VirtualNetwork(
        f"{p}-vnet", virtual_network_name=f"{p}-vnet", resource_group_name=rg.name, location=region,
        address_space={"address_prefixes": [ADDRESS_SPACE]}, tags=ctx.tags, opts=opts)
    nat_ip = azure_native.network.PublicIPAddress(
        f"{p}-nat-ip", public_ip_address_name=f"{p}-nat-ip", resource_group_name=rg.name, location=region,
        sku={"name": "Standard", "tier": "Regional"}, public_ip_allocation_method="Static",
        public_ip_address_version="IPv4", tags=ctx.tags, opts=opts)
    nat = azure_native.network.NatGateway(
        f"{p}-nat", nat_gateway_name=f"{p}-nat", resource_group_name=rg.name, location=region,
        sku={"name": "Standard"}, public_ip_addresses=[{"id": nat_ip.id}], idle_timeout_in_minutes=4,
        tags=ctx.tags, opts=opts)

    def subnet(role: str, prefix: str, nsg, service_endpoints: list[dict], after=None):
        # Subnets of one network are updated one at a time by ARM: chain them.
        return azure_native.network.Subnet(
            f"{p}-{role}-subnet", subnet_name=role, virtual_network_name=vnet.name, resource_group_name=rg.name,
            address_prefix=prefix, network_security_group={"id": nsg.id}, nat_gateway={"id": nat.id},
            # Azure's implicit outbound access is retiring; the NAT gateway is the only way out.
            default_outbound_access=False, service_endpoints=service_endpoints,
            opts=pulumi.ResourceOptions(parent=parent, depends_on=[after] if after else None))

    serving_subnet = training_subnet = None
    if ctx.spec.service.serving.mode == "vm":
        serving_nsg = azure_native.network.NetworkSecurityGroup(
            f"{p}-serving-nsg", network_security_group_name=f"{p}-serving-nsg", resource_group_name=rg.name,
            location=region, security_rules=serving_rules(ctx.spec.service.serving), tags=ctx.tags, opts=opts)
        serving_subnet = subnet("serving", SERVING_SUBNET, serving_nsg, [])
    if ctx.spec.service.training.enabled:
        training_nsg = azure_native.network.NetworkSecurityGroup(
            f"{p}-training-nsg", network_security_group_name=f"{p}-training-nsg", resource_group_name=rg.name,
            location=region, tags=ctx.tags, opts=opts,
            security_rules=[_rule("deny-internet-inbound", DENY_PRIORITY, "Deny", "Internet", "*", "*")])
        # The training share's storage account admits this subnet only, through the Microsoft.Storage endpoint.
        training_subnet = subnet("training", TRAINING_SUBNET, training_nsg,
                                 [{"service": "Microsoft.Storage", "locations": [region]}], after=serving_subnet)
    net = Network(vnet, serving_subnet, training_subnet)
    ctx.shared["azure_network"] = net
    return net
