"""Alerts (Cloud Monitoring) and the billing budget: the inputs GCP receives."""
from __future__ import annotations

import pytest

from tests.helpers import inputs

from .util import BILLING, IMAGE, VM, named, plan_gcp, plan_gcp_config

CHANNEL = "gcp:monitoring/notificationChannel:NotificationChannel"
POLICY = "gcp:monitoring/alertPolicy:AlertPolicy"
UPTIME = "gcp:monitoring/uptimeCheckConfig:UptimeCheckConfig"
ALERTS = {"emails": ["ops@example.com", "ml@example.com"], "error_rate_percent": 2.5, "p99_latency_ms": 750,
          "training_max_hours": 12}


def condition(plan, role: str) -> dict:
    (cond,) = named(plan, f"digits-dev-alert-{role}").inputs["conditions"]
    return cond


@pytest.fixture(scope="module")
def serverless():
    return plan_gcp({"serving": {"image": IMAGE}, "alerts": ALERTS,
                     "budget": {"monthly_usd": 1234.5, "gcp_billing_account": BILLING}})


@pytest.fixture(scope="module")
def vm():
    return plan_gcp({**VM, "alerts": ALERTS, "training": {"enabled": True}})


def test_one_email_channel_per_address(serverless):
    channels = sorted((c.inputs["type"], c.inputs["labels"]["email_address"]) for c in serverless.of_type(CHANNEL))
    assert channels == [("email", "ml@example.com"), ("email", "ops@example.com")]


def test_policies_notify_every_channel(serverless):
    policies = serverless.of_type(POLICY)
    assert {p.name for p in policies} == {"digits-dev-alert-5xx", "digits-dev-alert-latency", "digits-dev-alert-health"}
    for p in policies:
        assert len(p.inputs["notificationChannels"]) == 2
        assert all(c.startswith("projects/mlinfra-mock-project/notificationChannels/")
                   for c in p.inputs["notificationChannels"])
        assert p.inputs["userLabels"]["managed-by"] == "mlinfra"


def test_cloud_run_5xx_ratio(serverless):
    t = condition(serverless, "5xx")["conditionThreshold"]
    assert 'metric.type="run.googleapis.com/request_count"' in t["filter"]
    assert 'resource.label.service_name="digits-dev-serve"' in t["filter"]
    assert 'metric.label.response_code_class="5xx"' in t["filter"]
    assert "response_code_class" not in t["denominatorFilter"]
    assert t["thresholdValue"] == 0.025 and t["comparison"] == "COMPARISON_GT"


def test_cloud_run_p99_latency(serverless):
    t = condition(serverless, "latency")["conditionThreshold"]
    assert 'metric.type="run.googleapis.com/request_latencies"' in t["filter"]
    assert t["aggregations"][0]["perSeriesAligner"] == "ALIGN_PERCENTILE_99"
    assert t["thresholdValue"] == 750


def test_health_is_an_uptime_check_on_the_endpoint(serverless):
    check = inputs(serverless, UPTIME)
    host = serverless.outputs["endpoint"].removeprefix("https://")
    assert check["monitoredResource"] == {"type": "uptime_url",
                                          "labels": {"host": host, "project_id": "mlinfra-mock-project"}}
    assert check["httpCheck"]["path"] == "/v2/health/ready" and check["httpCheck"]["useSsl"] is True
    t = condition(serverless, "health")["conditionThreshold"]
    assert "uptime_check/check_passed" in t["filter"]
    assert serverless.of_type(POLICY) and "training-hours" not in {p.name for p in serverless.of_type(POLICY)}


def test_internal_service_alerts_on_running_instances():
    plan = plan_gcp({"serving": {"image": IMAGE, "ingress": "internal", "min_instances": 2}, "alerts": ALERTS})
    assert plan.of_type(UPTIME) == []  # Google's checkers cannot reach an internal service
    absent = condition(plan, "health")["conditionAbsent"]
    assert 'metric.type="run.googleapis.com/container/instance_count"' in absent["filter"]


def test_vm_mode_reads_the_load_balancer(vm):
    errors = condition(vm, "5xx")["conditionThreshold"]
    assert 'resource.type="https_lb_rule"' in errors["filter"]
    # https_lb_rule labels its backend service `backend_target_name` ("The name of the backend target
    # or service"); it has no `backend_service_name`, and a filter on an absent label never matches
    # (https://cloud.google.com/monitoring/api/resources#tag_https_lb_rule).
    assert 'resource.label.backend_target_name="digits-dev-backend"' in errors["filter"]
    assert "backend_service_name" not in errors["filter"] + errors["denominatorFilter"]
    assert "response_code_class=500" in errors["filter"]
    latency = condition(vm, "latency")["conditionThreshold"]
    assert "loadbalancing.googleapis.com/https/total_latencies" in latency["filter"]
    check = inputs(vm, UPTIME)
    assert check["httpCheck"]["port"] == 80 and check["httpCheck"]["useSsl"] is False
    assert check["monitoredResource"]["labels"]["host"] == vm.outputs["endpoint"].removeprefix("http://")


def test_training_machine_running_too_long(vm):
    t = condition(vm, "training-hours")["conditionThreshold"]
    assert 'metric.type="compute.googleapis.com/instance/uptime_total"' in t["filter"]
    assert 'metadata.user_labels."mlinfra-role"="training"' in t["filter"]
    assert t["thresholdValue"] == 12 * 3600


def test_alerts_disabled_creates_nothing():
    plan = plan_gcp({"serving": {"image": IMAGE}, "alerts": {"enabled": False}})
    assert not [r for r in plan.resources if r.type.startswith("gcp:monitoring/")]


def test_budget_amount_thresholds_and_scope(serverless):
    b = inputs(serverless, "gcp:billing/budget:Budget")
    assert b["billingAccount"] == BILLING
    assert b["amount"] == {"specifiedAmount": {"currencyCode": "USD", "units": "1234", "nanos": 500000000}}
    assert [r["thresholdPercent"] for r in b["thresholdRules"]] == [0.5, 0.9, 1]
    assert b["budgetFilter"]["projects"] == ["projects/123456789012"]
    # Project-scoped: a label filter counts "usage from only this set of labeled resources" and drops
    # unlabelled usage (Budget API Filter reference,
    # https://cloud.google.com/billing/docs/reference/budget/rest/v1/billingAccounts.budgets#filter).
    assert "labels" not in b["budgetFilter"]
    channels = sorted(c.inputs["labels"]["email_address"] for c in serverless.of_type(CHANNEL))
    assert len(b["allUpdatesRule"]["monitoringNotificationChannels"]) == len(channels) == 2


def test_no_budget_by_default():
    plan = plan_gcp({"serving": {"image": IMAGE}, "alerts": {"enabled": False}})
    assert plan.of_type("gcp:billing/budget:Budget") == []


def test_preview_budget_narrows_to_its_label():
    # A preview shares its base environment's project, so only its labelled usage is its own.
    plan = plan_gcp({"serving": {"image": IMAGE}, "alerts": {"enabled": False},
                     "budget": {"monthly_usd": 50, "gcp_billing_account": BILLING}},
                    env="pr-7", preview={"source": "pr-7", "expires_at": "2026-11-25T10:00:00Z"})
    assert inputs(plan, "gcp:billing/budget:Budget")["budgetFilter"]["labels"] == {"environment": "pr-7"}


def test_provider_sends_a_quota_project():
    # Budget API calls with user credentials (gcloud ADC) need a quota project: user_project_override
    # bills quota to the resource project and billing_project names it for budgets, which have none
    # (terraform-provider-google provider reference, user_project_override / billing_project).
    plan = plan_gcp_config({"serving": {"image": IMAGE}}, {"gcp:project": "acme-ml"})
    (prov,) = [r for r in plan.resources if r.type == "pulumi:providers:gcp"]
    assert prov.inputs["userProjectOverride"] in (True, "true")
    assert prov.inputs["billingProject"] == prov.inputs["project"] == "acme-ml"


def test_budget_quota_project_is_the_deployment_project(serverless):
    # Without gcp:project the main provider has no billing_project; the budget gets a provider whose
    # quota project is the project the deployment resolved (here the credentials' default).
    (prov,) = [r for r in serverless.resources if r.type == "pulumi:providers:gcp" and r.name == "digits-dev-budget-gcp"]
    assert prov.inputs["billingProject"] == prov.inputs["project"] == "mlinfra-mock-project"
    assert prov.inputs["userProjectOverride"] in (True, "true")
