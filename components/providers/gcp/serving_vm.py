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
from .container import plain_env
from .edge import access_log_sink, security_policy
from .foundation import res_opts
from .identity import serving_identity
from .loadbalancer import load_balancer, log_config
from .network import GOOGLE_LB_RANGES, network, subnet
from .secrets import serving_secrets

COS_IMAGE = "projects/cos-cloud/global/images/family/cos-stable"
CONTAINER = "mlinfra-app"


# How long a VM keeps retrying its first pull: IAM grants made in the same deployment can take
# minutes to take effect ("typically 2 minutes ... 7 minutes or longer":
# https://cloud.google.com/iam/docs/access-change-propagation), and Cloud NAT may not be ready yet.
PULL_ATTEMPTS, PULL_WAIT_SECONDS = 60, 10
# tmpfs: secret values fetched at boot never reach the boot disk; the file is root-only.
ENV_FILE = "/run/mlinfra/secrets.env"
METADATA_TOKEN = "http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/token"
SECRET_ACCESS = "https://secretmanager.googleapis.com/v1/{}/versions/latest:access"


def secret_lines(secrets: dict[str, str]) -> list[str]:
    """Shell that fetches each secret's latest version into ENV_FILE as NAME=value.

    `secrets`: env name -> secret resource name (projects/P/secrets/S). The VM's own account
    token comes from the metadata server; Secret Manager returns the payload base64-encoded
    (https://cloud.google.com/secret-manager/docs/reference/rest/v1/projects.secrets.versions/access).
    COS has curl and base64 but no JSON tool, so the one field is cut out with sed.
    """
    if not secrets:
        return []
    curl = "curl -sSf --retry 30 --retry-delay 10 --retry-all-errors"
    lines = ["mkdir -p /run/mlinfra && (umask 077 && : > " + ENV_FILE + ")",
             f"token=$({curl} -H 'Metadata-Flavor: Google' {METADATA_TOKEN} "
             "| sed -nE 's/.*\"access_token\": *\"([^\"]+)\".*/\\1/p')"]
    for env_name, resource in sorted(secrets.items()):
        url = shlex.quote(SECRET_ACCESS.format(resource))
        lines.append(f"value=$({curl} -H \"Authorization: Bearer $token\" {url} "
                     "| sed -nE 's/.*\"data\": *\"([^\"]+)\".*/\\1/p' | base64 -d)")
        lines.append(f"printf '%s=%s\\n' {env_name} \"$value\" >> {ENV_FILE}")
    lines.append("unset token value")
    return lines


def startup_script(image: str, port: int, env: dict[str, str], registry_host: str,
                   secrets: dict[str, str] | None = None) -> str:
    """Run the image on the host network's port; COS has docker and docker-credential-gcr, "the
    recommended way to access private images in Artifact Registry"
    (https://cloud.google.com/container-optimized-os/docs/how-to/run-container-instance).

    Runs at every boot. `env` is plain configuration (it is visible in the instance metadata to
    anyone who may read the instance); secrets are fetched from Secret Manager here, at boot, into
    a root-only tmpfs file and passed with --env-file, so no secret value is in metadata.
    """
    run = ["docker", "run", "-d", "--name", CONTAINER, "--restart=always", "--log-driver=gcplogs",
           "-p", f"{port}:{port}"]
    for key, value in env.items():
        run += ["-e", f"{key}={value}"]
    if secrets:
        run += ["--env-file", ENV_FILE]
    run.append(image)
    quoted = shlex.quote(image)
    return "\n".join([
        "#!/bin/bash",
        "set -euo pipefail",
        # COS keeps / read-only; the credential helper writes its config under $HOME.
        "export HOME=/var/lib/mlinfra && mkdir -p \"$HOME\"",
        f"docker-credential-gcr configure-docker --registries={shlex.quote(registry_host)}",
        *secret_lines(secrets or {}),
        # Retry the first pull: the pull permission and the NAT path may still be settling.
        f"for attempt in $(seq 1 {PULL_ATTEMPTS}); do docker pull {quoted} && break; "
        f"[ \"$attempt\" -lt {PULL_ATTEMPTS} ] || exit 1; sleep {PULL_WAIT_SECONDS}; done",
        f"docker rm -f {CONTAINER} >/dev/null 2>&1 || true",
        shlex.join(run),
        "",
    ])


def instance_template(parent: pulumi.Resource, ctx: BuildContext, sa, subnetwork, secrets: dict | None = None):
    """`secrets`: env name -> Output of the secret's resource name (secrets.py)."""
    serving = ctx.spec.service.serving
    host = f"{ctx.spec.region}-docker.pkg.dev"
    script = pulumi.Output.all(pulumi.Output.from_input(ctx.image), pulumi.Output.from_input(plain_env(ctx)),
                               pulumi.Output.from_input(secrets or {})).apply(
        lambda args: startup_script(args[0], serving.port, args[1], host, args[2]))
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
        # The image digest is in the startup script, so a new image is a new template, which the
        # group's PROACTIVE update policy rolls out (build_vm).
        metadata={"enable-oslogin": "TRUE", "block-project-ssh-keys": "TRUE", "google-logging-enabled": "true",
                  "startup-script": script},
        opts=res_opts(parent, ctx))


def build_vm(provider, parent: pulumi.Resource, ctx: BuildContext) -> ServingOutputs:
    p = ctx.prefix
    spec = ctx.spec
    serving = spec.service.serving
    opts = res_opts(parent, ctx)
    ident = serving_identity(provider, parent, ctx, vm=True)
    sa = ident.account
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
    secrets = serving_secrets(parent, ctx, sa)
    template = instance_template(parent, ctx, sa, sub, secrets.resource_names())
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
        # VMs boot only once their account may pull the image, read the model and write logs.
        opts=res_opts(parent, ctx, depends_on=ident.grants + secrets.grants))
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
        security_policy=security_policy(parent, ctx), log_config=log_config(serving), opts=opts)
    access_log_sink(parent, ctx, backend.name)
    url, records = load_balancer(parent, ctx, backend)
    # What alerts watch: the load balancer's backend service and the group's health.
    ctx.shared["gcp:serving"] = {"kind": "vm", "backend": backend.name, "group": group.name, "health": health.name}
    return ServingOutputs(url=url, identity=sa.email, dns_records=records)
