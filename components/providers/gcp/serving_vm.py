"""VM serving: Container-Optimized OS instances in a regional managed instance group behind a
global external Application Load Balancer.

The GCP autoscaler holds one CPU target and scales both ways around it, so the group targets
`scale_out_cpu_percent`; `scale_in_cpu_percent` is approximated by a scale-in control (at most one
instance removed per 10 minutes) rather than a second threshold.
"""
from __future__ import annotations

import shlex

import pulumi
import pulumi_gcp as gcp

from components.providers.base import BuildContext, ServingOutputs

from . import limits
from .foundation import res_opts
from .identity import serving_identity
from .loadbalancer import load_balancer
from .network import GOOGLE_LB_RANGES, network, subnet

COS_IMAGE = "projects/cos-cloud/global/images/family/cos-stable"
CONTAINER = "mlinfra-app"


def startup_script(image: str, serving, registry_host: str) -> str:
    """Run the image on the host network's port; COS has docker and the GCR credential helper."""
    run = ["docker", "run", "-d", "--name", CONTAINER, "--restart=always", "--log-driver=gcplogs",
           "-p", f"{serving.port}:{serving.port}", "-e", f"PORT={serving.port}"]
    for key, value in sorted(serving.env.items()):
        run += ["-e", f"{key}={value}"]
    run.append(image)
    return "\n".join([
        "#!/bin/bash",
        "set -euo pipefail",
        # COS keeps / read-only; the credential helper writes its config under $HOME.
        "export HOME=/var/lib/mlinfra && mkdir -p \"$HOME\"",
        f"docker-credential-gcr configure-docker --registries={shlex.quote(registry_host)}",
        f"docker rm -f {CONTAINER} >/dev/null 2>&1 || true",
        shlex.join(run),
        "",
    ])


def instance_template(parent: pulumi.Resource, ctx: BuildContext, sa, subnetwork):
    serving = ctx.spec.service.serving
    script = pulumi.Output.from_input(ctx.image).apply(
        lambda image: startup_script(image, serving, f"{ctx.spec.region}-docker.pkg.dev"))
    return gcp.compute.InstanceTemplate(
        f"{ctx.prefix}-serve-template", name_prefix=limits.template_prefix(ctx.prefix, "serve"),
        machine_type=limits.vm_machine_type(serving), region=ctx.spec.region, labels=ctx.tags,
        tags=[f"{ctx.prefix}-serve"],
        disks=[{"boot": True, "auto_delete": True, "source_image": COS_IMAGE, "disk_size_gb": 20,
                "disk_type": "pd-balanced", "labels": ctx.tags}],  # encrypted at rest with Google-managed keys
        network_interfaces=[{"subnetwork": subnetwork.id}],  # no access_configs: no external IP
        service_account={"email": sa.email, "scopes": ["https://www.googleapis.com/auth/cloud-platform"]},
        shielded_instance_config={"enable_secure_boot": True, "enable_vtpm": True, "enable_integrity_monitoring": True},
        scheduling={"automatic_restart": True, "on_host_maintenance": "MIGRATE", "provisioning_model": "STANDARD"},
        metadata={"enable-oslogin": "TRUE", "block-project-ssh-keys": "TRUE", "google-logging-enabled": "true",
                  "startup-script": script},
        opts=res_opts(parent, ctx))


def build_vm(provider, parent: pulumi.Resource, ctx: BuildContext) -> ServingOutputs:
    p = ctx.prefix
    spec = ctx.spec
    serving = spec.service.serving
    opts = res_opts(parent, ctx)
    sa = serving_identity(provider, parent, ctx, vm=True)
    net = network(parent, ctx)
    sub = subnet(parent, ctx, "serve")
    # The app port is reachable only from Google's health checkers and load balancer proxies.
    gcp.compute.Firewall(
        f"{p}-allow-lb", name=limits.gce_name(p, "allow-lb"), network=net.vpc.id, direction="INGRESS",
        description="app port from Google health checks and load balancers only",
        allows=[{"protocol": "tcp", "ports": [str(serving.port)]}], source_ranges=list(GOOGLE_LB_RANGES),
        target_service_accounts=[sa.email], opts=opts)
    health = gcp.compute.HealthCheck(
        f"{p}-health", name=limits.gce_name(p, "health"), check_interval_sec=10, timeout_sec=5,
        healthy_threshold=2, unhealthy_threshold=3,
        http_health_check={"port": serving.port, "request_path": serving.health_path}, opts=opts)
    template = instance_template(parent, ctx, sa, sub)
    zones = net.zones.apply(lambda names: sorted(names)[:3])
    group = gcp.compute.RegionInstanceGroupManager(
        f"{p}-serve-group", name=limits.gce_name(p, "serve-group"), region=spec.region,
        base_instance_name=limits.gce_name(p, "serve", 50),
        versions=[{"name": "primary", "instance_template": template.self_link_unique}],
        named_ports=[{"name": "http", "port": serving.port}],
        auto_healing_policies={"health_check": health.id, "initial_delay_sec": 300},
        distribution_policy_zones=zones, distribution_policy_target_shape="EVEN",
        # A regional group surges at least one instance per zone while it rolls out a new template.
        update_policy={"type": "PROACTIVE", "minimal_action": "REPLACE", "instance_redistribution_type": "PROACTIVE",
                       "max_surge_fixed": zones.apply(len), "max_unavailable_fixed": 0},
        opts=opts)
    gcp.compute.RegionAutoscaler(
        f"{p}-serve-autoscaler", name=limits.gce_name(p, "serve-autoscaler"), region=spec.region, target=group.id,
        autoscaling_policy={
            "min_replicas": serving.min_instances, "max_replicas": serving.max_instances, "cooldown_period": 90,
            "cpu_utilization": {"target": serving.scale_out_cpu_percent / 100},
            "scale_in_control": {"max_scaled_in_replicas": {"fixed": 1}, "time_window_sec": 600},
        },
        opts=opts)
    backend = gcp.compute.BackendService(
        f"{p}-backend", name=limits.gce_name(p, "backend"), protocol="HTTP", port_name="http",
        load_balancing_scheme="EXTERNAL_MANAGED", timeout_sec=30, connection_draining_timeout_sec=30,
        health_checks=health.id,
        backends=[{"group": group.instance_group, "balancing_mode": "UTILIZATION", "capacity_scaler": 1.0,
                   "max_utilization": 0.8}],
        log_config={"enable": True, "sample_rate": 1.0}, opts=opts)
    url = load_balancer(parent, ctx, backend)
    # What alerts watch: the load balancer's backend service and the group's health.
    ctx.shared["gcp:serving"] = {"kind": "vm", "backend": backend.name, "group": group.name, "health": health.name}
    return ServingOutputs(url=url, identity=sa.email)
