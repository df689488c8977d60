"""Which stacks a command means: environments x clouds, resolved once for plan, validate, policy, cost."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from components.errors import ConfigError
from components.providers.base import cloud_names, get_provider
from components.spec import EnvironmentSpec
from stacks.config import RawConfig, builtin_envs, env_file, environment_spec, load_file
from stacks.environments import stack_name


@dataclass(frozen=True)
class Target:
    """One stack to plan: an environment's config on one cloud."""

    env: str
    cloud: str
    raw: RawConfig

    @property
    def stack(self) -> str:
        return stack_name(self.env, self.cloud, self.raw.home_cloud)

    def spec(self) -> EnvironmentSpec:
        spec = environment_spec(self.raw, env=self.env, stack=self.stack, cloud=self.cloud)
        get_provider(spec.cloud).check(spec)
        return spec


def clouds_for(cloud: Optional[str], home: str) -> list[str]:
    if cloud is None:
        return [home] if home else []
    if cloud == "all":
        return list(cloud_names())
    if cloud not in cloud_names():
        raise ConfigError(f"--cloud: {cloud!r} is not a supported cloud; allowed: {', '.join(cloud_names())}, all")
    return [cloud]


def targets(project_dir: Path, envs: Optional[list[str]] = None, cloud: Optional[str] = None,
            config_file: Optional[Path] = None) -> list[Target]:
    """Resolve --env / --config-file / --cloud into targets. Raises ConfigError on anything unknown."""
    if cloud is not None:
        clouds_for(cloud, "")  # validate the flag before reading any file
    if config_file is not None:
        raw = load_file(config_file)
        name = config_file.name
        env = name[len("Pulumi."):-len(".yaml")] if name.startswith("Pulumi.") and name.endswith(".yaml") else "dev"
        sources = [(str(raw.values.get("env") or env), raw)]
    else:
        names = envs or builtin_envs(project_dir)
        if not names:
            raise ConfigError(f"no Pulumi.<env>.yaml in {project_dir}; pass --env or --config-file")
        sources = [(env, load_file(env_file(project_dir, env))) for env in names]
    out: list[Target] = []
    for env, raw in sources:
        for c in clouds_for(cloud, raw.home_cloud) or [""]:
            out.append(Target(env=str(raw.values.get("env") or env), cloud=c, raw=raw))
    return out
