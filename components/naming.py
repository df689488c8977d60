"""Physical names: derived from `<service>-<env>`, checked against each cloud's limits.

Global namespaces (S3 and GCS buckets, Azure storage accounts and registries) get a short
stable hash of project/stack/region so that two stacks never claim the same name, and the
same stack always derives the same one.
"""
from __future__ import annotations

import hashlib
import re

from components.errors import ConfigError


def short_hash(*parts: str, length: int = 6) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:length]


def checked(name: str, *, what: str, pattern: str, min_len: int, max_len: int, limit: str) -> str:
    """Return `name` if it satisfies the cloud rule, else a ConfigError naming the rule."""
    if not (min_len <= len(name) <= max_len) or not re.fullmatch(pattern, name):
        raise ConfigError(
            f"mlinfra:service.name: derived {what} name {name!r} ({len(name)} chars) breaks the limit "
            f"'{limit}'; shorten the service or environment name"
        )
    return name


def alnum(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())
