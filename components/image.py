"""The serving image: built from the app's Dockerfile and pushed to the environment's registry.

The tag is a hash of the build context, so an unchanged app keeps its tag (immutable-tag
registries accept it) and a changed one gets a new tag; serving runs the pushed `ref`
(`repo:tag@sha256:digest`), so a new image rolls out a new revision.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Optional

import pulumi

from components.providers.base import BuildContext

# Not part of the image: keeps the hash stable across local caches and editor files.
_IGNORED = {"__pycache__", ".pytest_cache", ".venv", ".git", ".mypy_cache"}


def context_hash(context: Path) -> str:
    digest = hashlib.sha256()
    if context.is_dir():
        for path in sorted(p for p in context.rglob("*") if p.is_file()):
            if _IGNORED.intersection(path.relative_to(context).parts) or path.suffix == ".pyc":
                continue
            digest.update(str(path.relative_to(context)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


class ContainerImage(pulumi.ComponentResource):
    TYPE = "mlinfra:image:ContainerImage"

    def __init__(self, name: str, ctx: BuildContext, project_dir: Path,
                 opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(self.TYPE, name, None, opts)
        import pulumi_docker_build as docker_build

        serving = ctx.spec.service.serving
        context = project_dir / serving.build_context
        tag = context_hash(context)
        registry = ctx.registry
        assert registry is not None, "the registry is built before the image"
        auth = []
        if registry.username is not None:
            auth = [docker_build.RegistryArgs(address=registry.server, username=registry.username,
                                              password=registry.password)]
        image = docker_build.Image(
            f"{name}-build",
            # Relative to the project: Pulumi runs the program there, and plans stay machine-independent.
            context=docker_build.BuildContextArgs(location=serving.build_context),
            dockerfile=docker_build.DockerfileArgs(location=f"{serving.build_context}/Dockerfile"),
            platforms=[docker_build.Platform.LINUX_AMD64],
            push=True,
            tags=[pulumi.Output.concat(registry.url, ":", tag)],
            registries=auth,
            labels={"org.opencontainers.image.source": "mlinfra", "mlinfra.service": ctx.spec.service.name},
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.ref: pulumi.Output[str] = image.ref
        self.register_outputs({"ref": self.ref})
