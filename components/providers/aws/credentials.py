"""AWS credentials, looked for where the provider SDK looks, without talking to AWS."""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Optional


def _any(env: Mapping[str, str], *names: str) -> bool:
    return any(env.get(n) for n in names)


def missing(env: Mapping[str, str], home: Path, config: Mapping[str, str]) -> Optional[str]:
    """None when credentials are there, else one line naming the variables or login command."""
    if env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY"):
        return None
    if _any(env, "AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") or config.get("aws:profile"):
        return None
    aws_dir = home / ".aws"
    if (Path(env.get("AWS_SHARED_CREDENTIALS_FILE") or aws_dir / "credentials")).is_file():
        return None
    if (Path(env.get("AWS_CONFIG_FILE") or aws_dir / "config")).is_file():
        return None
    return ("no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, or "
            "AWS_WEB_IDENTITY_TOKEN_FILE with AWS_ROLE_ARN (OIDC), or run `aws configure` / `aws sso login`")
