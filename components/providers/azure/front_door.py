"""Public VM serving behind Azure Front Door Premium: HTTPS with a certificate Front Door manages and
renews, TLS 1.2 minimum, HTTP redirected to HTTPS, a WAF policy (Microsoft's default rule set and a
per-client-IP rate limit) and access logs kept `serving.access_log_days`.

Why Front Door and not Application Gateway: Application Gateway terminates TLS only with a certificate the
user brings (Key Vault), while an Azure Front Door custom domain takes "Azure managed certificate"
(issued and auto-rotated by Front Door). Managed WAF rule sets need the Premium tier ("managed rule sets
require the premium SKU", Front Door WAF docs).
"""
from __future__ import annotations

import re

import pulumi
import pulumi_azure_native as azure_native

from components.providers.base import BuildContext

from .dns import records

SKU = "Premium_AzureFrontDoor"
# "Microsoft_DefaultRuleSet" 2.1: the Default Rule Set built on OWASP CRS 3.3.2 plus Microsoft rules
# (Azure WAF on Front Door, "Web Application Firewall DRS rule groups and rules").
MANAGED_RULE_SETS = (("Microsoft_DefaultRuleSet", "2.1", "Block"), ("Microsoft_BotManagerRuleSet", "1.1", None))
RATE_LIMIT_PRIORITY = 100
# Log Analytics (PerGB2018) keeps data 30 to 730 days.
MIN_LOG_DAYS, MAX_LOG_DAYS = 30, 730


def uses_front_door(ctx: BuildContext) -> bool:
    """Public VM serving asked for a domain (HTTPS) or a firewall."""
    s = ctx.spec.service.serving
    return s.mode == "vm" and s.ingress == "public" and bool(s.domain or s.firewall)


def policy_name(ctx: BuildContext) -> str:
    # Front Door WAF policy names: letters and digits only, starting with a letter, up to 128.
    return re.sub(r"[^A-Za-z0-9]", "", f"waf{ctx.prefix}")[:128]


def rate_limit_rule(per_minute: int) -> dict:
    return {
        "name": "ratelimitperclientip", "priority": RATE_LIMIT_PRIORITY, "enabled_state": "Enabled",
        "rule_type": "RateLimitRule", "rate_limit_duration_in_minutes": 1, "rate_limit_threshold": per_minute,
        # Counted per socket IP address (the client's TCP connection to Front Door).
        "group_by": [{"variable_name": "SocketAddr"}],
        # "If you need to apply a rate limit rule to all requests, consider a match condition like: Host
        # header size greater than 0" (What is rate limiting for Azure Front Door?).
        "match_conditions": [{"match_variable": "RequestHeader", "selector": "Host", "operator": "GreaterThan",
                              "match_value": ["0"], "negate_condition": False, "transforms": []}],
        "action": "Block",
    }


def waf_policy(ctx: BuildContext, parent) -> azure_native.frontdoor.Policy:
    serving = ctx.spec.service.serving
    managed = []
    for kind, version, action in MANAGED_RULE_SETS:
        rule_set = {"rule_set_type": kind, "rule_set_version": version}
        if action:
            rule_set["rule_set_action"] = action
        managed.append(rule_set)
    return azure_native.frontdoor.Policy(
        f"{ctx.prefix}-waf", policy_name=policy_name(ctx), resource_group_name=ctx.base.name, location="Global",
        sku={"name": SKU},
        policy_settings={"enabled_state": "Enabled", "mode": "Prevention", "request_body_check": "Enabled"},
        managed_rules={"managed_rule_sets": managed},
        custom_rules={"rules": [rate_limit_rule(serving.rate_limit_per_minute)]},
        tags=ctx.tags, opts=pulumi.ResourceOptions(parent=parent))


def front_door_profile(ctx: BuildContext, parent) -> azure_native.cdn.Profile:
    """The profile, made before the scale sets: they are given its Front Door ID (FRONT_DOOR_ID), which
    the app checks against the X-Azure-FDID header on every request (app/origin.py; "Secure traffic to
    Azure Front Door origins": the service tag alone admits any customer's Front Door)."""
    return azure_native.cdn.Profile(
        f"{ctx.prefix}-front-door", profile_name=f"{ctx.prefix}-fd", resource_group_name=ctx.base.name,
        location="Global", sku={"name": SKU}, origin_response_timeout_seconds=60, tags=ctx.tags,
        opts=pulumi.ResourceOptions(parent=parent))


def build_front_door(ctx: BuildContext, parent, origin_host, profile) -> tuple[pulumi.Output, object]:
    """Front Door (`profile`) in front of the load balancer's public address `origin_host`. Returns (url, dns records)."""
    p = ctx.prefix
    rg = ctx.base
    serving = ctx.spec.service.serving
    opts = pulumi.ResourceOptions(parent=parent)
    endpoint = azure_native.cdn.AFDEndpoint(
        f"{p}-front-door-endpoint", endpoint_name=f"{p}-ep", profile_name=profile.name,
        resource_group_name=rg.name, location="Global", enabled_state="Enabled", tags=ctx.tags, opts=opts)
    group = azure_native.cdn.AFDOriginGroup(
        f"{p}-front-door-origins", origin_group_name="serving", profile_name=profile.name,
        resource_group_name=rg.name,
        load_balancing_settings={"sample_size": 4, "successful_samples_required": 3,
                                 "additional_latency_in_milliseconds": 50},
        health_probe_settings={"probe_path": serving.health_path, "probe_request_type": "GET",
                               "probe_protocol": "Http", "probe_interval_in_seconds": 30},
        session_affinity_state="Disabled", opts=opts)
    origin = azure_native.cdn.AFDOrigin(
        f"{p}-front-door-origin", origin_name="load-balancer", origin_group_name=group.name,
        profile_name=profile.name, resource_group_name=rg.name, host_name=origin_host,
        origin_host_header=origin_host, http_port=80, https_port=443, priority=1, weight=1000,
        enabled_state="Enabled", enforce_certificate_name_check=True, opts=opts)
    domains = []
    dns_records = None
    if serving.domain:
        from .dns import zone_of

        zone = zone_of(ctx)
        extra = {}
        if zone is not None:
            config = azure_native.authorization.get_client_config_output(
                opts=pulumi.InvokeOutputOptions(parent=parent))
            extra["azure_dns_zone"] = {"id": pulumi.Output.concat(
                "/subscriptions/", config.subscription_id, "/resourceGroups/", zone[0],
                "/providers/Microsoft.Network/dnsZones/", zone[1])}
        domain = azure_native.cdn.AFDCustomDomain(
            f"{p}-front-door-domain", custom_domain_name=serving.domain.replace(".", "-"),
            profile_name=profile.name, resource_group_name=rg.name, host_name=serving.domain,
            # Front Door issues and rotates the certificate; clients below TLS 1.2 are refused.
            tls_settings={"certificate_type": "ManagedCertificate", "minimum_tls_version": "TLS12"},
            opts=opts, **extra)
        domains.append(domain)
        token = domain.validation_properties.apply(lambda v: v.validation_token if v else None)
        # "Add a custom domain to Azure Front Door": TXT `_dnsauth.<domain>` with the validation token,
        # then a CNAME from the domain to the endpoint's host name.
        dns_records, _ = records(ctx, parent, [
            {"type": "TXT", "name": f"_dnsauth.{serving.domain}", "value": token,
             "purpose": "validates the domain for Front Door's managed certificate"},
            {"type": "CNAME", "name": serving.domain, "value": endpoint.host_name,
             "purpose": "points the domain at the Front Door endpoint"},
        ])
    route = azure_native.cdn.Route(
        f"{p}-front-door-route", route_name="serving", endpoint_name=endpoint.name, profile_name=profile.name,
        resource_group_name=rg.name, origin_group={"id": group.id},
        custom_domains=[{"id": d.id} for d in domains],
        supported_protocols=["Http", "Https"], https_redirect="Enabled", forwarding_protocol="HttpOnly",
        link_to_default_domain="Enabled", patterns_to_match=["/*"], enabled_state="Enabled",
        # The route needs an origin in its group to exist first.
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[origin]))
    policy = waf_policy(ctx, parent)
    azure_native.cdn.SecurityPolicy(
        f"{p}-front-door-waf", security_policy_name="waf", profile_name=profile.name, resource_group_name=rg.name,
        parameters={"type": "WebApplicationFirewall", "waf_policy": {"id": policy.id},
                    "associations": [{"domains": [{"id": endpoint.id}, *[{"id": d.id} for d in domains]],
                                      "patterns_to_match": ["/*"]}]},
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[route]))
    access_logs(ctx, parent, profile)
    host = serving.domain or None
    url = pulumi.Output.concat("https://", host) if host else pulumi.Output.concat("https://", endpoint.host_name)
    return url, dns_records


def access_logs(ctx: BuildContext, parent, profile) -> None:
    """Front Door access and WAF logs into a Log Analytics workspace kept `access_log_days` (30 to 730)."""
    days = min(max(ctx.spec.service.serving.access_log_days, MIN_LOG_DAYS), MAX_LOG_DAYS)
    workspace = azure_native.operationalinsights.Workspace(
        f"{ctx.prefix}-access-logs", workspace_name=f"{ctx.prefix}-access-logs", resource_group_name=ctx.base.name,
        location=ctx.spec.region, sku={"name": "PerGB2018"}, retention_in_days=days, tags=ctx.tags,
        opts=pulumi.ResourceOptions(parent=parent))
    # Front Door log categories: FrontDoorAccessLog, FrontDoorHealthProbeLog, FrontDoorWebApplicationFirewallLog
    # ("Monitor metrics and logs in Azure Front Door").
    azure_native.monitor.DiagnosticSetting(
        f"{ctx.prefix}-front-door-logs", name="access-logs", resource_uri=profile.id, workspace_id=workspace.id,
        logs=[{"category": c, "enabled": True} for c in ("FrontDoorAccessLog", "FrontDoorWebApplicationFirewallLog")],
        opts=pulumi.ResourceOptions(parent=parent))
