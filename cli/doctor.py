"""`mlinfra doctor`: the prerequisites of an environment's plan (APIs, resource providers, features,
quotas, permissions, cost-allocation tags, tools), checked with the clouds' read-only APIs.

Exit codes: 0 nothing missing, 1 something missing (each printed with its fix), 3 bad config,
4 no credentials to check with. `--offline` lists them unchecked (status unknown): what CI runs.
"""
from __future__ import annotations

from typing import Annotated

import typer

from cli.options import CloudOpt, EnvOpt, OutputFormat, OutputOpt, ProjectDirOpt

OfflineOpt = Annotated[bool, typer.Option(
    "--offline", help="List the requirements without credentials or network (status unknown); what CI runs.")]
TimeoutOpt = Annotated[float, typer.Option("--timeout", help="Seconds each live call may take.", min=1, max=120)]

STYLE = {"ok": "green", "missing": "bold red", "unknown": "yellow"}


def doctor(
    env: EnvOpt = "dev",
    cloud: CloudOpt = None,
    offline: OfflineOpt = False,
    timeout: TimeoutOpt = 10.0,
    project_dir: ProjectDirOpt = None,
    output: OutputOpt = OutputFormat.text,
) -> None:
    """Check what a deployment of ENV needs outside the program, before `pulumi up` finds out."""
    from stacks import doctor as lib
    from stacks.config import find_project_dir

    reqs = lib.run(find_project_dir(project_dir), env, cloud, offline=offline, timeout=timeout)
    if output == OutputFormat.json:
        from cli.output import emit_json

        emit_json(lib.document(reqs))
    else:
        show(reqs, offline)
    raise typer.Exit(lib.exit_code(reqs))


def show(reqs, offline: bool) -> None:
    """One block per requirement, fixes on lines of their own so that they can be copied whole."""
    from rich.text import Text

    from cli.output import console

    console.print(Text("prerequisites (offline: listed, not checked)" if offline else "prerequisites", style="bold"))
    for r in reqs:
        status = r.status.value
        console.print(Text.assemble((f"{status:<8}", STYLE[status]), f" {r.cloud} {r.kind} {r.name}"), soft_wrap=True)
        console.print(Text(f"         why: {r.why}"), soft_wrap=True)
        if r.detail:
            console.print(Text(f"         saw: {r.detail}"), soft_wrap=True)
        if status != "ok":
            console.print(Text(f"         fix: {r.fix}"), soft_wrap=True)
    counts = {s: sum(1 for r in reqs if r.status.value == s) for s in ("ok", "missing", "unknown")}
    console.print(Text(f"{counts['ok']} ok, {counts['missing']} missing, {counts['unknown']} unknown"))
