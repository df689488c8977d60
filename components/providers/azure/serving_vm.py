"""VM serving: scale sets running the container behind a Standard load balancer, scaled out above / in
below the CPU thresholds by autoscale settings. Prod in a zoned region gets one scale set per zone (each
in its zone's subnet behind its zone's NAT gateway: network.zonal); elsewhere one scale set spans the zones.
Public endpoints with a domain or a firewall are fronted by Azure Front Door (front_door.py)."""
from __future__ import annotations

import math

import pulumi
import pulumi_azure_native as azure_native

from components.errors import ConfigError
from components.providers.base import BuildContext, ServingOutputs
from components.release import container_env

from .access import computer_name_prefix, linux_os_profile
from .front_door import build_front_door, front_door_profile, uses_front_door
from .identity import serving_identity
from .network import network, zonal
from .secrets import build_secrets
from .sizes import serving_vm_size
from .vm_release import cloud_init, encoded, release_command, release_extension, release_files

UBUNTU = {"publisher": "Canonical", "offer": "ubuntu-24_04-lts", "sku": "server", "version": "latest"}
FRONTEND, BACKEND, PROBE = "frontend", "backend", "health"
# Azure autoscale evaluates CPU averaged over this window, and waits the cooldown between actions.
WINDOW, COOLDOWN = "PT5M", "PT5M"
# OS disk: Premium SSD in prod; the cheapest disk that boots Ubuntu well elsewhere (Standard SSD).
OS_DISK = {"prod": "Premium_LRS"}
DEFAULT_OS_DISK = "StandardSSD_LRS"


def image_reference(serving) -> dict:
    """`serving.machine_image` (marketplace URN or image / gallery id) pinned per environment, else Ubuntu."""
    image = serving.machine_image
    if not image:
        return UBUNTU
    if image.startswith("/subscriptions/"):
        return {"id": image}
    parts = image.split(":")
    if len(parts) != 4:
        raise ConfigError(f"mlinfra:service.serving.machine_image: {image!r} is not an Azure image; use a "
                          "marketplace URN publisher:offer:sku:version or an image resource id (/subscriptions/...)")
    return dict(zip(("publisher", "offer", "sku", "version"), parts))


def split(total: int, parts: int) -> int:
    """Per-scale-set share of an instance count spread over `parts` zonal scale sets (rounded up)."""
    return math.ceil(total / parts)


def live_capacity(ctx: BuildContext, parent, name: str, default: int, low: int, high: int) -> int:
    """The scale set's current instance count when it exists, so a deploy never resets what autoscale chose.

    `ignore_changes` alone is not enough: azure-native sends the whole model on every update, with the
    capacity from the last deployment's inputs, which resets the count autoscale chose since. Reading it back
    and sending it unchanged makes the update a no-op for capacity. Not found (first deploy): `default`.
    """
    try:
        found = azure_native.compute.get_virtual_machine_scale_set(
            resource_group_name=ctx.provider.resource_group_name(ctx.spec), vm_scale_set_name=name,
            opts=pulumi.InvokeOptions(parent=parent))
    except Exception as err:  # the invoke raises on any ARM error; only "not found" means "create"
        if "NotFound" in str(err) or "404" in str(err):
            return default
        raise
    capacity = getattr(getattr(found, "sku", None), "capacity", None)
    if capacity is None:
        return default
    return min(max(int(capacity), low), high)


def _cpu_rule(vmss_id, operator: str, threshold: int, direction: str) -> dict:
    return {
        "metric_trigger": {"metric_name": "Percentage CPU",
                           "metric_namespace": "microsoft.compute/virtualmachinescalesets",
                           "metric_resource_uri": vmss_id, "time_grain": "PT1M", "statistic": "Average",
                           "time_window": WINDOW, "time_aggregation": "Average", "operator": operator,
                           "threshold": threshold},
        "scale_action": {"direction": direction, "type": "ChangeCount", "value": "1", "cooldown": COOLDOWN},
    }


def build_vm(provider, parent: pulumi.Resource, ctx: BuildContext) -> ServingOutputs:
    p = ctx.prefix
    rg = ctx.base
    region = ctx.spec.region
    serving = ctx.spec.service.serving
    opts = pulumi.ResourceOptions(parent=parent)
    identity = serving_identity(ctx, parent)
    vault = build_secrets(provider, parent, ctx, identity)
    net = network(ctx, parent)
    zones = provider.zones(ctx.spec)

    public = serving.ingress == "public"
    lb_name = f"{p}-lb"
    config = azure_native.authorization.get_client_config_output(opts=pulumi.InvokeOutputOptions(parent=parent))
    # Sub-resources of the load balancer refer to each other by id, before the balancer exists.
    lb_id = pulumi.Output.all(config.subscription_id, rg.name).apply(
        lambda a: f"/subscriptions/{a[0]}/resourceGroups/{a[1]}/providers/Microsoft.Network/loadBalancers/{lb_name}")
    frontend_ip = None
    if public:
        frontend_ip = azure_native.network.PublicIPAddress(
            f"{p}-lb-ip", public_ip_address_name=f"{p}-lb-ip", resource_group_name=rg.name, location=region,
            sku={"name": "Standard", "tier": "Regional"}, public_ip_allocation_method="Static",
            public_ip_address_version="IPv4", zones=zones, tags=ctx.tags, opts=opts)
        frontend = {"name": FRONTEND, "public_ip_address": {"id": frontend_ip.id}}
    else:
        frontend = {"name": FRONTEND, "subnet": {"id": net.serving_subnet.id},
                    "private_ip_allocation_method": "Dynamic", "zones": zones}
    lb = azure_native.network.LoadBalancer(
        f"{p}-lb", load_balancer_name=lb_name, resource_group_name=rg.name, location=region,
        sku={"name": "Standard", "tier": "Regional"},
        frontend_ip_configurations=[frontend],
        backend_address_pools=[{"name": BACKEND}],
        probes=[{"name": PROBE, "protocol": "Http", "port": serving.port, "request_path": serving.health_path,
                 "interval_in_seconds": 5, "number_of_probes": 2, "probe_threshold": 2}],
        load_balancing_rules=[{
            "name": "http", "protocol": "Tcp", "frontend_port": 80, "backend_port": serving.port,
            "frontend_ip_configuration": {"id": lb_id.apply(lambda i: f"{i}/frontendIPConfigurations/{FRONTEND}")},
            "backend_address_pool": {"id": lb_id.apply(lambda i: f"{i}/backendAddressPools/{BACKEND}")},
            "probe": {"id": lb_id.apply(lambda i: f"{i}/probes/{PROBE}")},
            # Outbound goes through the subnet's NAT gateway, not the balancer's address.
            "disable_outbound_snat": True, "enable_tcp_reset": True, "idle_timeout_in_minutes": 4,
        }],
        tags=ctx.tags, opts=opts)

    env = {**container_env(ctx), "AZURE_CLIENT_ID": identity.client_id}
    profile = front_door_profile(ctx, parent) if public and uses_front_door(ctx) else None
    if profile is not None:
        env["FRONT_DOOR_ID"] = profile.front_door_id
    names = sorted(env)
    command = pulumi.Output.all(ctx.image, ctx.registry.server, identity.client_id,
                                pulumi.Output.all(*[env[k] for k in names]),
                                pulumi.Output.all(**vault.uris) if vault.uris else {}).apply(
        lambda a: release_command(release_files(a[0], a[1], a[2], dict(zip(names, a[3])), dict(a[4] or {}))))
    stacks = net.serving
    per_zone = zonal(ctx)
    count = len(stacks)
    # Spread over zonal scale sets, each keeps ceil(min / zones) .. ceil(max / zones) instances.
    low, high = split(serving.min_instances, count), split(serving.max_instances, count)
    os_disk = OS_DISK.get(ctx.spec.env, DEFAULT_OS_DISK)
    scale_sets = []
    for stack in stacks:
        suffix = f"-z{stack.zone}" if per_zone else ""
        name = f"{p}-vmss{suffix}"
        capacity = live_capacity(ctx, parent, name, low, low, high)
        set_zones = [stack.zone] if per_zone else zones
        vmss = azure_native.compute.VirtualMachineScaleSet(
            name, vm_scale_set_name=name, resource_group_name=rg.name, location=region,
            sku={"name": serving_vm_size(serving), "tier": "Standard", "capacity": capacity},
            zones=set_zones, orchestration_mode="Uniform", overprovision=False, single_placement_group=False,
            # "zoneBalance property can only be set if the zones property of the scale set contains more than
            # one zone" (VirtualMachineScaleSet ARM reference).
            **({"zone_balance": True} if set_zones and len(set_zones) > 1 else {}),
            identity={"type": "UserAssigned", "user_assigned_identities": [identity.id]},
            # A model change (a new image digest in the release extension) rolls through the instances in
            # batches of 20 %, each batch healthy on the load balancer probe before the next.
            upgrade_policy={"mode": "Rolling", "rolling_upgrade_policy": {
                "max_batch_instance_percent": 20, "max_unhealthy_instance_percent": 20,
                "max_unhealthy_upgraded_instance_percent": 20, "pause_time_between_batches": "PT0S"}},
            automatic_repairs_policy={"enabled": True, "grace_period": "PT10M", "repair_action": "Replace"},
            virtual_machine_profile={
                "os_profile": linux_os_profile(ctx, computer_name_prefix(ctx, "srv"), encoded(cloud_init())),
                "storage_profile": {
                    "image_reference": image_reference(serving),
                    "os_disk": {"create_option": "FromImage", "caching": "ReadWrite", "disk_size_gb": 64,
                                "managed_disk": {"storage_account_type": os_disk}},
                },
                # Encryption at host also covers temp disks and caches (needs the EncryptionAtHost feature
                # registered on the subscription: prerequisites.FEATURES); trusted launch gives secure boot
                # and a vTPM.
                "security_profile": {"encryption_at_host": True, "security_type": "TrustedLaunch",
                                     "uefi_settings": {"secure_boot_enabled": True, "v_tpm_enabled": True}},
                "extension_profile": {"extensions": [release_extension(command)]},
                "network_profile": {
                    "health_probe": {"id": lb_id.apply(lambda i: f"{i}/probes/{PROBE}")},
                    "network_interface_configurations": [{
                        "name": "nic", "primary": True,
                        # No public_ip_address_configuration: instances have private addresses only.
                        "ip_configurations": [{
                            "name": "ipconfig", "primary": True, "subnet": {"id": stack.subnet.id},
                            "load_balancer_backend_address_pools": [
                                {"id": lb_id.apply(lambda i: f"{i}/backendAddressPools/{BACKEND}")}],
                        }],
                    }],
                },
                "diagnostics_profile": {"boot_diagnostics": {"enabled": True}},
            },
            tags=ctx.tags,
            # Instances retry the pull until the role assignments have propagated (vm_release): only
            # their existence is waited for, no propagation sleep.
            opts=pulumi.ResourceOptions(parent=parent, depends_on=[lb, *identity.assignments]))
        azure_native.monitor.AutoscaleSetting(
            f"{p}-autoscale{suffix}", autoscale_setting_name=f"{p}-autoscale{suffix}",
            resource_group_name=rg.name, location=region, enabled=True, target_resource_uri=vmss.id,
            profiles=[{
                "name": "cpu",
                "capacity": {"minimum": str(low), "maximum": str(high), "default": str(low)},
                "rules": [
                    _cpu_rule(vmss.id, "GreaterThan", serving.scale_out_cpu_percent, "Increase"),
                    _cpu_rule(vmss.id, "LessThan", serving.scale_in_cpu_percent, "Decrease"),
                ],
            }],
            tags=ctx.tags, opts=opts)
        scale_sets.append(vmss)
    ctx.shared["azure_serving_lb"] = lb
    ctx.shared["azure_serving_vmss"] = scale_sets[0]
    ctx.shared["azure_serving_scale_sets"] = scale_sets
    dns_records = None
    if profile is not None:
        url, dns_records = build_front_door(ctx, parent, frontend_ip.ip_address, profile)
    elif public:
        # A layer-4 balancer terminates no TLS: without serving.domain / firewall the endpoint is plain HTTP.
        url = pulumi.Output.concat("http://", frontend_ip.ip_address)
    else:
        url = pulumi.Output.concat("http://", lb.frontend_ip_configurations.apply(lambda f: f[0].private_ip_address))
    out = ServingOutputs(url=url, identity=identity.principal_id)
    out.dns_records = dns_records
    return out
