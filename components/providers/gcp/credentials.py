"""GCP credentials, looked for where the provider SDK looks, without talking to GCP."""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Optional


def _any(env: Mapping[str, str], *names: str) -> bool:
    return any(env.get(n) for n in names)


def missing(env: Mapping[str, str], home: Path, config: Mapping[str, str]) -> Optional[str]:
    """None when credentials are there, else one line naming the variables or login command."""
    adc = Path(env.get("CLOUDSDK_CONFIG") or home / ".config" / "gcloud") / "application_default_credentials.json"
    has_key = _any(env, "GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_CREDENTIALS", "GOOGLE_OAUTH_ACCESS_TOKEN",
                   "CLOUDSDK_AUTH_ACCESS_TOKEN") or adc.is_file()
    has_project = _any(env, "GOOGLE_PROJECT", "GOOGLE_CLOUD_PROJECT", "GCLOUD_PROJECT", "CLOUDSDK_CORE_PROJECT") \
        or bool(config.get("gcp:project"))
    gaps = []
    if not has_key:
        gaps.append("credentials: set GOOGLE_APPLICATION_CREDENTIALS (a key file or workload identity "
                       "federation config) or GOOGLE_CREDENTIALS, or run `gcloud auth application-default login`")
    if not has_project:
        gaps.append("a project: set GOOGLE_PROJECT, or `pulumi config set gcp:project <id>`")
    return "no GCP " + "; and ".join(gaps) if gaps else None
