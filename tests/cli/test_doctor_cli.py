"""`mlinfra doctor` and the doctor gate of `mlinfra deploy` through the CLI: offline listing (what CI
runs), JSON shape, exit codes 0 / 1 / 4, fixes printed, and deploy refusing before the engine runs.
Live answers come from botocore's Stubber (recorded shapes in tests/fixtures/doctor/aws.json)."""
from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from botocore.stub import ANY, Stubber
from typer.testing import CliRunner

from cli.main import app
from components.providers.aws import preflight
from stacks import doctor
from tests.fakes.harness import SCRUB

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = json.loads((ROOT / "tests" / "fixtures" / "doctor" / "aws.json").read_text())
runner = CliRunner()


def invoke(*args: str, project: Path = ROOT):
    return runner.invoke(app, [*args, "--project-dir", str(project)])


@pytest.fixture
def clean_env(tmp_path, monkeypatch):
    """No credentials of this machine's, tools only from a folder of stand-ins."""
    for name in (*SCRUB, "ARM_SUBSCRIPTION_ID", "AZURE_SUBSCRIPTION_ID", "MLINFRA_SKIP_CHECKS"):
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    monkeypatch.setenv("HOME", str(home))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, script in (("pulumi", "echo v3.200.0"), ("docker", 'echo "27.3.1 27.3.1"')):
        path = bin_dir / name
        path.write_text(f"#!/bin/sh\n{script}\n")
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", str(bin_dir))
    return bin_dir


# -- offline: what CI runs ---------------------------------------------------------------------------
def test_offline_json_lists_every_cloud_unchecked(clean_env):
    result = invoke("doctor", "--env", "prod", "--cloud", "all", "--offline", "--output", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert list(doc) == ["requirements"]
    reqs = doc["requirements"]
    assert {r["cloud"] for r in reqs} == {"aws", "gcp", "azure"}
    assert all(list(r) == list(doctor.FIELDS) and r["status"] == "unknown" for r in reqs)
    kinds = {(r["cloud"], r["kind"]) for r in reqs}
    assert {("aws", "quota"), ("aws", "tag"), ("gcp", "api"), ("gcp", "quota"), ("azure", "provider"),
            ("azure", "feature"), ("azure", "quota"), ("azure", "permission"), ("aws", "tool")} <= kinds


def test_offline_text_shows_each_fix(clean_env):
    result = invoke("doctor", "--env", "prod", "--cloud", "azure", "--offline")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    # the fix is printed whole on a line of its own, ready to copy
    assert any(ln.strip().startswith("fix: az feature register --namespace Microsoft.Compute --name EncryptionAtHost")
               for ln in lines)
    assert lines[-1].startswith("0 ok, 0 missing,") and lines[-1].endswith("unknown")


# -- live -------------------------------------------------------------------------------------------
def test_no_credentials_is_exit_4_in_one_line(clean_env):
    result = invoke("doctor", "--env", "dev", "--cloud", "aws")
    assert result.exit_code == 4
    assert "Traceback" not in result.output
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    text = " ".join(result.stderr.split())
    assert "aws: no AWS credentials" in text and "AWS_ACCESS_KEY_ID" in text and "--offline" in text
    assert len(lines) <= 3  # one message (terminal wrapping aside)


def stubbed_clients(monkeypatch, denied=()):
    """AWS clients answering from the recorded shapes; the plan's actions allowed except `denied`."""
    def make(plan, live):
        made = {name: boto3.client(name, region_name="us-east-1" if name == "ce" else plan.region,
                                   aws_access_key_id="AKIAEXAMPLE", aws_secret_access_key="x")
                for name in ("sts", "iam", "service-quotas", "ce")}
        reqs = doctor.requirements(plan)
        actions = sorted({r.name for r in reqs if r.kind == "permission"})
        sts, iam = Stubber(made["sts"]), Stubber(made["iam"])
        sts.add_response("get_caller_identity", FIXTURES["caller_assumed_role"], {})
        iam.add_response("simulate_principal_policy", {"IsTruncated": False, "EvaluationResults": [
            {"EvalActionName": a, "EvalResourceName": "*", "EvalDecision": "implicitDeny" if a in denied else "allowed"}
            for a in actions]}, {"PolicySourceArn": ANY, "ActionNames": actions})
        sts.activate()
        iam.activate()
        return made
    monkeypatch.setattr(preflight, "clients", make)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")


def test_missing_permission_is_exit_1_with_its_fix(clean_env, monkeypatch):
    stubbed_clients(monkeypatch, denied={"s3:CreateBucket"})
    result = invoke("doctor", "--env", "dev", "--cloud", "aws")
    assert result.exit_code == 1, result.output
    lines = [ln.strip() for ln in result.stdout.splitlines()]
    at = lines.index("missing  aws permission s3:CreateBucket")
    assert lines[at + 2] == "saw: implicitDeny"
    assert lines[at + 3].startswith("fix: allow s3:CreateBucket in a policy of the deploying identity")
    assert ", 1 missing, " in lines[-1]


def test_everything_ok_json_is_exit_0(clean_env, monkeypatch):
    stubbed_clients(monkeypatch)
    result = invoke("doctor", "--env", "dev", "--cloud", "aws", "--output", "json")
    assert result.exit_code == 0, result.output
    reqs = json.loads(result.stdout)["requirements"]
    assert {r["status"] for r in reqs} == {"ok"}
    assert {r["detail"] for r in reqs if r["kind"] == "tool"} == {"v3.200.0", "client 27.3.1, engine 27.3.1"}


def test_a_tool_missing_is_exit_1(clean_env, monkeypatch):
    stubbed_clients(monkeypatch)
    (clean_env / "docker").unlink()
    result = invoke("doctor", "--env", "dev", "--cloud", "aws", "--output", "json")
    assert result.exit_code == 1
    docker = next(r for r in json.loads(result.stdout)["requirements"] if r["name"] == "docker")
    assert docker["status"] == "missing" and "docs.docker.com" in docker["fix"]


# -- deploy runs the doctor first ---------------------------------------------------------------------
def test_deploy_refuses_on_a_missing_prerequisite_before_the_engine(fake, monkeypatch, clean_env):
    monkeypatch.setenv("PATH", f"{clean_env}:{Path(sys.executable).parent}:/usr/bin:/bin")
    stubbed_clients(monkeypatch, denied={"s3:CreateBucket"})
    result = runner.invoke(app, ["deploy", "--env", "dev", "--cloud", "aws", "--yes", "--project-dir", str(fake.project)])
    assert result.exit_code == 1, result.output
    text = " ".join(result.stderr.split())
    assert "prerequisite(s) missing, nothing was deployed" in text and "s3:CreateBucket" in text
    assert not fake.calls(), "no pulumi command may run before the prerequisites are there"


def test_deploy_with_prerequisites_met_goes_on(fake, monkeypatch, clean_env):
    # The pulumi test double first, then the stand-in docker.
    monkeypatch.setenv("PATH", f"{ROOT / 'tests' / 'fakes'}:{clean_env}:{Path(sys.executable).parent}:/usr/bin:/bin")
    stubbed_clients(monkeypatch)
    result = runner.invoke(app, ["deploy", "--env", "dev", "--cloud", "aws", "--yes", "--project-dir", str(fake.project)])
    assert result.exit_code == 0, result.output
    assert any(c[1:2] == ["up"] for c in fake.calls())


def test_skip_checks_deploys_without_asking_any_cloud(fake, monkeypatch, clean_env):
    monkeypatch.setenv("PATH", f"{ROOT / 'tests' / 'fakes'}:{Path(sys.executable).parent}:/usr/bin:/bin")
    monkeypatch.setattr(preflight, "clients", lambda plan, live: pytest.fail("--skip-checks must not call AWS"))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    result = runner.invoke(app, ["deploy", "--env", "dev", "--cloud", "aws", "--yes", "--skip-checks",
                                 "--project-dir", str(fake.project)])
    assert result.exit_code == 0, result.output


def test_help_imports_neither_pulumi_nor_a_cloud_sdk():
    probe = ("import sys\nfrom typer.testing import CliRunner\nfrom cli.main import app\n"
             "r = CliRunner().invoke(app, ['doctor', '--help'])\n"
             "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
             "('pulumi', 'pulumi_aws', 'pulumi_gcp', 'pulumi_azure_native', 'boto3', 'botocore', 'google', 'azure'))\n"
             "print(r.exit_code, len(heavy))")
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert proc.stdout.split()[-2:] == ["0", "0"], proc.stdout + proc.stderr
