"""Protection (stacks/protection.py): every destructive path refuses prod and stacks marked
`mlinfra:protected: true` with exit 5 unless --allow-protected, and stateful resources of protected
environments are `protect` + `retainOnDelete` in the plan.

Pulumi documents the options this relies on:
- protect: "it will be an error to do a Pulumi deployment which tries to delete a protected resource"
  https://www.pulumi.com/docs/iac/concepts/options/protect/
- retainOnDelete: "Pulumi will not call through to the resource provider's Delete method"
  https://www.pulumi.com/docs/iac/concepts/options/retainondelete/
- `pulumi destroy --exclude-protected`: "Do not destroy protected resources. Destroy all other resources."
  https://www.pulumi.com/docs/iac/cli/commands/pulumi_destroy/
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from components.errors import ConfigError, ProtectedStack
from components.providers.base import cloud_names, get_provider
from stacks import workspace
from stacks.config import from_pairs
from stacks.offline import plan_environment
from stacks.protection import Step, check_file_env, preview_refusal, protection_reason

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()
BUCKET = {"gcp": "gcp:storage/bucket:Bucket"}


def invoke(fake, *args: str):
    return runner.invoke(app, [*args, "--project-dir", str(fake.project)])


def text(result) -> str:
    return " ".join(result.output.split())


def engine_calls(fake, verb: str) -> list[list[str]]:
    return [c for c in fake.calls() if c[1:2] == [verb]]


# -- who is protected ------------------------------------------------------------------------------
@pytest.mark.parametrize("env, stack", [("prod", "prod"), ("prod", "prod-aws"), ("prod", "prod-azure")])
def test_prod_is_protected_on_every_cloud(env, stack):
    assert protection_reason(env, stack, {}) is not None


def test_a_config_marks_a_stack_protected():
    assert protection_reason("dev", "dev", {"protected": True}) is not None
    assert protection_reason("dev", "dev", {"protected": False}) is None
    assert protection_reason("prod", "prod", {"protected": False}) is not None  # prod cannot opt out
    with pytest.raises(ConfigError, match="mlinfra:protected: 'yes' .* use true or false"):
        protection_reason("dev", "dev", {"protected": "yes"})


# -- destroy -----------------------------------------------------------------------------------------
def test_destroy_prod_is_refused_before_the_backend_is_asked(fake):
    result = invoke(fake, "destroy", "--env", "prod", "--yes")
    assert result.exit_code == 5, result.output
    assert "stack prod is protected" in text(result) and "--allow-protected" in text(result)
    assert fake.calls() == []


def test_destroy_of_a_stack_marked_protected_is_refused(fake):
    dev = fake.project / "Pulumi.dev.yaml"
    dev.write_text(dev.read_text() + "  mlinfra:protected: true\n")
    result = invoke(fake, "destroy", "--env", "dev", "--yes")
    assert result.exit_code == 5, result.output
    assert "mlinfra:protected: true" in text(result)
    assert engine_calls(fake, "destroy") == []


def test_destroy_reads_protection_recorded_in_the_backend_too(fake):
    # The local file says nothing, but the stack's last update ran with mlinfra:protected: true.
    fake.seed_stack("dev", config={"mlinfra:cloud": "gcp", "mlinfra:protected": "true"})
    result = invoke(fake, "destroy", "--env", "dev", "--yes")
    assert result.exit_code == 5, result.output
    assert "in the backend" in text(result)
    assert engine_calls(fake, "destroy") == []


def test_allow_protected_destroys_all_but_the_protected_stateful_resources(fake):
    fake.seed_stack("prod", config={"mlinfra:cloud": "gcp"}, resources=9, protected=2)
    result = invoke(fake, "destroy", "--env", "prod", "--yes", "--allow-protected", "--output", "json")
    assert result.exit_code == 0, result.output
    (call,) = engine_calls(fake, "destroy")
    assert "--exclude-protected" in call
    assert json.loads(result.stdout)["changes"] == {"delete": 7}
    assert fake.stacks()["prod"]["resources"] == 2  # the bucket and registry stay, in the stack and the cloud
    text_run = invoke(fake, "destroy", "--env", "prod", "--yes", "--allow-protected")
    assert text_run.exit_code == 0 and "kept: the protected resources of prod" in text(text_run)


def test_env_down_of_a_preview_marked_protected_is_refused(fake):
    preview = {"source": "pr-7", "ttl_hours": 1, "expires_at": "2020-01-01T00:00:00Z"}
    fake.seed_stack("pr-7", config={"mlinfra:cloud": "gcp", "mlinfra:preview": preview, "mlinfra:protected": "true"})
    result = runner.invoke(app, ["env", "down", "--stack", "pr-7", "--project-dir", str(fake.project)])
    assert result.exit_code == 5, result.output
    assert "pr-7" in fake.stacks() and engine_calls(fake, "destroy") == []
    gc = runner.invoke(app, ["env", "gc", "--project-dir", str(fake.project)])
    assert gc.exit_code == 1 and "stack pr-7 is protected" in text(gc)
    assert engine_calls(fake, "destroy") == []


# -- deploy ------------------------------------------------------------------------------------------
REPLACE_BUCKET = [{"op": "replace", "type": "gcp:storage/bucket:Bucket",
                   "urn": "urn:pulumi:prod::mlinfra::mlinfra:service:MLService$gcp:storage/bucket:Bucket::digits-prod-data"}]
REPLACE_SERVICE = [{"op": "replace", "type": "gcp:cloudrunv2/service:Service",
                    "urn": "urn:pulumi:prod::mlinfra::gcp:cloudrunv2/service:Service::digits-prod-serving"}]


def test_deploy_to_prod_that_would_replace_a_bucket_is_refused_after_the_preview(fake, monkeypatch):
    monkeypatch.setenv("FAKE_PULUMI_STEPS", json.dumps(REPLACE_BUCKET))
    result = invoke(fake, "deploy", "--env", "prod", "--yes")
    assert result.exit_code == 5, result.output
    assert "replace digits-prod-data (gcp:storage/bucket:Bucket)" in text(result)
    assert engine_calls(fake, "preview") and not engine_calls(fake, "up")


def test_deploy_to_prod_with_allow_protected_goes_ahead(fake, monkeypatch):
    monkeypatch.setenv("FAKE_PULUMI_STEPS", json.dumps(REPLACE_BUCKET))
    result = invoke(fake, "deploy", "--env", "prod", "--yes", "--allow-protected")
    assert result.exit_code == 0, result.output
    assert engine_calls(fake, "up")


def test_deploy_to_prod_replacing_only_stateless_resources_goes_ahead(fake, monkeypatch):
    monkeypatch.setenv("FAKE_PULUMI_STEPS", json.dumps(REPLACE_SERVICE))
    result = invoke(fake, "deploy", "--env", "prod", "--yes")
    assert result.exit_code == 0, result.output
    assert engine_calls(fake, "preview") and engine_calls(fake, "up")


def test_deploy_to_an_unprotected_stack_does_not_preview_first_with_yes(fake, monkeypatch):
    monkeypatch.setenv("FAKE_PULUMI_STEPS", json.dumps(REPLACE_BUCKET))
    assert invoke(fake, "deploy", "--env", "dev", "--yes").exit_code == 0
    assert not engine_calls(fake, "preview") and engine_calls(fake, "up")


@pytest.mark.parametrize("op", ["delete", "replace", "create-replacement", "delete-replaced"])
def test_every_destructive_step_on_a_stateful_type_is_refused(op):
    steps = [Step(op=op, type="aws:s3/bucket:Bucket", urn="urn:pulumi:prod::p::aws:s3/bucket:Bucket::data")]
    with pytest.raises(ProtectedStack):
        preview_refusal("prod", "prod is a protected environment", steps, {"aws:s3/bucket:Bucket"}, False)
    preview_refusal("prod", "prod is a protected environment", [Step("update", steps[0].type, steps[0].urn)],
                    {"aws:s3/bucket:Bucket"}, False)


# -- a file cannot redirect a command ----------------------------------------------------------------
@pytest.mark.parametrize("command", ["deploy", "destroy"])
def test_a_file_naming_prod_cannot_redirect_a_command_to_prod(fake, command):
    dev = fake.project / "Pulumi.dev.yaml"
    dev.write_text(dev.read_text() + "  mlinfra:env: prod\n")
    result = invoke(fake, command, "--env", "dev", "--yes")
    assert result.exit_code == 5, result.output
    assert "cannot redirect" in text(result) and "(prod)" in text(result)
    assert fake.calls() == []


def test_a_file_naming_another_unprotected_env_is_a_config_error(fake):
    dev = fake.project / "Pulumi.dev.yaml"
    dev.write_text(dev.read_text() + "  mlinfra:env: staging\n")
    result = invoke(fake, "deploy", "--env", "dev", "--yes")
    assert result.exit_code == 3, result.output
    assert fake.calls() == []


def test_check_file_env_accepts_the_same_env_and_no_env():
    check_file_env("dev", None, "f", lambda e: e)
    check_file_env("dev", "dev", "f", lambda e: e)
    with pytest.raises(ProtectedStack):
        check_file_env("dev", "prod", "f", lambda e: e)


def test_make_target_refuses_a_redirect(tmp_path):
    raw = from_pairs({"mlinfra:cloud": "gcp", "mlinfra:env": "prod"}, source="Pulumi.dev.yaml")
    with pytest.raises(ProtectedStack):
        workspace.make_target(tmp_path, "dev", raw)


# -- the plan records protect / retainOnDelete -------------------------------------------------------
@pytest.mark.parametrize("cloud", cloud_names())
def test_prod_plan_protects_and_retains_exactly_the_stateful_resources(cloud):
    plan = plan_environment(ROOT, "prod", cloud)
    stateful = get_provider(cloud).STATEFUL_TYPES
    marked = {r.urn for r in plan.resources if r.options.get("protect") and r.options.get("retainOnDelete")}
    expected = {r.urn for r in plan.resources if r.type in stateful}
    assert expected, "every cloud stores data in at least a bucket / storage account"
    assert marked == expected
    # Never on a component: protect is inherited by children (Pulumi docs, protect).
    assert not any(r.options.get("protect") for r in plan.resources if not r.custom)


@pytest.mark.parametrize("cloud", cloud_names())
def test_dev_plan_protects_nothing(cloud):
    plan = plan_environment(ROOT, "dev", cloud)
    assert not any(r.options.get("protect") or r.options.get("retainOnDelete") for r in plan.resources)


def test_plan_refuses_a_file_naming_another_env(tmp_path):
    (tmp_path / "Pulumi.yaml").write_text("name: mlinfra\nruntime: python\n")
    (tmp_path / "Pulumi.dev.yaml").write_text("config:\n  mlinfra:cloud: gcp\n  mlinfra:env: prod\n")
    result = runner.invoke(app, ["plan", "--env", "dev", "--project-dir", str(tmp_path)])
    assert result.exit_code == 5, result.output
    assert "cannot redirect" in text(result)
    result = runner.invoke(app, ["validate", "--config-file", str(tmp_path / "Pulumi.dev.yaml")])
    assert result.exit_code == 5, result.output


def test_preview_only_of_prod_shows_the_replacement_without_refusing(fake, monkeypatch):
    monkeypatch.setenv("FAKE_PULUMI_STEPS", json.dumps(REPLACE_BUCKET))
    result = invoke(fake, "deploy", "--env", "prod", "--preview-only")
    assert result.exit_code == 0, result.output
    assert engine_calls(fake, "preview") and not engine_calls(fake, "up")


def test_deploy_checks_protection_recorded_in_the_backend(fake, monkeypatch):
    # The stack's last update ran with mlinfra:protected: true; the local file dropped the flag since.
    fake.seed_stack("dev", config={"mlinfra:cloud": "gcp", "mlinfra:protected": "true"})
    monkeypatch.setenv("FAKE_PULUMI_STEPS", json.dumps(REPLACE_BUCKET))
    result = invoke(fake, "deploy", "--env", "dev", "--yes")
    assert result.exit_code == 5, result.output
    assert not engine_calls(fake, "up")


def test_a_stack_file_naming_its_own_env_is_not_a_redirect(tmp_path):
    # Pulumi.dev-aws.yaml (env dev on aws, home cloud gcp) configures the stack dev-aws: allowed.
    raw = from_pairs({"mlinfra:cloud": "gcp", "mlinfra:env": "dev"}, source="Pulumi.dev-aws.yaml")
    target = workspace.make_target(tmp_path, "dev-aws", raw, "aws")
    assert (target.env, target.stack) == ("dev", "dev-aws")
