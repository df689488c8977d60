"""A monthly Cloud Billing budget for this environment's spend, alerting at each threshold.

What it covers: every cost of the project (compute, storage, Cloud Run, load balancing, network
egress, logging), after credits. Budgets belong to a billing account; the filter narrows this one
to the project. A label filter counts "usage from only this set of labeled resources"; without
one the budget includes "all labeled and unlabeled usage" (Budget API Filter reference,
https://cloud.google.com/billing/docs/reference/budget/rest/v1/billingAccounts.budgets#filter), and
usage not attributed to a labelled resource (e.g. network egress) would be missed. Long-lived environments are
therefore project-scoped, which is exact when the project is dedicated to the environment (the
recommended layout) and over-counts, never under-counts, when environments share a project.
Previews always share their base environment's project, so they add the `environment` label filter.

Who may create it: `billing.budgets.create` on the billing account, i.e. Billing Account Costs
Manager (roles/billing.costsManager) or Billing Account Administrator (roles/billing.admin)
(https://cloud.google.com/billing/docs/how-to/budget-api-access-control). The Budget API also
needs a quota project when called with user credentials (ADC from `gcloud auth application-default
login`): the provider sends one (user_project_override + billing_project, provider.py).
"""
from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from components.providers.base import BudgetOutputs, BuildContext

from .foundation import res_opts
from .limits import label_value


def quota_provider(parent: pulumi.Resource, ctx: BuildContext):
    """A provider that bills Budget API quota to the deployment's own project.

    A budget lives on the billing account, so it has no project to bill quota to; with user
    credentials (gcloud ADC) the Budget API then refuses the call for want of a quota project.
    billing_project is taken from the project the deployment resolves (gcp:project or the
    credentials' default), so it is set even when gcp:project is not; the caller needs
    serviceusage.services.use on it (terraform-provider-google provider reference:
    user_project_override, billing_project).
    """
    return gcp.Provider(f"{ctx.prefix}-budget-gcp", project=ctx.base.project, billing_project=ctx.base.project,
                        user_project_override=True, region=ctx.spec.region,
                        opts=pulumi.ResourceOptions(parent=parent))


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
                       **({"labels": {"environment": label_value(spec.env)}} if spec.preview is not None else {}),
                       "calendar_period": "MONTH", "credit_types_treatment": "INCLUDE_ALL_CREDITS"},
        # Billing e-mails still go to the account's admins; the channels add the service's owners.
        all_updates_rule={"monitoring_notification_channels": channels, "disable_default_iam_recipients": False},
        opts=res_opts(parent, ctx, provider=quota_provider(parent, ctx)))
    return BudgetOutputs(budget=b.name)
