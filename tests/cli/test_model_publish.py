"""`mlinfra model publish`: the model lands where every cloud's container looks for it
(components/release.py: MODEL_URI = <bucket>/models/<service>/current/), against real emulators."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app import MODEL_DIR
from app.model import CARD_FILE, SAMPLE_FILE, WEIGHTS_FILE, DigitsModel
from app.storage import fetch_model
from cli.main import app
from components.release import model_path
from tests.emulators import (azurite, az_store, gcs_emulator, gcs_store, list_keys, s3_emulator,  # noqa: F401
                             s3_enforces_auth, s3_store, store)

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()
FILES = sorted((CARD_FILE, WEIGHTS_FILE, SAMPLE_FILE))


def publish(*args: str):
    return runner.invoke(app, ["model", "publish", "--project-dir", str(ROOT), *args])


def bucket_url(store) -> str:
    """What the stack exports as bucket_url: s3://b, gs://b, az://account/container (no trailing slash)."""
    return store.uri("").rstrip("/")


def test_publish_copies_the_model_to_the_serving_path(store):
    result = publish("--env", "dev", "--bucket-url", bucket_url(store), "--output", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    # Pulumi.dev.yaml's service is "digits"; the path is the one container_env gives as MODEL_URI.
    assert model_path("digits") == "models/digits/current/"
    assert report["model_uri"] == store.uri("models/digits/current/")
    assert report["version"] == DigitsModel.load(MODEL_DIR).version
    assert list_keys(store) == [f"models/digits/current/{name}" for name in FILES]
    # What the deployed app then reads from MODEL_URI is the very artefact that was published.
    assert DigitsModel.load(fetch_model(report["model_uri"])).digest == DigitsModel.load(MODEL_DIR).digest


def test_publish_finds_the_bucket_in_the_stack_outputs(s3_store, monkeypatch):
    from stacks import workspace

    seen = []

    def outputs(target, **_):
        seen.append((target.env, target.cloud))
        return {"bucket_url": bucket_url(s3_store), "endpoint": "https://example.invalid"}

    monkeypatch.setattr(workspace, "outputs", outputs)
    result = publish("--env", "prod", "--cloud", "aws")
    assert result.exit_code == 0, result.output
    assert seen == [("prod", "aws")]
    assert f"to {s3_store.uri('models/digits/current/')}" in result.output
    assert len(list_keys(s3_store)) == 3


def test_publish_with_refused_credentials_fails_with_exit_1(s3_enforces_auth):
    result = publish("--bucket-url", bucket_url(s3_enforces_auth))
    assert result.exit_code == 1, result.output
    assert "access denied" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("url", ["https://example.com/bucket", "s3://", "az://account-only"])
def test_publish_refuses_a_malformed_bucket_url_with_exit_3(url):
    result = publish("--bucket-url", url)
    assert result.exit_code == 3, result.output
    assert "--bucket-url" in result.output and "s3://BUCKET, gs://BUCKET or az://ACCOUNT/CONTAINER" in result.output


def test_missing_sdk_names_the_full_install_command(monkeypatch):
    """Issue 13: the extra must survive the terminal's markup (it once printed `pip install 'mlinfra-iac'`)."""
    monkeypatch.setitem(sys.modules, "boto3", None)
    result = publish("--bucket-url", "s3://some-bucket")
    assert result.exit_code == 4, result.output
    assert "pip install 'mlinfra-iac[app]'" in result.output
