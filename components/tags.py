"""The tags every resource carries, before each cloud rewrites them to its own rules."""
from __future__ import annotations

from components.spec import EnvironmentSpec

MANAGED_BY = "mlinfra"


def base_tags(spec: EnvironmentSpec) -> dict[str, str]:
    # User tags first, so they can add but never override the keys tools rely on.
    tags = dict(spec.tags)
    tags.update(
        {
            "service": spec.service.name,
            "environment": spec.env,
            "stack": spec.stack,
            "managed-by": MANAGED_BY,
        }
    )
    if spec.preview is not None:
        tags["expires-at"] = spec.preview.expires_at
        tags["preview-of"] = spec.preview.source
    return tags
