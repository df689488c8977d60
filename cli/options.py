"""Option aliases shared by every command, so the same flag means the same thing everywhere."""
from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer


class OutputFormat(str, Enum):
    text = "text"
    json = "json"


EnvOpt = Annotated[str, typer.Option("--env", "-e", help="Environment: a Pulumi.<env>.yaml beside Pulumi.yaml.")]
EnvsOpt = Annotated[
    Optional[list[str]],
    typer.Option("--env", "-e", help="Environment(s); repeat the flag. Default: every built-in environment."),
]
CloudOpt = Annotated[
    Optional[str],
    typer.Option("--cloud", "-c", help="aws, gcp, azure or all. Default: the environment's own cloud."),
]
OutputOpt = Annotated[OutputFormat, typer.Option("--output", "-o", help="text or json.")]
ConfigFileOpt = Annotated[
    Optional[Path],
    typer.Option("--config-file", help="A Pulumi.<env>.yaml file anywhere on disk.", dir_okay=False),
]
ProjectDirOpt = Annotated[
    Optional[Path],
    typer.Option("--project-dir", help="Folder holding Pulumi.yaml. Default: found from the current folder up.",
                 file_okay=False),
]
PrOpt = Annotated[Optional[int], typer.Option("--pr", help="Pull-request number: the preview environment pr-N.", min=1)]
BranchOpt = Annotated[Optional[str], typer.Option("--branch", help="Branch name: a preview environment for it.")]
TtlOpt = Annotated[str, typer.Option("--ttl", help="Preview time to live: hours or days, e.g. 72h, 3d.")]
PlanFileOpt = Annotated[
    Optional[Path],
    typer.Option("--plan-file", help="A saved `mlinfra plan --output json` document, instead of planning now.",
                 dir_okay=False),
]
