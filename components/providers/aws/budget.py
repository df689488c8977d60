"""AWS Budgets: a monthly cost budget for this service's environment, alerting at each threshold
of actual spend and once when the month's forecast passes the limit.

The budget counts costs carrying both the `service` and `environment` tags of this stack. A tag
filter counts nothing until those keys are activated as cost allocation tags, and AWS can only
activate a key once it has seen it on a resource: "After the user-defined tags are created and
applied to resources, it can take up to 24 hours for the tag keys to appear on Cost Allocation
tag page for activation" (aws.costexplorer.CostAllocationTag,
https://www.pulumi.com/registry/packages/aws/api-docs/costexplorer/costallocationtag/). Activating
them in this program would fail on the first deploy of every account, and two stacks would fight
over one account-wide setting (destroying a preview would deactivate prod's tags). So activation
is a prerequisite, done once per payer account and checked by `mlinfra doctor`:
  aws ce update-cost-allocation-tags-status \
      --cost-allocation-tags-status TagKey=service,Status=Active TagKey=environment,Status=Active
"""
from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components.providers.base import BudgetOutputs, BuildContext

# The tag keys the budget filters on: these must be active cost allocation tags (see above).
COST_ALLOCATION_TAGS = ("service", "environment")
# `filter_expression` requires `metrics` ("Conflicts with cost_filter and requires metrics",
# aws.budgets.Budget, https://www.pulumi.com/registry/packages/aws/api-docs/budgets/budget/).
# UnblendedCost is what the bill charges in the month it is incurred.
METRIC = "UnblendedCost"
# Forecast alert: once the month's forecast spend passes the whole limit. AWS needs about five
# weeks of usage data before it forecasts, so a new account gets only the ACTUAL alerts at first.
FORECAST_PERCENT = 100.0


def build_budget(provider, parent: pulumi.Resource, ctx: BuildContext) -> BudgetOutputs:
    spec = ctx.spec
    bud = spec.service.budget
    topic = ctx.monitoring.notification_target if ctx.monitoring is not None else None
    # With an alert topic the addresses are already subscribed to it; mailing them directly too
    # would send every budget alert twice.
    emails = [] if topic is not None else list(spec.service.alerts.emails)

    def note(kind: str, threshold: float) -> dict:
        return {"comparison_operator": "GREATER_THAN", "threshold": threshold, "threshold_type": "PERCENTAGE",
                "notification_type": kind, "subscriber_sns_topic_arns": [topic] if topic is not None else None,
                "subscriber_email_addresses": emails or None}

    notifications = None
    if topic is not None or emails:
        notifications = [note("ACTUAL", float(t)) for t in bud.alert_thresholds_percent]
        notifications.append(note("FORECASTED", FORECAST_PERCENT))
    budget = aws.budgets.Budget(
        f"{ctx.prefix}-budget", name=f"{ctx.prefix}-monthly", budget_type="COST", time_unit="MONTHLY",
        limit_amount=f"{bud.monthly_usd:.2f}", limit_unit="USD", metrics=METRIC,
        filter_expression={"ands": [
            {"tags": {"key": key, "values": [value]}}
            for key, value in zip(COST_ALLOCATION_TAGS, (spec.service.name, spec.env))
        ]},
        notifications=notifications, tags=ctx.tags, opts=pulumi.ResourceOptions(parent=parent))
    return BudgetOutputs(budget=budget.name)
