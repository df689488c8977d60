"""`mlinfra validate`: check an environment file without building anything."""
from __future__ import annotations

from cli.options import CloudOpt, ConfigFileOpt, EnvsOpt, OutputFormat, OutputOpt, ProjectDirOpt


def validate(
    env: EnvsOpt = None,
    cloud: CloudOpt = None,
    config_file: ConfigFileOpt = None,
    output: OutputOpt = OutputFormat.text,
    project_dir: ProjectDirOpt = None,
) -> None:
    """Validate Pulumi.<env>.yaml (or --config-file) against the spec and each cloud's limits. Exit 3 if invalid."""
    from cli.output import console, emit_json, styled
    from stacks.config import find_project_dir
    from stacks.planning import targets

    root = None if config_file is not None else find_project_dir(project_dir)
    checked = []
    for target in targets(root, env, cloud, config_file):
        spec = target.spec()
        checked.append({"env": spec.env, "stack": spec.stack, "cloud": spec.cloud, "region": spec.region,
                        "source": target.raw.source})
    if output == OutputFormat.json:
        emit_json({"valid": True, "environments": checked})
        return
    for item in checked:
        console.print(styled(("valid", "green"), f" {item['source']}: stack ", (item["stack"], "bold"),
                             f" ({item['cloud']}, {item['region']})"), soft_wrap=True)
