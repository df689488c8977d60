"""VM serving: an Auto Scaling group of hardened instances running the image, behind the ALB,
scaled out above and in below the CPU thresholds by two CloudWatch alarms."""
from __future__ import annotations

import shlex

import pulumi
import pulumi_aws as aws

from components.providers.base import BuildContext, ServingOutputs

from components.release import container_env

from . import identity, images
from .loadbalancer import frontend
from .machines import GROUP_METRICS, ami, asg_tags, launch_template
from .network import network
from .secrets import service_secrets
from .serving_serverless import LOG_BUFFER, LOG_MODE, LOG_RETENTION_DAYS
from .sizes import vm_instance_type

DISK_GIB = 30
# Seconds a new instance gets to boot, pull and load the model before ELB health counts.
WARMUP_S = 180
SECRETS_FILE = "/run/mlinfra/secrets.env"


def user_data(ctx: BuildContext, image: str, server: str, log_group: str, env: dict[str, str],
              secrets: dict[str, str]) -> str:
    """Boot script of a serving instance (Amazon Linux 2023: SSM agent and AWS CLI preinstalled).

    `env`: release.container_env(ctx) resolved; `secrets`: variable name -> Secrets Manager ARN.
    Secret values are fetched at boot with the instance role into a root-only file on tmpfs and
    handed to docker as an env file: they are never in the user data or instance metadata.
    awslogs runs non-blocking with a buffer (docker `mode` / `max-buffer-size` log options,
    https://docs.docker.com/engine/logging/configure/#configure-the-delivery-mode-of-log-messages-from-container-to-log-driver),
    so a CloudWatch Logs throttle never blocks the app's writes."""
    sv = ctx.spec.service.serving
    env_flags = " ".join(f"-e {shlex.quote(f'{k}={v}')}" for k, v in sorted(env.items()))
    region = ctx.spec.region
    lines = [
        "#!/bin/bash",
        f"# mlinfra {ctx.prefix}: run the service image on port {sv.port}",
        "set -euo pipefail",
        "dnf install -y docker",
        "systemctl enable --now docker",
        # Credentials come from the instance role through IMDSv2; the token lasts 12 hours, enough to pull.
        f"aws ecr get-login-password --region {region} | docker login --username AWS --password-stdin {server}",
        f"docker pull {shlex.quote(image)}",
        f"install -d -m 700 {SECRETS_FILE.rsplit('/', 1)[0]}",
        f"install -m 600 /dev/null {SECRETS_FILE}",
    ]
    for name, arn in sorted(secrets.items()):
        lines.append(f"printf '%s=%s\\n' {name} \"$(aws secretsmanager get-secret-value --region {region} "
                     f"--secret-id {shlex.quote(arn)} --query SecretString --output text)\" >> {SECRETS_FILE}")
    lines += [
        f"docker run -d --name app --restart always -p {sv.port}:{sv.port} {env_flags} --env-file {SECRETS_FILE} "
        f"--log-driver awslogs --log-opt awslogs-region={region} --log-opt awslogs-group={log_group} "
        f"--log-opt mode={LOG_MODE} --log-opt max-buffer-size={LOG_BUFFER} "
        f"{shlex.quote(image)}",
        "",
    ]
    return "\n".join(lines)


def build_vm(provider, parent: pulumi.Resource, ctx: BuildContext) -> ServingOutputs:
    p = ctx.prefix
    sv = ctx.spec.service.serving
    opts = pulumi.ResourceOptions(parent=parent)
    net = network(ctx, parent)
    front = frontend(provider, ctx, parent, net, target_type="instance")
    logs = aws.cloudwatch.LogGroup(f"{p}-serving-logs", name=f"/mlinfra/{p}/serving",
                                   retention_in_days=LOG_RETENTION_DAYS, tags=ctx.tags, opts=opts)
    secrets = service_secrets(ctx, parent)
    secret_arns = pulumi.Output.all(*[s.arn for s in secrets.values()])
    ident = identity.vm_role(ctx, parent, logs.arn, secret_arns)
    image = ami(parent, images.checked(sv.machine_image, images.AL2023, "serving.machine_image"))
    env = container_env(ctx)
    names = list(env)
    # The image reference is `repo:tag@sha256:digest`: a new build changes the user data, hence the
    # launch template version the group runs, which starts an instance refresh; an unchanged
    # build changes nothing.
    template = launch_template(
        ctx, parent, "serving", image_id=image.id,
        instance_type=vm_instance_type(sv.cpu, sv.memory_gib, sv.machine_type), profile=ident.profile,
        security_group=front.app_sg, disk_gib=DISK_GIB, root_device=image.root_device_name,
        user_data=pulumi.Output.all(ctx.image, ctx.registry.server, logs.name, secret_arns, *env.values()).apply(
            lambda a: user_data(ctx, a[0], a[1], a[2], dict(zip(names, a[4:])), dict(zip(secrets, a[3])))))
    group = aws.autoscaling.Group(
        f"{p}-serving-asg", min_size=sv.min_instances, max_size=sv.max_instances,
        vpc_zone_identifiers=net.private_ids,
        launch_template={"id": template.id, "version": template.latest_version.apply(str)},
        target_group_arns=[front.target_group.arn], health_check_type="ELB",
        health_check_grace_period=WARMUP_S, default_instance_warmup=WARMUP_S,
        enabled_metrics=GROUP_METRICS, metrics_granularity="1Minute",
        # A new launch template version (new image digest, new AMI pin) replaces instances a few at
        # a time; instances already on it are skipped ("instance_refresh ... started when
        # launch_template changes", aws.autoscaling.Group,
        # https://www.pulumi.com/registry/packages/aws/api-docs/autoscaling/group/).
        instance_refresh={"strategy": "Rolling",
                          "preferences": {"min_healthy_percentage": 90, "skip_matching": True}},
        tags=asg_tags(ctx),
        # Instances need their subnets' routes (to pull the image) and the instance role's grants
        # at first boot; neither follows from the inputs. The autoscaler owns the desired count.
        opts=pulumi.ResourceOptions(parent=parent, ignore_changes=["desiredCapacity"],
                                    depends_on=[front.listener, *net.private_routes, *ident.ready]))
    _cpu_scaling(ctx, parent, group)
    ctx.shared["aws:frontend"] = front
    return ServingOutputs(url=front.url, identity=ident.role.arn, dns_records=front.dns_records)


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
