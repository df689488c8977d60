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
    """Validate Pulumi.<env>.yaml (or --config-file) against the spec and each cloud's limits. Exit 3 if invalid.

    The whole file is checked whatever --cloud says: its own cloud, and every cloud it has overrides
    for; every error is reported at once."""
    from cli.output import console, emit_json, styled
    from components.errors import ConfigError
    from stacks.config import check_every_cloud, find_project_dir
    from stacks.environments import stack_name
    from stacks.planning import targets

    root = None if config_file is not None else find_project_dir(project_dir)
    chosen = targets(root, env, cloud, config_file)
    checked, errors, seen = [], [], set()
    for target in chosen:
        try:
            if id(target.raw) not in seen:
                seen.add(id(target.raw))
                check_every_cloud(target.raw, env=target.env,
                                  stack_of=lambda c, t=target: stack_name(t.env, c, t.raw.home_cloud))
            spec = target.spec()
        except ConfigError as err:
            prefix = f"{target.raw.source}: " if len({id(t.raw) for t in chosen}) > 1 else ""
            errors.extend(prefix + line for line in err.message.splitlines())
            continue
        checked.append({"env": spec.env, "stack": spec.stack, "cloud": spec.cloud, "region": spec.region,
                        "source": target.raw.source})
    if errors:
        raise ConfigError("\n".join(dict.fromkeys(errors)))
    if output == OutputFormat.json:
        emit_json({"valid": True, "environments": checked})
        return
    for item in checked:
        console.print(styled(("valid", "green"), f" {item['source']}: stack ", (item["stack"], "bold"),
                             f" ({item['cloud']}, {item['region']})"), soft_wrap=True)
