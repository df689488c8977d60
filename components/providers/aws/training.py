"""GPU training machines: a hardened launch template of the catalog's GPU type with a Deep Learning
AMI, spot by default, and an Auto Scaling group holding exactly `machines` of them (0: none run).
Optional EFS shared filesystem reachable only from the training machines."""
from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components import catalog
from components.providers.base import BuildContext, TrainingOutputs

from . import identity, images
from .machines import GROUP_METRICS, ami, asg_tags, launch_template
from .network import ANYWHERE, HTTP, VPC_CIDR, Network, https_out, network, security_group
from .storage import archived_prefixes

NFS = 2049
# What a training machine reaches, and why (no inbound at all; sessions go through SSM):
# - 443: AWS APIs (S3, ECR, SSM, STS), image layers, pip / conda / NGC / Hugging Face.
# - 80: Ubuntu's package mirrors. The DLAMI is Ubuntu, whose EC2 images point apt at
#   http://<region>.ec2.archive.ubuntu.com (cloud-init's EC2 mirror), plain HTTP with signed
#   indexes; without it unattended security upgrades and `apt-get install` in a job (or the
#   NFS client below) hang. The GPU driver and CUDA are not downloaded: they are in the pinned
#   DLAMI, so boot installs nothing else.
# Can't be verified offline: which packages a given DLAMI release already has (doctor / a live run).
APT = {"protocol": "tcp", "from_port": HTTP, "to_port": HTTP, "cidr_blocks": [ANYWHERE],
       "description": "Ubuntu package mirrors (apt over HTTP, signed indexes)"}
MOUNT = "/mnt/shared"
# A spot request that AWS takes back is terminated, and the group launches a replacement.
SPOT = {"market_type": "spot",
        "spot_options": {"spot_instance_type": "one-time", "instance_interruption_behavior": "terminate"}}


def offer(ctx: BuildContext) -> catalog.Offer:
    tr = ctx.spec.service.training
    return catalog.lookup("aws", tr.accelerator, tr.gpus_per_machine, ctx.spec.region)


def user_data(ctx: BuildContext, bucket: str, registry: str, filesystem: str | None) -> str:
    lines = [
        "#!/bin/bash",
        f"# mlinfra {ctx.prefix}: training machine",
        "set -euo pipefail",
        # Jobs find the service's bucket and registry here; they run through SSM, never SSH.
        f"echo 'MLINFRA_BUCKET={bucket}' >> /etc/environment",
        f"echo 'MLINFRA_REGISTRY={registry}' >> /etc/environment",
        f"echo 'AWS_DEFAULT_REGION={ctx.spec.region}' >> /etc/environment",
    ]
    if filesystem:
        lines += [
            # The NFS client, from the Ubuntu mirrors when the image lacks it.
            "command -v mount.nfs4 >/dev/null || (apt-get update -q && apt-get install -y -q nfs-common)",
            f"mkdir -p {MOUNT}",
            f"echo '{filesystem}:/ {MOUNT} nfs4 nfsvers=4.1,rsize=1048576,wsize=1048576,hard,timeo=600,retrans=2,"
            "noresvport,_netdev 0 0' >> /etc/fstab",
            # Mount targets may still be coming up on first boot: retry for a few minutes.
            f"for i in $(seq 1 30); do mount {MOUNT} && break; sleep 10; done",
        ]
    return "\n".join(lines + [""])


def build_training(provider, parent: pulumi.Resource, ctx: BuildContext) -> TrainingOutputs:
    p = ctx.prefix
    tr = ctx.spec.service.training
    machine = offer(ctx)
    net = network(ctx, parent)
    egress = [https_out("AWS APIs, image pulls, pip / NGC / model hubs"), APT]
    if tr.shared_filesystem:
        egress.append({"protocol": "tcp", "from_port": NFS, "to_port": NFS, "cidr_blocks": [VPC_CIDR],
                       "description": "NFS to the shared filesystem"})
    # No ingress at all: sessions go through SSM Session Manager.
    sg = security_group(ctx, net, "training", f"{p} training machines: no inbound, HTTPS and apt out", ingress=[],
                        egress=egress)
    ident = identity.training_role(ctx, parent, archived=archived_prefixes(ctx))
    filesystem = _shared_filesystem(ctx, parent, net, sg) if tr.shared_filesystem else None
    image = ami(parent, images.checked(tr.image, images.DLAMI, "training.image"))
    template = launch_template(
        ctx, parent, "training", image_id=image.id, instance_type=machine.machine_type, profile=ident.profile,
        security_group=sg, disk_gib=tr.boot_disk_gib, root_device=image.root_device_name,
        market=SPOT if tr.spot else None,
        user_data=pulumi.Output.all(ctx.storage.bucket, ctx.registry.url,
                                    filesystem.dns_name if filesystem else None).apply(
            lambda a: user_data(ctx, a[0], a[1], a[2])))
    group = aws.autoscaling.Group(
        f"{p}-training-asg", min_size=tr.machines, max_size=tr.machines, desired_capacity=tr.machines,
        vpc_zone_identifiers=net.private_ids,
        launch_template={"id": template.id, "version": template.latest_version.apply(str)},
        # Capacity Rebalancing launches a replacement when a spot instance is only *at risk* and then
        # terminates the old one ("Capacity Rebalancing in Auto Scaling",
        # https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-capacity-rebalancing.html):
        # that kills a running job early. Off: a job runs until AWS actually reclaims the machine
        # (two-minute notice) and resumes from its last checkpoint under runs/ on the replacement.
        health_check_type="EC2", capacity_rebalance=False,
        enabled_metrics=GROUP_METRICS, metrics_granularity="1Minute", tags=asg_tags(ctx),
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[*net.private_routes, *ident.ready,
                                                               *([filesystem] if filesystem else [])]))
    ctx.shared["aws:training_group"] = group
    return TrainingOutputs(template=template.id, machine_type=machine.machine_type, identity=ident.role.arn)


def _shared_filesystem(ctx: BuildContext, parent: pulumi.Resource, net: Network,
                       training_sg: aws.ec2.SecurityGroup) -> aws.efs.FileSystem:
    """EFS grows with its contents (elastic throughput, no provisioned size: shared_filesystem_gib
    only feeds the cost estimate), encrypted at rest, NFS only from the training machines."""
    p = ctx.prefix
    fs = aws.efs.FileSystem(f"{p}-shared-fs", creation_token=f"{p}-training", encrypted=True,
                            performance_mode="generalPurpose", throughput_mode="elastic",
                            lifecycle_policies=[{"transition_to_ia": "AFTER_30_DAYS"}],
                            tags={**ctx.tags, "Name": f"{p}-training"}, opts=pulumi.ResourceOptions(parent=parent))
    efs_sg = security_group(ctx, net, "shared-fs", f"{p} shared filesystem: NFS from training machines only",
                            ingress=[{"protocol": "tcp", "from_port": NFS, "to_port": NFS,
                                      "security_groups": [training_sg.id], "description": "NFS from training"}],
                            egress=[])
    for i, subnet in enumerate(net.private_subnets):
        aws.efs.MountTarget(f"{p}-shared-fs-{'ab'[i]}", file_system_id=fs.id, subnet_id=subnet.id,
                            security_groups=[efs_sg.id], opts=pulumi.ResourceOptions(parent=fs))
    return fs
