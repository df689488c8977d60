"""Alerts: an action group e-mailing the spec's addresses, and metric alerts on serving and training.

Azure platform metrics offer Average / Minimum / Maximum / Total / Count, never percentiles, and a
metric alert compares one metric with a threshold (no ratio of two metrics). So:
- 5xx rate: a count of 5xx responses per window above error_rate_percent of the requests the usage
  spec expects in that window (usage.requests_per_month spread evenly);
- p99 latency: the window's Average response time above p99_latency_ms (fires later than a true p99);
- VM serving sits behind a layer-4 load balancer that sees no HTTP status or latency: there, only
  "no healthy instances" (health probe status) is watched.
"""
from __future__ import annotations

import math
import re

import pulumi
import pulumi_azure_native as azure_native

from components.providers.base import BuildContext, MonitoringOutputs

CONTAINER_APPS = "Microsoft.App/containerApps"
LOAD_BALANCERS = "Microsoft.Network/loadBalancers"
SCALE_SETS = "Microsoft.Compute/virtualMachineScaleSets"
ERROR_WINDOW = "PT15M"
ERROR_WINDOW_MINUTES = 15
# Metric alert windows Azure accepts; one day is the longest.
WINDOW_HOURS = {1: "PT1H", 6: "PT6H", 12: "PT12H", 24: "P1D"}


def error_threshold(ctx: BuildContext) -> int:
    svc = ctx.spec.service
    per_window = svc.usage.requests_per_month / (30 * 24 * 60 / ERROR_WINDOW_MINUTES)
    return max(1, math.ceil(per_window * svc.alerts.error_rate_percent / 100))


def training_window(max_hours: int) -> str:
    """The alert window for `alerts.training_max_hours`: the shortest allowed window that covers it (1 day at most)."""
    hours = min(max_hours, 24)
    return next(WINDOW_HOURS[h] for h in sorted(WINDOW_HOURS) if h >= hours)


def _criterion(name: str, metric: str, namespace: str, operator: str, threshold: float, aggregation: str,
               dimensions: list | None = None) -> azure_native.monitor.MetricCriteriaArgs:
    # Typed args: `criteria` is a union, so plain dicts would reach the engine untranslated (snake_case).
    return azure_native.monitor.MetricCriteriaArgs(
        criterion_type="StaticThresholdCriterion", name=name, metric_name=metric, metric_namespace=namespace,
        operator=operator, threshold=threshold, time_aggregation=aggregation, dimensions=dimensions or None)


def _alert(ctx: BuildContext, parent, role: str, description: str, scope, criterion, *, window: str = "PT5M",
           frequency: str = "PT1M", severity: int = 2, action_group=None):
    return azure_native.monitor.MetricAlert(
        f"{ctx.prefix}-{role}", rule_name=f"{ctx.prefix}-{role}", resource_group_name=ctx.base.name,
        location="global", description=description, enabled=True, auto_mitigate=True, severity=severity,
        scopes=[scope], window_size=window, evaluation_frequency=frequency,
        criteria=azure_native.monitor.MetricAlertSingleResourceMultipleMetricCriteriaArgs(
            odata_type="Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria", all_of=[criterion]),
        actions=[{"action_group_id": action_group.id}], tags=ctx.tags, opts=pulumi.ResourceOptions(parent=parent))


def short_name(ctx: BuildContext) -> str:
    # Action group short name (shown in SMS / e-mail subjects): at most 12 characters.
    return re.sub(r"[^A-Za-z0-9-]", "", ctx.prefix)[:12].rstrip("-")


def build_monitoring(provider, parent: pulumi.Resource, ctx: BuildContext) -> MonitoringOutputs:
    p = ctx.prefix
    svc = ctx.spec.service
    group = azure_native.monitor.ActionGroup(
        f"{p}-action-group", action_group_name=f"{p}-alerts", resource_group_name=ctx.base.name, location="Global",
        group_short_name=short_name(ctx), enabled=True,
        email_receivers=[{"name": f"email-{i}", "email_address": email, "use_common_alert_schema": True}
                         for i, email in enumerate(svc.alerts.emails)],
        tags=ctx.tags, opts=pulumi.ResourceOptions(parent=parent))
    alerts = svc.alerts

    app = ctx.shared.get("azure_container_app")
    if app is not None:
        _alert(ctx, parent, "alert-5xx",
               f"more than {error_threshold(ctx)} 5xx responses in {ERROR_WINDOW_MINUTES} min "
               f"(~{alerts.error_rate_percent:g} % of the expected requests)", app.id,
               _criterion("http-5xx", "Requests", CONTAINER_APPS, "GreaterThan", error_threshold(ctx), "Total",
                          [{"name": "statusCodeCategory", "operator": "Include", "values": ["5xx"]}]),
               window=ERROR_WINDOW, frequency="PT5M", severity=1, action_group=group)
        _alert(ctx, parent, "alert-latency", f"average response time above {alerts.p99_latency_ms} ms (p99 target)",
               app.id, _criterion("latency", "ResponseTime", CONTAINER_APPS, "GreaterThan", alerts.p99_latency_ms,
                                  "Average"), severity=2, action_group=group)
        if svc.serving.min_instances >= 1:
            # With min_instances 0, no replica is the normal idle state, not an outage.
            _alert(ctx, parent, "alert-no-replicas", "no running replica", app.id,
                   _criterion("replicas", "Replicas", CONTAINER_APPS, "LessThan", 1, "Maximum"),
                   severity=1, action_group=group)
    lb = ctx.shared.get("azure_serving_lb")
    if lb is not None:
        # Health probe status: percentage of healthy backends; an average below 1 % means none is.
        _alert(ctx, parent, "alert-no-healthy", "no instance passes the health probe", lb.id,
               _criterion("healthy-backends", "DipAvailability", LOAD_BALANCERS, "LessThan", 1, "Average"),
               severity=1, action_group=group)
    training = ctx.shared.get("azure_training_vmss")
    if training is not None:
        # "Percentage CPU" supports Average, Minimum and Maximum only ("Supported metrics -
        # Microsoft.Compute/virtualMachineScaleSets"); a Count aggregation is not among them. A metric alert
        # cannot measure how long one machine ran, so this fires while any GPU machine reports CPU in the
        # window (the training scale set idles at 0 instances) and resolves once none has for a whole window.
        _alert(ctx, parent, "alert-training-hours",
               f"a GPU training machine ran within the last {min(alerts.training_max_hours, 24)} h: check it is "
               "still needed", training.id,
               _criterion("running", "Percentage CPU", SCALE_SETS, "GreaterThanOrEqual", 0, "Average"),
               window=training_window(alerts.training_max_hours), frequency="PT1H", severity=3,
               action_group=group)
    return MonitoringOutputs(notification_target=group.id)
