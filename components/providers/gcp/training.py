"""GPU training: an instance template of the catalog's machine, and a regional group of
`training.machines` instances (none at 0: the template is kept, nothing runs or costs).

N1 machines get their GPUs as `guest_accelerators`; A2/A3/G2 machine types have them built in
(the catalog's `attach`). GPU machines cannot live-migrate, so host maintenance terminates them.
"""
from __future__ import annotations

import shlex

import pulumi
import pulumi_gcp as gcp

from components.providers.base import BuildContext, TrainingOutputs

from . import limits
from .foundation import res_opts
from .identity import training_identity
from .network import FILESTORE_RANGE, SUBNETS, network, subnet

# Deep Learning VM: CUDA 12.8 with the NVIDIA 570 driver on Ubuntu 22.04. A family, so new
# instances take its latest image without changing the template.
DLVM_IMAGE = "projects/deeplearning-platform-release/global/images/family/common-cu128-ubuntu-2204-nvidia-570"
SHARED_MOUNT = "/mnt/shared"
NFS_PORTS = ["111", "2049", "20048"]  # portmapper, nfsd, mountd


def scheduling(spot: bool) -> dict:
    if spot:
        # A reclaimed spot machine is deleted, not stopped: a stopped VM keeps its boot disk (200 GiB
        # pd-balanced by default) billing until someone deletes it, and the group recreates a
        # deleted one when capacity returns. Work survives on the shared filesystem and in runs/.
        # (https://cloud.google.com/compute/docs/instances/create-use-spot: on preemption Compute Engine
        # stops (the default) or deletes a Spot VM per its termination action; a stopped VM's persistent
        # disks are still charged: https://cloud.google.com/compute/docs/instances/stop-start-instance.)
        return {"provisioning_model": "SPOT", "preemptible": True, "automatic_restart": False,
                "instance_termination_action": "DELETE", "on_host_maintenance": "TERMINATE"}
    return {"provisioning_model": "STANDARD", "preemptible": False, "automatic_restart": True,
            "on_host_maintenance": "TERMINATE"}


def mount_script(ip: str) -> str:
    return "\n".join(["#!/bin/bash", "set -euo pipefail", f"mkdir -p {SHARED_MOUNT}",
                      f"mountpoint -q {SHARED_MOUNT} || mount -t nfs -o hard,timeo=600 "
                      f"{shlex.quote(ip)}:/shared {SHARED_MOUNT}", ""])


def shared_filesystem(parent: pulumi.Resource, ctx: BuildContext, sa) -> pulumi.Output:
    """Filestore on the VPC, exported to the training subnet only; returns its IP address."""
    p = ctx.prefix
    t = ctx.spec.service.training
    opts = res_opts(parent, ctx)
    net = network(parent, ctx)
    fs = gcp.filestore.Instance(
        f"{p}-train-fs", name=limits.gce_name(p, "train-fs"), tier="BASIC_HDD",
        location=net.zones.apply(lambda names: sorted(names)[0]),
        file_shares={"name": "shared", "capacity_gb": t.shared_filesystem_gib,
                     "nfs_export_options": [{"ip_ranges": [SUBNETS["train"]], "access_mode": "READ_WRITE",
                                             "squash_mode": "NO_ROOT_SQUASH"}]},
        networks=[{"network": net.vpc.name, "modes": ["MODE_IPV4"], "connect_mode": "DIRECT_PEERING",
                   "reserved_ip_range": FILESTORE_RANGE}],
        labels=ctx.tags, opts=opts)
    # The export already refuses other subnets; the firewall also keeps other VMs' NFS traffic in.
    for role, priority, rule, targets in (("allow", 1000, "allows", {"target_service_accounts": [sa.email]}),
                                          ("deny", 1100, "denies", {})):
        gcp.compute.Firewall(
            f"{p}-train-fs-{role}", name=limits.gce_name(p, f"train-fs-{role}"), network=net.vpc.id,
            direction="EGRESS", priority=priority, destination_ranges=[FILESTORE_RANGE],
            description=f"NFS to the training filesystem: {role} ({'training machines' if targets else 'everyone else'})",
            **{rule: [{"protocol": "tcp", "ports": NFS_PORTS}, {"protocol": "udp", "ports": NFS_PORTS}]},
            **targets, opts=opts)
    return fs.networks.apply(lambda nets: nets[0]["ip_addresses"][0] if isinstance(nets[0], dict)
                             else nets[0].ip_addresses[0])


def build_training(provider, parent: pulumi.Resource, ctx: BuildContext) -> TrainingOutputs:
    p = ctx.prefix
    spec = ctx.spec
    t = spec.service.training
    offer = provider.training_offer(spec)
    opts = res_opts(parent, ctx)
    ident = training_identity(provider, parent, ctx)
    sa = ident.account
    sub = subnet(parent, ctx, "train")
    metadata: dict = {"enable-oslogin": "TRUE", "block-project-ssh-keys": "TRUE", "install-nvidia-driver": "True",
                      "mlinfra-bucket": ctx.storage.bucket}
    if t.shared_filesystem:
        metadata["startup-script"] = shared_filesystem(parent, ctx, sa).apply(mount_script)
    template = gcp.compute.InstanceTemplate(
        f"{p}-train-template", name_prefix=limits.template_prefix(p, "train"), machine_type=offer.machine_type,
        region=spec.region, labels={**ctx.tags, **limits.TRAINING_ROLE}, tags=[f"{p}-train"],
        guest_accelerators=[{"type": offer.gpu_type, "count": offer.gpus}] if offer.attach else None,
        disks=[{"boot": True, "auto_delete": True, "source_image": t.image or DLVM_IMAGE,
                "disk_size_gb": t.boot_disk_gib, "disk_type": "pd-balanced",
                "labels": ctx.tags}],  # encrypted at rest with Google-managed keys
        network_interfaces=[{"subnetwork": sub.id}],  # no access_configs: no external IP
        service_account={"email": sa.email, "scopes": ["https://www.googleapis.com/auth/cloud-platform"]},
        # Secure Boot stays off: the NVIDIA kernel modules the image installs are not signed for it.
        shielded_instance_config={"enable_secure_boot": False, "enable_vtpm": True, "enable_integrity_monitoring": True},
        scheduling=scheduling(t.spot), metadata=metadata, opts=opts)
    if t.machines > 0:
        zones = network(parent, ctx).zones
        gcp.compute.RegionInstanceGroupManager(
            f"{p}-train-group", name=limits.gce_name(p, "train-group"), region=spec.region,
            base_instance_name=limits.gce_name(p, "train", 50), target_size=t.machines,
            versions=[{"name": "primary", "instance_template": template.self_link_unique}],
            # One zone with capacity for all machines: GPUs are scarce per zone and multi-machine
            # training wants them close. Running jobs are not replaced by a template change.
            distribution_policy_zones=zones, distribution_policy_target_shape="ANY_SINGLE_ZONE",
            update_policy={"type": "OPPORTUNISTIC", "minimal_action": "REPLACE", "instance_redistribution_type": "NONE",
                           "max_surge_fixed": 0, "max_unavailable_fixed": zones.apply(len)},
            # Machines start only once their account may read data and write runs/.
            opts=res_opts(parent, ctx, depends_on=ident.grants))
    return TrainingOutputs(template=template.self_link, machine_type=offer.machine_type, identity=sa.email)
