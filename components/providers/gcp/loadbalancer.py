"""The global external Application Load Balancer in front of serving: URL map, proxies, one
address and forwarding rules. With `serving.domain`, HTTPS on 443 with a Google-managed
certificate (or `serving.certificate`: a Compute SSL certificate's id or self-link) under a
TLS 1.2 SSL policy, and port 80 answering only with a redirect to HTTPS (a URL map with
`default_url_redirect` and no backend); without a domain, plain HTTP on 80 (VM mode only: a
serverless service without a domain is reached on Cloud Run's own HTTPS URL).
"""
from __future__ import annotations

from typing import Any

import pulumi
import pulumi_gcp as gcp

from components.naming import short_hash
from components.providers.base import BuildContext

from . import limits
from .edge import dns_records, ssl_policy
from .foundation import res_opts


def log_config(serving) -> dict:
    """Backend-service request logging at `serving.access_log_sample_rate`.

    Every request logged is a Cloud Logging entry billed on ingestion, so at 1.0 (Google's default,
    https://cloud.google.com/load-balancing/docs/https/https-logging-monitoring#logging) a busy
    service pays more for its logs than for the requests. The built-in prod sets 0.1 on GCP
    (Pulumi.prod.yaml): one request in ten, enough for error and latency analysis; metrics
    (request counts, latencies) are not sampled.
    """
    rate = serving.access_log_sample_rate
    return {"enable": True, "sample_rate": rate} if rate > 0 else {"enable": False}


def load_balancer(parent: pulumi.Resource, ctx: BuildContext, backend) -> tuple[pulumi.Output, Any]:
    """URL map, proxies, address and forwarding rules; returns (endpoint URL, DNS records to create)."""
    p = ctx.prefix
    serving = ctx.spec.service.serving
    opts = res_opts(parent, ctx)
    address = gcp.compute.GlobalAddress(f"{p}-lb-ip", name=limits.gce_name(p, "lb-ip"), ip_version="IPV4",
                                        labels=ctx.tags, opts=opts)
    url_map = gcp.compute.URLMap(f"{p}-lb", name=limits.gce_name(p, "lb"), default_service=backend.id, opts=opts)

    def rule(role: str, target, port: int):
        return gcp.compute.GlobalForwardingRule(
            f"{p}-{role}-rule", name=limits.gce_name(p, f"{role}-rule"), target=target.id, ip_address=address.id,
            port_range=str(port), ip_protocol="TCP", load_balancing_scheme="EXTERNAL_MANAGED", labels=ctx.tags,
            opts=opts)

    if not serving.domain:
        rule("http", gcp.compute.TargetHttpProxy(f"{p}-http-proxy", name=limits.gce_name(p, "http-proxy"),
                                                 url_map=url_map.id, opts=opts), 80)
        return pulumi.Output.concat("http://", address.address), None
    if serving.certificate:
        certificate = serving.certificate
    else:
        # The domain is in the name so a new domain creates its certificate before the old one goes.
        cert = gcp.compute.ManagedSslCertificate(
            f"{p}-cert", name=limits.gce_name(p, f"cert-{short_hash(serving.domain)}"), type="MANAGED",
            managed={"domains": [serving.domain]}, opts=opts)
        certificate = cert.id
    rule("https", gcp.compute.TargetHttpsProxy(f"{p}-https-proxy", name=limits.gce_name(p, "https-proxy"),
                                               url_map=url_map.id, ssl_certificates=[certificate],
                                               ssl_policy=ssl_policy(parent, ctx).self_link, opts=opts), 443)
    redirect = gcp.compute.URLMap(
        f"{p}-http-redirect", name=limits.gce_name(p, "http-redirect"),
        default_url_redirect={"https_redirect": True, "strip_query": False,
                              "redirect_response_code": "MOVED_PERMANENTLY_DEFAULT"}, opts=opts)
    rule("http", gcp.compute.TargetHttpProxy(f"{p}-http-proxy", name=limits.gce_name(p, "http-proxy"),
                                             url_map=redirect.id, opts=opts), 80)
    return pulumi.Output.from_input(f"https://{serving.domain}"), dns_records(parent, ctx, address.address)
