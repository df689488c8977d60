"""`mlinfra cost`: the monthly estimate per resource and the total per cloud, side by side."""
from __future__ import annotations

from cli.options import CloudOpt, EnvsOpt, OutputFormat, OutputOpt, PlanFileOpt, ProjectDirOpt


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
    from stacks.planning import load_plans

    reports = [estimate(p) for p in load_plans(project_dir, env, cloud, plan_file)]
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
