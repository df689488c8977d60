"""`mlinfra deploy | destroy | outputs` through the CLI, with tests/fakes/pulumi (a TEST DOUBLE of
the Pulumi CLI) on PATH: exit codes, messages, JSON shapes; and the deploy workflow's structure."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from cli.main import app

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


def invoke(fake, *args: str):
    return runner.invoke(app, [*args, "--project-dir", str(fake.project)])


def assert_one_clean_error(result, code: int, *needles: str) -> str:
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    text = " ".join(result.stderr.split())
    for needle in needles:
        assert needle in text, text
    return text


def test_deploy_json(fake):
    result = invoke(fake, "deploy", "--env", "dev", "--cloud", "aws", "--yes", "--output", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)  # engine lines went to stderr
    assert {k: doc[k] for k in ("stack", "env", "cloud", "preview_only")} == {
        "stack": "dev-aws", "env": "dev", "cloud": "aws", "preview_only": False}
    assert doc["outputs"]["endpoint"] == "https://digits-dev-aws.example.test"
    assert doc["outputs"]["registry_password"] == "[secret]"
    assert "Updating (dev-aws):" in result.stderr


def test_deploy_preview_only_changes_nothing(fake):
    result = invoke(fake, "deploy", "--env", "dev", "--preview-only")
    assert result.exit_code == 0, result.output
    assert "previewed stack dev (gcp)" in result.stdout
    assert not any(c[1:2] == ["up"] for c in fake.calls())


@pytest.mark.parametrize("command", ["deploy", "destroy"])
def test_without_yes_and_without_a_terminal_it_stops_before_doing_any_work(fake, command):
    # Issue 20: in CI (no TTY) a change must take --yes or say so *before* doing work.
    result = invoke(fake, command, "--env", "dev")
    assert result.exit_code == 2
    assert "pass --yes" in " ".join(result.stderr.split())
    assert fake.calls() == []  # not even `pulumi version`


def test_policy_pack_option(fake, tmp_path):
    pack = tmp_path / "other-pack"
    pack.mkdir()
    (pack / "PulumiPolicy.yaml").write_text("runtime: python\n")
    assert invoke(fake, "deploy", "--yes", "--policy-pack", str(pack)).exit_code == 0
    up = next(c for c in fake.calls() if c[1:2] == ["up"])
    assert up[up.index("--policy-pack") + 1] == str(pack.resolve())


def test_missing_pulumi_cli_is_exit_4(fake, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    for command in (["deploy", "--yes"], ["destroy", "--yes"], ["outputs"]):
        result = invoke(fake, *command)
        assert_one_clean_error(result, 4, "the Pulumi CLI is not installed", "curl -fsSL https://get.pulumi.com | sh",
                               "https://www.pulumi.com/docs/install/")


@pytest.mark.parametrize("cloud, unset, named", [
    ("aws", "AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID"),
    ("gcp", "GOOGLE_APPLICATION_CREDENTIALS", "gcloud auth application-default login"),
    ("azure", "ARM_CLIENT_ID", "az login"),
])
def test_missing_cloud_credentials_are_exit_4(fake, monkeypatch, cloud, unset, named):
    monkeypatch.delenv(unset)
    result = invoke(fake, "deploy", "--cloud", cloud, "--yes")
    assert_one_clean_error(result, 4, named, f"needed to deploy to {cloud}")


def test_locked_stack_is_exit_5(fake, monkeypatch):
    assert invoke(fake, "deploy", "--yes").exit_code == 0
    monkeypatch.setenv("FAKE_PULUMI_LOCKED", "1")
    result = invoke(fake, "deploy", "--yes")
    assert_one_clean_error(result, 5, "stack dev is locked by another update", "pulumi cancel --stack dev")


def test_failed_update_is_exit_1_with_the_engines_error(fake, monkeypatch):
    monkeypatch.setenv("FAKE_PULUMI_FAIL", "up")
    result = invoke(fake, "deploy", "--yes")
    assert_one_clean_error(result, 1, "update of stack dev failed", "Error 403: the caller does not have permission")


def test_bad_environment_and_cloud_all_are_exit_3(fake):
    assert_one_clean_error(invoke(fake, "deploy", "--env", "staging", "--yes"), 3, "no Pulumi.staging.yaml")
    assert_one_clean_error(invoke(fake, "deploy", "--cloud", "all", "--yes"), 3, "one cloud at a time")


def test_debug_shows_the_traceback(fake, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    result = runner.invoke(app, ["--debug", "outputs", "--project-dir", str(fake.project)])
    assert result.exit_code != 0 and type(result.exception).__name__ == "PrerequisiteMissing"


def test_outputs_and_destroy(fake):
    assert invoke(fake, "deploy", "--yes").exit_code == 0
    result = invoke(fake, "outputs", "--output", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["stack"] == "dev" and doc["outputs"]["endpoint"] == "https://digits-dev.example.test"
    text = invoke(fake, "outputs")
    assert "https://digits-dev.example.test" in text.stdout
    result = invoke(fake, "destroy", "--yes", "--output", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["changes"] == {"delete": 7}
    assert "dev" in fake.stacks()  # destroy keeps the stack (its history); only env down removes previews


def test_deploy_and_outputs_show_endpoint_digest_and_the_dns_records_to_create(fake, monkeypatch):
    # Issue 17: deploy prints the endpoint and the image digest; issue 18: deploy and outputs print the
    # records the user must create when the program does not manage the zone.
    records = [{"name": "_x.digits.example.com.", "type": "CNAME", "value": "_y.acm-validations.aws.",
                "purpose": "certificate validation"},
               {"name": "digits.example.com", "type": "CNAME", "value": "alb.example.test"}]
    monkeypatch.setenv("FAKE_PULUMI_DNS_RECORDS", json.dumps(records))
    deployed = invoke(fake, "deploy", "--yes")
    assert deployed.exit_code == 0, deployed.output
    for result in (deployed, invoke(fake, "outputs")):
        text = result.stdout
        assert "https://digits-dev.example.test" in text and "sha256:" + "ab" * 32 in text
        assert text.index("endpoint") < text.index("image_digest") < text.index("cloud")
        assert "Create these DNS records" in text
        assert "_x.digits.example.com.  CNAME  _y.acm-validations.aws.  (certificate validation)" in text
        assert "digits.example.com  CNAME  alb.example.test" in text


def test_outputs_of_a_stack_never_deployed_is_exit_1(fake):
    assert_one_clean_error(invoke(fake, "outputs", "--env", "prod"), 1, "no stack named prod")


@pytest.mark.parametrize("command", [["deploy"], ["destroy"], ["outputs"], ["env"], ["env", "up"], ["env", "down"],
                                     ["env", "list"], ["env", "gc"]])
def test_help_imports_neither_pulumi_nor_a_cloud_sdk(command):
    probe = ("import sys\nfrom typer.testing import CliRunner\nfrom cli.main import app\n"
             "r = CliRunner().invoke(app, sys.argv[1:] + ['--help'])\n"
             "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
             "('pulumi', 'pulumi_aws', 'pulumi_gcp', 'pulumi_azure_native', 'grpc'))\n"
             "print(r.exit_code, len(heavy))")
    proc = subprocess.run([sys.executable, "-c", probe, *command], capture_output=True, text=True, cwd=ROOT,
                          timeout=60)
    assert proc.stdout.split()[-2:] == ["0", "0"], proc.stdout + proc.stderr


# -- .github/workflows/deploy.yml ---------------------------------------------------------------------
def test_deploy_workflow_structure():
    doc = yaml.safe_load((ROOT / ".github" / "workflows" / "deploy.yml").read_text())
    triggers = doc[True]  # YAML 1.1 reads the key `on` as true
    assert triggers["push"]["branches"] == ["main"]
    assert triggers["release"]["types"] == ["published"]
    assert doc["permissions"] == {"contents": "read", "id-token": "write"}
    assert doc["concurrency"]["cancel-in-progress"] is False
    job = doc["jobs"]["deploy"]
    assert "production" in job["environment"] and "release" in job["environment"]
    steps = job["steps"]
    uses = [s.get("uses", "") for s in steps]
    assert "pulumi/actions@v6" in uses
    assert any(u.startswith("aws-actions/configure-aws-credentials") for u in uses)
    assert any(u.startswith("google-github-actions/auth") for u in uses)
    assert any(u.startswith("azure/login") for u in uses)
    logins = {s["uses"].split("@")[0]: s["with"] for s in steps if "with" in s and "/" in s.get("uses", "")}
    assert "role-to-assume" in logins["aws-actions/configure-aws-credentials"]
    assert "workload_identity_provider" in logins["google-github-actions/auth"]
    assert {"client-id", "tenant-id", "subscription-id"} <= set(logins["azure/login"])
    runs = "\n".join(s.get("run", "") for s in steps)
    assert "mlinfra deploy" in runs and "--policy-pack policy" in runs and "--yes" in runs
    assert "make install" in runs
    assert "secret-access-key" not in (ROOT / ".github" / "workflows" / "deploy.yml").read_text().lower()
