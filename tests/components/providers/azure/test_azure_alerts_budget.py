"""Alerts (action group + metric alerts) and the consumption budget on Azure."""
from __future__ import annotations

import datetime as dt

import pytest

from components.providers.azure.budget import month_start
from components.providers.azure.monitoring import training_window
from tests.helpers import inputs

from .util import EMAIL, named, plan_azure, rg_id

GROUP_ID = f"{rg_id('prod')}/providers/Microsoft.Insights/actionGroups/digits-prod-alerts"


@pytest.fixture(scope="module")
def always_on_plan():
    return plan_azure({"serving": {"min_instances": 1, "image": "x/y:1"},
                       "alerts": {"emails": [EMAIL, "b@example.org"], "error_rate_percent": 2, "p99_latency_ms": 400},
                       "usage": {"requests_per_month": 2_880_000}, "budget": {"monthly_usd": 50,
                                                                              "alert_thresholds_percent": [80, 120]}})


def criterion(alert: dict) -> dict:
    assert alert["criteria"]["odataType"] == "Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria"
    [crit] = alert["criteria"]["allOf"]
    assert crit["criterionType"] == "StaticThresholdCriterion"
    return crit


def test_action_group_mails_the_spec_addresses(always_on_plan):
    group = inputs(always_on_plan, "azure-native:monitor:ActionGroup")
    assert group["location"] == "Global" and group["enabled"] is True
    assert len(group["groupShortName"]) <= 12
    assert group["emailReceivers"] == [
        {"name": "email-0", "emailAddress": EMAIL, "useCommonAlertSchema": True},
        {"name": "email-1", "emailAddress": "b@example.org", "useCommonAlertSchema": True},
    ]


def test_container_app_alerts(always_on_plan):
    app_id = f"{rg_id()}/providers/Microsoft.App/containerApps/digits-dev"
    group = f"{rg_id()}/providers/Microsoft.Insights/actionGroups/digits-dev-alerts"
    alerts = {r.name: r.inputs for r in always_on_plan.of_type("azure-native:monitor:MetricAlert")}
    assert set(alerts) == {"digits-dev-alert-5xx", "digits-dev-alert-latency", "digits-dev-alert-no-replicas"}
    for alert in alerts.values():
        assert alert["scopes"] == [app_id] and alert["actions"] == [{"actionGroupId": group}]
        assert alert["location"] == "global" and alert["enabled"] is True
    errors = alerts["digits-dev-alert-5xx"]
    crit = criterion(errors)
    assert (crit["metricName"], crit["metricNamespace"], crit["timeAggregation"]) == (
        "Requests", "Microsoft.App/containerApps", "Total")
    assert crit["dimensions"] == [{"name": "statusCodeCategory", "operator": "Include", "values": ["5xx"]}]
    # 2,880,000 requests a month = 1,000 per 15 min; 2 % of them.
    assert errors["windowSize"] == "PT15M" and (crit["operator"], crit["threshold"]) == ("GreaterThan", 20)
    latency = criterion(alerts["digits-dev-alert-latency"])
    assert (latency["metricName"], latency["operator"], latency["threshold"], latency["timeAggregation"]) == (
        "ResponseTime", "GreaterThan", 400, "Average")
    replicas = criterion(alerts["digits-dev-alert-no-replicas"])
    assert (replicas["metricName"], replicas["operator"], replicas["threshold"]) == ("Replicas", "LessThan", 1)


def test_scale_to_zero_has_no_replica_alert(dev_plan):
    names = {r.name for r in dev_plan.of_type("azure-native:monitor:MetricAlert")}
    assert names == {"digits-dev-alert-5xx", "digits-dev-alert-latency"}


def test_vm_and_training_alerts(prod_plan):
    alerts = {r.name: r.inputs for r in prod_plan.of_type("azure-native:monitor:MetricAlert")}
    assert set(alerts) == {"digits-prod-alert-no-healthy", "digits-prod-alert-training-hours"}
    healthy = alerts["digits-prod-alert-no-healthy"]
    assert healthy["scopes"] == [f"{rg_id('prod')}/providers/Microsoft.Network/loadBalancers/digits-prod-lb"]
    crit = criterion(healthy)
    assert (crit["metricName"], crit["operator"], crit["threshold"]) == ("DipAvailability", "LessThan", 1)
    hours = alerts["digits-prod-alert-training-hours"]
    assert hours["scopes"] == [
        f"{rg_id('prod')}/providers/Microsoft.Compute/virtualMachineScaleSets/digits-prod-gpu"]
    crit = criterion(hours)
    # "Percentage CPU" aggregations: Average, Minimum, Maximum ("Supported metrics -
    # Microsoft.Compute/virtualMachineScaleSets"); Count is not one of them, so ARM would refuse it.
    assert crit["timeAggregation"] in ("Average", "Minimum", "Maximum")
    assert hours["windowSize"] == "P1D" and hours["evaluationFrequency"] == "PT1H"
    assert (crit["metricName"], crit["operator"], crit["threshold"]) == ("Percentage CPU", "GreaterThanOrEqual", 0)
    for alert in alerts.values():
        assert alert["actions"] == [{"actionGroupId": GROUP_ID}]


# Metric alert window sizes Azure accepts: PT1M, PT5M, PT15M, PT30M, PT1H, PT6H, PT12H, P1D
# ("Create or update metric alert rules", windowSize); the shortest one covering the hours, a day at most.
@pytest.mark.parametrize("hours, window", [(1, "PT1H"), (5, "PT6H"), (8, "PT12H"), (24, "P1D"), (72, "P1D")])
def test_training_window_fits_azure_limits(hours, window):
    assert training_window(hours) == window


def test_prod_budget(prod_plan):
    budget = inputs(prod_plan, "azure-native:consumption:Budget")
    assert budget["scope"] == rg_id("prod") and budget["budgetName"] == "digits-prod-budget"
    assert (budget["category"], budget["timeGrain"], budget["amount"]) == ("Cost", "Monthly", 2000)
    assert budget["timePeriod"] == {"startDate": month_start()}
    # The scope is the environment's own resource group: a tag filter could only drop costs of that group
    # (Budgets API "filter" narrows the scope), so there is none.
    assert "filter" not in budget
    notes = budget["notifications"]
    assert set(notes) == {"actual-50-percent", "actual-90-percent", "actual-100-percent"}
    for percent in (50, 90, 100):
        note = notes[f"actual-{percent}-percent"]
        assert note == {"enabled": True, "operator": "GreaterThanOrEqualTo", "threshold": percent,
                        "thresholdType": "Actual", "contactEmails": [EMAIL], "contactGroups": [GROUP_ID]}


def test_budget_thresholds_follow_the_spec(always_on_plan):
    notes = inputs(always_on_plan, "azure-native:consumption:Budget")["notifications"]
    assert {k: v["threshold"] for k, v in notes.items()} == {"actual-80-percent": 80, "actual-120-percent": 120}


def test_budget_without_alerts_notifies_the_owners(misc_plan):
    plan = misc_plan
    assert not plan.of_type("azure-native:monitor:ActionGroup")
    note = inputs(plan, "azure-native:consumption:Budget")["notifications"]["actual-100-percent"]
    assert note["contactRoles"] == ["Owner"] and note["contactGroups"] == [] and note["contactEmails"] == []


def test_month_start_rule():
    assert month_start(dt.date(2026, 11, 22)) == "2026-11-01T00:00:00Z"
    assert month_start(dt.date(2027, 1, 1)) == "2027-01-01T00:00:00Z"


def test_no_budget_by_default(dev_plan):
    assert not dev_plan.of_type("azure-native:consumption:Budget")
    assert named(dev_plan, "digits-dev-action-group").type == "azure-native:monitor:ActionGroup"
