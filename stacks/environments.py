"""Environment -> stack name. One stack per environment per cloud, never sharing state.

An environment deploys to its own cloud (`mlinfra:cloud`) as the stack named after it (`dev`);
the same environment on another cloud is a stack of its own (`dev-aws`).

Preview environments (one per pull request or branch) are the `dev` environment with the
overrides in `PREVIEW_SERVICE_OVERRIDES`, named `pr-42` or `br-<slug>[-<hash>]`, and carry
`mlinfra:preview: {source, ttl_hours, expires_at}` in their stack config. That key is what makes
a stack destroyable by `mlinfra env down` / `env gc`; `dev`, `prod` and every stack of a
built-in environment are protected whatever their config says.
"""
from __future__ import annotations

import base64
import hashlib
import re
import unicodedata
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional

from components.errors import ConfigError, ProtectedStack
from components.providers.base import cloud_names
from components.spec import ENV_NAME
from stacks.config import RawConfig, builtin_envs, env_file, load_file, merge

# Previews are based on this environment's Pulumi.<env>.yaml.
PREVIEW_BASE_ENV = "dev"
# Never destroyed by `env down` / `env gc`, even if their config claims to be a preview.
PROTECTED_ENVS = frozenset({"dev", "prod"})

DEFAULT_TTL_HOURS = 72
MAX_TTL_HOURS = 24 * 30  # PreviewSpec.ttl_hours allows at most 30 days

# Preview stack names are at most 18 characters: a preview on a cloud other than dev's home cloud
# is the stack `<name>-<cloud>` ("-azure": 6 more), and every stack name must match ENV_NAME
# (24 characters). Resource names derive from `<service>-<env>` and the tightest ones leave
# little room: AWS load balancer / target group names are 32 characters, GCP service account
# ids 30, Azure storage accounts 24 alphanumerics (those add a hash of their own).
PREVIEW_NAME_MAX = 18
BRANCH_PREFIX = "br-"
PR_PREFIX = "pr-"
# 8 lowercase base32 characters of SHA-256: 40 bits, so 1,200 branches collide with a chance of about
# 1e-6 (4 hex digits gave ~15 collisions in 1,200 realistic names). Base32 keeps the name in [a-z0-9-].
HASH_LEN = 8
_HASHED = re.compile(rf"(?:.*-)?[a-z2-7]{{{HASH_LEN}}}")

# What a preview changes in dev's `mlinfra:service`: cheap, small, disposable. Merged over the
# service before `overrides.<cloud>`, so a cloud that cannot scale to zero keeps dev's own
# per-cloud override (e.g. `overrides.aws.serving.min_instances: 1`).
PREVIEW_SERVICE_OVERRIDES: dict[str, Any] = {
    "serving": {
        "min_instances": 0,
        "max_instances": 2,
        # The smallest size every serverless platform accepts without other trade-offs: Cloud Run
        # below 1 CPU forces concurrency 1; Fargate and Container Apps pair 1 vCPU with 2 GiB.
        "cpu": 1.0,
        "memory_gib": 2.0,
    },
    "training": {"enabled": False, "machines": 0},
    # `destroy` must be able to delete the bucket with whatever the preview wrote into it.
    "storage": {"force_destroy": True},
    "budget": {"monthly_usd": None},
}


def stack_name(env: str, cloud: str, home_cloud: str) -> str:
    return env if cloud == home_cloud else f"{env}-{cloud}"


# -- preview names --------------------------------------------------------------------------------
def _short_hash(text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()
    return base64.b32encode(digest).decode("ascii").lower()[:HASH_LEN]


def slug(text: str) -> str:
    """Lowercase `[a-z0-9-]`: accents folded to ASCII, anything else a single '-', trimmed."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    return re.sub(r"-{2,}", "-", re.sub(r"[^a-z0-9]+", "-", folded)).strip("-")


def branch_stack_name(branch: str) -> str:
    """`br-<slug>`, with a hash of the exact branch name whenever the slug lost something.

    The hash is added when the slug is truncated *or* differs from the branch name at all, so
    `feature/x`, `feature_x` and `Feature-X` (distinct git branches) get distinct stacks, and
    the same branch always gets the same one. A plain name is never shaped like a hashed one
    (a branch ending in `-` and HASH_LEN base32 characters is hashed too), so a branch literally
    named like another branch's stack cannot take that stack: distinct branches, distinct stacks,
    up to a 40-bit hash collision.
    """
    if not branch or not branch.strip():
        raise ConfigError("--branch: a branch name is required, e.g. --branch feature/login")
    body = slug(branch)
    plain = f"{BRANCH_PREFIX}{body}"
    if body and body == branch and len(plain) <= PREVIEW_NAME_MAX and not _HASHED.fullmatch(body):
        return plain
    room = PREVIEW_NAME_MAX - len(BRANCH_PREFIX) - 1 - HASH_LEN
    body = body[:room].rstrip("-")
    return f"{BRANCH_PREFIX}{body + '-' if body else ''}{_short_hash(branch)}"


def pr_stack_name(pr: int) -> str:
    if isinstance(pr, bool) or not isinstance(pr, int) or pr < 1:
        raise ConfigError(f"--pr: {pr!r} is not a pull-request number (a positive integer)")
    name = f"{PR_PREFIX}{pr}"
    if len(name) > PREVIEW_NAME_MAX:
        raise ConfigError(f"--pr: {pr} is too large; a preview stack name is at most {PREVIEW_NAME_MAX} characters")
    return name


def preview_stack_name(*, pr: Optional[int] = None, branch: Optional[str] = None) -> str:
    if (pr is None) == (branch is None):
        raise ConfigError("give exactly one of --pr NUMBER or --branch NAME")
    name = pr_stack_name(pr) if pr is not None else branch_stack_name(branch or "")
    assert re.fullmatch(ENV_NAME, name), name  # guaranteed by construction; a bug otherwise
    return name


def preview_source(*, pr: Optional[int] = None, branch: Optional[str] = None) -> str:
    """What the preview is of, as a tag value every cloud accepts (`preview-of`): `pr-42` or the branch."""
    if pr is not None:
        return pr_stack_name(pr)
    # Tag values: at most 63 of [A-Za-z0-9_.:@/+=-] (components/spec.py); git allows far more.
    return re.sub(r"[^A-Za-z0-9_.:@/+=-]", "-", branch or "")[:63] or "branch"


# -- time to live ---------------------------------------------------------------------------------
def parse_ttl(text: str | int) -> int:
    """`72h`, `3d` or a number of hours -> hours (1 .. 720)."""
    match = re.fullmatch(r"\s*(\d+)\s*([hd]?)\s*", str(text).lower())
    if not match:
        raise ConfigError(f"--ttl: {text!r} is not a duration; use hours or days, e.g. 72h or 3d")
    hours = int(match.group(1)) * (24 if match.group(2) == "d" else 1)
    if not 1 <= hours <= MAX_TTL_HOURS:
        raise ConfigError(f"--ttl: {text} is not allowed: a preview lives 1h to {MAX_TTL_HOURS}h (30d)")
    return hours


def format_time(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> Optional[datetime]:
    try:
        return datetime.strptime(str(text), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    except ValueError:
        return None


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


# -- preview config -------------------------------------------------------------------------------
def preview_values(base: RawConfig, *, stack: str, source: str, ttl_hours: int,
                   now: Optional[datetime] = None) -> RawConfig:
    """The base environment's config with the preview overrides, `env` and `preview` set."""
    moment = now or utcnow()
    values = dict(base.values)
    service = values.get("service") or {}
    if not isinstance(service, Mapping):
        raise ConfigError(f"mlinfra:service: expected a mapping in {base.source}")
    values["service"] = merge(service, PREVIEW_SERVICE_OVERRIDES)
    values["env"] = stack
    values["preview"] = {
        "source": source,
        "ttl_hours": ttl_hours,
        "expires_at": format_time(moment + timedelta(hours=ttl_hours)),
    }
    return RawConfig(values=values, source=f"{base.source} + preview overrides", passthrough=dict(base.passthrough),
                     problems=base.problems)


def preview_raw_config(project_dir: Path, *, pr: Optional[int] = None, branch: Optional[str] = None,
                       ttl_hours: int = DEFAULT_TTL_HOURS, now: Optional[datetime] = None) -> tuple[str, RawConfig]:
    """(preview env / stack name, the dev config with preview overrides) for `--pr` or `--branch`."""
    name = preview_stack_name(pr=pr, branch=branch)
    if not 1 <= int(ttl_hours) <= MAX_TTL_HOURS:
        raise ConfigError(f"--ttl: {ttl_hours}h is not allowed: a preview lives 1h to {MAX_TTL_HOURS}h (30d)")
    base = load_file(env_file(Path(project_dir), PREVIEW_BASE_ENV))
    raw = preview_values(base, stack=name, source=preview_source(pr=pr, branch=branch), ttl_hours=int(ttl_hours),
                         now=now)
    return name, raw


# -- protection -----------------------------------------------------------------------------------
def protected_reason(stack: str, builtin: Iterable[str] = ()) -> Optional[str]:
    """Why `stack` belongs to a protected environment by name alone, or None."""
    envs = set(PROTECTED_ENVS) | set(builtin)
    if stack in envs:
        return f"{stack} is a built-in environment"
    for env in envs:
        for cloud in cloud_names():
            if stack == f"{env}-{cloud}":
                return f"{stack} is the built-in environment {env} on {cloud}"
    return None


def ensure_destroyable(stack: str, preview: Optional[Mapping[str, Any]], project_dir: Optional[Path] = None, *,
                       builtin: Optional[Iterable[str]] = None) -> None:
    """Raise ProtectedStack unless `stack` was created as a preview and is not a built-in environment.

    `builtin`: the project's environments, listed before a preview's settings file was put beside
    them (that file would otherwise look like one); default: listed from `project_dir` now.
    """
    if builtin is None:
        builtin = builtin_envs(Path(project_dir)) if project_dir else []
    reason = protected_reason(stack, builtin)
    if reason:
        raise ProtectedStack(f"stack {stack} is protected ({reason}); env down / env gc only destroy previews. "
                             "Use `mlinfra destroy --env ...` deliberately if you mean it (prod and stacks marked "
                             "mlinfra:protected also need --allow-protected)")
    if not preview:
        raise ProtectedStack(f"stack {stack} is protected: it was not created as a preview "
                             "(its config has no mlinfra:preview); env down / env gc only destroy previews")


def is_expired(preview: Optional[Mapping[str, Any]], now: Optional[datetime] = None) -> bool:
    """True only when the preview's `expires_at` is readable and has passed."""
    if not preview:
        return False
    expires = parse_time(str(preview.get("expires_at", "")))
    return expires is not None and expires <= (now or utcnow())
