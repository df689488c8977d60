"""`mlinfra cost`: the monthly estimate per resource and the total per cloud, side by side."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from cli.options import CloudOpt, EnvsOpt, OutputFormat, OutputOpt, ProjectDirOpt

PlanFileOpt = Annotated[
    Optional[Path],
    typer.Option("--plan-file", help="Price a saved `mlinfra plan --output json` document instead of planning.",
                 dir_okay=False),
]


def _plans(env, cloud, plan_file, project_dir):
    if plan_file is not None:
        from stacks.plan import read_plans
        from stacks.planning import clouds_for

        plans = read_plans(plan_file)
        if cloud is not None:
            wanted = clouds_for(cloud, "")
            plans = [p for p in plans if p.cloud in wanted]
        if env:
            plans = [p for p in plans if p.env in env or p.stack in env]
        return plans
    from stacks.config import find_project_dir
    from stacks.planning import default_jobs, plan_targets

    return plan_targets(find_project_dir(project_dir), envs=env, cloud=cloud, verdicts=False, jobs=default_jobs())


def report_table(report):
    from rich.table import Table

    table = Table(title=f"{report.stack} on {report.cloud} ({report.region}): "
                        f"{report.monthly_usd:,.2f} USD/month", title_justify="left")
    table.add_column("Resource", overflow="fold")
    table.add_column("Type", overflow="fold")
    table.add_column("USD/month", justify="right")
    table.add_column("Basis", overflow="fold", ratio=1)
    for line in sorted(report.lines, key=lambda ln: -ln.monthly_usd):
        table.add_row(line.name, line.type, f"{line.monthly_usd:,.2f}{' *' if line.assumption else '  '}", line.basis)
    return table


def totals_table(reports):
    from rich.table import Table

    clouds = list(dict.fromkeys(r.cloud for r in reports))
    table = Table(title="Monthly total per cloud", title_justify="left")
    table.add_column("Environment (USD)")
    for c in clouds:
        table.add_column(c, justify="right")
    for env in dict.fromkeys(r.env for r in reports):
        row = {r.cloud: r for r in reports if r.env == env}
        table.add_row(env, *[f"{row[c].monthly_usd:,.2f}" + (" (+unpriced)" if row[c].unpriced else "")
                             if c in row else "-" for c in clouds])
    return table


def cost(
    env: EnvsOpt = None,
    cloud: CloudOpt = None,
    plan_file: PlanFileOpt = None,
    output: OutputOpt = OutputFormat.text,
    project_dir: ProjectDirOpt = None,
) -> None:
    """Estimate what each stack costs a month, from list prices and the usage section of its description."""
    from cost.estimate import estimate

    reports = [estimate(p) for p in _plans(env, cloud, plan_file, project_dir)]
    totals: dict[str, dict[str, float]] = {}
    for r in reports:
        totals.setdefault(r.env, {})[r.cloud] = round(r.monthly_usd, 2)
    if output == OutputFormat.json:
        from cli.output import emit_json

        emit_json({"estimates": [{"stack": r.stack, "env": r.env, "cloud": r.cloud, "region": r.region, **r.to_dict()}
                                 for r in reports],
                   "totals": totals})
        return
    from cli.output import console

    for r in reports:
        console.print(report_table(r))
        for item in r.unpriced:
            console.print(f"  [yellow]unpriced[/]: {item['type']} {item['urn'].rsplit('::', 1)[-1]} ({item['reason']})",
                          soft_wrap=True)
    console.print(totals_table(reports))
    console.print("* estimate from usage assumptions (mlinfra:service.usage); list prices before discounts and "
                  "free tiers, in each cloud's reference region", soft_wrap=True)
