"""Serverless serving: ECS on Fargate behind the ALB, scaled by target tracking on CPU."""
from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

from components.providers.base import BuildContext, ServingOutputs

from components.release import container_env

from . import identity
from .loadbalancer import frontend
from .network import network, zone_redundant
from .secrets import service_secrets
from .sizes import fargate_size

CONTAINER = "app"
LOG_RETENTION_DAYS = 30
# awslogs in blocking mode stalls the app's stdout/stderr writes when CloudWatch Logs throttles;
# non-blocking buffers in memory and drops the oldest lines when the buffer is full
# ("Preventing log loss with non-blocking mode in the AWSLogs container log driver",
# https://aws.amazon.com/blogs/containers/preventing-log-loss-with-non-blocking-mode-in-the-awslogs-container-log-driver/;
# options `mode` and `max-buffer-size`, "Using the awslogs log driver",
# https://docs.aws.amazon.com/AmazonECS/latest/developerguide/using_awslogs.html).
LOG_MODE = "non-blocking"
LOG_BUFFER = "25m"
# Seconds the ALB health check may fail while a new task loads its model, before ECS replaces it.
STARTUP_GRACE_S = 60


def container_definitions(ctx: BuildContext, image: str, log_group: str, env: dict[str, str],
                          secrets: dict[str, str]) -> str:
    """`env`: release.container_env(ctx) resolved; `secrets`: variable name -> Secrets Manager ARN,
    injected by ECS from `valueFrom` at start, so no value is ever in the task definition."""
    sv = ctx.spec.service.serving
    container = {
        "name": CONTAINER,
        "image": image,
        "essential": True,
        "portMappings": [{"containerPort": sv.port, "hostPort": sv.port, "protocol": "tcp"}],
        "environment": [{"name": k, "value": v} for k, v in sorted(env.items())],
        "readonlyRootFilesystem": False,
        "logConfiguration": {"logDriver": "awslogs", "options": {
            "awslogs-group": log_group, "awslogs-region": ctx.spec.region, "awslogs-stream-prefix": "serving",
            "mode": LOG_MODE, "max-buffer-size": LOG_BUFFER}},
    }
    if secrets:
        container["secrets"] = [{"name": k, "valueFrom": v} for k, v in sorted(secrets.items())]
    if sv.image is None:
        # The image built from app/ has Python, so the container can probe its own readiness path;
        # a prebuilt image may not, and relies on the load balancer's check alone.
        probe = ("import os,urllib.request; urllib.request.urlopen('http://127.0.0.1:%s" + sv.health_path
                 + "' % os.environ.get('PORT','8080'), timeout=2)")
        container["healthCheck"] = {"command": ["CMD", "python", "-c", probe], "interval": 15, "timeout": 5,
                                    "retries": 3, "startPeriod": STARTUP_GRACE_S}
    return json.dumps([container])


def build_serverless(provider, parent: pulumi.Resource, ctx: BuildContext) -> ServingOutputs:
    p = ctx.prefix
    sv = ctx.spec.service.serving
    opts = pulumi.ResourceOptions(parent=parent)
    cpu, memory = fargate_size(sv.cpu, sv.memory_gib)
    net = network(ctx, parent)
    front = frontend(provider, ctx, parent, net, target_type="ip")

    logs = aws.cloudwatch.LogGroup(f"{p}-serving-logs", name=f"/mlinfra/{p}/serving",
                                   retention_in_days=LOG_RETENTION_DAYS, tags=ctx.tags, opts=opts)
    secrets = service_secrets(ctx, parent)
    secret_arns = pulumi.Output.all(*[s.arn for s in secrets.values()])
    task_role, execution_role = identity.ecs_roles(ctx, parent, logs.arn, secret_arns)
    # Container Insights bills its metrics per task; worth it where the service is zone-redundant
    # (production), not for a dev or preview task ("Amazon ECS CloudWatch Container Insights",
    # https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/ContainerInsights.html; setting
    # values enhanced | enabled | disabled, aws.ecs.Cluster settings).
    insights = "enabled" if zone_redundant(ctx.spec) else "disabled"
    cluster = aws.ecs.Cluster(f"{p}-cluster", name=p, settings=[{"name": "containerInsights", "value": insights}],
                              tags=ctx.tags, opts=opts)
    env = container_env(ctx)
    names = list(env)
    task = aws.ecs.TaskDefinition(
        f"{p}-task", family=f"{p}-serving", requires_compatibilities=["FARGATE"], network_mode="awsvpc",
        cpu=str(cpu), memory=str(memory), runtime_platform={"operating_system_family": "LINUX",
                                                            "cpu_architecture": "X86_64"},
        task_role_arn=task_role.role.arn, execution_role_arn=execution_role.role.arn,
        container_definitions=pulumi.Output.all(ctx.image, logs.name, secret_arns, *env.values()).apply(
            lambda a: container_definitions(ctx, a[0], a[1], dict(zip(names, a[3:])),
                                            dict(zip(secrets, a[2])))),
        tags=ctx.tags, opts=opts)
    # Fargate cannot idle at zero (the check refuses min_instances 0), so at least one task runs.
    desired = max(sv.min_instances, 1)
    # Without private egress (no NAT), tasks sit in the public subnets with a public IP; their
    # security group still admits only the load balancer (network.py).
    private = net.private_egress
    service = aws.ecs.Service(
        f"{p}-service", name=f"{p}-serving", cluster=cluster.arn, task_definition=task.arn, launch_type="FARGATE",
        platform_version="LATEST", desired_count=desired, health_check_grace_period_seconds=STARTUP_GRACE_S,
        network_configuration={"subnets": net.private_ids if private else net.public_ids,
                               "security_groups": [front.app_sg.id], "assign_public_ip": not private},
        load_balancers=[{"target_group_arn": front.target_group.arn, "container_name": CONTAINER,
                         "container_port": sv.port}],
        deployment_circuit_breaker={"enable": True, "rollback": True},
        deployment_minimum_healthy_percent=100, deployment_maximum_percent=200,
        propagate_tags="SERVICE", enable_ecs_managed_tags=True, tags=ctx.tags,
        # The first tasks need their subnets' routes and both roles' permissions in place: neither
        # is implied by the inputs (subnet ids and role ARNs exist before routes and policies do).
        # The autoscaler owns the task count after the first deployment.
        opts=pulumi.ResourceOptions(
            parent=parent, ignore_changes=["desiredCount"],
            depends_on=[front.listener, *(net.private_routes if private else net.public_routes),
                        *task_role.ready, *execution_role.ready]))
    target = aws.appautoscaling.Target(
        f"{p}-scaling-target", service_namespace="ecs", scalable_dimension="ecs:service:DesiredCount",
        resource_id=pulumi.Output.concat("service/", cluster.name, "/", service.name),
        min_capacity=desired, max_capacity=sv.max_instances, tags=ctx.tags, opts=opts)
    aws.appautoscaling.Policy(
        f"{p}-cpu-scaling", policy_type="TargetTrackingScaling", service_namespace=target.service_namespace,
        scalable_dimension=target.scalable_dimension, resource_id=target.resource_id,
        target_tracking_scaling_policy_configuration={
            "predefined_metric_specification": {"predefined_metric_type": "ECSServiceAverageCPUUtilization"},
            "target_value": float(sv.scale_out_cpu_percent),
            # Out fast, in slowly: a scale-in that turns out wrong costs latency, not just money.
            "scale_out_cooldown": 60, "scale_in_cooldown": 300,
        },
        opts=opts)
    ctx.shared["aws:frontend"] = front
    return ServingOutputs(url=front.url, identity=task_role.role.arn, dns_records=front.dns_records)
