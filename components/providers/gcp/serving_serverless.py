"""Serverless serving: a Cloud Run v2 service running the image as the serving account.

Public ingress disables the Cloud Run Invoker IAM check (`invoker_iam_disabled`), Google's
recommended way to make a service public: granting roles/run.invoker to allUsers fails in
projects under the common Domain Restricted Sharing organization policy
(https://cloud.google.com/run/docs/authenticating/public). Internal ingress keeps the check and
grants nobody, so only callers inside the project's VPC with their own invoker grant reach it.
A custom domain puts the global load balancer in front (loadbalancer.py).
"""
from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from components.providers.base import BuildContext, ServingOutputs

from . import limits
from .container import RUN_RESERVED, plain_env
from .edge import access_log_sink, security_policy
from .foundation import res_opts
from .identity import serving_identity
from .loadbalancer import load_balancer, log_config
from .secrets import serving_secrets

INGRESS = {"public": "INGRESS_TRAFFIC_ALL", "internal": "INGRESS_TRAFFIC_INTERNAL_ONLY"}
# With a domain the load balancer is the way in: the run.app URL then refuses outside traffic, so
# Cloud Armor and the TLS policy cannot be bypassed
# (https://cloud.google.com/run/docs/securing/ingress: "Internal and Cloud Load Balancing").
BEHIND_LB = "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER"


def probes(serving) -> dict:
    # Startup: up to 5 s + 24 x 5 s for the model to load; liveness: three misses restart the instance.
    return {
        "startup_probe": {"http_get": {"path": serving.health_path, "port": serving.port},
                          "initial_delay_seconds": 5, "period_seconds": 5, "timeout_seconds": 3,
                          "failure_threshold": 24},
        "liveness_probe": {"http_get": {"path": serving.liveness_path, "port": serving.port},
                           "period_seconds": 15, "timeout_seconds": 3, "failure_threshold": 3},
    }


def custom_domain(parent: pulumi.Resource, ctx: BuildContext, service):
    """A serverless network endpoint group puts the service behind the global load balancer, which
    terminates TLS for the domain (Cloud Run domain mappings exist in a few regions only)."""
    p = ctx.prefix
    opts = res_opts(parent, ctx)
    neg = gcp.compute.RegionNetworkEndpointGroup(
        f"{p}-run-neg", name=limits.gce_name(p, "run-neg"), region=ctx.spec.region,
        network_endpoint_type="SERVERLESS", cloud_run={"service": service.name}, opts=opts)
    # Serverless backends take no health check: Cloud Run's own probes decide which instances serve.
    backend = gcp.compute.BackendService(
        f"{p}-backend", name=limits.gce_name(p, "backend"), protocol="HTTPS",
        load_balancing_scheme="EXTERNAL_MANAGED", backends=[{"group": neg.id}],
        security_policy=security_policy(parent, ctx), log_config=log_config(ctx.spec.service.serving), opts=opts)
    access_log_sink(parent, ctx, backend.name)
    return load_balancer(parent, ctx, backend)


def build_serverless(provider, parent: pulumi.Resource, ctx: BuildContext) -> ServingOutputs:
    spec = ctx.spec
    serving = spec.service.serving
    ident = serving_identity(provider, parent, ctx, vm=False)
    sa = ident.account
    secrets = serving_secrets(parent, ctx, sa)
    # Plain configuration as values; secrets only as references resolved by Cloud Run at start.
    env = [{"name": k, "value": v} for k, v in plain_env(ctx, reserved=RUN_RESERVED).items()] + secrets.run_envs()
    service = gcp.cloudrunv2.Service(
        f"{ctx.prefix}-run", name=limits.run_service_name(spec), location=spec.region,
        ingress=BEHIND_LB if serving.domain else INGRESS[serving.ingress],
        invoker_iam_disabled=serving.ingress == "public",
        # Long-lived environments are protected from an accidental delete; previews are meant to go.
        deletion_protection=spec.preview is None and spec.env != "dev",
        labels=ctx.tags,
        template={
            "service_account": sa.email,
            "scaling": {"min_instance_count": serving.min_instances, "max_instance_count": serving.max_instances},
            # The same number the app admits (MAX_CONCURRENCY, container.py).
            "max_instance_request_concurrency": serving.concurrency,
            "labels": ctx.tags,
            "containers": [{
                "image": ctx.image,
                "ports": {"container_port": serving.port},
                "resources": {"limits": {"cpu": limits.run_cpu(serving.cpu), "memory": limits.run_memory(serving.memory_gib)},
                              # Scaled to zero, CPU is billed only while a request is handled.
                              "cpu_idle": True, "startup_cpu_boost": True},
                "envs": env,
                **probes(serving),
            }],
        },
        # A revision starts only once its account may read the model and pull the image.
        opts=res_opts(parent, ctx, depends_on=ident.grants + secrets.grants))
    # No domain: Cloud Run's own URL, HTTPS with a Google-managed certificate.
    url, records = service.uri, None
    ctx.shared["gcp:serving"] = {"kind": "serverless", "service": service.name}  # what alerts watch
    if serving.domain:
        url, records = custom_domain(parent, ctx, service)
    return ServingOutputs(url=url, identity=sa.email, dns_records=records)
