"""The Automation API path (stacks/workspace.py, stacks/previews.py, stacks/credentials.py).

The real `pulumi.automation` SDK runs against tests/fakes/pulumi, a TEST DOUBLE of the CLI put
first on PATH; the tests assert the exact commands the SDK sends and how answers become errors.
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
import yaml

from components.errors import ConfigError, OperationFailed, PrerequisiteMissing, ProtectedStack, StackLocked
from stacks import previews, workspace
from stacks.credentials import check_credentials, resolve_backend
from tests.fakes.harness import DEV_YAML

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
NI = "--non-interactive"


def up_command(fake, stack: str) -> list[str]:
    return [NI, "up", "--yes", "--skip-preview", "--policy-pack", str((fake.project / "policy").resolve()),
            "--color", "never", "--exec-kind", "auto.local", "--stack", stack]


# -- deploy -------------------------------------------------------------------------------------------
def test_deploy_dev_runs_the_project_with_its_own_file_and_the_policy_pack(fake):
    lines: list[str] = []
    result = workspace.deploy(workspace.target_for_env(fake.project, "dev"), on_output=lines.append)
    calls = fake.calls()
    assert calls[:3] == [["version"], [NI, "stack", "select", "--stack", "dev"],
                         [NI, "stack", "init", "dev", "--secrets-provider", "passphrase"]]
    assert up_command(fake, "dev") in calls
    assert not any(c[1:3] == ["config", "set-all"] for c in calls[1:])  # Pulumi.dev.yaml is the config
    assert {r["cwd"] for r in fake.records()[1:]} == {str(fake.project)}  # the project itself, not a copy
    # Pulumi.dev.yaml is byte-for-byte untouched (issue 20), comment included, though `stack init`
    # wrote the secrets salt into it during the operation.
    assert (fake.project / "Pulumi.dev.yaml").read_text() == DEV_YAML
    assert (result.stack, result.env, result.cloud) == ("dev", "dev", "gcp")
    assert result.outputs["endpoint"] == "https://digits-dev.example.test"
    assert result.outputs["registry_password"] == "[secret]"
    assert "Updating (dev):" in lines  # the engine's output was streamed


def test_local_backend_and_passphrase_when_not_logged_in(fake):
    workspace.deploy(workspace.target_for_env(fake.project, "dev"))
    envs = {r["env"].get("PULUMI_BACKEND_URL") for r in fake.records()[1:]}
    assert envs == {f"file://{fake.backend_dir}"} and fake.backend_dir.is_dir()
    assert all(r["env"]["PULUMI_CONFIG_PASSPHRASE"] for r in fake.records()[1:])


def test_an_explicit_backend_is_used_as_is(fake, monkeypatch):
    monkeypatch.setenv("PULUMI_BACKEND_URL", "s3://team-state")
    workspace.deploy(workspace.target_for_env(fake.project, "dev"))
    assert [NI, "stack", "init", "dev"] in fake.calls()  # the backend's own secrets provider
    assert {r["env"]["PULUMI_BACKEND_URL"] for r in fake.records()[1:]} == {"s3://team-state"}
    assert not fake.backend_dir.exists()


def test_a_pulumi_login_is_used_as_is(fake, monkeypatch):
    (fake.home / ".pulumi").mkdir()
    (fake.home / ".pulumi" / "credentials.json").write_text(json.dumps({"current": "https://api.pulumi.com"}))
    monkeypatch.delenv("PULUMI_CONFIG_PASSPHRASE")
    assert resolve_backend().url == "https://api.pulumi.com" and not resolve_backend().local


def test_a_self_managed_backend_needs_the_passphrase_too(tmp_path):
    with pytest.raises(PrerequisiteMissing, match="state backend gs://team-state encrypts stack secrets"):
        resolve_backend({"PULUMI_BACKEND_URL": "gs://team-state"}, tmp_path)
    assert resolve_backend({"PULUMI_BACKEND_URL": "https://api.pulumi.com"}, tmp_path).secrets_provider is None


def test_the_local_backend_respects_xdg_state_home(tmp_path):
    env = {"PULUMI_CONFIG_PASSPHRASE": "x", "HOME": str(tmp_path / "h")}
    assert resolve_backend(env).url == f"file://{tmp_path / 'h' / '.local' / 'state' / 'mlinfra' / 'pulumi'}"
    backend = resolve_backend({**env, "XDG_STATE_HOME": str(tmp_path / "xdg")})
    assert backend.url == f"file://{tmp_path / 'xdg' / 'mlinfra' / 'pulumi'}"
    assert backend.local and backend.secrets_provider == "passphrase"
    assert backend.env_vars == {"PULUMI_BACKEND_URL": backend.url}


def test_missing_passphrase_for_the_local_backend_is_exit_4(fake, monkeypatch):
    monkeypatch.delenv("PULUMI_CONFIG_PASSPHRASE")
    with pytest.raises(PrerequisiteMissing, match="PULUMI_CONFIG_PASSPHRASE is not set") as info:
        workspace.deploy(workspace.target_for_env(fake.project, "dev"))
    assert info.value.exit_code == 4
    assert fake.calls() == []  # refused before the engine is asked anything


def test_another_cloud_writes_config_and_leaves_no_settings_file_in_the_project(fake):
    target = workspace.target_for_env(fake.project, "dev", "aws")
    workspace.deploy(target)
    set_all = next(c for c in fake.calls() if c[1:3] == ["config", "set-all"])
    assert set_all[:5] == [NI, "config", "set-all", "--stack", "dev-aws"]
    pairs = dict(a.split("=", 1) for a in set_all[5:] if a != "--plaintext")
    assert pairs["mlinfra:env"] == "dev" and pairs["mlinfra:cloud"] == "aws"
    assert json.loads(pairs["mlinfra:service"])["registry"] == {"keep_last_images": 10}
    assert json.loads(pairs["mlinfra:overrides"]) == {"aws": {"serving": {"min_instances": 1}}}
    assert up_command(fake, "dev-aws") in fake.calls()
    assert sorted(p.name for p in fake.project.glob("Pulumi.*.yaml")) == ["Pulumi.dev.yaml", "Pulumi.prod.yaml"]
    parked = yaml.safe_load((fake.settings_dir / "Pulumi.dev-aws.yaml").read_text())
    assert parked["encryptionsalt"].startswith("v1:") and parked["config"]["mlinfra:cloud"] == "aws"


def test_the_parked_settings_come_back_for_the_next_operation(fake):
    target = workspace.target_for_env(fake.project, "dev", "aws")
    workspace.deploy(target)
    parked = fake.settings_dir / "Pulumi.dev-aws.yaml"
    doc = yaml.safe_load(parked.read_text())
    doc["config"]["mlinfra:stale"] = "from an older run"
    parked.write_text(yaml.safe_dump(doc))
    fake.clear()
    workspace.deploy(target)
    assert fake.calls()[1] == [NI, "stack", "select", "--stack", "dev-aws"]  # exists: no new init, same salt
    again = yaml.safe_load(parked.read_text())
    assert again["encryptionsalt"] == doc["encryptionsalt"]
    assert "mlinfra:stale" not in again["config"]
    assert not (fake.project / "Pulumi.dev-aws.yaml").exists()


def test_preview_only_runs_pulumi_preview_with_the_policy_pack(fake):
    result = workspace.deploy(workspace.target_for_env(fake.project, "dev"), preview_only=True)
    preview = next(c for c in fake.calls() if c[1:2] == ["preview"])
    assert preview[:6] == [NI, "preview", "--policy-pack", str((fake.project / "policy").resolve()), "--color",
                           "never"]
    assert "--event-log" in preview and preview[-2:] == ["--stack", "dev"]
    assert not any(c[1:2] == ["up"] for c in fake.calls())
    assert result.preview_only and result.changes == {"create": 7}


def test_a_missing_policy_pack_is_exit_4(fake):
    (fake.project / "policy" / "PulumiPolicy.yaml").unlink()
    with pytest.raises(PrerequisiteMissing, match="policy pack is missing"):
        workspace.deploy(workspace.target_for_env(fake.project, "dev"))


def test_a_bad_config_fails_before_the_engine(fake):
    (fake.project / "Pulumi.dev.yaml").write_text("config:\n  mlinfra:cloud: gcp\n  mlinfra:service: {nmae: x}\n")
    with pytest.raises(ConfigError, match="mlinfra:service.nmae"):
        workspace.deploy(workspace.target_for_env(fake.project, "dev"))
    assert fake.calls() == []


# -- errors ---------------------------------------------------------------------------------------------
def test_missing_cli_is_exit_4_with_how_to_install(fake, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(PrerequisiteMissing, match="the Pulumi CLI is not installed") as info:
        workspace.deploy(workspace.target_for_env(fake.project, "dev"))
    assert "https://get.pulumi.com" in info.value.message and info.value.exit_code == 4


def test_a_locked_stack_is_exit_5(fake, monkeypatch):
    workspace.deploy(workspace.target_for_env(fake.project, "dev"))
    monkeypatch.setenv("FAKE_PULUMI_LOCKED", "1")
    with pytest.raises(StackLocked, match="stack dev is locked by another update") as info:
        workspace.deploy(workspace.target_for_env(fake.project, "dev"))
    assert info.value.exit_code == 5 and "pulumi cancel --stack dev" in info.value.message


def test_a_failed_update_is_exit_1_with_the_engines_error(fake, monkeypatch):
    monkeypatch.setenv("FAKE_PULUMI_FAIL", "up")
    with pytest.raises(OperationFailed) as info:
        workspace.deploy(workspace.target_for_env(fake.project, "dev", "aws"))
    assert info.value.message.startswith("update of stack dev-aws failed: ")
    assert "Error 403: the caller does not have permission" in info.value.message
    assert not (fake.project / "Pulumi.dev-aws.yaml").exists()  # parked again despite the failure


def test_outputs_of_a_missing_stack(fake):
    with pytest.raises(OperationFailed, match="no stack named prod"):
        workspace.outputs(workspace.target_for_env(fake.project, "prod"))


# -- previews ----------------------------------------------------------------------------------------------
def test_preview_up_writes_preview_config(fake):
    result = previews.up(fake.project, pr=42, ttl_hours=24, now=NOW)
    assert result.stack == "pr-42" and result.outputs["expires_at"] == "2026-03-02T12:00:00Z"
    set_all = next(c for c in fake.calls() if c[1:3] == ["config", "set-all"])
    pairs = dict(a.split("=", 1) for a in set_all[5:] if a != "--plaintext")
    assert json.loads(pairs["mlinfra:preview"]) == {"source": "pr-42", "ttl_hours": 24,
                                                    "expires_at": "2026-03-02T12:00:00Z"}
    assert pairs["mlinfra:env"] == "pr-42"
    assert json.loads(pairs["mlinfra:service"])["storage"]["force_destroy"] is True


def test_preview_down_destroys_and_removes_the_stack_and_its_settings(fake):
    previews.up(fake.project, branch="feature/login", cloud="azure", now=NOW)
    stack = previews.preview_target(fake.project, branch="feature/login").stack + "-azure"
    assert stack.startswith("br-featur-")
    assert stack in fake.stacks()
    fake.clear()
    changes = previews.down(fake.project, branch="feature/login", cloud="azure")
    calls = fake.calls()
    assert [NI, "config", "--show-secrets", "--json", "--stack", stack] in calls  # read before destroying
    destroy = next(c for c in calls if c[1:2] == ["destroy"])
    assert destroy[:4] == [NI, "destroy", "--skip-preview", "--yes"] and destroy[-2:] == ["--stack", stack]
    assert calls[-1] == [NI, "stack", "rm", "--yes", stack]
    assert changes == {"delete": 7} and stack not in fake.stacks()
    assert not list(fake.settings_dir.glob("Pulumi.*.yaml"))


def test_down_of_a_preview_that_never_deployed_is_a_no_op(fake):
    assert previews.down(fake.project, pr=7) is None


@pytest.mark.parametrize("stack", ["dev", "prod", "dev-aws"])
def test_down_refuses_builtin_environments_before_asking_the_backend(fake, stack):
    with pytest.raises(ProtectedStack, match=f"stack {stack} is protected"):
        previews.down(fake.project, stack=stack)
    assert fake.calls() == []


def test_down_refuses_a_stack_not_created_as_a_preview(fake):
    fake.seed_stack("scratch", config={"mlinfra:cloud": "aws", "mlinfra:env": "scratch"})
    with pytest.raises(ProtectedStack, match="not created as a preview"):
        previews.down(fake.project, stack="scratch")
    assert not any(c[1:2] == ["destroy"] for c in fake.calls())
    assert "scratch" in fake.stacks()


def test_list_and_gc_destroy_expired_previews_only(fake):
    previews.up(fake.project, pr=1, ttl_hours=1, now=NOW - timedelta(hours=5))  # expired
    previews.up(fake.project, pr=2, ttl_hours=72, now=NOW)  # alive
    fake.seed_stack("dev", config={"mlinfra:cloud": "gcp", "mlinfra:preview": {"expires_at": "2020-01-01T00:00:00Z"}})
    fake.seed_stack("scratch", config={"mlinfra:cloud": "aws"})  # not a preview
    # Made on another machine: no settings file here; its preview config is in its last update.
    expired = {"source": "pr-3", "ttl_hours": 1, "expires_at": "2026-02-01T00:00:00Z"}
    fake.seed_stack("pr-3", config={"mlinfra:cloud": "gcp", "mlinfra:env": "pr-3", "mlinfra:preview": expired},
                    outputs={"endpoint": "https://pr-3.example.test"})

    listed = {e.stack: e for e in previews.list_previews(fake.project, now=NOW)}
    assert sorted(listed) == ["pr-1", "pr-2", "pr-3"]
    assert listed["pr-3"].url == "https://pr-3.example.test" and listed["pr-3"].expired
    assert listed["pr-1"].expired and not listed["pr-2"].expired and listed["pr-2"].cloud == "gcp"

    outcomes = previews.gc(fake.project, now=NOW)
    assert sorted((o.stack, o.result) for o in outcomes) == [("pr-1", "destroyed"), ("pr-3", "destroyed")]
    assert sorted(fake.stacks()) == ["dev", "pr-2", "scratch"]
    destroyed = {c[-1] for c in fake.calls() if c[1:2] == ["destroy"]}
    assert destroyed == {"pr-1", "pr-3"}


def test_gc_dry_run_destroys_nothing(fake):
    previews.up(fake.project, pr=1, ttl_hours=1, now=NOW - timedelta(hours=5))
    outcomes = previews.gc(fake.project, now=NOW, dry_run=True)
    assert [(o.stack, o.result) for o in outcomes] == [("pr-1", "would destroy")]
    assert "pr-1" in fake.stacks() and not any(c[1:2] == ["destroy"] for c in fake.calls())


# -- credentials -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("cloud, named", [
    ("aws", ["AWS_ACCESS_KEY_ID", "AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE", "aws configure"]),
    ("gcp", ["GOOGLE_APPLICATION_CREDENTIALS", "gcloud auth application-default login", "GOOGLE_PROJECT"]),
    ("azure", ["ARM_CLIENT_ID", "ARM_TENANT_ID", "ARM_USE_OIDC", "az login"]),
])
def test_missing_cloud_credentials_name_what_to_set(tmp_path, cloud, named):
    with pytest.raises(PrerequisiteMissing) as info:
        check_credentials(cloud, env={}, home=tmp_path)
    assert info.value.exit_code == 4
    for text in named:
        assert text in info.value.message


@pytest.mark.parametrize("cloud, env, files", [
    ("aws", {"AWS_PROFILE": "dev"}, []),
    ("aws", {}, [".aws/credentials"]),
    ("aws", {"AWS_WEB_IDENTITY_TOKEN_FILE": "/t", "AWS_ROLE_ARN": "arn"}, []),
    ("gcp", {"GOOGLE_PROJECT": "p"}, [".config/gcloud/application_default_credentials.json"]),
    ("gcp", {"GOOGLE_CREDENTIALS": "{}", "GOOGLE_CLOUD_PROJECT": "p"}, []),
    ("azure", {"ARM_CLIENT_ID": "c", "ARM_TENANT_ID": "t", "ARM_CLIENT_SECRET": "s"}, []),
    ("azure", {}, [".azure/azureProfile.json"]),
])
def test_present_cloud_credentials_pass(tmp_path, cloud, env, files):
    for name in files:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("{}")
    check_credentials(cloud, env=env, home=tmp_path)


def test_gcp_project_from_stack_config_counts(tmp_path):
    check_credentials("gcp", env={"GOOGLE_APPLICATION_CREDENTIALS": "/k.json"}, home=tmp_path,
                      config={"gcp:project": "demo"})
    with pytest.raises(PrerequisiteMissing, match="GOOGLE_PROJECT"):
        check_credentials("gcp", env={"GOOGLE_APPLICATION_CREDENTIALS": "/k.json"}, home=tmp_path)


def test_missing_credentials_stop_a_deploy_before_the_engine(fake, monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    with pytest.raises(PrerequisiteMissing, match="no AWS credentials"):
        workspace.deploy(workspace.target_for_env(fake.project, "dev", "aws"))
    assert fake.calls() == []


# -- a broken or hanging `pulumi` (issue 20) --------------------------------------------------------------
def test_a_hanging_pulumi_version_is_exit_4_within_the_time_limit(fake, monkeypatch):
    monkeypatch.setenv("FAKE_PULUMI_HANG", "version")
    monkeypatch.setenv("MLINFRA_PULUMI_TIMEOUT", "1")
    with pytest.raises(PrerequisiteMissing, match=r"`.*pulumi version` did not answer within 1 s"):
        workspace.deploy(workspace.target_for_env(fake.project, "dev"))


def test_garbage_from_pulumi_version_is_exit_4(fake, monkeypatch):
    monkeypatch.setenv("FAKE_PULUMI_GARBAGE", "version")
    with pytest.raises(PrerequisiteMissing, match="not a version"):
        workspace.deploy(workspace.target_for_env(fake.project, "dev"))


def test_a_failing_pulumi_version_is_exit_4(fake, monkeypatch):
    monkeypatch.setenv("FAKE_PULUMI_FAIL_VERSION", "1")
    with pytest.raises(PrerequisiteMissing, match=r"version` failed \(exit 3\): segmentation fault"):
        workspace.deploy(workspace.target_for_env(fake.project, "dev"))


def test_a_hanging_short_command_is_exit_1_within_the_time_limit(fake, monkeypatch):
    monkeypatch.setenv("FAKE_PULUMI_HANG", "stack")
    monkeypatch.setenv("MLINFRA_PULUMI_TIMEOUT", "1")
    with pytest.raises(OperationFailed, match=r"`pulumi stack select --stack dev` did not answer within 1 s"):
        workspace.outputs(workspace.target_for_env(fake.project, "dev"))


def test_garbage_where_json_is_expected_is_one_line_exit_1(fake, monkeypatch):
    workspace.deploy(workspace.target_for_env(fake.project, "dev"))
    monkeypatch.setenv("FAKE_PULUMI_GARBAGE", "stack")
    with pytest.raises(OperationFailed, match="the Pulumi CLI printed output mlinfra cannot read") as info:
        workspace.outputs(workspace.target_for_env(fake.project, "dev"))
    assert info.value.exit_code == 1 and "\n" not in info.value.message


def test_the_tracked_file_stays_untouched_and_the_salt_comes_back_for_every_operation(fake):
    target = workspace.target_for_env(fake.project, "dev")
    workspace.deploy(target)
    salts = {r.get("salt") for r in fake.records() if r["argv"][1:2] == ["up"]}
    fake.clear()
    workspace.deploy(target)
    workspace.outputs(target)
    assert (fake.project / "Pulumi.dev.yaml").read_text() == DEV_YAML
    later = {r.get("salt") for r in fake.records() if "--stack" in r["argv"]}
    assert len(salts) == 1 and None not in salts and later == salts  # the same salt, every time
