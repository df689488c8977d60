"""What serving VMs and training machines share: the launch template's hardening and the ASG's tags."""
from __future__ import annotations

import base64
from typing import Optional

import pulumi
import pulumi_aws as aws

from components.providers.base import BuildContext

from . import images


def ami(parent: pulumi.Resource, pin: str) -> pulumi.Output:
    """The one image a pin names (`.id`, `.root_device_name`); see images.py. An id is looked up as
    given; a name must match exactly one Amazon-owned image, or the lookup fails instead of choosing."""
    if images.is_id(pin):
        return aws.ec2.get_ami_output(filters=[{"name": "image-id", "values": [pin]}],
                                      opts=pulumi.InvokeOutputOptions(parent=parent))
    return aws.ec2.get_ami_output(
        owners=["amazon"], most_recent=False,
        filters=[{"name": "name", "values": [pin]}, {"name": "architecture", "values": ["x86_64"]},
                 {"name": "state", "values": ["available"]}],
        opts=pulumi.InvokeOutputOptions(parent=parent))


def launch_template(ctx: BuildContext, parent: pulumi.Resource, role: str, *, image_id: pulumi.Input[str],
                    instance_type: str, profile: aws.iam.InstanceProfile, security_group: aws.ec2.SecurityGroup,
                    user_data: pulumi.Input[str], disk_gib: int, root_device: pulumi.Input[str],
                    market: Optional[dict] = None) -> aws.ec2.LaunchTemplate:
    """A hardened template: IMDSv2 only, encrypted gp3 root volume, no public IP, SSM instead of SSH."""
    name_tag = {**ctx.tags, "Name": f"{ctx.prefix}-{role}"}
    return aws.ec2.LaunchTemplate(
        f"{ctx.prefix}-{role}-lt", description=f"mlinfra {ctx.prefix} {role}",
        image_id=image_id, instance_type=instance_type, iam_instance_profile={"arn": profile.arn},
        # IMDSv2 only. Hop limit 2 lets containers on the docker bridge reach the instance role;
        # 1 would stop the service from reading models with the instance's credentials.
        metadata_options={"http_endpoint": "enabled", "http_tokens": "required", "http_put_response_hop_limit": 2,
                          "instance_metadata_tags": "disabled"},
        block_device_mappings=[{"device_name": root_device, "ebs": {
            "volume_size": disk_gib, "volume_type": "gp3", "encrypted": "true", "delete_on_termination": "true"}}],
        network_interfaces=[{"device_index": 0, "associate_public_ip_address": "false",
                             "security_groups": [security_group.id], "delete_on_termination": "true"}],
        instance_market_options=market,
        monitoring={"enabled": True},
        user_data=pulumi.Output.from_input(user_data).apply(lambda s: base64.b64encode(s.encode()).decode()),
        tag_specifications=[{"resource_type": kind, "tags": name_tag} for kind in ("instance", "volume")],
        update_default_version=True, tags=ctx.tags, opts=pulumi.ResourceOptions(parent=parent))


def asg_tags(ctx: BuildContext) -> list[dict]:
    # Instances and volumes are tagged by the launch template; these tag the group itself.
    return [{"key": k, "value": v, "propagate_at_launch": False} for k, v in sorted(ctx.tags.items())]


# Group metrics (GroupInServiceInstances...) feed the training alarm and dashboards; collection is free.
GROUP_METRICS = ["GroupMinSize", "GroupMaxSize", "GroupDesiredCapacity", "GroupInServiceInstances",
                 "GroupPendingInstances", "GroupTerminatingInstances", "GroupTotalInstances"]
