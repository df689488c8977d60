"""`mlinfra policy check`: verdicts, exit codes and output over planned and saved plans."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from stacks.plan import plans_document
from tests.policy.fixtures import CASES

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, ["policy", "check", *args])


def plan_of(case_id: str):
    return next(c for c in CASES if c.id == case_id).plan()


@pytest.fixture()
def good_file(tmp_path: Path) -> Path:
    path = tmp_path / "good.json"
    path.write_text(json.dumps(plans_document([plan_of("gcs-enforced-uniform"), plan_of("scoped-policy")])))
    return path


@pytest.fixture()
def bad_file(tmp_path: Path) -> Path:
    """A single plan entry written by hand: an SSH port open to the internet, and a prod without budget."""
    entry = plan_of("sg-ssh-world").to_dict()
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(entry))
    return path


def test_compliant_plan_file_passes(good_file: Path):
    result = invoke("--plan-file", str(good_file))
    assert result.exit_code == 0, result.output
    from policy.rules import RULES

    assert f"all {len(RULES)} rules pass" in result.output
    assert "policy check passed: 2 stack(s), 0 mandatory violation(s), 0 advisory" in result.output


def test_mandatory_violation_exits_1_with_json_verdicts(bad_file: Path):
    result = invoke("--plan-file", str(bad_file), "--output", "json")
    assert result.exit_code == 1
    doc = json.loads(result.output)
    assert doc["mandatory_failed"] == 1 and doc["advisory"] == 0
    (entry,) = doc["plans"]
    assert set(entry) == {"stack", "env", "cloud", "region", "policy"}
    (violation,) = entry["policy"]["violations"]
    assert violation == {
        "rule": "no-admin-ports-open", "level": "mandatory", "severity": "critical",
        "urn": "urn:pulumi:dev::mlinfra::aws:ec2/securityGroup:SecurityGroup::r0",
        "type": "aws:ec2/securityGroup:SecurityGroup", "message": "ingress[0] opens port 22 to 0.0.0.0/0"}


def test_text_output_names_rule_and_resource(bad_file: Path):
    result = invoke("--plan-file", str(bad_file))
    assert result.exit_code == 1
    assert "no-admin-ports-open" in result.output and "r0" in result.output
    assert "policy check FAILED: 1 stack(s), 1 mandatory violation(s), 0 advisory" in result.output


def test_config_can_make_a_rule_advisory(bad_file: Path, tmp_path: Path):
    config = tmp_path / "levels.json"
    config.write_text(json.dumps({"no-admin-ports-open": {"enforcementLevel": "advisory"}}))
    result = invoke("--plan-file", str(bad_file), "--config", str(config), "--output", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["advisory"] == 1


def test_invalid_config_exits_3_naming_the_key(bad_file: Path, tmp_path: Path):
    config = tmp_path / "bad-config.json"
    config.write_text(json.dumps({"allowed-gpu-types": {"environments": {"preview": "none"}}}))
    result = invoke("--plan-file", str(bad_file), "--config", str(config))
    assert result.exit_code == 3
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1
    assert "allowed-gpu-types.environments.preview: Input should be a valid list" in lines[0]


def test_unreadable_config_exits_3(bad_file: Path, tmp_path: Path):
    result = invoke("--plan-file", str(bad_file), "--config", str(tmp_path / "nope.json"))
    assert result.exit_code == 3
    assert "cannot read" in result.output


def test_plan_file_that_is_not_a_plan_exits_3(tmp_path: Path):
    path = tmp_path / "plan.json"
    path.write_text(json.dumps({"plans": [{"resources": []}]}))
    result = invoke("--plan-file", str(path))
    assert result.exit_code == 3
    assert "not a plan document" in result.output


def test_plan_file_filter_matching_nothing_exits_3(good_file: Path):
    result = invoke("--plan-file", str(good_file), "--env", "prod")
    assert result.exit_code == 3
    assert "no plan matches" in result.output


def test_unknown_cloud_exits_3():
    result = invoke("--cloud", "oracle")
    assert result.exit_code == 3
    assert "--cloud: 'oracle' is not a supported cloud" in result.output


def test_checks_a_real_plan_on_another_cloud():
    result = invoke("--env", "dev", "--cloud", "aws", "--output", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert [(p["stack"], p["env"], p["cloud"]) for p in doc["plans"]] == [("dev-aws", "dev", "aws")]
    assert doc["mandatory_failed"] == 0


def test_policy_help_imports_no_heavy_module():
    code = ("import sys; from typer.testing import CliRunner; from cli.main import app; "
            "r = CliRunner().invoke(app, ['policy', 'check', '--help']); assert r.exit_code == 0, r.output; "
            "print(sorted(m for m in ('pulumi', 'pulumi_policy', 'policy.rules', 'pydantic_core') "
            "if m in sys.modules and m != 'pydantic_core'))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                            env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, timeout=60)
    assert result.stdout.strip() == "[]"
