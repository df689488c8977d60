"""`mlinfra deploy`, `destroy`, `outputs`: the real engine through the Automation API (stacks/workspace.py).

Exit codes: 3 bad config, 4 missing Pulumi CLI / passphrase / cloud credentials, 5 stack locked,
1 the update failed (with the engine's error). Pulumi is imported inside the commands only.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any, Callable, Optional

import typer

from cli.options import CloudOpt, EnvOpt, OutputFormat, OutputOpt, ProjectDirOpt
from components.errors import ConfigError

YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation (CI).")]
PreviewOnlyOpt = Annotated[bool, typer.Option("--preview-only", help="Show what would change; change nothing.")]
SkipChecksOpt = Annotated[bool, typer.Option(
    "--skip-checks", envvar="MLINFRA_SKIP_CHECKS",
    help="Deploy without running `mlinfra doctor` first (APIs, providers, quotas, permissions, tools).")]
AllowProtectedOpt = Annotated[bool, typer.Option(
    "--allow-protected",
    help="Act on a protected stack (prod, or mlinfra:protected: true) anyway. Its stateful resources "
         "(buckets, registries, storage accounts) are still kept.")]
PolicyPackOpt = Annotated[Optional[Path], typer.Option(
    "--policy-pack", help="CrossGuard policy pack folder run with every preview and update. Default: policy/.",
    file_okay=False)]


def engine_printer(output: OutputFormat) -> Callable[[str], None]:
    """Stream the engine's lines as they come: stdout for people, stderr when stdout carries JSON."""
    from cli.output import console, err_console

    target = err_console if output == OutputFormat.json else console

    def show(line: str) -> None:
        target.print(line, markup=False, highlight=False, soft_wrap=True)

    return show


def project_of(project_dir: Optional[Path]) -> Path:
    from stacks.config import find_project_dir

    return find_project_dir(project_dir)


def single_cloud(cloud: Optional[str]) -> Optional[str]:
    if cloud == "all":
        raise ConfigError("--cloud all: deploy, destroy and env commands act on one cloud at a time; "
                          "name it: --cloud aws, gcp or azure")
    return cloud


def require_terminal_or_yes(yes: bool, command: str) -> None:
    """Without a terminal (CI) a change needs --yes: said before any work is done (usage error, exit 2)."""
    if yes or sys.stdin.isatty():
        return
    from cli.output import err_console

    err_console.print(f"error: {command} asks for confirmation and there is no terminal to ask on; "
                      "pass --yes to proceed (or --preview-only to only look)", soft_wrap=True)
    raise typer.Exit(2)


def confirm(question: str, yes: bool) -> None:
    if yes:
        return
    require_terminal_or_yes(yes, "this command")
    if not typer.confirm(question, default=False):
        raise typer.Exit(1)


# Shown first: what a user looks for after a deploy.
LEADING_OUTPUTS = ("endpoint", "image", "image_digest")


def print_outputs(title: str, outputs: dict[str, Any]) -> None:
    """The stack's outputs, endpoint and image digest first; DNS records to create as their own list."""
    from rich.table import Table

    from cli.output import console

    table = Table(title=title, show_header=True, header_style="bold")
    table.add_column("output")
    table.add_column("value", overflow="fold")
    order = [k for k in LEADING_OUTPUTS if k in outputs] + [k for k in outputs if k not in LEADING_OUTPUTS]
    records = outputs.get("dns_records") or []
    for key in order:
        if key == "dns_records" and records:
            continue
        table.add_row(key, str(outputs[key]))
    console.print(table)
    if records:
        console.print("Create these DNS records in the domain's zone (the certificate is issued once they resolve):")
        for record in records:
            if isinstance(record, dict):
                purpose = f"  ({record['purpose']})" if record.get("purpose") else ""
                console.print(f"  {record.get('name', '?')}  {record.get('type', '?')}  {record.get('value', '?')}"
                              f"{purpose}", soft_wrap=True)


def deploy(
    env: EnvOpt = "dev",
    cloud: CloudOpt = None,
    yes: YesOpt = False,
    preview_only: PreviewOnlyOpt = False,
    skip_checks: SkipChecksOpt = False,
    policy_pack: PolicyPackOpt = None,
    allow_protected: AllowProtectedOpt = False,
    project_dir: ProjectDirOpt = None,
    output: OutputOpt = OutputFormat.text,
) -> None:
    """Deploy an environment with the Pulumi engine, policy pack included.

    On a protected stack (prod, mlinfra:protected: true) the update is previewed first and refused
    (exit 5) if it would delete or replace a bucket, registry or storage account, unless --allow-protected.

    State goes to $PULUMI_BACKEND_URL, else your `pulumi login`, else a local file backend in
    $XDG_STATE_HOME/mlinfra/pulumi (~/.local/state/mlinfra/pulumi) encrypted with $PULUMI_CONFIG_PASSPHRASE.
    """
    from cli.output import console, emit_json, styled
    from stacks import workspace

    if not preview_only:
        require_terminal_or_yes(yes, "deploy")
    target = workspace.target_for_env(project_of(project_dir), env, single_cloud(cloud))
    if not preview_only and not skip_checks:  # refuse (exit 1) on a missing prerequisite before creating anything
        from stacks.doctor import gate

        gate(target.project_dir, env, target.cloud)
    show = engine_printer(output)
    if not preview_only and not yes:
        session = workspace.open_session(target.project_dir)
        workspace.deploy(target, preview_only=True, on_output=show, policy_pack=policy_pack, session=session)
        confirm(f"Deploy these changes to stack {target.stack} on {target.cloud}?", yes)
        result = workspace.deploy(target, on_output=show, policy_pack=policy_pack, session=session,
                                  allow_protected=allow_protected)
    else:
        result = workspace.deploy(target, preview_only=preview_only, on_output=show, policy_pack=policy_pack,
                                  allow_protected=allow_protected)
    if output == OutputFormat.json:
        emit_json(result.to_dict())
        return
    verb = "previewed" if preview_only else "deployed"
    console.print(styled((verb, "bold green"), f" stack {result.stack} ({result.cloud}): {result.changes or 'no changes'}"))
    if result.outputs:
        print_outputs(f"{result.stack} outputs", result.outputs)


def destroy(
    env: EnvOpt = "dev",
    cloud: CloudOpt = None,
    yes: YesOpt = False,
    allow_protected: AllowProtectedOpt = False,
    project_dir: ProjectDirOpt = None,
    output: OutputOpt = OutputFormat.text,
) -> None:
    """Destroy every resource of an environment's stack (asks first unless --yes).

    A protected stack (prod, mlinfra:protected: true) is refused with exit 5 unless --allow-protected;
    even then its buckets, registries and storage accounts are kept (protected and retained)."""
    from cli.output import console, emit_json, styled
    from stacks import workspace
    from stacks.protection import refuse_unless_allowed

    require_terminal_or_yes(yes, "destroy")
    target = workspace.target_for_env(project_of(project_dir), env, single_cloud(cloud))
    refuse_unless_allowed(target.stack, target.protection(), "destroy it", allow_protected)
    confirm(f"Destroy every resource of stack {target.stack} on {target.cloud}?", yes)
    changes = workspace.destroy(target, on_output=engine_printer(output), allow_protected=allow_protected)
    if output == OutputFormat.json:
        emit_json({"stack": target.stack, "env": target.env, "cloud": target.cloud, "changes": changes})
        return
    console.print(styled(("destroyed", "bold"), f" stack {target.stack} ({target.cloud}): {changes or 'nothing to delete'}"))
    if allow_protected and target.protection():
        console.print(f"kept: the protected resources of {target.stack} (buckets, registries, storage accounts) stay in "
                      "the stack and the cloud; deleting that data is deliberate: `pulumi state unprotect` them, "
                      "then delete them in the cloud (they are retained on delete)", soft_wrap=True)


def outputs(
    env: EnvOpt = "dev",
    cloud: CloudOpt = None,
    project_dir: ProjectDirOpt = None,
    output: OutputOpt = OutputFormat.text,
) -> None:
    """Print a deployed stack's outputs (endpoint, bucket, registry...)."""
    from cli.output import emit_json
    from stacks import workspace

    target = workspace.target_for_env(project_of(project_dir), env, single_cloud(cloud))
    values = workspace.outputs(target)
    if output == OutputFormat.json:
        emit_json({"stack": target.stack, "env": target.env, "cloud": target.cloud, "outputs": values})
        return
    print_outputs(f"{target.stack} outputs", values)
