"""`mlinfra app build|run`: the inference service's container image, through the Docker SDK for Python."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Optional

import typer

from cli.options import OutputFormat, OutputOpt
from components.errors import OperationFailed, PrerequisiteMissing

app = typer.Typer(help="Build and run the inference service's container image (needs a Docker engine).",
                  no_args_is_help=True)

DEFAULT_TAG = "mlinfra-digits:latest"
CONTAINER_PORT = 8080
TagOpt = Annotated[str, typer.Option("--tag", "-t", help="Image name:tag.")]


def docker_client():
    """A connected Docker client, or PrerequisiteMissing (exit 4) saying how to get one."""
    try:
        import docker
        from docker.errors import DockerException
    except ImportError:
        raise PrerequisiteMissing("the Docker SDK for Python is missing: pip install 'mlinfra-iac[app]'") from None
    where = os.environ.get("DOCKER_HOST") or "the default socket (unix:///var/run/docker.sock)"
    try:
        client = docker.from_env()
        client.ping()
    except (DockerException, OSError) as exc:  # requests' connection errors are OSErrors
        raise PrerequisiteMissing(f"no Docker engine reachable at {where}; start Docker or set DOCKER_HOST "
                                  f"({type(exc).__name__})") from None
    return client


def _default_context() -> Path:
    import app as service_package  # the service package: cheap, it imports only pathlib

    return Path(service_package.__file__).resolve().parent


@app.command()
def build(
    tag: TagOpt = DEFAULT_TAG,
    context: Annotated[Optional[Path], typer.Option(help="Build context holding the Dockerfile. Default: app/.",
                                                    file_okay=False, exists=True)] = None,
    platform: Annotated[Optional[str], typer.Option(help="e.g. linux/amd64 for cloud runtimes.")] = None,
    cloud: Annotated[Optional[str], typer.Option(
        help="Add that cloud's storage client (aws, gcp, azure) so MODEL_URI can name its bucket. "
             "Default: none, the image serves its baked-in model.")] = None,
    output: OutputOpt = OutputFormat.text,
) -> None:
    """Build the service image: the committed model baked in, plus a cloud's storage client if asked."""
    context = context or _default_context()
    if cloud is not None and not (context / f"requirements-{cloud}.txt").is_file():
        from components.errors import ConfigError

        known = sorted(p.stem.removeprefix("requirements-") for p in context.glob("requirements-*.txt"))
        raise ConfigError(f"--cloud {cloud!r}: expected one of {', '.join(k for k in known if k != 'train')}")
    client = docker_client()
    from docker.errors import DockerException

    from cli.output import console, emit_json

    problems: list[str] = []
    try:
        for chunk in client.api.build(path=str(context), dockerfile="Dockerfile", tag=tag, rm=True,
                                      platform=platform, buildargs={"CLOUD": cloud} if cloud else None,
                                      decode=True):
            if "error" in chunk:
                problems.append(str(chunk["error"]).strip())
            elif "stream" in chunk and output == OutputFormat.text:
                console.out(chunk["stream"].rstrip("\n"), highlight=False)
        if problems:
            raise OperationFailed(f"docker build of {context} failed: {problems[-1]}")
        image = client.images.get(tag)
    except DockerException as exc:
        raise OperationFailed(f"docker build of {context} failed: {exc}") from None
    if output == OutputFormat.json:
        emit_json({"tag": tag, "id": image.id, "size_bytes": image.attrs.get("Size"), "context": str(context)})
    else:
        console.print(f"built {tag} ({image.id[:19]})")


@app.command()
def run(
    tag: TagOpt = DEFAULT_TAG,
    port: Annotated[int, typer.Option(help="Host port on 127.0.0.1.", min=1, max=65535)] = CONTAINER_PORT,
    name: Annotated[Optional[str], typer.Option(help="Container name.")] = None,
    model_uri: Annotated[Optional[str], typer.Option("--model-uri", help="MODEL_URI inside the container.")] = None,
    detach: Annotated[bool, typer.Option("--detach", "-d", help="Start and return instead of following logs.")] = False,
    output: OutputOpt = OutputFormat.text,
) -> None:
    """Run the service image on 127.0.0.1:PORT; follows its logs until Ctrl-C unless --detach."""
    client = docker_client()
    from docker.errors import DockerException, ImageNotFound

    from cli.output import console, emit_json

    environment = {"PORT": str(CONTAINER_PORT)}
    if model_uri:
        environment["MODEL_URI"] = model_uri
    try:
        container = client.containers.run(tag, detach=True, name=name, environment=environment,
                                          ports={f"{CONTAINER_PORT}/tcp": ("127.0.0.1", port)})
    except ImageNotFound:
        raise OperationFailed(f"image {tag} not found; build it with `mlinfra app build --tag {tag}`") from None
    except DockerException as exc:
        raise OperationFailed(f"cannot start {tag}: {exc}") from None
    url = f"http://127.0.0.1:{port}"
    if output == OutputFormat.json:
        emit_json({"container": container.id, "name": container.name, "image": tag, "url": url})
    else:
        console.print(f"started {container.name} ({container.id[:12]}) from {tag}: {url}/v2/health/ready")
    if detach:
        return
    try:
        for line in container.logs(stream=True, follow=True):
            console.out(line.decode(errors="replace").rstrip("\n"), highlight=False)
    except KeyboardInterrupt:
        pass
    finally:
        container.stop()
