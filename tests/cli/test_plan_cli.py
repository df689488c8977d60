"""`mlinfra plan` and `mlinfra validate` through the CLI: exit codes, output shape, nothing written."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from tests.helpers import PROJECT_DIR

runner = CliRunner()


def invoke(*args: str, cwd: Path = PROJECT_DIR):
    return runner.invoke(app, [*args, "--project-dir", str(cwd)] if args[0] in {"plan", "validate"} else list(args))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the built-in environment files in a scratch project (nothing else is needed to plan)."""
    for name in ("Pulumi.yaml", "Pulumi.dev.yaml", "Pulumi.prod.yaml"):
        shutil.copy(PROJECT_DIR / name, tmp_path / name)
    shutil.copytree(PROJECT_DIR / "app", tmp_path / "app", ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def snapshot(folder: Path) -> dict[str, float]:
    return {str(p.relative_to(folder)): p.stat().st_mtime for p in folder.rglob("*")}


def test_plan_json_shape_for_one_cloud():
    result = invoke("plan", "--env", "dev", "--cloud", "aws", "--output", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    (entry,) = doc["plans"]
    assert {k: entry[k] for k in ("stack", "env", "cloud", "region")} == {
        "stack": "dev-aws", "env": "dev", "cloud": "aws", "region": "eu-west-1"}
    resource = next(r for r in entry["resources"] if r["type"] == "aws:s3/bucket:Bucket")
    assert set(resource) == {"urn", "type", "name", "parent", "custom", "inputs", "dependsOn", "options"}
    assert resource["name"] == "digits-dev-data" and resource["custom"] is True
    assert resource["urn"].startswith("urn:pulumi:dev-aws::mlinfra::")
    assert entry["outputs"]["bucket"] == resource["inputs"]["bucket"]


def test_plan_cloud_all_gives_one_entry_per_cloud_each_with_its_own_stack():
    result = invoke("plan", "--env", "prod", "--cloud", "all", "--output", "json")
    assert result.exit_code in (0, 1), result.output
    plans = json.loads(result.stdout)["plans"]
    assert [p["cloud"] for p in plans] == ["aws", "gcp", "azure"]
    home = [p for p in plans if p["stack"] == "prod"]
    assert len(home) == 1  # the environment's own cloud keeps the stack named after it
    assert {p["stack"] for p in plans} == {"prod", *(f"prod-{p['cloud']}" for p in plans if p["stack"] != "prod")}


def test_plan_text_shows_stack_tree_and_summary():
    result = invoke("plan", "--env", "dev", "--cloud", "aws")
    assert "dev-aws" in result.stdout and "Plan summary" in result.stdout
    assert "digits-dev-data" in result.stdout


@pytest.mark.parametrize("args,code,message", [
    (("plan", "--env", "dev", "--cloud", "mars"), 3, "--cloud: 'mars' is not a supported cloud"),
    (("plan", "--env", "staging"), 3, "--env staging: no Pulumi.staging.yaml"),
    (("validate", "--env", "dev", "--cloud", "mars"), 3, "--cloud: 'mars' is not a supported cloud"),
    (("plan", "--no-such-flag"), 2, "No such option"),
])
def test_bad_input_exit_codes(args, code, message):
    result = invoke(*args)
    assert result.exit_code == code
    assert message in result.output


def test_validate_good_file_and_bad_file(project: Path):
    ok = runner.invoke(app, ["validate", "--config-file", str(project / "Pulumi.dev.yaml"), "--output", "json"])
    assert ok.exit_code == 0, ok.output
    doc = json.loads(ok.stdout)
    assert doc["valid"] is True and doc["environments"][0]["stack"] == "dev"
    bad = project / "Pulumi.bad.yaml"
    bad.write_text("config:\n  mlinfra:cloud: aws\n  mlinfra:service:\n    storage:\n      warm_after_days: 100\n"
                   "      cold_after_days: 90\n")
    result = runner.invoke(app, ["validate", "--config-file", str(bad)])
    assert result.exit_code == 3
    assert "mlinfra:service.storage.cold_after_days: 90 is not allowed" in result.output
    assert "Traceback" not in result.output


def test_malformed_yaml_exit_3_one_line(project: Path):
    (project / "Pulumi.dev.yaml").write_text("config:\n  mlinfra:cloud: [gcp\n")
    result = runner.invoke(app, ["plan", "--env", "dev", "--project-dir", str(project)])
    assert result.exit_code == 3
    assert "Pulumi.dev.yaml: not valid YAML" in result.output
    assert "Traceback" not in result.output


def test_plan_and_validate_write_nothing(project: Path):
    before = snapshot(project)
    for args in (["plan", "--cloud", "aws", "-o", "json"], ["validate", "--cloud", "aws"]):
        result = runner.invoke(app, [*args, "--project-dir", str(project)])
        assert result.exit_code in (0, 1), result.output
    assert snapshot(project) == before


def test_bad_value_in_one_env_fails_before_any_plan(project: Path):
    text = (project / "Pulumi.prod.yaml").read_text().replace("warm_after_days: 30", "warm_after_days: -1")
    (project / "Pulumi.prod.yaml").write_text(text)
    result = runner.invoke(app, ["plan", "--cloud", "aws", "-o", "json", "--project-dir", str(project)])
    assert result.exit_code == 3
    assert result.stdout.strip() == ""  # no half-printed document
    assert "mlinfra:service.storage.warm_after_days: -1" in result.output


def test_plan_pr_previews_dev_with_its_overrides_and_expiry():
    result = invoke("plan", "--pr", "42", "--cloud", "all", "--ttl", "2d", "-o", "json")
    assert result.exit_code == 0, result.output
    plans = json.loads(result.stdout)["plans"]
    assert [p["stack"] for p in plans] == ["pr-42-aws", "pr-42", "pr-42-azure"]
    for entry in plans:
        preview = entry["preview"]
        assert preview["base_env"] == "dev" and preview["source"] == "pr-42" and preview["ttl_hours"] == 48
        assert preview["overrides"]["training"]["enabled"] is False
        service = next(r for r in entry["resources"] if r["type"] == "mlinfra:service:MLService")
        assert service["inputs"]["preview"] is True
        assert service["inputs"]["service"]["storage"]["force_destroy"] is True
        assert entry["outputs"]["expires_at"] == preview["expires_at"]


def test_plan_pr_cannot_mix_with_env():
    result = invoke("plan", "--pr", "42", "--env", "prod")
    assert result.exit_code == 3
    assert "--pr/--branch plan the preview of dev" in result.output


def test_prod_without_a_budget_breaks_a_mandatory_rule_and_plan_exits_1(project: Path):
    text = (project / "Pulumi.prod.yaml").read_text()
    text = text.replace("      monthly_usd: 2000\n", "").replace("      gcp_billing_account: 012345-6789AB-CDEF01\n", "")
    (project / "Pulumi.prod.yaml").write_text(text.replace("    budget:\n", ""))
    result = runner.invoke(app, ["plan", "--env", "prod", "--cloud", "aws", "-o", "json",
                                 "--project-dir", str(project)])
    assert result.exit_code == 1, result.output
    (entry,) = json.loads(result.stdout)["plans"]
    failed = [v for v in entry["policy"]["violations"] if v["level"] == "mandatory"]
    assert [v["rule"] for v in failed] == ["budget-required"]
    assert entry["policy"]["mandatory_failed"] == 1
    assert entry["cost"]["monthly_usd"] > 0
