"""`mlinfra secrets set`: write a value for one of the service's `serving.secrets` into its cloud's store.

The program creates the secret containers and grants only the serving identity read access
(components/providers/<cloud>/secrets.py); values never pass through the program, the plan or the
state. This writes them from the deploying user's credentials, through the cloud's own API
(components/providers/<cloud>/secret_values.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from components.errors import ConfigError

# The smallest of the clouds' value limits: Secrets Manager SecretString 65,536 bytes, Secret Manager
# payload 64 KiB, Key Vault secret value 25 KB ("Azure Key Vault service limits").
MAX_VALUE_BYTES = 25 * 1024


@dataclass(frozen=True)
class Written:
    env_var: str
    secret: str
    cloud: str
    stack: str
    location: str


def resolve(secrets: dict[str, str], name: str) -> tuple[str, str]:
    """(environment variable, secret name) for NAME given as either."""
    if name in secrets:
        return name, secrets[name]
    for env_var, secret in secrets.items():
        if secret == name:
            return env_var, secret
    allowed = ", ".join(f"{k} ({v})" for k, v in sorted(secrets.items())) or "none: serving.secrets is empty"
    raise ConfigError(f"NAME: {name!r} is not in mlinfra:service.serving.secrets; allowed: {allowed}")


def check_value(value: str) -> str:
    if value.endswith("\n"):
        value = value[:-2] if value.endswith("\r\n") else value[:-1]
    if not value:
        raise ConfigError("the secret value is empty: pipe it on standard input, e.g. `printf %s \"$TOKEN\" | "
                          "mlinfra secrets set --env dev API_TOKEN`")
    if len(value.encode()) > MAX_VALUE_BYTES:
        raise ConfigError(f"the secret value is {len(value.encode())} bytes; at most {MAX_VALUE_BYTES} "
                          "(the smallest of the clouds' limits)")
    return value


@dataclass(frozen=True)
class Destination:
    target: object  # stacks.planning.Target
    spec: object  # EnvironmentSpec
    env_var: str
    secret: str


def destination(project_dir: Path, env: str, name: str, *, cloud: Optional[str] = None,
                config_file: Optional[Path] = None) -> Destination:
    """Which secret of which stack NAME means; every config error before a value is asked for."""
    from stacks.planning import targets

    chosen = targets(project_dir, [env] if config_file is None else None, cloud, config_file)
    if len(chosen) != 1:
        raise ConfigError(f"--cloud: name one cloud (aws, gcp or azure), not {cloud!r}")
    spec = chosen[0].spec()
    env_var, secret = resolve(dict(spec.service.serving.secrets), name)
    return Destination(target=chosen[0], spec=spec, env_var=env_var, secret=secret)


def write(dest: Destination, value: str) -> Written:
    from components.providers.base import get_provider
    from stacks.config import config_pairs
    from stacks.doctor import context

    value = check_value(value)
    target, spec = dest.target, dest.spec
    live = context(config_pairs(target.raw, env=target.env, cloud=target.cloud))
    location = get_provider(spec.cloud).put_secret(spec, dest.secret, value, live)
    return Written(env_var=dest.env_var, secret=dest.secret, cloud=spec.cloud, stack=spec.stack, location=location)
