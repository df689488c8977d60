"""`mlinfra secrets set`: a value for one of `serving.secrets`, read from standard input, never echoed."""
from __future__ import annotations

from typing import Annotated

import typer

from cli.options import CloudOpt, ConfigFileOpt, OutputFormat, OutputOpt, ProjectDirOpt

app = typer.Typer(help="Values of the service's secrets (serving.secrets), in the cloud's secret store.",
                  no_args_is_help=True)


@app.command("set")
def set_(
    name: Annotated[str, typer.Argument(help="The environment variable (or secret name) in serving.secrets.")],
    env: Annotated[str, typer.Option("--env", "-e", help="Environment: a Pulumi.<env>.yaml beside Pulumi.yaml.")] = "dev",
    cloud: CloudOpt = None,
    config_file: ConfigFileOpt = None,
    output: OutputOpt = OutputFormat.text,
    project_dir: ProjectDirOpt = None,
) -> None:
    """Write a new version of a secret. The value comes from standard input (a prompt on a terminal)."""
    import getpass
    import sys

    from cli.output import console, emit_json
    from stacks.config import find_project_dir
    from stacks.secret_values import destination, write

    dest = destination(find_project_dir(project_dir), env, name, cloud=cloud, config_file=config_file)
    value = getpass.getpass(f"value for {dest.env_var}: ") if sys.stdin.isatty() else sys.stdin.read()
    done = write(dest, value)
    if output == OutputFormat.json:
        emit_json({"env_var": done.env_var, "secret": done.secret, "cloud": done.cloud, "stack": done.stack,
                   "location": done.location})
    else:
        console.print(f"{done.env_var}: new value written to {done.location} ({done.cloud}, stack {done.stack}); "
                      "new instances read it at start")
