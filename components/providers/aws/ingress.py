"""HTTPS ingress pieces around the Application Load Balancer: the ACM certificate and its DNS
records, the WAF web ACL, and the access-log bucket.

- Certificate: ACM with DNS validation, renewed by ACM as long as the validation record stays
  ("DNS validation", https://docs.aws.amazon.com/acm/latest/userguide/dns-validation.html). With
  `serving.dns_zone` (a public Route 53 zone) the program writes the validation record and an
  alias A record for the domain; without it, it lists both in the `dns_records` output (and logs
  them during the deploy), and the certificate validation waits until the user has created them.
- Firewall: a regional WAFv2 web ACL with AWS managed rule groups and a rate-based rule per client
  IP, associated with the ALB.
- Access logs: ELB writes them only to a bucket encrypted with SSE-S3 ("Enable access logs for
  your Application Load Balancer", bucket requirements: "The only server-side encryption option
  that's supported is Amazon S3-managed keys (SSE-S3)",
  https://docs.aws.amazon.com/elasticloadbalancing/latest/application/enable-access-logging.html).
  The service's data bucket is SSE-KMS, so the environment gets a second, logs-only bucket whose
  objects expire after `serving.access_log_days`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import pulumi
import pulumi_aws as aws

from components.providers.base import BuildContext

from .storage import private_bucket

# AWS recommends this post-quantum hybrid policy: TLS 1.3 and 1.2 only, restricted ciphers
# ("Security policies for your Application Load Balancer",
# https://docs.aws.amazon.com/elasticloadbalancing/latest/application/describe-ssl-policies.html).
TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09"
LOG_PREFIX = "alb"
# ALB access-log delivery ("Enable access logs ...", step 2: attach a bucket policy): the log
# delivery service principal; regions available before August 2022 documented (and may still use)
# the regional ELB account instead, which aws.elb.getServiceAccount returns for them. Both are
# granted there, scoped to the same prefix. Not verifiable offline which one a region uses:
# `mlinfra doctor` / the first requests after a deploy show whether logs land.
ELB_LOG_DELIVERY = "logdelivery.elasticloadbalancing.amazonaws.com"
# Regions with a legacy ELB account (terraform-provider-aws aws_elb_service_account's region map,
# from the ELB access-log documentation's table).
LEGACY_ELB_ACCOUNT_REGIONS = frozenset({
    "us-east-1", "us-east-2", "us-west-1", "us-west-2", "af-south-1", "ap-east-1", "ap-south-1",
    "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3",
    "ca-central-1", "eu-central-1", "eu-west-1", "eu-west-2", "eu-west-3", "eu-south-1", "eu-north-1",
    "me-south-1", "sa-east-1"})

# AWS managed rule groups (https://docs.aws.amazon.com/waf/latest/developerguide/aws-managed-rule-groups-list.html):
# the baseline set, known bad inputs (Log4j, exploit paths) and Amazon's IP reputation list.
MANAGED_RULE_GROUPS = ("AWSManagedRulesAmazonIpReputationList", "AWSManagedRulesCommonRuleSet",
                       "AWSManagedRulesKnownBadInputsRuleSet")
# The common rule set's SizeRestrictions_BODY blocks request bodies over 8 KB ("Core rule set
# (CRS) managed rule group", https://docs.aws.amazon.com/waf/latest/developerguide/aws-managed-rule-groups-baseline.html);
# inference requests routinely carry larger payloads, so that one rule only counts.
COUNT_ONLY = {"AWSManagedRulesCommonRuleSet": ("SizeRestrictions_BODY",)}
# Rate-based rules count requests per client IP over an evaluation window of 60, 120, 300 or
# 600 seconds ("Rate-based rule statement settings",
# https://docs.aws.amazon.com/waf/latest/developerguide/waf-rule-statement-type-rate-based-high-level-settings.html).
# One minute makes the limit exactly serving.rate_limit_per_minute.
RATE_WINDOW_S = 60


@dataclass
class Tls:
    certificate_arn: Any  # Output[str] of an issued certificate (waits for validation)
    dns_records: Optional[Any]  # Output[list[dict]]: records the user must create; None when the zone is managed


def _visibility(metric: str) -> dict:
    return {"cloudwatch_metrics_enabled": True, "metric_name": metric, "sampled_requests_enabled": True}


def certificate(ctx: BuildContext, parent: pulumi.Resource, alb: aws.lb.LoadBalancer) -> Tls:
    sv = ctx.spec.service.serving
    p = ctx.prefix
    opts = pulumi.ResourceOptions(parent=parent)
    if sv.certificate:
        # A certificate the user manages: only the domain's record is left to create.
        records = None if sv.dns_zone else alb.dns_name.apply(lambda dns: [_domain_record(sv.domain, dns)])
        if sv.dns_zone:
            _alias(ctx, parent, alb)
        return Tls(certificate_arn=sv.certificate, dns_records=records)
    cert = aws.acm.Certificate(f"{p}-cert", domain_name=sv.domain, validation_method="DNS", tags=ctx.tags, opts=opts)
    option = cert.domain_validation_options.apply(lambda options: _record(options[0]))
    if sv.dns_zone:
        zone = _zone(ctx, parent)
        record = aws.route53.Record(
            f"{p}-cert-validation", zone_id=zone.zone_id, name=option["name"],
            type=option["type"], records=[option["value"]], ttl=300,
            allow_overwrite=True, opts=opts)
        validation = aws.acm.CertificateValidation(
            f"{p}-cert-validation", certificate_arn=cert.arn, validation_record_fqdns=[record.fqdn],
            opts=pulumi.ResourceOptions(parent=cert))
        _alias(ctx, parent, alb)
        return Tls(certificate_arn=validation.certificate_arn, dns_records=None)
    records = pulumi.Output.all(option, alb.dns_name).apply(lambda a: [
        {"purpose": "certificate validation (keep it: ACM renews with it)", **a[0]},
        _domain_record(sv.domain, a[1])])
    if not pulumi.runtime.is_dry_run():
        # During `up` the stack outputs come only at the end, after the validation this waits on:
        # say what to create while it waits.
        records.apply(lambda rs: pulumi.log.info(
            f"{p}: create these DNS records for {sv.domain}; the HTTPS listener waits for the certificate: "
            + "; ".join(f"{r['type']} {r['name']} -> {r['value']}" for r in rs), resource=cert))
    # Without validation_record_fqdns it only waits for ACM to see the user's record (up to its timeout).
    validation = aws.acm.CertificateValidation(f"{p}-cert-validation", certificate_arn=cert.arn,
                                               opts=pulumi.ResourceOptions(parent=cert))
    return Tls(certificate_arn=validation.certificate_arn, dns_records=records)


def _record(option: Any) -> dict:
    """name / type / value of an ACM domain validation option (typed object, or a dict under mocks)."""
    def field(snake: str, camel: str):
        if hasattr(option, snake):
            return getattr(option, snake)
        return option.get(snake, option.get(camel))
    return {"name": field("resource_record_name", "resourceRecordName"),
            "type": field("resource_record_type", "resourceRecordType"),
            "value": field("resource_record_value", "resourceRecordValue")}


def _domain_record(domain: str, alb_dns: str) -> dict:
    return {"purpose": "the endpoint (at a zone apex use an ALIAS/ANAME record instead of CNAME)", "name": domain,
            "type": "CNAME", "value": alb_dns}


def _zone(ctx: BuildContext, parent: pulumi.Resource):
    if "aws:zone" not in ctx.shared:
        ctx.shared["aws:zone"] = aws.route53.get_zone_output(name=ctx.spec.service.serving.dns_zone, private_zone=False,
                                                             opts=pulumi.InvokeOutputOptions(parent=parent))
    return ctx.shared["aws:zone"]


def _alias(ctx: BuildContext, parent: pulumi.Resource, alb: aws.lb.LoadBalancer) -> aws.route53.Record:
    """An alias A record: answers with the ALB's current addresses, free of query charges
    ("Choosing between alias and non-alias records",
    https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/resource-record-sets-choosing-alias-non-alias.html)."""
    zone = _zone(ctx, parent)
    return aws.route53.Record(
        f"{ctx.prefix}-domain", zone_id=zone.zone_id, name=ctx.spec.service.serving.domain, type="A",
        aliases=[{"name": alb.dns_name, "zone_id": alb.zone_id, "evaluate_target_health": True}],
        opts=pulumi.ResourceOptions(parent=parent))


def firewall(ctx: BuildContext, parent: pulumi.Resource, alb: aws.lb.LoadBalancer) -> aws.wafv2.WebAcl:
    sv = ctx.spec.service.serving
    p = ctx.prefix
    rules = [{
        "name": "rate-limit-per-ip", "priority": 0, "action": {"block": {}},
        "statement": {"rate_based_statement": {"limit": sv.rate_limit_per_minute, "aggregate_key_type": "IP",
                                               "evaluation_window_sec": RATE_WINDOW_S}},
        "visibility_config": _visibility(f"{p}-rate-limit"),
    }]
    for i, group in enumerate(MANAGED_RULE_GROUPS, start=1):
        statement: dict = {"name": group, "vendor_name": "AWS"}
        if group in COUNT_ONLY:
            statement["rule_action_overrides"] = [{"name": rule, "action_to_use": {"count": {}}}
                                                  for rule in COUNT_ONLY[group]]
        rules.append({"name": group, "priority": i, "override_action": {"none": {}},
                      "statement": {"managed_rule_group_statement": statement},
                      "visibility_config": _visibility(f"{p}-{group}")})
    acl = aws.wafv2.WebAcl(f"{p}-waf", name=f"{p}-waf", description=f"mlinfra {p}: managed rules and per-IP rate limit",
                           scope="REGIONAL", default_action={"allow": {}}, rules=rules,
                           visibility_config=_visibility(f"{p}-waf"), tags=ctx.tags,
                           opts=pulumi.ResourceOptions(parent=parent))
    aws.wafv2.WebAclAssociation(f"{p}-waf-alb", resource_arn=alb.arn, web_acl_arn=acl.arn,
                                opts=pulumi.ResourceOptions(parent=acl))
    return acl


def access_log_bucket(provider, ctx: BuildContext, parent: pulumi.Resource, account: pulumi.Output[str]):
    """(bucket, policy): SSE-S3, versioned, log objects (and old versions) expiring after
    serving.access_log_days, writable by ELB log delivery under alb/AWSLogs/<account>/ only."""
    days = ctx.spec.service.serving.access_log_days
    rules = [{"id": "expire-access-logs", "status": "Enabled", "filter": {"prefix": f"{LOG_PREFIX}/"},
              "expiration": {"days": days}, "noncurrent_version_expiration": {"noncurrent_days": 1},
              "abort_incomplete_multipart_upload": {"days_after_initiation": 7}}]

    legacy = None
    if ctx.spec.region in LEGACY_ELB_ACCOUNT_REGIONS:
        legacy = aws.elb.get_service_account_output(region=ctx.spec.region,
                                                    opts=pulumi.InvokeOutputOptions(parent=parent)).arn

    def delivery(arn: str):
        def statements(a):
            acct, legacy_arn = a
            resource = f"{arn}/{LOG_PREFIX}/AWSLogs/{acct}/*"
            out = [{"Sid": "ElbLogDelivery", "Effect": "Allow", "Principal": {"Service": ELB_LOG_DELIVERY},
                    "Action": "s3:PutObject", "Resource": resource}]
            if legacy_arn:
                out.append({"Sid": "ElbLogDeliveryLegacyAccount", "Effect": "Allow", "Principal": {"AWS": legacy_arn},
                            "Action": "s3:PutObject", "Resource": resource})
            return out
        return pulumi.Output.all(account, legacy).apply(statements)

    return private_bucket(ctx, parent, f"{ctx.prefix}-logs", provider.bucket_name(ctx, "logs"),
                          force_destroy=True, sse_algorithm="AES256", rules=rules, extra_statements=delivery)
