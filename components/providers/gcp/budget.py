"""A monthly Cloud Billing budget for this environment's spend, alerting at each threshold.

Budgets belong to a billing account, not a project: the filter narrows this one to the project
and to resources labelled with this environment, so two environments in one project each get
their own budget.
"""
from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from components.providers.base import BudgetOutputs, BuildContext

from .foundation import res_opts
from .limits import label_value


def build_budget(provider, parent: pulumi.Resource, ctx: BuildContext) -> BudgetOutputs:
    spec = ctx.spec
    budget = spec.service.budget
    usd = round(budget.monthly_usd, 2)
    units, nanos = int(usd), round((usd - int(usd)) * 1e9)
    project = gcp.organizations.get_project_output(project_id=ctx.base.project,
                                                   opts=pulumi.InvokeOutputOptions(parent=parent))
    # A budget notifies at most 5 monitoring channels.
    channels = pulumi.Output.from_input(ctx.monitoring.notification_target if ctx.monitoring is not None else []
                                        ).apply(lambda names: list(names)[:5])
    b = gcp.billing.Budget(
        f"{ctx.prefix}-budget", billing_account=budget.gcp_billing_account,
        display_name=f"{ctx.prefix} monthly"[:60],  # Cloud Billing caps budget names at 60 characters
        amount={"specified_amount": {"currency_code": "USD", "units": str(units), "nanos": nanos}},
        threshold_rules=[{"threshold_percent": pct / 100, "spend_basis": "CURRENT_SPEND"}
                         for pct in sorted(budget.alert_thresholds_percent)],
        budget_filter={"projects": [pulumi.Output.concat("projects/", project.number)],
                       "labels": {"environment": label_value(spec.env)}, "calendar_period": "MONTH",
                       "credit_types_treatment": "INCLUDE_ALL_CREDITS"},
        # Billing e-mails still go to the account's admins; the channels add the service's owners.
        all_updates_rule={"monitoring_notification_channels": channels, "disable_default_iam_recipients": False},
        opts=res_opts(parent, ctx))
    return BudgetOutputs(budget=b.name)
