"""Prerequisites of a real deployment, checked before the engine starts: the Pulumi CLI, a state
backend with its secrets passphrase, and credentials for the target cloud.

Each check raises PrerequisiteMissing (exit 4) naming exactly what to install, set or run.
Nothing here talks to a cloud: the checks look at the environment and the usual credential
files, so a missing login is reported in one line instead of a provider stack trace halfway
through an update.

State backend (documented in the README): `PULUMI_BACKEND_URL` wins; otherwise a `pulumi login`
(a current account in ~/.pulumi/credentials.json) is used; otherwise state goes to a local file
backend in a per-user folder, `$XDG_STATE_HOME/mlinfra/pulumi` (default
`~/.local/state/mlinfra/pulumi`), whose secrets are encrypted with `PULUMI_CONFIG_PASSPHRASE`.
"""
from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Optional

from components.errors import PrerequisiteMissing

PULUMI_INSTALL = ("the Pulumi CLI is not installed (no `pulumi` on PATH): curl -fsSL https://get.pulumi.com | sh, "
                  "or brew install pulumi; see https://www.pulumi.com/docs/install/")


def require_pulumi_cli(env: Optional[Mapping[str, str]] = None) -> str:
    """The path of the `pulumi` executable, or PrerequisiteMissing saying how to install it."""
    env = os.environ if env is None else env
    found = shutil.which("pulumi", path=env.get("PATH"))
    if not found:
        raise PrerequisiteMissing(PULUMI_INSTALL)
    return found


# -- state backend --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Backend:
    url: str  # what the engine uses: file://..., s3://..., https://api.pulumi.com
    local: bool  # the per-user file backend chosen by mlinfra
    env_vars: dict[str, str] = field(default_factory=dict)  # handed to every pulumi command
    secrets_provider: Optional[str] = None  # for `stack init` when mlinfra chose the backend


def state_dir(env: Optional[Mapping[str, str]] = None, home: Optional[Path] = None) -> Path:
    """The per-user folder for mlinfra's state: $XDG_STATE_HOME/mlinfra, else ~/.local/state/mlinfra."""
    env = os.environ if env is None else env
    home = home or Path(env.get("HOME") or Path.home())
    base = env.get("XDG_STATE_HOME") or str(home / ".local" / "state")
    return Path(base) / "mlinfra"


def _logged_in(env: Mapping[str, str], home: Path) -> Optional[str]:
    pulumi_home = Path(env.get("PULUMI_HOME") or home / ".pulumi")
    try:
        doc = json.loads((pulumi_home / "credentials.json").read_text())
    except (OSError, ValueError):
        return None
    current = doc.get("current") if isinstance(doc, dict) else None
    return str(current) if current else None


# Self-managed ("DIY") backends encrypt secrets with a passphrase unless a stack names a KMS.
DIY_SCHEMES = ("file://", "s3://", "gs://", "azblob://", "postgres://")


def _has_passphrase(env: Mapping[str, str]) -> bool:
    return "PULUMI_CONFIG_PASSPHRASE" in env or "PULUMI_CONFIG_PASSPHRASE_FILE" in env


def resolve_backend(env: Optional[Mapping[str, str]] = None, home: Optional[Path] = None) -> Backend:
    env = os.environ if env is None else env
    home = home or Path(env.get("HOME") or Path.home())
    url = env.get("PULUMI_BACKEND_URL") or _logged_in(env, home)
    if url:
        if url.startswith(DIY_SCHEMES) and not _has_passphrase(env):
            raise PrerequisiteMissing(
                f"PULUMI_CONFIG_PASSPHRASE is not set: the state backend {url} encrypts stack secrets with it; "
                "export PULUMI_CONFIG_PASSPHRASE=... (the same one every update of these stacks used)")
        return Backend(url=url, local=False)
    if not _has_passphrase(env):
        raise PrerequisiteMissing(
            "PULUMI_CONFIG_PASSPHRASE is not set: with no PULUMI_BACKEND_URL and no `pulumi login`, state goes to "
            f"the local file backend in {state_dir(env, home) / 'pulumi'}, whose secrets are encrypted with that "
            "passphrase; export PULUMI_CONFIG_PASSPHRASE=... (keep it: it is needed for every later update)")
    folder = state_dir(env, home) / "pulumi"
    folder.mkdir(parents=True, exist_ok=True)
    url = f"file://{folder}"
    return Backend(url=url, local=True, env_vars={"PULUMI_BACKEND_URL": url}, secrets_provider="passphrase")


# -- cloud credentials ----------------------------------------------------------------------------
def check_credentials(cloud: str, env: Optional[Mapping[str, str]] = None, home: Optional[Path] = None,
                      config: Optional[Mapping[str, str]] = None) -> None:
    """PrerequisiteMissing naming the variables or login command when `cloud` has no credentials."""
    env = os.environ if env is None else env
    home = home or Path(env.get("HOME") or Path.home())
    from components.providers.base import get_provider

    problem = get_provider(cloud).missing_credentials(env, home, config or {})
    if problem:
        raise PrerequisiteMissing(f"{problem} (needed to deploy to {cloud})")
