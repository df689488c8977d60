"""VM serving: a zone-spread scale set running the container behind a Standard load balancer,
scaled out above / in below the CPU thresholds by an autoscale setting."""
from __future__ import annotations

import base64
import shlex

import pulumi
import pulumi_azure_native as azure_native

from components.providers.base import BuildContext, ServingOutputs

from .access import computer_name_prefix, linux_os_profile
from .identity import serving_identity
from .network import network
from .sizes import serving_vm_size

UBUNTU = {"publisher": "Canonical", "offer": "ubuntu-24_04-lts", "sku": "server", "version": "latest"}
FRONTEND, BACKEND, PROBE = "frontend", "backend", "health"
# Azure autoscale evaluates CPU averaged over this window, and waits the cooldown between actions.
WINDOW, COOLDOWN = "PT5M", "PT5M"


def cloud_init(client_id: str, server: str, image: str, serving) -> str:
    """Install docker, log in to the registry as the serving identity, run the image."""
    env = " ".join(f"-e {shlex.quote(f'{k}={v}')}" for k, v in sorted(serving.env.items()))
    token_url = ("http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01"
                 f"&resource=https://management.azure.com/&client_id={client_id}")
    script = "\n".join([
        "#!/bin/sh",
        "set -eu",
        # The identity's Entra token (from the instance metadata service) is exchanged for an ACR token:
        # no registry password exists anywhere.
        f"AAD=$(curl -sf -H Metadata:true '{token_url}' | jq -r .access_token)",
        f"ACR=$(curl -sf -X POST -d \"grant_type=access_token&service={server}&access_token=$AAD\" "
        f"https://{server}/oauth2/exchange | jq -r .refresh_token)",
        f"echo \"$ACR\" | docker login {server} -u 00000000-0000-0000-0000-000000000000 --password-stdin",
        f"docker pull {shlex.quote(image)}",
        "docker rm -f model 2>/dev/null || true",
        f"docker run -d --name model --restart unless-stopped -p {serving.port}:{serving.port} "
        + (f"{env} " if env else "") + shlex.quote(image),
    ])
    indented = "\n".join("      " + line for line in script.splitlines())
    return ("#cloud-config\npackage_update: true\npackages: [docker.io, jq, curl]\n"
            "write_files:\n  - path: /usr/local/bin/mlinfra-serve\n    permissions: '0755'\n    content: |\n"
            f"{indented}\nruncmd:\n  - systemctl enable --now docker\n  - /usr/local/bin/mlinfra-serve\n")


def _cpu_rule(vmss_id, operator: str, threshold: int, direction: str) -> dict:
    return {
        "metric_trigger": {"metric_name": "Percentage CPU",
                           "metric_namespace": "microsoft.compute/virtualmachinescalesets", "metric_resource_uri": vmss_id, "time_grain": "PT1M", "statistic": "Average",
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
    net = network(ctx, parent)
    zones = provider.zones(ctx.spec)

    public = serving.ingress == "public"
    lb_name = f"{p}-lb"
    config = azure_native.authorization.get_client_config_output(opts=pulumi.InvokeOutputOptions(parent=parent))
    # Sub-resources of the load balancer refer to each other by id, before the balancer exists.
    lb_id = pulumi.Output.all(config.subscription_id, rg.name).apply(
        lambda a: f"/subscriptions/{a[0]}/resourceGroups/{a[1]}/providers/Microsoft.Network/loadBalancers/{lb_name}")
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

    custom_data = pulumi.Output.all(identity.client_id, ctx.registry.server, ctx.image).apply(
        lambda a: base64.b64encode(cloud_init(a[0], a[1], a[2], serving).encode()).decode())
    vmss = azure_native.compute.VirtualMachineScaleSet(
        f"{p}-vmss", vm_scale_set_name=f"{p}-vmss", resource_group_name=rg.name, location=region,
        sku={"name": serving_vm_size(serving), "tier": "Standard", "capacity": serving.min_instances},
        zones=zones, zone_balance=bool(zones), orchestration_mode="Uniform", overprovision=False,
        single_placement_group=False,
        identity={"type": "UserAssigned", "user_assigned_identities": [identity.id]},
        upgrade_policy={"mode": "Rolling", "rolling_upgrade_policy": {
            "max_batch_instance_percent": 20, "max_unhealthy_instance_percent": 20,
            "max_unhealthy_upgraded_instance_percent": 20, "pause_time_between_batches": "PT0S"}},
        automatic_repairs_policy={"enabled": True, "grace_period": "PT10M", "repair_action": "Replace"},
        virtual_machine_profile={
            "os_profile": linux_os_profile(ctx, computer_name_prefix(ctx, "srv"), custom_data),
            "storage_profile": {
                "image_reference": UBUNTU,
                "os_disk": {"create_option": "FromImage", "caching": "ReadWrite", "disk_size_gb": 64,
                            "managed_disk": {"storage_account_type": "Premium_LRS"}},
            },
            # Encryption at host also covers temp disks and caches (needs the EncryptionAtHost feature
            # registered on the subscription); trusted launch gives secure boot and a vTPM.
            "security_profile": {"encryption_at_host": True, "security_type": "TrustedLaunch",
                                 "uefi_settings": {"secure_boot_enabled": True, "v_tpm_enabled": True}},
            "network_profile": {
                "health_probe": {"id": lb_id.apply(lambda i: f"{i}/probes/{PROBE}")},
                "network_interface_configurations": [{
                    "name": "nic", "primary": True,
                    # No public_ip_address_configuration: instances have private addresses only.
                    "ip_configurations": [{
                        "name": "ipconfig", "primary": True, "subnet": {"id": net.serving_subnet.id},
                        "load_balancer_backend_address_pools": [
                            {"id": lb_id.apply(lambda i: f"{i}/backendAddressPools/{BACKEND}")}],
                    }],
                }],
            },
            "diagnostics_profile": {"boot_diagnostics": {"enabled": True}},
        },
        tags=ctx.tags,
        # The autoscale setting owns the instance count once deployed.
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[lb, *identity.assignments],
                                    ignore_changes=["sku.capacity"]))
    azure_native.monitor.AutoscaleSetting(
        f"{p}-autoscale", autoscale_setting_name=f"{p}-autoscale", resource_group_name=rg.name, location=region,
        enabled=True, target_resource_uri=vmss.id,
        profiles=[{
            "name": "cpu",
            "capacity": {"minimum": str(serving.min_instances), "maximum": str(serving.max_instances),
                         "default": str(serving.min_instances)},
            "rules": [
                _cpu_rule(vmss.id, "GreaterThan", serving.scale_out_cpu_percent, "Increase"),
                _cpu_rule(vmss.id, "LessThan", serving.scale_in_cpu_percent, "Decrease"),
            ],
        }],
        tags=ctx.tags, opts=opts)
    ctx.shared["azure_serving_lb"] = lb
    ctx.shared["azure_serving_vmss"] = vmss
    if public:
        # A layer-4 balancer terminates no TLS: the endpoint is plain HTTP on port 80.
        url = pulumi.Output.concat("http://", frontend_ip.ip_address)
    else:
        url = pulumi.Output.concat("http://", lb.frontend_ip_configurations.apply(lambda f: f[0].private_ip_address))
    return ServingOutputs(url=url, identity=identity.principal_id)
