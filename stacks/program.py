"""The Pulumi program: config -> spec -> MLService -> stack outputs.

The same `program()` runs under `pulumi up` (via ../__main__.py), the Automation API
(stacks/workspace.py) and the mock runtime (stacks/offline.py).
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import pulumi
from pulumi.runtime import config as runtime_config

from components.ml_service import MLService
from components.providers.base import get_provider
from stacks.config import confine_build_context, environment_spec, from_pairs

PROJECT_DIR = Path(__file__).resolve().parents[1]


def current_config() -> dict[str, object]:
    """All `namespace:key` config the engine handed this program."""
    pairs = dict(runtime_config.get_config_env())
    pairs.update(runtime_config.CONFIG.get())
    return pairs


def program(project_dir: Optional[Path] = None) -> MLService:
    stack = pulumi.get_stack()
    raw = from_pairs(current_config(), source=f"stack {stack}")
    spec = environment_spec(raw, env=stack, stack=stack, project=pulumi.get_project())
    project_dir = project_dir or PROJECT_DIR
    if spec.service.serving.image is None:
        confine_build_context(project_dir, spec)
    service = MLService(f"{spec.service.name}-{spec.env}", spec, get_provider(spec.cloud), project_dir)
    for key, value in service.exports().items():
        pulumi.export(key, value)
    return service
