"""What sits at the edge of a public endpoint on GCP: Cloud Armor, the TLS policy, DNS records.

- Cloud Armor (`serving.firewall`): a backend security policy with Google's preconfigured WAF
  rules (OWASP CRS 3.3, sensitivity 1: the high-confidence signatures;
  https://cloud.google.com/armor/docs/waf-rules, .../rule-tuning) and a per-client-IP throttle of
  `serving.rate_limit_per_minute` answered with 429 (https://cloud.google.com/armor/docs/rate-limiting-overview:
  throttle count 1-1,000,000; the threshold applies per backend service). The last rule
  (priority 2147483647) must match everything; here it allows what no rule above denied.
- SSL policy: TLS 1.2 minimum with the MODERN profile on the HTTPS proxy; the defaults are
  COMPATIBLE and TLS 1.0 (`gcloud compute ssl-policies create`: --min-tls-version default "1.0",
  --profile default "COMPATIBLE"; https://cloud.google.com/load-balancing/docs/ssl-policies-concepts).
- Access logs: the load balancer's request log (log id `requests`, monitored resource
  `http_load_balancer`, sampled at `serving.access_log_sample_rate`) is also routed by a sink to
  the environment's bucket, where Cloud Logging writes hourly objects under `requests/YYYY/MM/DD/`
  (https://cloud.google.com/logging/docs/export/configure_export_v2, "Routed log entries are saved
  to Cloud Storage buckets in hourly batches"); storage.py deletes them after
  `serving.access_log_days`. The sink's own writer identity may create objects there and nothing else.
- DNS: a Google-managed certificate is issued only once the domain's A record points at the load
  balancer (https://cloud.google.com/load-balancing/docs/ssl-certificates/google-managed-certs).
  With `serving.dns_zone` (a Cloud DNS managed zone name) the program writes it; otherwise the
  record is returned for the `dns_records` stack output.
"""
from __future__ import annotations

from typing import Any

import pulumi
import pulumi_gcp as gcp

from components.providers.base import BuildContext

from . import limits
from .foundation import res_opts
from .identity import prefix_condition

WAF_RULES = ("sqli-v33-stable", "xss-v33-stable", "lfi-v33-stable", "rfi-v33-stable", "rce-v33-stable",
             "methodenforcement-v33-stable", "scannerdetection-v33-stable", "protocolattack-v33-stable",
             "sessionfixation-v33-stable")
WAF_SENSITIVITY = 1
DEFAULT_RULE_PRIORITY = 2147483647
THROTTLE_PRIORITY = 900  # before the WAF rules: a flood is cut before it is inspected
DNS_TTL = 300


def armor_rules(serving) -> list[dict]:
    waf = [{"priority": 1000 + i, "action": "deny(403)", "description": f"OWASP CRS: {name}"[:64],
            "match": {"expr": {"expression": f"evaluatePreconfiguredWaf('{name}', {{'sensitivity': {WAF_SENSITIVITY}}})"}}}
           for i, name in enumerate(WAF_RULES)]
    throttle = {"priority": THROTTLE_PRIORITY, "action": "throttle",
                "description": f"at most {serving.rate_limit_per_minute} requests per minute per client IP"[:64],
                "match": {"versioned_expr": "SRC_IPS_V1", "config": {"src_ip_ranges": ["*"]}},
                "rate_limit_options": {"conform_action": "allow", "exceed_action": "deny(429)", "enforce_on_key": "IP",
                                       "rate_limit_threshold": {"count": serving.rate_limit_per_minute,
                                                                "interval_sec": 60}}}
    default = {"priority": DEFAULT_RULE_PRIORITY, "action": "allow", "description": "default: allow the rest",
               "match": {"versioned_expr": "SRC_IPS_V1", "config": {"src_ip_ranges": ["*"]}}}
    return [throttle, *waf, default]


def security_policy(parent: pulumi.Resource, ctx: BuildContext) -> Any:
    """The Cloud Armor policy's self link for the backend service, or None without serving.firewall."""
    serving = ctx.spec.service.serving
    if not serving.firewall:
        return None
    policy = gcp.compute.SecurityPolicy(
        f"{ctx.prefix}-armor", name=limits.gce_name(ctx.prefix, "armor"), type="CLOUD_ARMOR",
        description=f"mlinfra: WAF and per-IP rate limit for {ctx.prefix}", rules=armor_rules(serving),
        opts=res_opts(parent, ctx))
    return policy.self_link


def ssl_policy(parent: pulumi.Resource, ctx: BuildContext):
    return gcp.compute.SSLPolicy(
        f"{ctx.prefix}-tls", name=limits.gce_name(ctx.prefix, "tls"), min_tls_version="TLS_1_2", profile="MODERN",
        description="TLS 1.2 or newer", opts=res_opts(parent, ctx))


def dns_records(parent: pulumi.Resource, ctx: BuildContext, address) -> Any:
    """Writes the A record into serving.dns_zone and returns None, or returns the records to create."""
    serving = ctx.spec.service.serving
    if serving.dns_zone:
        gcp.dns.RecordSet(f"{ctx.prefix}-dns-a", managed_zone=serving.dns_zone, name=f"{serving.domain}.",
                          type="A", ttl=DNS_TTL, rrdatas=[address], opts=res_opts(parent, ctx))
        return None
    return pulumi.Output.from_input(address).apply(
        lambda ip: [{"type": "A", "name": serving.domain, "value": ip, "ttl": DNS_TTL}])


# Cloud Logging names Cloud Storage objects after the log id: the load balancer's log is `requests`.
ACCESS_LOG_PREFIX = "requests/"


def access_log_sink(parent: pulumi.Resource, ctx: BuildContext, backend_name) -> None:
    bucket = ctx.storage.bucket
    sink = gcp.logging.ProjectSink(
        f"{ctx.prefix}-access-logs", name=limits.gce_name(ctx.prefix, "access-logs"),
        destination=pulumi.Output.concat("storage.googleapis.com/", bucket),
        filter=pulumi.Output.format('resource.type="http_load_balancer" AND '
                                    'resource.labels.backend_service_name="{0}"', backend_name),
        unique_writer_identity=True, description=f"mlinfra: load balancer access logs of {ctx.prefix}",
        opts=res_opts(parent, ctx))
    gcp.storage.BucketIAMMember(
        f"{ctx.prefix}-access-logs-write", bucket=bucket, role="roles/storage.objectCreator",
        member=sink.writer_identity,
        condition={"title": "access-logs-write", "description": f"only objects under {ACCESS_LOG_PREFIX}",
                   "expression": bucket.apply(lambda b: prefix_condition(b, (ACCESS_LOG_PREFIX,)))},
        opts=res_opts(parent, ctx))


def has_load_balancer(serving) -> bool:
    return serving.mode == "vm" or bool(serving.domain)
