"""Secure ingress on GCP (issue 18): HTTPS with a managed certificate, TLS 1.2, port 80 only
redirects, Cloud Armor, DNS records; Cloud Run keeps its own HTTPS; internal stays internal."""
from __future__ import annotations

import pytest

from components.errors import ConfigError
from tests.helpers import inputs, one

from .util import IMAGE, VM, named, plan_gcp

RULE = "gcp:compute/globalForwardingRule:GlobalForwardingRule"
ARMOR = "gcp:compute/securityPolicy:SecurityPolicy"
BACKEND = "gcp:compute/backendService:BackendService"
RUN = "gcp:cloudrunv2/service:Service"
DOMAIN = "api.example.com"


def vm_plan(**serving):
    return plan_gcp({**VM, "serving": {**VM["serving"], "domain": DOMAIN, **serving}}, env="prod")


@pytest.fixture(scope="module")
def https_vm():
    return vm_plan(firewall=True, rate_limit_per_minute=300)


def test_https_with_managed_certificate_and_tls12(https_vm):
    https = named(https_vm, "digits-prod-https-rule").inputs
    assert https["portRange"] == "443" and https["target"].endswith("/targetHttpsProxies/digits-prod-https-proxy")
    proxy = inputs(https_vm, "gcp:compute/targetHttpsProxy:TargetHttpsProxy")
    cert = inputs(https_vm, "gcp:compute/managedSslCertificate:ManagedSslCertificate")
    assert cert["type"] == "MANAGED" and cert["managed"] == {"domains": [DOMAIN]}
    assert proxy["sslCertificates"] == [f"projects/mlinfra-mock-project/global/sslCertificates/{cert['name']}"]
    # Without an SSL policy the proxy negotiates down to TLS 1.0 (gcloud compute ssl-policies create:
    # --min-tls-version default "1.0"); the policy on the proxy sets the floor.
    policy = inputs(https_vm, "gcp:compute/sSLPolicy:SSLPolicy")
    assert policy["minTlsVersion"] == "TLS_1_2" and policy["profile"] == "MODERN"
    assert proxy["sslPolicy"].endswith(f"/sslPolicies/{policy['name']}")
    assert https_vm.outputs["endpoint"] == f"https://{DOMAIN}"


def test_port_80_only_redirects(https_vm):
    http = named(https_vm, "digits-prod-http-rule").inputs
    assert http["portRange"] == "80"
    redirect = named(https_vm, "digits-prod-http-redirect").inputs
    assert redirect["defaultUrlRedirect"]["httpsRedirect"] is True
    assert "defaultService" not in redirect  # nothing is served on plain HTTP
    proxy = named(https_vm, "digits-prod-http-proxy").inputs
    assert proxy["urlMap"].endswith("/urlMaps/digits-prod-http-redirect")


def test_cloud_armor_waf_and_per_ip_rate_limit(https_vm):
    rules = sorted(inputs(https_vm, ARMOR)["rules"], key=lambda r: r["priority"])
    # Preconfigured WAF rules are CEL calls to evaluatePreconfiguredWaf (https://cloud.google.com/armor/docs/waf-rules).
    waf = [r for r in rules if "evaluatePreconfiguredWaf('sqli-v33-stable'" in r["match"].get("expr", {}).get("expression", "")]
    assert waf and waf[0]["action"] == "deny(403)"
    assert any("xss-v33-stable" in r["match"].get("expr", {}).get("expression", "") for r in rules)
    # Throttle per client IP, answered 429 (https://cloud.google.com/armor/docs/rate-limiting-overview).
    (throttle,) = [r for r in rules if r["action"] == "throttle"]
    assert throttle["rateLimitOptions"] == {"conformAction": "allow", "exceedAction": "deny(429)", "enforceOnKey": "IP",
                                            "rateLimitThreshold": {"count": 300, "intervalSec": 60}}
    assert throttle["priority"] < waf[0]["priority"]
    # The default rule (priority 2147483647, matching everything) is always the last.
    assert rules[-1]["priority"] == 2147483647 and rules[-1]["match"]["config"]["srcIpRanges"] == ["*"]
    assert inputs(https_vm, BACKEND)["securityPolicy"].endswith("/securityPolicies/digits-prod-armor")


def test_dns_records_listed_when_the_zone_is_not_managed(https_vm):
    # A Google-managed certificate is provisioned only once the domain resolves to the load balancer
    # (https://cloud.google.com/load-balancing/docs/ssl-certificates/google-managed-certs).
    address = inputs(https_vm, "gcp:compute/globalAddress:GlobalAddress")
    (record,) = https_vm.outputs["dns_records"]
    assert record["type"] == "A" and record["name"] == DOMAIN
    assert record["value"] != "" and not https_vm.of_type("gcp:dns/recordSet:RecordSet")
    assert address["ipVersion"] == "IPV4"


def test_dns_records_written_into_the_managed_zone():
    plan = vm_plan(dns_zone="example-com")
    rs = inputs(plan, "gcp:dns/recordSet:RecordSet")
    assert rs["managedZone"] == "example-com" and rs["name"] == f"{DOMAIN}." and rs["type"] == "A"
    assert len(rs["rrdatas"]) == 1
    assert "dns_records" not in plan.outputs


def test_serverless_keeps_platform_https_without_a_domain():
    plan = plan_gcp({"serving": {"image": IMAGE}})
    assert plan.outputs["endpoint"].startswith("https://") and plan.outputs["endpoint"].endswith(".run.app")
    assert inputs(plan, RUN)["ingress"] == "INGRESS_TRAFFIC_ALL"
    assert not plan.of_type(RULE)


def test_serverless_domain_is_reached_only_through_the_load_balancer():
    # INTERNAL_LOAD_BALANCER: the run.app URL refuses outside traffic, so Cloud Armor cannot be bypassed
    # (https://cloud.google.com/run/docs/securing/ingress).
    plan = plan_gcp({"serving": {"image": IMAGE, "domain": DOMAIN, "firewall": True}})
    assert inputs(plan, RUN)["ingress"] == "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER"
    assert inputs(plan, BACKEND)["securityPolicy"].endswith("/securityPolicies/digits-dev-armor")
    assert plan.outputs["endpoint"] == f"https://{DOMAIN}"


def test_internal_ingress_stays_internal():
    plan = plan_gcp({"serving": {"image": IMAGE, "ingress": "internal", "min_instances": 1}})
    assert inputs(plan, RUN)["ingress"] == "INGRESS_TRAFFIC_INTERNAL_ONLY"
    assert not plan.of_type(RULE) and not plan.of_type(ARMOR)


def test_no_firewall_unless_asked():
    plan = vm_plan()
    assert not plan.of_type(ARMOR) and "securityPolicy" not in inputs(plan, BACKEND)


@pytest.mark.parametrize("service, key", [
    ({"serving": {"image": IMAGE, "firewall": True}}, r"mlinfra:service\.serving\.firewall"),
    ({**VM, "serving": {**VM["serving"], "firewall": True, "rate_limit_per_minute": 2_000_000}},
     r"mlinfra:service\.serving\.rate_limit_per_minute"),
])
def test_refusals_name_the_key(service, key):
    with pytest.raises(ConfigError, match=key):
        plan_gcp(service)


def test_every_planned_type_has_an_api():
    from components.providers.gcp.apis import api_for_type

    plan = vm_plan(firewall=True, dns_zone="example-com", secrets={"TOKEN": "token"})
    missing = {r.type for r in plan.resources if r.custom and r.type.startswith("gcp:") and api_for_type(r.type) is None}
    assert missing == set()
    assert one(plan, "gcp:dns/recordSet:RecordSet").dependsOn  # waits for dns.googleapis.com


def test_access_logs_reach_the_bucket_with_a_retention(https_vm):
    # The LB's request log is the `http_load_balancer` resource in Cloud Logging, labelled with its
    # backend_service_name (https://cloud.google.com/logging/docs/api/v2/resource-list); routed to
    # Cloud Storage it lands in hourly objects under the log id, `requests/`.
    sink = inputs(https_vm, "gcp:logging/projectSink:ProjectSink")
    bucket = https_vm.outputs["bucket"]
    assert sink["destination"] == f"storage.googleapis.com/{bucket}"
    assert 'resource.type="http_load_balancer"' in sink["filter"]
    assert 'resource.labels.backend_service_name="digits-prod-backend"' in sink["filter"]
    assert sink["uniqueWriterIdentity"] is True
    (grant,) = [g.inputs for g in https_vm.of_type("gcp:storage/bucketIAMMember:BucketIAMMember")
                if g.inputs["member"].endswith("@gcp-sa-logging.iam.gserviceaccount.com")]
    assert grant["role"] == "roles/storage.objectCreator"
    assert "objects/requests/" in grant["condition"]["expression"]
    rules = inputs(https_vm, "gcp:storage/bucket:Bucket")["lifecycleRules"]
    assert {"action": {"type": "Delete"}, "condition": {"age": 30, "matchesPrefixes": ["requests/"]}} in rules


def test_no_access_log_sink_without_a_load_balancer():
    plan = plan_gcp({"serving": {"image": IMAGE}})
    assert not plan.of_type("gcp:logging/projectSink:ProjectSink")
