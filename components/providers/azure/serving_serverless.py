"""Serverless serving: a Container App in a managed environment logging to its own workspace."""
from __future__ import annotations

import pulumi
import pulumi_azure_native as azure_native

from components.providers.base import BuildContext, ServingOutputs
from components.release import container_env

from .dns import records
from .identity import propagated, serving_identity
from .secrets import build_secrets
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
    rules = [
        # Requests in flight per replica: the only rule that wakes an app scaled to zero.
        {"name": "http-concurrency", "http": {"metadata": {"concurrentRequests": str(serving.concurrency)}}},
    ]
    if serving.min_instances >= 1:
        # KEDA's cpu scaler: average utilisation across replicas against the scale-out threshold. Only with
        # a floor of one replica: "Applications that scale on CPU or memory load can't scale to zero"
        # (Azure Container Apps overview / "Set scaling rules"), so with min 0 the HTTP rule alone scales.
        rules.append({"name": "cpu", "custom": {"type": "cpu", "metadata": {
            "type": "Utilization", "value": str(serving.scale_out_cpu_percent)}}})
    return {"min_replicas": serving.min_instances, "max_replicas": serving.max_instances, "rules": rules}


def environment_variables(ctx: BuildContext, identity, secret_env: list) -> list[dict]:
    """The release convention (serving.env, PORT, MODEL_URI) plus the identity DefaultAzureCredential picks:
    with only user-assigned identities, "AZURE_CLIENT_ID" selects which one (azure-identity,
    ManagedIdentityCredential / DefaultAzureCredential)."""
    env = {**container_env(ctx), "AZURE_CLIENT_ID": identity.client_id}
    return [{"name": k, "value": v} for k, v in sorted(env.items())] + list(secret_env)


def custom_domain(ctx: BuildContext, parent, environment, app_name: str):
    """(ingress customDomains, DNS records output, records created) for `serving.domain`.

    "Custom domain names and free managed certificates in Azure Container Apps": a CNAME from the domain to
    the app's FQDN and a TXT `asuid.<domain>` holding the environment's domain verification id, then the
    hostname on the app and a managed certificate (CNAME validation). Binding type `Auto` (API
    2024-10-02-preview and later) binds the certificate once it is issued, with no second update of the app.
    """
    domain = ctx.spec.service.serving.domain
    if not domain or ctx.spec.service.serving.ingress != "public":
        return None, None, []
    verification = environment.custom_domain_configuration.apply(
        lambda c: c.custom_domain_verification_id if c else None)
    target = pulumi.Output.concat(app_name, ".", environment.default_domain)
    listed, created = records(ctx, parent, [
        {"type": "TXT", "name": f"asuid.{domain}", "value": verification,
         "purpose": "proves domain ownership to Container Apps (domain verification id)"},
        {"type": "CNAME", "name": domain, "value": target,
         "purpose": "points the domain at the container app; the managed certificate is validated through it"},
    ])
    return [{"name": domain, "binding_type": "Auto"}], listed, created


def build_serverless(provider, parent: pulumi.Resource, ctx: BuildContext) -> ServingOutputs:
    p = ctx.prefix
    rg = ctx.base
    serving = ctx.spec.service.serving
    opts = pulumi.ResourceOptions(parent=parent)
    identity = serving_identity(ctx, parent)
    vault = build_secrets(provider, parent, ctx, identity)
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
    app_name = provider.container_app_name(ctx.spec)
    domains, dns_records, dns_created = custom_domain(ctx, parent, environment, app_name)
    container = {
        "name": "model",
        "image": ctx.image,
        "resources": {"cpu": serving.cpu, "memory": memory_string(serving.memory_gib)},
        "env": environment_variables(ctx, identity, vault.env),
        "probes": probes(serving),
    }
    ingress = {"external": serving.ingress == "public", "target_port": serving.port, "transport": "auto",
               # Plain HTTP is redirected to HTTPS, never served.
               "allow_insecure": False}
    if domains:
        ingress["custom_domains"] = domains
    configuration = {
        "active_revisions_mode": "Single",
        "ingress": ingress,
        # Pulls with the serving identity's AcrPull role: no registry password anywhere.
        "registries": [{"server": ctx.registry.server, "identity": identity.id}],
    }
    if vault.app_secrets:
        configuration["secrets"] = vault.app_secrets
    app = azure_native.app.ContainerApp(
        f"{p}-app", container_app_name=app_name, resource_group_name=rg.name,
        location=ctx.spec.region, managed_environment_id=environment.id,
        identity={"type": "UserAssigned", "user_assigned_identities": [identity.id]},
        configuration=configuration,
        template={"containers": [container], "scale": scale(serving)},
        tags=ctx.tags,
        # The first revision pulls the image and reads its secrets as the identity: after its role
        # assignments exist and have propagated; a custom domain's records must exist before the hostname.
        opts=pulumi.ResourceOptions(parent=parent,
                                    depends_on=[*propagated(ctx, parent, identity, "serving"), *dns_created]))
    if domains:
        azure_native.app.ManagedCertificate(
            f"{p}-certificate", environment_name=environment.name, resource_group_name=rg.name,
            location=ctx.spec.region, managed_certificate_name=f"{p}-{serving.domain.replace('.', '-')}"[:60],
            properties={"subject_name": serving.domain, "domain_control_validation": "CNAME"},
            tags=ctx.tags,
            # "requires hostname ... added as a custom hostname to a container app in environment" first.
            opts=pulumi.ResourceOptions(parent=parent, depends_on=[app]))
    ctx.shared["azure_container_app"] = app
    if domains:
        url = pulumi.Output.concat("https://", serving.domain)
    else:
        url = pulumi.Output.concat("https://", app.configuration.apply(lambda c: c.ingress.fqdn))
    out = ServingOutputs(url=url, identity=identity.principal_id)
    out.dns_records = dns_records
    return out
