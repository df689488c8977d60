"""AWS Budgets: a monthly cost budget for this service's environment, alerting at each threshold.

The budget counts costs carrying both the `service` and `environment` tags of this stack, so it
needs those two activated as cost allocation tags (Billing console, once per account). A filter
expression is used because the older cost_filters ORs tag values and could not say "this
service AND this environment".
"""
from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components.providers.base import BudgetOutputs, BuildContext


def build_budget(provider, parent: pulumi.Resource, ctx: BuildContext) -> BudgetOutputs:
    spec = ctx.spec
    bud = spec.service.budget
    topic = ctx.monitoring.notification_target if ctx.monitoring is not None else None
    # With an alert topic the addresses are already subscribed to it; mailing them directly too
    # would send every budget alert twice.
    emails = [] if topic is not None else list(spec.service.alerts.emails)
    notifications = [
        {"comparison_operator": "GREATER_THAN", "threshold": float(t), "threshold_type": "PERCENTAGE",
         "notification_type": "ACTUAL", "subscriber_sns_topic_arns": [topic] if topic is not None else None,
         "subscriber_email_addresses": emails or None}
        for t in bud.alert_thresholds_percent
    ] if (topic is not None or emails) else None
    budget = aws.budgets.Budget(
        f"{ctx.prefix}-budget", name=f"{ctx.prefix}-monthly", budget_type="COST", time_unit="MONTHLY",
        limit_amount=f"{bud.monthly_usd:.2f}", limit_unit="USD",
        filter_expression={"ands": [
            {"tags": {"key": "service", "values": [spec.service.name]}},
            {"tags": {"key": "environment", "values": [spec.env]}},
        ]},
        notifications=notifications, tags=ctx.tags, opts=pulumi.ResourceOptions(parent=parent))
    return BudgetOutputs(budget=budget.name)
