"""`mlinfra plan`: the real program under Pulumi's mock runtime; no CLI, credentials or network."""
from __future__ import annotations

from typing import Annotated

import typer

from cli.options import (BranchOpt, CloudOpt, ConfigFileOpt, EnvsOpt, OutputFormat, OutputOpt, PrOpt, ProjectDirOpt,
                         TtlOpt)


def plan(
    env: EnvsOpt = None,
    cloud: CloudOpt = None,
    output: OutputOpt = OutputFormat.text,
    config_file: ConfigFileOpt = None,
    pr: PrOpt = None,
    branch: BranchOpt = None,
    ttl: TtlOpt = "72h",
    project_dir: ProjectDirOpt = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Plan afresh; don't read or write the plan cache.")] = False,
) -> None:
    """Show what would be created on each cloud, what it costs and which policies it breaks."""
    from cli.output import console, emit_json
    from stacks.config import find_project_dir
    from stacks.environments import parse_ttl
    from stacks.planning import default_jobs, plan_targets
    from stacks.plan import plans_document

    root = find_project_dir(project_dir)
    plans = plan_targets(root, envs=env, cloud=cloud, config_file=config_file, pr=pr, branch=branch,
                         ttl_hours=parse_ttl(ttl), jobs=default_jobs(), cache=not no_cache)
    if output == OutputFormat.json:
        emit_json(plans_document(plans))
    else:
        from cli.render import plan_tree, preview_note, summary_table, violations_table

        for p in plans:
            console.print(plan_tree(p))
            note = preview_note(p)
            if note:
                console.print(note)
            table = violations_table(p)
            if table is not None:
                console.print(table)
        console.print(summary_table(plans))
    if any((p.extra.get("policy") or {}).get("mandatory_failed") for p in plans):
        raise typer.Exit(1)
