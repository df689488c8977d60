"""HTTPS ingress on AWS: ACM certificate and DNS records, listeners, WAF, ALB access logs, internal ingress."""
from __future__ import annotations

import pytest

from components.providers.aws.mocks import ACCOUNT, _hex
from tests.helpers import inputs, one

from .util import by_sid, named, plan_aws

DOMAIN = "api.example.com"


def listeners(plan) -> dict[int, dict]:
    return {r.inputs["port"]: r.inputs for r in plan.of_type("aws:lb/listener:Listener")}


@pytest.fixture(scope="module")
def unmanaged():
    return plan_aws({"serving": {"min_instances": 1, "domain": DOMAIN, "firewall": True,
                                 "rate_limit_per_minute": 300, "access_log_days": 14}})


@pytest.fixture(scope="module")
def managed():
    return plan_aws({"serving": {"min_instances": 1, "domain": DOMAIN, "dns_zone": "example.com"}})


def test_the_program_requests_an_acm_certificate_validated_by_dns(unmanaged):
    # ACM DNS validation: ACM renews the certificate as long as the CNAME stays in place
    # (https://docs.aws.amazon.com/acm/latest/userguide/dns-validation.html).
    cert = inputs(unmanaged, "aws:acm/certificate:Certificate")
    assert (cert["domainName"], cert["validationMethod"]) == (DOMAIN, "DNS")
    validation = inputs(unmanaged, "aws:acm/certificateValidation:CertificateValidation")
    cert_arn = validation["certificateArn"]
    assert cert_arn.startswith(f"arn:aws:acm:eu-west-1:{ACCOUNT}:certificate/")
    # The listener waits for the validated certificate: ELB accepts only issued certificates.
    assert listeners(unmanaged)[443]["certificateArn"] == cert_arn


def test_https_with_a_tls12_policy_and_port_80_only_redirects(unmanaged):
    # "AWS recommends ... ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09" (TLS 1.2 and 1.3 only)
    # (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/describe-ssl-policies.html).
    ls = listeners(unmanaged)
    assert set(ls) == {80, 443}
    assert ls[443]["protocol"] == "HTTPS" and ls[443]["sslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09"
    assert ls[443]["defaultActions"][0]["type"] == "forward"
    assert ls[80]["defaultActions"] == [{"type": "redirect", "redirect": {
        "port": "443", "protocol": "HTTPS", "statusCode": "HTTP_301"}}]
    assert unmanaged.outputs["endpoint"] == f"https://{DOMAIN}"
    ingress = named(unmanaged, "digits-dev-alb-sg").inputs["ingress"]
    assert sorted((r["fromPort"], tuple(r["cidrBlocks"])) for r in ingress) == [(80, ("0.0.0.0/0",)),
                                                                                  (443, ("0.0.0.0/0",))]


def test_without_a_managed_zone_the_records_to_create_are_an_output(unmanaged):
    cert = one(unmanaged, "aws:acm/certificate:Certificate")
    alb = inputs(unmanaged, "aws:lb/loadBalancer:LoadBalancer")
    records = unmanaged.outputs["dns_records"]
    validation, endpoint = records
    assert (validation["type"], validation["name"]) == ("CNAME", f"_{_hex(DOMAIN, 32)}.{DOMAIN}.")
    assert validation["value"].endswith(".acm-validations.aws.")
    assert (endpoint["name"], endpoint["type"]) == (DOMAIN, "CNAME")
    assert endpoint["value"].startswith("digits-dev-alb-") and endpoint["value"].endswith(".elb.amazonaws.com")
    assert not unmanaged.of_type("aws:route53/record:Record") and cert.inputs["domainName"] == DOMAIN
    assert alb["internal"] is False


def test_with_a_route53_zone_the_program_writes_validation_and_alias_records(managed):
    zone_id = f"Z{_hex('example.com', 13).upper()}"
    records = {r.name: r.inputs for r in managed.of_type("aws:route53/record:Record")}
    check = records["digits-dev-cert-validation"]
    assert (check["zoneId"], check["type"], check["name"]) == (zone_id, "CNAME", f"_{_hex(DOMAIN, 32)}.{DOMAIN}.")
    assert check["records"][0].endswith(".acm-validations.aws.")
    validation = inputs(managed, "aws:acm/certificateValidation:CertificateValidation")
    assert validation["validationRecordFqdns"] == [f"_{_hex(DOMAIN, 32)}.{DOMAIN}"]
    # An alias A record to the ALB: follows its addresses ("Choosing between alias and non-alias records").
    alias = records["digits-dev-domain"]
    assert (alias["zoneId"], alias["name"], alias["type"]) == (zone_id, DOMAIN, "A")
    [target] = alias["aliases"]
    assert target["zoneId"] == "Z32O12XQLNTSW2" and target["evaluateTargetHealth"] is True
    assert target["name"].startswith("digits-dev-alb-")
    assert "dns_records" not in managed.outputs


def test_without_a_domain_the_endpoint_is_plain_http_and_nothing_tls_is_created():
    plan = plan_aws({"serving": {"min_instances": 1}})
    assert set(listeners(plan)) == {80} and listeners(plan)[80]["protocol"] == "HTTP"
    assert not plan.of_type("aws:acm/certificate:Certificate") and not plan.of_type("aws:wafv2/webAcl:WebAcl")
    assert plan.outputs["endpoint"].startswith("http://")


def test_firewall_is_managed_rules_and_a_per_ip_rate_limit_on_the_alb(unmanaged):
    acl = inputs(unmanaged, "aws:wafv2/webAcl:WebAcl")
    assert acl["scope"] == "REGIONAL" and acl["defaultAction"] == {"allow": {}}
    rules = {r["name"]: r for r in acl["rules"]}
    # Rate-based rule: requests per client IP over an evaluation window of 60/120/300/600 s
    # (https://docs.aws.amazon.com/waf/latest/developerguide/waf-rule-statement-type-rate-based-high-level-settings.html):
    # a 60 s window makes the limit the spec's per-minute figure.
    rate = rules["rate-limit-per-ip"]
    assert rate["action"] == {"block": {}} and rate["priority"] == 0
    assert rate["statement"]["rateBasedStatement"] == {"limit": 300, "aggregateKeyType": "IP",
                                                       "evaluationWindowSec": 60}
    groups = {name: r for name, r in rules.items() if name != "rate-limit-per-ip"}
    assert set(groups) == {"AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet",
                           "AWSManagedRulesAmazonIpReputationList"}
    for name, rule in groups.items():
        statement = rule["statement"]["managedRuleGroupStatement"]
        assert (statement["name"], statement["vendorName"]) == (name, "AWS")
        assert rule["overrideAction"] == {"none": {}}
    # CRS SizeRestrictions_BODY blocks bodies over 8 KB (AWS managed rules, baseline groups): inference
    # payloads exceed that, so the rule only counts.
    crs = groups["AWSManagedRulesCommonRuleSet"]["statement"]["managedRuleGroupStatement"]
    assert crs["ruleActionOverrides"] == [{"name": "SizeRestrictions_BODY", "actionToUse": {"count": {}}}]
    assert len({r["priority"] for r in acl["rules"]}) == len(acl["rules"])
    assoc = inputs(unmanaged, "aws:wafv2/webAclAssociation:WebAclAssociation")
    assert assoc["resourceArn"].startswith(f"arn:aws:elasticloadbalancing:eu-west-1:{ACCOUNT}:loadbalancer/app/")
    assert assoc["webAclArn"].startswith(f"arn:aws:wafv2:eu-west-1:{ACCOUNT}:regional/webacl/digits-dev-waf/")


def test_alb_access_logs_go_to_an_sse_s3_bucket_with_the_retention(unmanaged):
    # ALB access logs: "The only server-side encryption option that's supported is Amazon
    # S3-managed keys (SSE-S3)"; the bucket policy lets the ELB log delivery principal write under
    # <prefix>/AWSLogs/<account>/ (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/enable-access-logging.html).
    alb = inputs(unmanaged, "aws:lb/loadBalancer:LoadBalancer")
    logs = named(unmanaged, "digits-dev-logs").inputs
    assert alb["accessLogs"] == {"bucket": logs["bucket"], "prefix": "alb", "enabled": True}
    assert logs["bucket"].startswith("digits-dev-logs-")
    sse = named(unmanaged, "digits-dev-logs-encryption").inputs["rules"][0]
    assert sse["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "AES256"}
    [rule] = named(unmanaged, "digits-dev-logs-lifecycle").inputs["rules"]
    assert rule["filter"] == {"prefix": "alb/"} and rule["expiration"] == {"days": 14}
    arn = f"arn:aws:s3:::{logs['bucket']}"
    write = by_sid(named(unmanaged, "digits-dev-logs-tls-only"))["ElbLogDelivery"]
    assert write["Principal"] == {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"}
    assert write["Action"] == "s3:PutObject" and write["Resource"] == f"{arn}/alb/AWSLogs/{ACCOUNT}/*"
    # eu-west-1 predates August 2022: its regional ELB account (156460612806 in the documented table,
    # as aws.elb.getServiceAccount answers) may deliver too, to the same prefix only.
    legacy = by_sid(named(unmanaged, "digits-dev-logs-tls-only"))["ElbLogDeliveryLegacyAccount"]
    assert legacy["Principal"] == {"AWS": "arn:aws:iam::156460612806:root"} and legacy["Resource"] == write["Resource"]
    assert by_sid(named(unmanaged, "digits-dev-logs-tls-only"))["DenyInsecureTransport"]["Effect"] == "Deny"
    block = named(unmanaged, "digits-dev-logs-public-access").inputs
    assert all(block[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls",
                                          "restrictPublicBuckets"))
    # ELB checks write access when logging is enabled: the policy must exist first.
    assert any(u.endswith("::digits-dev-logs-tls-only") for u in named(unmanaged, "digits-dev-alb").dependsOn)


def test_a_region_opened_after_august_2022_grants_only_the_delivery_principal():
    plan = plan_aws({"serving": {"min_instances": 1}}, regions={"aws": "eu-central-2"})
    sids = by_sid(named(plan, "digits-dev-logs-tls-only"))
    assert "ElbLogDeliveryLegacyAccount" not in sids and "ElbLogDelivery" in sids


def test_internal_ingress_with_a_domain_stays_internal():
    plan = plan_aws({"serving": {"min_instances": 1, "ingress": "internal", "domain": DOMAIN}})
    alb = inputs(plan, "aws:lb/loadBalancer:LoadBalancer")
    assert alb["internal"] is True
    private = {f"subnet-{_hex(f'digits-dev-private-{z}')}" for z in "ab"}
    assert set(alb["subnets"]) == private
    ingress = named(plan, "digits-dev-alb-sg").inputs["ingress"]
    assert {tuple(r["cidrBlocks"]) for r in ingress} == {("10.0.0.0/16",)}


def test_prod_shows_the_https_shape():
    from stacks.offline import plan_environment
    from tests.helpers import PROJECT_DIR

    prod = plan_environment(PROJECT_DIR, "prod", "aws")
    assert prod.outputs["endpoint"] == "https://digits.example.com"
    assert set(listeners(prod)) == {80, 443} and prod.of_type("aws:wafv2/webAcl:WebAcl")
    assert [(r["type"], r["name"].rstrip(".").endswith("digits.example.com")) for r in prod.outputs["dns_records"]] == [
        ("CNAME", True), ("CNAME", True)]
