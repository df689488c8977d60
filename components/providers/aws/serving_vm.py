"""VM serving: an Auto Scaling group of hardened instances running the image, behind the ALB,
scaled out above and in below the CPU thresholds by two CloudWatch alarms."""
from __future__ import annotations

import shlex

import pulumi
import pulumi_aws as aws

from components.providers.base import BuildContext, ServingOutputs

from . import identity
from .loadbalancer import frontend
from .machines import GROUP_METRICS, ami, asg_tags, launch_template
from .network import network
from .serving_serverless import LOG_RETENTION_DAYS
from .sizes import vm_instance_type

# Amazon Linux 2023: SSM agent and AWS CLI preinstalled, docker from the distribution's repositories.
AL2023 = "al2023-ami-2023.*-x86_64"
DISK_GIB = 30
# Seconds a new instance gets to boot, pull and load the model before ELB health counts.
WARMUP_S = 180


def user_data(ctx: BuildContext, image: str, server: str, log_group: str) -> str:
    sv = ctx.spec.service.serving
    env = {**sv.env, "PORT": str(sv.port)}
    env_flags = " ".join(f"-e {shlex.quote(f'{k}={v}')}" for k, v in sorted(env.items()))
    region = ctx.spec.region
    return "\n".join([
        "#!/bin/bash",
        f"# mlinfra {ctx.prefix}: run the service image on port {sv.port}",
        "set -euo pipefail",
        "dnf install -y docker",
        "systemctl enable --now docker",
        # Credentials come from the instance role through IMDSv2; the token lasts 12 hours, enough to pull.
        f"aws ecr get-login-password --region {region} | docker login --username AWS --password-stdin {server}",
        f"docker pull {shlex.quote(image)}",
        f"docker run -d --name app --restart always -p {sv.port}:{sv.port} {env_flags} "
        f"--log-driver awslogs --log-opt awslogs-region={region} --log-opt awslogs-group={log_group} "
        f"{shlex.quote(image)}",
        "",
    ])


def build_vm(provider, parent: pulumi.Resource, ctx: BuildContext) -> ServingOutputs:
    p = ctx.prefix
    sv = ctx.spec.service.serving
    opts = pulumi.ResourceOptions(parent=parent)
    net = network(ctx, parent)
    front = frontend(ctx, parent, net, target_type="instance")
    logs = aws.cloudwatch.LogGroup(f"{p}-serving-logs", name=f"/mlinfra/{p}/serving",
                                   retention_in_days=LOG_RETENTION_DAYS, tags=ctx.tags, opts=opts)
    role, profile = identity.vm_role(ctx, parent, logs.arn)
    image = ami(parent, AL2023)
    template = launch_template(
        ctx, parent, "serving", image_id=image.id,
        instance_type=vm_instance_type(sv.cpu, sv.memory_gib, sv.machine_type), profile=profile,
        security_group=front.app_sg, disk_gib=DISK_GIB, root_device=image.root_device_name,
        user_data=pulumi.Output.all(ctx.image, ctx.registry.server, logs.name).apply(
            lambda a: user_data(ctx, a[0], a[1], a[2])))
    group = aws.autoscaling.Group(
        f"{p}-serving-asg", min_size=sv.min_instances, max_size=sv.max_instances,
        vpc_zone_identifiers=net.private_ids,
        launch_template={"id": template.id, "version": template.latest_version.apply(str)},
        target_group_arns=[front.target_group.arn], health_check_type="ELB",
        health_check_grace_period=WARMUP_S, default_instance_warmup=WARMUP_S,
        enabled_metrics=GROUP_METRICS, metrics_granularity="1Minute",
        # A new template version (new image, new AMI) replaces instances a few at a time.
        instance_refresh={"strategy": "Rolling", "preferences": {"min_healthy_percentage": 90}},
        tags=asg_tags(ctx),
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[front.listener], ignore_changes=["desiredCapacity"]))
    _cpu_scaling(ctx, parent, group)
    ctx.shared["aws:frontend"] = front
    return ServingOutputs(url=front.url, identity=role.arn)


def _cpu_scaling(ctx: BuildContext, parent: pulumi.Resource, group: aws.autoscaling.Group) -> None:
    """Out by half the group (at least one) after 3 minutes above scale_out_cpu_percent; in by one
    after 10 minutes below scale_in_cpu_percent. Asymmetric on purpose: slow in, fast out."""
    p = ctx.prefix
    sv = ctx.spec.service.serving
    opts = pulumi.ResourceOptions(parent=group)
    out = aws.autoscaling.Policy(f"{p}-scale-out", autoscaling_group_name=group.name, policy_type="SimpleScaling",
                                 adjustment_type="PercentChangeInCapacity", scaling_adjustment=50,
                                 min_adjustment_magnitude=1, cooldown=180, opts=opts)
    in_ = aws.autoscaling.Policy(f"{p}-scale-in", autoscaling_group_name=group.name, policy_type="SimpleScaling",
                                 adjustment_type="ChangeInCapacity", scaling_adjustment=-1, cooldown=300, opts=opts)
    for role, policy, op, threshold, periods, direction in (
            ("cpu-high", out, "GreaterThanThreshold", sv.scale_out_cpu_percent, 3, "out"),
            ("cpu-low", in_, "LessThanThreshold", sv.scale_in_cpu_percent, 10, "in")):
        aws.cloudwatch.MetricAlarm(
            f"{p}-{role}", alarm_description=f"{p} serving CPU {op} {threshold}%: scale {direction}",
            namespace="AWS/EC2", metric_name="CPUUtilization", statistic="Average",
            dimensions={"AutoScalingGroupName": group.name}, period=60, evaluation_periods=periods,
            comparison_operator=op, threshold=float(threshold), treat_missing_data="missing",
            alarm_actions=[policy.arn], tags=ctx.tags, opts=opts)
