"""Serverless serving: ECS on Fargate behind the ALB, scaled by target tracking on CPU."""
from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

from components.providers.base import BuildContext, ServingOutputs

from . import identity
from .loadbalancer import frontend
from .network import network
from .sizes import fargate_size

CONTAINER = "app"
LOG_RETENTION_DAYS = 30
# Seconds the ALB health check may fail while a new task loads its model, before ECS replaces it.
STARTUP_GRACE_S = 60


def container_definitions(ctx: BuildContext, image: str, log_group: str) -> str:
    sv = ctx.spec.service.serving
    env = {**sv.env, "PORT": str(sv.port)}
    container = {
        "name": CONTAINER,
        "image": image,
        "essential": True,
        "portMappings": [{"containerPort": sv.port, "hostPort": sv.port, "protocol": "tcp"}],
        "environment": [{"name": k, "value": v} for k, v in sorted(env.items())],
        "readonlyRootFilesystem": False,
        "logConfiguration": {"logDriver": "awslogs", "options": {
            "awslogs-group": log_group, "awslogs-region": ctx.spec.region, "awslogs-stream-prefix": "serving"}},
    }
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
    front = frontend(ctx, parent, net, target_type="ip")

    logs = aws.cloudwatch.LogGroup(f"{p}-serving-logs", name=f"/mlinfra/{p}/serving",
                                   retention_in_days=LOG_RETENTION_DAYS, tags=ctx.tags, opts=opts)
    task_role, execution_role = identity.ecs_roles(ctx, parent, logs.arn)
    cluster = aws.ecs.Cluster(f"{p}-cluster", name=p, settings=[{"name": "containerInsights", "value": "enabled"}],
                              tags=ctx.tags, opts=opts)
    task = aws.ecs.TaskDefinition(
        f"{p}-task", family=f"{p}-serving", requires_compatibilities=["FARGATE"], network_mode="awsvpc",
        cpu=str(cpu), memory=str(memory), runtime_platform={"operating_system_family": "LINUX",
                                                            "cpu_architecture": "X86_64"},
        task_role_arn=task_role.arn, execution_role_arn=execution_role.arn,
        container_definitions=pulumi.Output.all(ctx.image, logs.name).apply(
            lambda a: container_definitions(ctx, a[0], a[1])),
        tags=ctx.tags, opts=opts)
    # Fargate cannot idle at zero (the check refuses min_instances 0), so at least one task runs.
    desired = max(sv.min_instances, 1)
    service = aws.ecs.Service(
        f"{p}-service", name=f"{p}-serving", cluster=cluster.arn, task_definition=task.arn, launch_type="FARGATE",
        platform_version="LATEST", desired_count=desired, health_check_grace_period_seconds=STARTUP_GRACE_S,
        network_configuration={"subnets": net.private_ids, "security_groups": [front.app_sg.id],
                               "assign_public_ip": False},
        load_balancers=[{"target_group_arn": front.target_group.arn, "container_name": CONTAINER,
                         "container_port": sv.port}],
        deployment_circuit_breaker={"enable": True, "rollback": True},
        deployment_minimum_healthy_percent=100, deployment_maximum_percent=200,
        propagate_tags="SERVICE", enable_ecs_managed_tags=True, tags=ctx.tags,
        # The autoscaler owns the task count after the first deployment.
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[front.listener], ignore_changes=["desiredCount"]))
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
    return ServingOutputs(url=front.url, identity=task_role.arn)
