"""`mlinfra cost`: monthly estimate per resource and cloud; serverless vs VM per traffic level; idle vs loaded."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Optional

import typer

from cli.options import CloudOpt, EnvsOpt, OutputFormat, OutputOpt, PlanFileOpt, ProjectDirOpt

RequestsOpt = Annotated[Optional[str], typer.Option(
    "--requests", help="Requests per month, comma-separated (e.g. 100k,1M,10M): serverless vs VM cost and the "
                       "break-even per cloud.")]
SummaryOpt = Annotated[bool, typer.Option(
    "--summary", help="Idle and loaded monthly cost per environment and cloud, with a pull-request preview "
                      "(the README table).")]

ReadmeOpt = Annotated[Optional[Path], typer.Option(
    "--readme", dir_okay=False, help="With --summary: write the table into this file between its cost-table markers.")]

_SUFFIX = {"": 1, "k": 1e3, "m": 1e6, "b": 1e9}
# A trillion requests a month (about 385,000 a second) is past any single service this prices.
MAX_REQUESTS = 1e12


def parse_levels(text: str) -> list[float]:
    """`100k,1M,2.5e6,1_000` -> [100000.0, 1000000.0, 2500000.0, 1000.0]; a bad item is a usage error (exit 2)."""
    levels = []
    for item in (part.strip() for part in text.split(",")):
        match = re.fullmatch(r"([0-9_]*\.?[0-9_]+(?:e[0-9]+)?)([kmb]?)", item.lower())
        if not match:
            raise typer.BadParameter(f"{item!r} is not a request count; allowed: numbers with an optional k, M or B "
                                     "suffix, comma-separated (e.g. 100k,1M)", param_hint="--requests")
        value = float(match.group(1).replace("_", "")) * _SUFFIX[match.group(2)]
        if not value <= MAX_REQUESTS:  # also catches inf (1e400) and nan
            raise typer.BadParameter(f"{item!r} is more than {MAX_REQUESTS:.0e} requests a month; allowed: "
                                     f"0 to {MAX_REQUESTS:.0e}", param_hint="--requests")
        levels.append(value)
    return levels


def snapshot_line(clouds) -> str:
    from cost.snapshot import snapshot_date

    return "Price snapshot: " + ", ".join(f"{c} {snapshot_date(c)}" for c in dict.fromkeys(clouds))


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


def _print_unpriced(console, items) -> None:
    for item in items:
        console.print(f"  unpriced: {item['type']} {item['urn'].rsplit('::', 1)[-1]} ({item['reason']})",
                      soft_wrap=True, markup=False)


def _requests(levels, project_dir, env, cloud, output) -> None:
    from cost.compare import compare, mode_plans
    from cost.snapshot import snapshot_date
    from stacks.config import find_project_dir

    pairs = mode_plans(find_project_dir(project_dir), env, cloud)
    results = [(p["serverless"].env, compare(p, levels)) for p in pairs if "error" not in p]
    refused = [p for p in pairs if "error" in p]
    if output == OutputFormat.json:
        from cli.output import emit_json

        emit_json({"snapshot_dates": {r.cloud: snapshot_date(r.cloud) for _, r in results},
                   "comparisons": [{"env": e, **r.to_dict()} for e, r in results],
                   "not_compared": refused})
        return
    from rich.table import Table

    from cli.output import console

    for env_name, r in results:
        title = f"{env_name} on {r.cloud} ({r.region}): serving per month (storage, registry, logs, alarms aside)"
        table = Table(title=title, title_justify="left")
        for name in ("Requests/month", "Serverless USD", "VM USD", "Cheaper"):
            table.add_column(name, justify="right" if name != "Cheaper" else "left")
        for i, n in enumerate(r.levels):
            s, v = r.usd["serverless"][i], r.usd["vm"][i]
            cheaper = ("serverless" if s < v else "VM" if v < s else "equal") if r.comparable else "? (unpriced)"
            table.add_row(f"{n:,.0f}", f"{s:,.2f}", f"{v:,.2f}", cheaper)
        console.print(table)
        if not r.comparable:
            console.print(f"  break-even: not computed; {r.note}", markup=False, soft_wrap=True)
        elif r.break_even is None:
            console.print(f"  break-even: serverless stays cheaper up to {1e11:,.0f} requests/month", markup=False)
        else:
            console.print(f"  break-even: VMs cost no more than serverless from {r.break_even:,.0f} requests/month",
                          markup=False)
        for mode, items in r.unpriced.items():
            for item in items:
                console.print(f"  unpriced ({mode}): {item['type']} ({item['reason']})", soft_wrap=True, markup=False)
    for item in refused:
        console.print(f"{item['env']} on {item['cloud']}: not compared; the other serving mode is refused: "
                      f"{item['error']}", soft_wrap=True, markup=False)
    if results:
        console.print(snapshot_line(r.cloud for _, r in results), markup=False)
    console.print("Each request is assumed to keep one vCPU busy for usage.request_seconds; VMs scale out at "
                  "serving.scale_out_cpu_percent. List prices, free tiers not applied.", soft_wrap=True, markup=False)


def _summary(project_dir, env, cloud, output, readme=None) -> None:
    from cost.compare import env_cost, markdown_table, replace_readme_block
    from cost.snapshot import snapshot_date
    from stacks.config import find_project_dir
    from stacks.planning import default_jobs, plan_targets

    folder = find_project_dir(project_dir)
    wanted = cloud or "all"
    plans = plan_targets(folder, envs=env, cloud=wanted, verdicts=False, jobs=default_jobs())
    preview = plan_targets(folder, cloud=wanted, pr=1, verdicts=False, jobs=default_jobs())
    # dev, then the preview of dev, then the other environments: the order the README reads.
    costs = [env_cost(p) for p in plans if p.env == "dev"]
    for p in preview:
        costs.append(env_cost(p))
        costs[-1].env = f"preview ({p.env})"
    costs += [env_cost(p) for p in plans if p.env != "dev"]
    dates = {c.cloud: snapshot_date(c.cloud) for c in costs}
    if output == OutputFormat.json:
        from cli.output import emit_json

        emit_json({"snapshot_dates": dates, "environments": [c.to_dict() for c in costs]})
        return
    from cli.output import console

    table = markdown_table(costs, dates)
    if readme is not None:
        from components.errors import ConfigError

        if not readme.is_file():
            raise ConfigError(f"--readme: {readme} is not a file")
        readme.write_text(replace_readme_block(readme.read_text(), table))
    console.print(table, markup=False, soft_wrap=True)
    for c in costs:
        for item in c.unpriced:
            console.print(f"  unpriced in {c.env} on {c.cloud}: {item['type']} ({item['reason']})",
                          soft_wrap=True, markup=False)


def cost(
    env: EnvsOpt = None,
    cloud: CloudOpt = None,
    plan_file: PlanFileOpt = None,
    requests: RequestsOpt = None,
    summary: SummaryOpt = False,
    readme: ReadmeOpt = None,
    output: OutputOpt = OutputFormat.text,
    project_dir: ProjectDirOpt = None,
) -> None:
    """Estimate what each stack costs a month from the dated price snapshot, in each stack's own region."""
    if (requests is not None or summary) and plan_file is not None:
        raise typer.BadParameter("--requests and --summary plan the environment; they cannot read a --plan-file",
                                 param_hint="--plan-file")
    if requests is not None:
        return _requests(parse_levels(requests), project_dir, env, cloud, output)
    if readme is not None and not summary:
        raise typer.BadParameter("--readme writes the --summary table; add --summary", param_hint="--readme")
    if summary:
        return _summary(project_dir, env, cloud, output, readme)
    from cost.estimate import estimate
    from stacks.planning import load_plans

    reports = [estimate(p) for p in load_plans(project_dir, env, cloud, plan_file)]
    totals: dict[str, dict[str, float]] = {}
    for r in reports:
        totals.setdefault(r.env, {})[r.cloud] = round(r.monthly_usd, 2)
    if output == OutputFormat.json:
        from cli.output import emit_json

        emit_json({"estimates": [{"stack": r.stack, "env": r.env, "cloud": r.cloud, **r.to_dict()} for r in reports],
                   "totals": totals})
        return
    from cli.output import console

    for r in reports:
        console.print(report_table(r))
        _print_unpriced(console, r.unpriced)
    console.print(totals_table(reports))
    console.print(snapshot_line(r.cloud for r in reports), markup=False)
    console.print("* estimate from usage assumptions (mlinfra:service.usage); list prices before discounts and "
                  "free tiers, each resource in its own region", soft_wrap=True, markup=False)
