"""The serving image: built from the app's Dockerfile and pushed to the environment's registry.

Tags. Registries with immutable tags (ECR IMMUTABLE, Artifact Registry immutable_tags) refuse a
second push of a tag with other content, so the tag is a hash of everything that defines the
build: every file of the context (the Dockerfile and .dockerignore included, with their
executable bits), the build arguments and the target platform. Same inputs -> same tag (and the
resource has nothing to update); any change -> a new tag, never a refused push.

Digests. Serving runs `repository@sha256:<digest>`, not a tag: a new build always changes what
every cloud compares (task definition, revision template, instance template) and so rolls out,
and an unchanged one never does. ECS: "repository-url/image@digest"
(https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ContainerDefinition.html, `image`);
Cloud Run and Container Apps take the same OCI reference form.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Mapping, Optional

import pulumi

from components.providers.base import BuildContext

# Never part of the image (app/.dockerignore excludes them too): the tag must not follow
# a local bytecode cache or an editor's scratch files.
_IGNORED = {"__pycache__", ".pytest_cache", ".hypothesis", ".venv", ".git", ".mypy_cache"}
PLATFORM = "linux/amd64"  # what every cloud's serverless runtime and the default VM images run
TAG_LENGTH = 16  # hex digits: 64 bits, no collision in any registry's lifetime


def build_args(ctx: BuildContext) -> dict[str, str]:
    """Build arguments of the serving image. CLOUD picks the storage client the app needs to read
    MODEL_URI (app/requirements-<cloud>.txt), so each cloud's image carries only its own SDK."""
    return {"CLOUD": ctx.spec.cloud}


def _context_files(context: Path):
    for path in sorted(p for p in context.rglob("*") if p.is_file()):
        relative = path.relative_to(context)
        if _IGNORED.intersection(relative.parts) or path.suffix == ".pyc":
            continue
        yield relative, path


def build_tag(context: Path, args: Mapping[str, str], platform: str = PLATFORM) -> str:
    """The image tag: a hash of the context's files (names, executable bit, bytes), the build
    arguments and the platform. Machine-independent: relative paths, sorted, no timestamps."""
    digest = hashlib.sha256(b"mlinfra-image-v2\0")
    digest.update(json.dumps({"args": dict(sorted(args.items())), "platform": platform}, sort_keys=True).encode())
    if context.is_dir():
        for relative, path in _context_files(context):
            executable = os.access(path, os.X_OK)
            digest.update(f"\0{relative.as_posix()}\0{int(executable)}\0".encode())
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:TAG_LENGTH]


class ContainerImage(pulumi.ComponentResource):
    TYPE = "mlinfra:image:ContainerImage"

    def __init__(self, name: str, ctx: BuildContext, project_dir: Path,
                 opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(self.TYPE, name, None, opts)
        import pulumi_docker_build as docker_build

        serving = ctx.spec.service.serving
        context = project_dir / serving.build_context
        args = build_args(ctx)
        tag = build_tag(context, args, PLATFORM)
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
            build_args=args,
            platforms=[docker_build.Platform(PLATFORM)],
            push=True,
            tags=[pulumi.Output.concat(registry.url, ":", tag)],
            registries=auth,
            labels={"org.opencontainers.image.source": "mlinfra", "mlinfra.service": ctx.spec.service.name},
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.tag = tag
        self.digest: pulumi.Output[str] = image.digest
        # What serving runs: the repository pinned by digest (no tag: the digest alone names the image).
        self.ref: pulumi.Output[str] = pulumi.Output.concat(registry.url, "@", image.digest)
        self.register_outputs({"ref": self.ref, "digest": self.digest, "tag": tag})
