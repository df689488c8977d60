"""Cloud Monitoring: an e-mail channel per address and alert policies on the serving tier's
5xx ratio, p99 latency and health, and on training machines left running.

Serverless reads Cloud Run's metrics; VM mode reads the load balancer's. "No healthy instance" is
an uptime check from Google's checkers against the endpoint's health path; an internal Cloud
Run service cannot be reached by them, so it alerts on its instance count instead (only when
min_instances > 0: at zero, no instance is the intended idle state).
"""
from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from components.providers.base import BuildContext, MonitoringOutputs

from .foundation import res_opts
from .limits import LABEL_MAX, TRAINING_ROLE

WINDOW = "300s"  # how long a condition must hold before it fires


def _threshold(name: str, filter_: str, value: float, aligner: str, reducer: str, *, denominator: str = "",
               comparison: str = "COMPARISON_GT", group_by: tuple[str, ...] = (), duration: str = WINDOW,
               period: str = "60s") -> dict:
    agg = {"alignment_period": period, "per_series_aligner": aligner, "cross_series_reducer": reducer}
    if group_by:
        agg["group_by_fields"] = list(group_by)
    cond = {"filter": filter_, "comparison": comparison, "threshold_value": value, "duration": duration,
            "aggregations": [agg], "trigger": {"count": 1}}
    if denominator:
        cond.update(denominator_filter=denominator, denominator_aggregations=[agg])
    return {"display_name": name, "condition_threshold": cond}


def serving_conditions(ctx: BuildContext) -> dict[str, dict]:
    """{role: condition} for the 5xx ratio and p99 latency of whichever serving mode runs."""
    alerts = ctx.spec.service.alerts
    watched = ctx.shared["gcp:serving"]
    ratio = alerts.error_rate_percent / 100
    if watched["kind"] == "serverless":
        base = pulumi.Output.format('resource.type="cloud_run_revision" AND resource.label.service_name="{0}"',
                                    watched["service"])
        requests = pulumi.Output.format('{0} AND metric.type="run.googleapis.com/request_count"', base)
        errors = pulumi.Output.format('{0} AND metric.label.response_code_class="5xx"', requests)
        latency = pulumi.Output.format('{0} AND metric.type="run.googleapis.com/request_latencies"', base)
    else:
        # The https_lb_rule monitored resource names its backend service in `backend_target_name`;
        # `backend_service_name` belongs to other resource types, so a filter on it matches nothing
        # (https://cloud.google.com/monitoring/api/resources#tag_https_lb_rule).
        base = pulumi.Output.format('resource.type="https_lb_rule" AND resource.label.backend_target_name="{0}"',
                                    watched["backend"])
        requests = pulumi.Output.format('{0} AND metric.type="loadbalancing.googleapis.com/https/request_count"', base)
        errors = pulumi.Output.format("{0} AND metric.label.response_code_class=500", requests)
        latency = pulumi.Output.format('{0} AND metric.type="loadbalancing.googleapis.com/https/total_latencies"', base)
    return {
        "5xx": _threshold(f"5xx responses above {alerts.error_rate_percent:g} % of requests", errors, ratio,
                          "ALIGN_RATE", "REDUCE_SUM", denominator=requests),
        # Both latency metrics are distributions in milliseconds.
        "latency": _threshold(f"p99 latency above {alerts.p99_latency_ms} ms", latency, alerts.p99_latency_ms,
                              "ALIGN_PERCENTILE_99", "REDUCE_MAX"),
    }


def health_condition(parent: pulumi.Resource, ctx: BuildContext, opts) -> dict | None:
    serving = ctx.spec.service.serving
    watched = ctx.shared["gcp:serving"]
    if watched["kind"] == "serverless" and serving.ingress == "internal":
        if serving.min_instances == 0:
            return None
        return {"display_name": "no running instance", "condition_absent": {
            "filter": pulumi.Output.format('resource.type="cloud_run_revision" AND resource.label.service_name="{0}" '
                                           'AND metric.type="run.googleapis.com/container/instance_count"',
                                           watched["service"]),
            "duration": WINDOW, "aggregations": [{"alignment_period": "60s", "per_series_aligner": "ALIGN_MEAN"}]}}
    tls = watched["kind"] == "serverless" or bool(serving.domain)
    host = ctx.serving.url.apply(lambda url: url.split("://", 1)[1].split("/", 1)[0])
    check = gcp.monitoring.UptimeCheckConfig(
        f"{ctx.prefix}-uptime", display_name=f"{ctx.prefix} health", timeout="10s", period="300s",
        http_check={"path": serving.health_path, "port": 443 if tls else 80, "use_ssl": tls, "validate_ssl": tls,
                    "request_method": "GET"},
        monitored_resource={"type": "uptime_url", "labels": {"host": host, "project_id": ctx.base.project}},
        user_labels=ctx.tags, opts=opts)
    return _threshold(
        "health check failing from more than one region",
        pulumi.Output.format('metric.type="monitoring.googleapis.com/uptime_check/check_passed" AND '
                             'resource.type="uptime_url" AND metric.label.check_id="{0}"', check.uptime_check_id),
        # Google's recommended shape for uptime alerts: the last result of each checker region over
        # 20 minutes, counting the failing ones.
        1, "ALIGN_NEXT_OLDER", "REDUCE_COUNT_FALSE", group_by=("resource.label.host",), period="1200s",
        duration="60s")


def training_condition(ctx: BuildContext) -> dict:
    hours = ctx.spec.service.alerts.training_max_hours
    (key, value), = TRAINING_ROLE.items()
    return _threshold(
        f"training machine running longer than {hours} h",
        f'resource.type="gce_instance" AND metric.type="compute.googleapis.com/instance/uptime_total" AND '
        f'metadata.user_labels."{key}"="{value}" AND metadata.user_labels."stack"="{ctx.tags.get("stack", "")}"',
        hours * 3600, "ALIGN_MAX", "REDUCE_NONE", duration="0s")


def build_monitoring(provider, parent: pulumi.Resource, ctx: BuildContext) -> MonitoringOutputs:
    p = ctx.prefix
    opts = res_opts(parent, ctx)
    channels = [
        gcp.monitoring.NotificationChannel(
            f"{p}-alert-email-{i}", type="email", display_name=f"{p} alerts: {email}"[:LABEL_MAX],
            labels={"email_address": email}, user_labels=ctx.tags, opts=opts)
        for i, email in enumerate(ctx.spec.service.alerts.emails)
    ]
    targets = [c.name for c in channels]

    def policy(role: str, title: str, condition: dict) -> None:
        gcp.monitoring.AlertPolicy(
            f"{p}-alert-{role}", display_name=f"{p}: {title}", combiner="OR", conditions=[condition],
            notification_channels=targets, severity="ERROR" if role != "latency" else "WARNING",
            alert_strategy={"auto_close": "1800s"},
            documentation={"mime_type": "text/markdown",
                           "content": f"mlinfra service `{p}` on stack `{ctx.spec.stack}` ({ctx.spec.region})."},
            user_labels=ctx.tags, opts=opts)

    if ctx.serving is not None and "gcp:serving" in ctx.shared:
        for role, cond in serving_conditions(ctx).items():
            policy(role, cond["display_name"], cond)
        health = health_condition(parent, ctx, opts)
        if health is not None:
            policy("health", health["display_name"], health)
    if ctx.training is not None:
        policy("training-hours", "training machine left running", training_condition(ctx))
    return MonitoringOutputs(notification_target=pulumi.Output.all(*targets) if targets else [])
