"""`mlinfra secrets set`: a value from stdin into the cloud's secret store, through the documented API.

AWS runs against moto's Secrets Manager in server mode (a real HTTP endpoint); GCP and Azure
against recorded answers of their REST APIs (respx), asserting the documented request forms:
- PutSecretValue: SecretId + SecretString
  (https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_PutSecretValue.html)
- projects.secrets.addVersion: POST .../v1/projects/P/secrets/S:addVersion, {"payload": {"data": base64}}
  (https://cloud.google.com/secret-manager/docs/reference/rest/v1/projects.secrets/addVersion)
- Key Vault Set Secret: PUT https://VAULT.vault.azure.net/secrets/NAME?api-version=7.4, {"value": ...}
  (https://learn.microsoft.com/rest/api/keyvault/secrets/set-secret/set-secret)
"""
from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from tests.emulators import s3_emulator, s3_store  # noqa: F401  (fixtures)

VALUE = "s3cr3t-[bold]value"


def project(tmp_path: Path, cloud: str, secret: str = "api-key") -> Path:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "Pulumi.yaml").write_text("name: mlinfra\nruntime: python\n")
    (root / "Pulumi.dev.yaml").write_text(
        "config:\n"
        f"  mlinfra:cloud: {cloud}\n"
        "  gcp:project: my-proj\n"
        "  mlinfra:service:\n"
        "    name: digits\n"
        "    serving:\n"
        "      image: registry.example.com/digits@sha256:" + "a" * 64 + "\n"
        "      min_instances: 1\n"
        f"      secrets: {{API_KEY: {secret}}}\n")
    return root


def run(root: Path, *args: str, value: str = VALUE + "\n"):
    return CliRunner().invoke(app, ["secrets", "set", *args, "--env", "dev", "--project-dir", str(root)], input=value)


def test_aws_writes_a_new_version_of_the_services_secret(tmp_path, s3_store):  # noqa: F811
    import boto3

    client = boto3.client("secretsmanager", region_name="us-east-1")
    # The container the program creates (components/providers/aws/secrets.py names it).
    client.create_secret(Name="mlinfra/digits-dev/api-key")
    result = run(project(tmp_path, "aws"), "API_KEY")
    assert result.exit_code == 0, result.output
    assert client.get_secret_value(SecretId="mlinfra/digits-dev/api-key")["SecretString"] == VALUE
    assert VALUE not in result.output, "a secret value is never echoed"
    assert "API_KEY" in result.output


def test_aws_secret_not_deployed_yet(tmp_path, s3_store):  # noqa: F811
    result = run(project(tmp_path, "aws", secret="never-deployed"), "API_KEY")
    assert result.exit_code == 1
    assert "deploy the environment first" in result.output and "Traceback" not in result.output


def test_aws_without_credentials_is_exit_4(tmp_path, monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    result = run(project(tmp_path, "aws"), "API_KEY")
    assert result.exit_code == 4, result.output
    assert "AWS_ACCESS_KEY_ID" in result.output


def test_gcp_adds_a_version_with_the_documented_request(tmp_path, monkeypatch):
    respx = pytest.importorskip("respx")
    monkeypatch.setenv("GOOGLE_OAUTH_ACCESS_TOKEN", "tok")
    url = "https://secretmanager.googleapis.com/v1/projects/my-proj/secrets/digits-dev-api-key:addVersion"
    with respx.mock(assert_all_called=True) as mock:
        route = mock.post(url).respond(200, json={"name": "projects/1/secrets/digits-dev-api-key/versions/3"})
        result = run(project(tmp_path, "gcp"), "api-key")  # the secret name works as well as the variable
    assert result.exit_code == 0, result.output
    sent = route.calls.last.request
    assert sent.headers["Authorization"] == "Bearer tok"
    assert base64.b64decode(json.loads(sent.content)["payload"]["data"]).decode() == VALUE
    assert "versions/3" in result.output and VALUE not in result.output


def test_gcp_missing_secret_is_a_clear_failure(tmp_path, monkeypatch):
    respx = pytest.importorskip("respx")
    monkeypatch.setenv("GOOGLE_OAUTH_ACCESS_TOKEN", "tok")
    with respx.mock() as mock:
        mock.post(url__regex=r".*:addVersion").respond(404, json={"error": {"code": 404, "message": "not found"}})
        result = run(project(tmp_path, "gcp"), "API_KEY")
    assert result.exit_code == 1
    assert "deploy the environment first" in result.output


def test_azure_sets_the_secret_in_the_services_vault(tmp_path, monkeypatch):
    respx = pytest.importorskip("respx")
    from components.providers.azure import secret_values

    scopes = []
    monkeypatch.setattr(secret_values, "token", lambda live, scope: scopes.append(scope) or "tok")
    with respx.mock(assert_all_called=True) as mock:
        route = mock.put(url__regex=r"https://kv[a-z0-9]+\.vault\.azure\.net/secrets/api-key").respond(
            200, json={"id": "https://kv.vault.azure.net/secrets/api-key/abc"})
        result = run(project(tmp_path, "azure"), "API_KEY")
    assert result.exit_code == 0, result.output
    sent = route.calls.last.request
    assert sent.url.params["api-version"] == "7.4"
    assert json.loads(sent.content)["value"] == VALUE
    assert scopes == ["https://vault.azure.net/.default"]


@pytest.mark.parametrize("name, value, code, says", [
    ("NOPE", VALUE, 3, "allowed: API_KEY (api-key)"),
    ("API_KEY", "\n", 3, "the secret value is empty"),
    ("API_KEY", "x" * 30000, 3, "at most 25600"),
])
def test_bad_input_is_one_line_before_any_call(tmp_path, name, value, code, says):
    result = run(project(tmp_path, "aws"), name, value=value)
    assert result.exit_code == code
    assert says in result.output and "Traceback" not in result.output
