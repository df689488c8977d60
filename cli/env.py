"""`mlinfra env up|down|list|gc`: pull-request and branch preview environments (stacks/previews.py).

`env down` and `env gc` destroy previews only: dev, prod and any stack not created by `env up`
are refused with exit 5.
"""
from __future__ import annotations

from typing import Annotated, Optional

import typer

from cli.deploy import PolicyPackOpt, PreviewOnlyOpt, engine_printer, project_of, single_cloud
from cli.options import BranchOpt, CloudOpt, OutputFormat, OutputOpt, PrOpt, ProjectDirOpt, TtlOpt

app = typer.Typer(help="Preview environments per pull request or branch, with a time to live.",
                  no_args_is_help=True)

@app.command("up")
def up(
    pr: PrOpt = None,
    branch: BranchOpt = None,
    cloud: CloudOpt = None,
    ttl: TtlOpt = "72h",
    preview_only: PreviewOnlyOpt = False,
    policy_pack: PolicyPackOpt = None,
    project_dir: ProjectDirOpt = None,
    output: OutputOpt = OutputFormat.text,
) -> None:
    """Create or update the preview environment of a pull request or branch."""
    from cli.output import console, emit_json, styled
    from stacks import previews
    from stacks.environments import parse_ttl

    result = previews.up(project_of(project_dir), pr=pr, branch=branch, cloud=single_cloud(cloud),
                         ttl_hours=parse_ttl(ttl), preview_only=preview_only, on_output=engine_printer(output),
                         policy_pack=policy_pack)
    doc = {**result.to_dict(), "url": result.outputs.get("endpoint"), "expires_at": result.outputs.get("expires_at")}
    if output == OutputFormat.json:
        emit_json(doc)
        return
    verb = "previewed" if preview_only else "deployed"
    console.print(styled((verb, "bold green"), f" preview {result.stack} ({result.cloud})"))
    if doc["url"]:
        console.print(f"url: {doc['url']}", markup=False)
    if doc["expires_at"]:
        console.print(f"expires at: {doc['expires_at']} (mlinfra env gc destroys it after that)", markup=False)


@app.command("down")
def down(
    pr: PrOpt = None,
    branch: BranchOpt = None,
    stack: Annotated[Optional[str], typer.Option("--stack", help="A preview stack by name, as env list shows it.")] = None,
    cloud: CloudOpt = None,
    project_dir: ProjectDirOpt = None,
    output: OutputOpt = OutputFormat.text,
) -> None:
    """Destroy a preview environment and remove its stack. Refuses anything that is not a preview."""
    from cli.output import console, emit_json, styled
    from components.errors import ConfigError
    from stacks import previews

    if stack is not None and (pr is not None or branch is not None):
        raise ConfigError("give one of --pr, --branch or --stack")
    changes = previews.down(project_of(project_dir), pr=pr, branch=branch, stack=stack, cloud=single_cloud(cloud),
                            on_output=engine_printer(output))
    if output == OutputFormat.json:
        emit_json({"destroyed": changes is not None, "changes": changes or {}})
        return
    console.print("no such preview: nothing to destroy" if changes is None else styled(("destroyed", "bold"), f": {changes}"))


@app.command("list")
def list_(
    project_dir: ProjectDirOpt = None,
    output: OutputOpt = OutputFormat.text,
) -> None:
    """List preview environments: stack, cloud, age, expiry, URL."""
    from rich.table import Table

    from cli.output import console, emit_json
    from stacks import previews

    entries = previews.list_previews(project_of(project_dir))
    if output == OutputFormat.json:
        emit_json({"previews": [e.to_dict() for e in entries]})
        return
    if not entries:
        console.print("no preview environments")
        return
    table = Table(show_header=True, header_style="bold")
    for column in ("stack", "cloud", "of", "age", "expires", "url"):
        table.add_column(column, overflow="fold")
    for e in entries:
        age = "-" if e.age_hours is None else f"{e.age_hours:g}h"
        expires = f"{e.expires_at} (expired)" if e.expired else e.expires_at
        table.add_row(e.stack, e.cloud, e.source, age, expires, e.url or "-")
    console.print(table)


@app.command("gc")
def gc(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only say which previews would be destroyed.")] = False,
    project_dir: ProjectDirOpt = None,
    output: OutputOpt = OutputFormat.text,
) -> None:
    """Destroy previews whose time to live has passed; nothing else."""
    from cli.output import console, emit_json
    from components.errors import OperationFailed
    from stacks import previews

    outcomes = previews.gc(project_of(project_dir), dry_run=dry_run, on_output=engine_printer(output))
    if output == OutputFormat.json:
        emit_json({"gc": [o.to_dict() for o in outcomes]})
    elif not outcomes:
        console.print("no expired previews")
    for o in outcomes if output != OutputFormat.json else ():
        console.print(f"{o.stack} (expired {o.expires_at}): {o.result}", markup=False)
    failed = previews.gc_failures(outcomes)
    if failed:
        raise OperationFailed(f"{len(failed)} expired preview(s) could not be destroyed: "
                              + ", ".join(o.stack for o in failed))
