"""Serverless serving: a Container App in a managed environment logging to its own workspace."""
from __future__ import annotations

import pulumi
import pulumi_azure_native as azure_native

from components.providers.base import BuildContext, ServingOutputs

from .identity import serving_identity
from .sizes import memory_string

LOG_RETENTION_DAYS = 30


def probes(serving) -> list[dict]:
    def probe(kind: str, path: str, **timing) -> dict:
        return {"type": kind, "http_get": {"path": path, "port": serving.port, "scheme": "HTTP"}, **timing}

    return [
        # Model loading can take a while: up to 30 x 5 s before the replica counts as failed.
        probe("Startup", serving.health_path, period_seconds=5, failure_threshold=30, timeout_seconds=3),
        probe("Liveness", serving.liveness_path, period_seconds=10, failure_threshold=3, timeout_seconds=3),
        probe("Readiness", serving.health_path, period_seconds=5, failure_threshold=3, timeout_seconds=3),
    ]


def scale(serving) -> dict:
    return {
        "min_replicas": serving.min_instances,
        "max_replicas": serving.max_instances,
        "rules": [
            # Requests in flight per replica: the only rule that wakes an app scaled to zero.
            {"name": "http-concurrency", "http": {"metadata": {"concurrentRequests": str(serving.concurrency)}}},
            # KEDA's cpu scaler: average utilisation across replicas against the scale-out threshold.
            {"name": "cpu", "custom": {"type": "cpu", "metadata": {
                "type": "Utilization", "value": str(serving.scale_out_cpu_percent)}}},
        ],
    }


def build_serverless(provider, parent: pulumi.Resource, ctx: BuildContext) -> ServingOutputs:
    p = ctx.prefix
    rg = ctx.base
    serving = ctx.spec.service.serving
    opts = pulumi.ResourceOptions(parent=parent)
    identity = serving_identity(ctx, parent)
    workspace = azure_native.operationalinsights.Workspace(
        f"{p}-logs", workspace_name=f"{p}-logs", resource_group_name=rg.name, location=ctx.spec.region,
        sku={"name": "PerGB2018"}, retention_in_days=LOG_RETENTION_DAYS, tags=ctx.tags, opts=opts)
    keys = azure_native.operationalinsights.get_shared_keys_output(
        resource_group_name=rg.name, workspace_name=workspace.name, opts=pulumi.InvokeOutputOptions(parent=parent))
    environment = azure_native.app.ManagedEnvironment(
        f"{p}-apps", environment_name=f"{p}-apps", resource_group_name=rg.name, location=ctx.spec.region,
        app_logs_configuration={"destination": "log-analytics", "log_analytics_configuration": {
            "customer_id": workspace.customer_id, "shared_key": pulumi.Output.secret(keys.primary_shared_key)}},
        tags=ctx.tags, opts=opts)
    container = {
        "name": "model",
        "image": ctx.image,
        "resources": {"cpu": serving.cpu, "memory": memory_string(serving.memory_gib)},
        "env": [{"name": k, "value": v} for k, v in sorted(serving.env.items())],
        "probes": probes(serving),
    }
    app = azure_native.app.ContainerApp(
        f"{p}-app", container_app_name=provider.container_app_name(ctx.spec), resource_group_name=rg.name,
        location=ctx.spec.region, managed_environment_id=environment.id,
        identity={"type": "UserAssigned", "user_assigned_identities": [identity.id]},
        configuration={
            "active_revisions_mode": "Single",
            "ingress": {"external": serving.ingress == "public", "target_port": serving.port, "transport": "auto",
                        "allow_insecure": False},
            # Pulls with the serving identity's AcrPull role: no registry password anywhere.
            "registries": [{"server": ctx.registry.server, "identity": identity.id}],
        },
        template={"containers": [container], "scale": scale(serving)},
        tags=ctx.tags, opts=pulumi.ResourceOptions(parent=parent, depends_on=identity.assignments))
    ctx.shared["azure_container_app"] = app
    fqdn = app.configuration.apply(lambda c: c.ingress.fqdn)
    return ServingOutputs(url=pulumi.Output.concat("https://", fqdn), identity=identity.principal_id)
