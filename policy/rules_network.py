"""Network and machines: no admin ports open to the internet, no public IPs, IMDSv2, TLS 1.2+."""
from __future__ import annotations

from typing import Any, Iterator, Mapping

from pydantic import Field

from policy.rules_base import OPEN_IPV4, OPEN_IPV6, Settings, as_list, get, items, ports_cover, resource_rule, truthy

SG = "aws:ec2/securityGroup:SecurityGroup"
SG_DEFAULT = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
SG_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
SG_INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
GCP_FIREWALL = "gcp:compute/firewall:Firewall"
NSG = "azure-native:network:NetworkSecurityGroup"
NSG_RULE = "azure-native:network:SecurityRule"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
INSTANCE = "aws:ec2/instance:Instance"
SPOT_REQUEST = "aws:ec2/spotInstanceRequest:SpotInstanceRequest"
SUBNET = "aws:ec2/subnet:Subnet"
GCP_VMS = ("gcp:compute/instance:Instance", "gcp:compute/instanceTemplate:InstanceTemplate",
           "gcp:compute/regionInstanceTemplate:RegionInstanceTemplate")
AZ_VMSS = "azure-native:compute:VirtualMachineScaleSet"
AZ_VM = "azure-native:compute:VirtualMachine"
AZ_NIC = "azure-native:network:NetworkInterface"
AZ_ACCOUNT = "azure-native:storage:StorageAccount"
AZ_CONTAINER_APP = "azure-native:app:ContainerApp"
AWS_LISTENER = "aws:lb/listener:Listener"
GCP_SSL_POLICY = "gcp:compute/sSLPolicy:SSLPolicy"

# Protocols that can carry SSH (tcp) or RDP (tcp/udp); "all" in each cloud's spelling.
PORT_PROTOCOLS = {"tcp", "6", "udp", "17", "-1", "all", "*", "any"}
# Azure service tags and prefixes that mean "anyone".
AZURE_ANYWHERE = {"*", "internet", "any", OPEN_IPV4, OPEN_IPV6, "0.0.0.0"}


class AdminPortSettings(Settings):
    ports: list[int] = Field(default=[22, 3389], description="Ports never open to 0.0.0.0/0 or ::/0.")


def _carries(protocol: Any) -> bool:
    return protocol is None or str(protocol).lower() in PORT_PROTOCOLS


def _aws_open(cidrs4: list, cidrs6: list) -> list[str]:
    return [c for c in cidrs4 if c == OPEN_IPV4] + [c for c in cidrs6 if c == OPEN_IPV6]


def _aws_range(rule: Mapping, ports: list[int], proto_key: str) -> list[int]:
    protocol = get(rule, proto_key)
    if not _carries(protocol):
        return []
    if str(protocol) in ("-1", "all"):
        return ports
    low, high = get(rule, "fromPort"), get(rule, "toPort")
    if low is None or high is None:
        return ports
    return [p for p in ports if int(low) <= p <= int(high)]


@resource_rule("no-admin-ports-open", "No ingress from 0.0.0.0/0 or ::/0 to SSH (22) or RDP (3389): "
               "security groups, GCP firewalls, Azure NSGs.", severity="critical",
               types=(SG, SG_DEFAULT, SG_RULE, SG_INGRESS, GCP_FIREWALL, NSG, NSG_RULE), settings=AdminPortSettings)
def no_admin_ports_open(type_: str, inputs: Mapping[str, Any], settings: AdminPortSettings) -> Iterator[str]:
    ports = settings.ports
    if type_ in (SG, SG_DEFAULT):
        for i, rule in enumerate(items(inputs, "ingress")):
            open_ = _aws_open(items(rule, "cidrBlocks"), items(rule, "ipv6CidrBlocks"))
            hit = _aws_range(rule, ports, "protocol") if open_ else []
            if hit:
                yield f"ingress[{i}] opens port {', '.join(map(str, hit))} to {', '.join(open_)}"
    elif type_ == SG_RULE:
        if get(inputs, "type") == "ingress":
            open_ = _aws_open(items(inputs, "cidrBlocks"), items(inputs, "ipv6CidrBlocks"))
            hit = _aws_range(inputs, ports, "protocol") if open_ else []
            if hit:
                yield f"ingress rule opens port {', '.join(map(str, hit))} to {', '.join(open_)}"
    elif type_ == SG_INGRESS:
        open_ = _aws_open(as_list(get(inputs, "cidrIpv4")), as_list(get(inputs, "cidrIpv6")))
        hit = _aws_range(inputs, ports, "ipProtocol") if open_ else []
        if hit:
            yield f"ingress rule opens port {', '.join(map(str, hit))} to {', '.join(open_)}"
    elif type_ == GCP_FIREWALL:
        if str(get(inputs, "direction") or "INGRESS").upper() != "INGRESS" or get(inputs, "disabled") is True:
            return
        ranges = items(inputs, "sourceRanges")
        # An ingress rule naming no source at all applies to 0.0.0.0/0.
        if not ranges and not items(inputs, "sourceTags") and not items(inputs, "sourceServiceAccounts"):
            ranges = [OPEN_IPV4]
        open_ = [r for r in ranges if r in (OPEN_IPV4, OPEN_IPV6)]
        if not open_:
            return
        for i, allow in enumerate(items(inputs, "allows")):
            if not _carries(get(allow, "protocol")):
                continue
            specs = items(allow, "ports") or [None]
            hit = [p for p in ports if any(ports_cover(s, p) for s in specs)]
            if hit:
                yield f"allows[{i}] opens port {', '.join(map(str, hit))} to {', '.join(open_)}"
    elif type_ in (NSG, NSG_RULE):
        rules = items(inputs, "securityRules") if type_ == NSG else [inputs]
        for i, rule in enumerate(rules):
            if str(get(rule, "direction")).lower() != "inbound" or str(get(rule, "access")).lower() != "allow":
                continue
            if not _carries(get(rule, "protocol")):
                continue
            sources = [get(rule, "sourceAddressPrefix")] + items(rule, "sourceAddressPrefixes")
            open_ = [s for s in sources if s is not None and str(s).lower() in AZURE_ANYWHERE]
            specs = [get(rule, "destinationPortRange")] + items(rule, "destinationPortRanges")
            specs = [s for s in specs if s is not None] or [None]
            hit = [p for p in ports if any(ports_cover(s, p) for s in specs)]
            if open_ and hit:
                where = f"securityRules[{i}] ({get(rule, 'name') or 'rule'})" if type_ == NSG else "security rule"
                yield f"{where} allows port {', '.join(map(str, hit))} from {', '.join(map(str, open_))}"


@resource_rule("imdsv2-required", "AWS instances and launch templates require IMDSv2 (httpTokens: required).",
               severity="high", types=(LAUNCH_TEMPLATE, INSTANCE, SPOT_REQUEST))
def imdsv2_required(type_: str, inputs: Mapping[str, Any], _settings) -> Iterator[str]:
    if type_ in (LAUNCH_TEMPLATE, INSTANCE, SPOT_REQUEST):
        if get(inputs, "metadataOptions.httpEndpoint") == "disabled":
            return
        tokens = get(inputs, "metadataOptions.httpTokens")
        if tokens != "required":
            yield f"metadataOptions.httpTokens is {tokens or 'unset (IMDSv1 allowed)'}; must be required"


def _azure_public_ip(configs: list, where: str) -> Iterator[str]:
    for i, nic in enumerate(configs):
        for j, ip in enumerate(items(nic, "ipConfigurations")):
            if get(ip, "publicIPAddressConfiguration") is not None:
                yield f"{where}[{i}].ipConfigurations[{j}] has a publicIPAddressConfiguration"


@resource_rule("no-public-ip", "VMs get no public IP: they are reached through the load balancer.",
               severity="high", types=(LAUNCH_TEMPLATE, INSTANCE, SPOT_REQUEST, SUBNET, *GCP_VMS, AZ_VMSS, AZ_VM,
                                       AZ_NIC))
def no_public_ip(type_: str, inputs: Mapping[str, Any], _settings) -> Iterator[str]:
    if type_ == LAUNCH_TEMPLATE:
        for i, nic in enumerate(items(inputs, "networkInterfaces")):
            if truthy(get(nic, "associatePublicIpAddress")):
                yield f"networkInterfaces[{i}].associatePublicIpAddress is true"
    elif type_ in (INSTANCE, SPOT_REQUEST):
        if truthy(get(inputs, "associatePublicIpAddress")):
            yield "associatePublicIpAddress is true"
    elif type_ == SUBNET:
        if truthy(get(inputs, "mapPublicIpOnLaunch")):
            yield "subnet sets mapPublicIpOnLaunch: instances launched in it get a public IP"
    elif type_ in GCP_VMS:
        for i, nic in enumerate(items(inputs, "networkInterfaces")):
            if items(nic, "accessConfigs") or items(nic, "ipv6AccessConfigs"):
                yield f"networkInterfaces[{i}] has an access config (external IP)"
    elif type_ == AZ_VMSS:
        yield from _azure_public_ip(
            items(inputs, "virtualMachineProfile.networkProfile.networkInterfaceConfigurations"),
            "virtualMachineProfile.networkProfile.networkInterfaceConfigurations")
    elif type_ == AZ_VM:
        yield from _azure_public_ip(items(inputs, "networkProfile.networkInterfaceConfigurations"),
                                    "networkProfile.networkInterfaceConfigurations")
    elif type_ == AZ_NIC:
        for j, ip in enumerate(items(inputs, "ipConfigurations")):
            if get(ip, "publicIPAddress") is not None:
                yield f"ipConfigurations[{j}] attaches a public IP address"


def _tls12(name: Any) -> bool:
    # ELB policy names carry their minimum: ELBSecurityPolicy-TLS13-1-2-2021-06, ...-TLS-1-2-Ext-2018-06.
    return isinstance(name, str) and ("1-2" in name or "1-3" in name)


@resource_rule("tls-minimum", "HTTPS only and TLS 1.2 minimum wherever the service has the setting.",
               severity="high", types=(AZ_ACCOUNT, AZ_CONTAINER_APP, AWS_LISTENER, GCP_SSL_POLICY))
def tls_minimum(type_: str, inputs: Mapping[str, Any], _settings) -> Iterator[str]:
    if type_ == AZ_ACCOUNT:
        if get(inputs, "enableHttpsTrafficOnly") is not True:
            yield "storage account must set enableHttpsTrafficOnly: true"
        version = get(inputs, "minimumTlsVersion")
        if version not in ("TLS1_2", "TLS1_3"):
            yield f"storage account minimumTlsVersion is {version or 'unset'}; must be TLS1_2 or later"
    elif type_ == AZ_CONTAINER_APP:
        if get(inputs, "configuration.ingress.allowInsecure") is True:
            yield "container app ingress sets allowInsecure: true (plain HTTP)"
    elif type_ == AWS_LISTENER:
        if str(get(inputs, "protocol") or "").upper() in ("HTTPS", "TLS"):
            policy = get(inputs, "sslPolicy")
            if not _tls12(policy):
                shown = policy or "unset (ELBSecurityPolicy-2016-08, TLS 1.0)"
                yield f"listener sslPolicy {shown} allows TLS below 1.2"
    elif type_ == GCP_SSL_POLICY:
        version = get(inputs, "minTlsVersion")
        if version not in ("TLS_1_2", "TLS_1_3"):
            yield f"SSL policy minTlsVersion is {version or 'unset (TLS_1_0)'}; must be TLS_1_2 or later"
