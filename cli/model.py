"""`mlinfra model train|publish`: train the digits classifier (app/train.py) and copy it to where
the deployed service reads it, `models/<service>/current/` in the environment's bucket
(components/release.py; app/storage.py does the copying with the cloud's own client)."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from cli.options import CloudOpt, EnvOpt, OutputFormat, OutputOpt, ProjectDirOpt
from components.errors import ConfigError, OperationFailed, PrerequisiteMissing

app = typer.Typer(help="The served model: train it, write its model card, publish it to an environment.",
                  no_args_is_help=True)
MISSING_APP_EXTRA = "pip install 'mlinfra-iac[app]'"


@app.command()
def train(
    output_dir: Annotated[Optional[Path], typer.Option("--output-dir", help="Default: app/model (what the image bakes in).",
                                                       file_okay=False)] = None,
    output: OutputOpt = OutputFormat.text,
) -> None:
    """Train deterministically on scikit-learn's digits; write weights, model card and self-test sample."""
    try:
        from app import MODEL_DIR
        from app.train import train as run_training
    except ImportError as exc:
        raise PrerequisiteMissing(f"training needs the app extra ({exc.name} is missing): {MISSING_APP_EXTRA}") from None
    folder = output_dir or MODEL_DIR
    try:
        card = run_training(folder)
    except OSError as exc:  # a folder that cannot be created or written: the user's path, one line
        raise ConfigError(f"--output-dir {folder}: cannot write the model there: {exc.strerror or exc}") from None
    if output == OutputFormat.json:
        from cli.output import emit_json

        emit_json({"output_dir": str(folder), "version": card["version"],
                   "test_accuracy": card["metrics"]["test_accuracy"], "libraries": card["libraries"]})
        return
    from cli.output import console

    console.print(f"trained {card['name']} {card['version']}: held-out accuracy "
                  f"{card['metrics']['test_accuracy']:.2%} -> {folder}")


def _bucket_url(env: str, cloud: Optional[str], project_dir: Optional[Path]) -> tuple[str, str]:
    """(bucket URL, service name) of a deployed environment, from its stack outputs."""
    from cli.deploy import project_of, single_cloud
    from stacks import workspace

    target = workspace.target_for_env(project_of(project_dir), env, single_cloud(cloud))
    service = target.spec().service.name
    url = workspace.outputs(target).get("bucket_url")
    if not url:
        raise OperationFailed(f"stack {target.stack} has no bucket_url output; deploy it first: "
                              f"mlinfra deploy --env {env} --cloud {target.cloud}")
    return str(url), service


@app.command()
def publish(
    env: EnvOpt = "dev",
    cloud: CloudOpt = None,
    bucket_url: Annotated[Optional[str], typer.Option(
        "--bucket-url", help="s3://BUCKET, gs://BUCKET or az://ACCOUNT/CONTAINER. Default: the deployed "
                             "stack's bucket_url output (needs the Pulumi CLI).")] = None,
    service: Annotated[Optional[str], typer.Option(help="Service name under models/. Default: the environment's.")] = None,
    model_dir: Annotated[Optional[Path], typer.Option("--model-dir", help="Default: app/model.", file_okay=False,
                                                      exists=True)] = None,
    project_dir: ProjectDirOpt = None,
    output: OutputOpt = OutputFormat.text,
) -> None:
    """Copy the model to models/<service>/current/ in the environment's bucket, with the credentials
    of this shell (AWS profile or role, gcloud application default credentials, az login / identity)."""
    try:
        from app import MODEL_DIR
        from app.storage import StorageError, StorageSDKMissing, parse_model_uri, publish_model
    except ImportError as exc:
        raise PrerequisiteMissing(f"publishing needs the app extra ({exc.name} is missing): {MISSING_APP_EXTRA}") from None
    from components.release import model_path

    if bucket_url is None:
        bucket_url, env_service = _bucket_url(env, cloud, project_dir)
        service = service or env_service
    elif service is None:
        from cli.deploy import project_of, single_cloud
        from stacks import workspace

        service = workspace.target_for_env(project_of(project_dir), env, single_cloud(cloud)).spec().service.name
    uri = f"{bucket_url.rstrip('/')}/{model_path(service)}"
    try:
        parse_model_uri(uri)
    except StorageError as exc:
        raise ConfigError(f"--bucket-url {bucket_url!r}: expected s3://BUCKET, gs://BUCKET or az://ACCOUNT/CONTAINER"
                          f" ({exc})") from None
    folder = model_dir or MODEL_DIR
    try:
        written = publish_model(folder, uri)
    except StorageSDKMissing as exc:
        raise PrerequisiteMissing(str(exc)) from None
    except StorageError as exc:
        raise OperationFailed(f"publish {folder} -> {uri}: {exc}") from None
    from app.model import DigitsModel

    version = DigitsModel.load(folder).version
    if output == OutputFormat.json:
        from cli.output import emit_json

        emit_json({"model_uri": uri, "version": version, "objects": written})
        return
    from cli.output import console

    console.print(f"published digits {version} to {uri} ({len(written)} objects); the service reads it at its "
                  "next start (MODEL_URI)", markup=False, highlight=False, soft_wrap=True)
