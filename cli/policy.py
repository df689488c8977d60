"""`mlinfra policy check`: the CrossGuard rules (policy/), run offline over plans."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from cli.options import CloudOpt, EnvsOpt, OutputFormat, OutputOpt, PlanFileOpt, ProjectDirOpt

app = typer.Typer(help="Policy as code: the rules `pulumi preview --policy-pack policy` enforces, run offline.",
                  no_args_is_help=True)

PolicyConfigOpt = Annotated[
    Optional[Path],
    typer.Option("--config", help="Policy config JSON (the --policy-pack-config shape), laid over "
                                  "policy/config.default.json.", dir_okay=False),
]


def _table(plan, report):
    from rich.table import Table

    from cli.output import styled

    table = Table(title=f"{plan.stack} on {plan.cloud}: {report.mandatory_failed} mandatory, "
                        f"{report.advisory} advisory", title_justify="left")
    for column in ("level", "severity", "rule", "resource", "message"):
        table.add_column(column, overflow="fold")
    for v in report.violations:
        colour = "red" if v.level == "mandatory" else "yellow"
        table.add_row(styled((v.level, colour)), v.severity, v.rule, v.urn.rsplit("::", 1)[-1], v.message)
    return table


@app.command("check")
def check(
    env: EnvsOpt = None,
    cloud: CloudOpt = None,
    plan_file: PlanFileOpt = None,
    config: PolicyConfigOpt = None,
    output: OutputOpt = OutputFormat.text,
    project_dir: ProjectDirOpt = None,
) -> None:
    """Evaluate every rule on each stack; exit 1 when a mandatory rule is violated."""
    from policy.config import load
    from policy.rules import RULES
    from policy.runner import evaluate

    policy_config = load(config)  # a bad config fails (exit 3) before anything is planned
    from stacks.planning import load_plans

    plans = load_plans(project_dir, env, cloud, plan_file)
    if not plans:
        from components.errors import ConfigError

        raise ConfigError(f"--plan-file {plan_file}: no plan matches --env {', '.join(env or []) or '(any)'} "
                          f"--cloud {cloud or '(any)'}")
    reports = [(p, evaluate(p, policy_config)) for p in plans]
    mandatory = sum(r.mandatory_failed for _, r in reports)
    advisory = sum(r.advisory for _, r in reports)
    if output == OutputFormat.json:
        from cli.output import emit_json

        emit_json({"plans": [{"stack": p.stack, "env": p.env, "cloud": p.cloud, "region": p.region,
                              "policy": r.to_dict()} for p, r in reports],
                   "mandatory_failed": mandatory, "advisory": advisory})
    else:
        from cli.output import console, styled

        for p, r in reports:
            if r.violations:
                console.print(_table(p, r))
            else:
                console.print(styled(f"{p.stack} on {p.cloud}: ", (f"all {len(RULES)} rules pass", "green")))
        verdict = ("FAILED", "red") if mandatory else ("passed", "green")
        console.print(styled("policy check ", verdict, f": {len(reports)} stack(s), {mandatory} mandatory "
                                                      f"violation(s), {advisory} advisory"), soft_wrap=True)
    if mandatory:
        raise typer.Exit(1)
