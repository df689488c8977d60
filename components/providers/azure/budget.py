"""A monthly cost budget on the environment's resource group, alerting at each threshold."""
from __future__ import annotations

import datetime as dt
from typing import Optional

import pulumi
import pulumi_azure_native as azure_native

from components.providers.base import BudgetOutputs, BuildContext


def month_start(today: Optional[dt.date] = None) -> str:
    """The first day of the current UTC month: Azure requires a budget to start on a month's first day."""
    today = today or dt.datetime.now(dt.timezone.utc).date()
    return f"{today:%Y-%m}-01T00:00:00Z"


def notifications(ctx: BuildContext) -> dict:
    svc = ctx.spec.service
    emails = list(svc.alerts.emails)
    groups = [ctx.monitoring.notification_target] if ctx.monitoring is not None else []
    out = {}
    for percent in svc.budget.alert_thresholds_percent:
        note = {"enabled": True, "operator": "GreaterThanOrEqualTo", "threshold": percent, "threshold_type": "Actual",
                "contact_emails": emails, "contact_groups": groups}
        if not emails and not groups:
            # A notification needs a recipient: without addresses, the subscription's owners get it.
            note["contact_roles"] = ["Owner"]
        out[f"actual-{percent}-percent"] = note
    return out


def build_budget(provider, parent: pulumi.Resource, ctx: BuildContext) -> BudgetOutputs:
    # Scoped to the environment's resource group, which holds this environment and nothing else: a tag
    # filter on top would only drop untagged costs of the group (Consumption Budgets API: "filter" narrows
    # the scope's costs), never add any.
    budget = azure_native.consumption.Budget(
        f"{ctx.prefix}-monthly-budget", budget_name=f"{ctx.prefix}-budget", scope=ctx.base.id, category="Cost",
        # In the billing account's currency, which is USD for most subscriptions.
        amount=ctx.spec.service.budget.monthly_usd, time_grain="Monthly",
        time_period={"start_date": month_start()},
        notifications=notifications(ctx),
        # The start date is fixed by the first deployment; later months must not move it.
        opts=pulumi.ResourceOptions(parent=parent, ignore_changes=["timePeriod"]))
    return BudgetOutputs(budget=budget.id)
