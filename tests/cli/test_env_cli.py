"""`mlinfra env up | down | list | gc` through the CLI, with tests/fakes/pulumi (a TEST DOUBLE of the
Pulumi CLI) on PATH; protection rules and exit codes; the preview workflow's structure."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from cli.main import app

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


def invoke(fake, *args: str):
    return runner.invoke(app, ["env", *args, "--project-dir", str(fake.project)])


def test_env_up_json_gives_stack_url_and_expiry(fake):
    result = invoke(fake, "up", "--pr", "42", "--ttl", "2d", "--output", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["stack"] == "pr-42" and doc["cloud"] == "gcp" and doc["env"] == "pr-42"
    assert doc["url"] == "https://digits-pr-42.example.test"
    assert doc["expires_at"].endswith("Z")
    config = yaml.safe_load((fake.settings_dir / "Pulumi.pr-42.yaml").read_text())["config"]
    assert json.loads(config["mlinfra:preview"])["ttl_hours"] == 48


def test_env_up_text_names_the_url(fake):
    result = invoke(fake, "up", "--branch", "feature/Login", "--cloud", "aws")
    assert result.exit_code == 0, result.output
    assert "deployed preview br-featur-" in result.stdout and "url: https://digits-br-featur-" in result.stdout


@pytest.mark.parametrize("args, needle", [
    (["--pr", "4", "--branch", "x"], "exactly one of --pr NUMBER or --branch NAME"),
    ([], "exactly one of --pr NUMBER or --branch NAME"),
    (["--pr", "4", "--ttl", "90d"], "--ttl: 90d is not allowed"),
    (["--pr", "4", "--cloud", "all"], "one cloud at a time"),
    (["--pr", "4", "--cloud", "oracle"], "'oracle' is not a supported cloud"),
])
def test_env_up_usage_errors_are_exit_3(fake, args, needle):
    result = invoke(fake, "up", *args)
    assert result.exit_code == 3, result.output
    assert needle in " ".join(result.stderr.split()) and "Traceback" not in result.output
    assert fake.calls() == []


def test_env_up_without_the_cli_is_exit_4(fake, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    result = invoke(fake, "up", "--pr", "1")
    assert result.exit_code == 4 and "the Pulumi CLI is not installed" in result.stderr


def test_list_json_and_text(fake):
    assert invoke(fake, "up", "--pr", "42").exit_code == 0
    assert runner.invoke(app, ["deploy", "--yes", "--project-dir", str(fake.project)]).exit_code == 0
    result = invoke(fake, "list", "--output", "json")
    assert result.exit_code == 0, result.output
    (entry,) = json.loads(result.stdout)["previews"]
    assert set(entry) == {"stack", "cloud", "source", "age_hours", "expires_at", "expired", "url"}
    assert (entry["stack"], entry["cloud"], entry["source"], entry["expired"]) == ("pr-42", "gcp", "pr-42", False)
    assert entry["url"] == "https://digits-pr-42.example.test" and entry["age_hours"] is not None
    text = invoke(fake, "list")
    assert "pr-42" in text.stdout and "dev" not in text.stdout.split()


@pytest.mark.parametrize("stack", ["dev", "prod", "prod-aws"])
def test_down_refuses_protected_stacks_with_exit_5(fake, stack):
    result = invoke(fake, "down", "--stack", stack)
    assert result.exit_code == 5, result.output
    assert f"stack {stack} is protected" in " ".join(result.stderr.split())


def test_down_refuses_a_stack_not_created_as_a_preview(fake):
    fake.seed_stack("scratch", config={"mlinfra:cloud": "aws"})
    result = invoke(fake, "down", "--stack", "scratch")
    assert result.exit_code == 5, result.output
    assert "not created as a preview" in " ".join(result.stderr.split())
    assert "scratch" in fake.stacks()


def test_down_destroys_a_preview_and_is_idempotent(fake):
    assert invoke(fake, "up", "--pr", "42").exit_code == 0
    result = invoke(fake, "down", "--pr", "42", "--output", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"destroyed": True, "changes": {"delete": 7}}
    assert "pr-42" not in fake.stacks()
    again = invoke(fake, "down", "--pr", "42")  # the PR-closed workflow may run after a failed deploy
    assert again.exit_code == 0 and "nothing to destroy" in again.stdout


def test_gc_destroys_expired_previews_only(fake):
    assert invoke(fake, "up", "--pr", "1").exit_code == 0  # alive for 72 h
    assert runner.invoke(app, ["deploy", "--yes", "--project-dir", str(fake.project)]).exit_code == 0
    gone = {"source": "pr-2", "ttl_hours": 1, "expires_at": "2020-01-01T00:00:00Z"}
    fake.seed_stack("pr-2", config={"mlinfra:cloud": "gcp", "mlinfra:env": "pr-2", "mlinfra:preview": gone})
    # An expired-looking preview config on a protected stack is still refused by name.
    fake.seed_stack("prod", config={"mlinfra:cloud": "gcp", "mlinfra:preview": gone})
    result = invoke(fake, "gc", "--output", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"gc": [{"stack": "pr-2", "expires_at": "2020-01-01T00:00:00Z",
                                                 "result": "destroyed"}]}
    assert sorted(fake.stacks()) == ["dev", "pr-1", "prod"]


def test_gc_reports_a_failed_destroy_with_exit_1(fake, monkeypatch):
    gone = {"source": "pr-2", "ttl_hours": 1, "expires_at": "2020-01-01T00:00:00Z"}
    fake.seed_stack("pr-2", config={"mlinfra:cloud": "gcp", "mlinfra:preview": gone})
    monkeypatch.setenv("FAKE_PULUMI_FAIL", "destroy")
    result = invoke(fake, "gc")
    assert result.exit_code == 1, result.output
    assert "pr-2 (expired 2020-01-01T00:00:00Z): failed: destroy of stack pr-2 failed" in " ".join(
        result.stdout.split())
    assert "1 expired preview(s) could not be destroyed: pr-2" in " ".join(result.stderr.split())


# -- .github/workflows/preview.yml ----------------------------------------------------------------------
def test_preview_workflow_structure():
    text = (ROOT / ".github" / "workflows" / "preview.yml").read_text()
    doc = yaml.safe_load(text)
    triggers = doc[True]  # YAML 1.1 reads the key `on` as true
    assert {"opened", "synchronize", "closed"} <= set(triggers["pull_request"]["types"])
    assert triggers["schedule"][0]["cron"]
    assert doc["permissions"]["id-token"] == "write" and doc["permissions"]["pull-requests"] == "write"
    assert doc["concurrency"]["group"].startswith("preview-${{ github.event.pull_request.number")
    assert doc["concurrency"]["cancel-in-progress"] is False
    jobs = doc["jobs"]
    assert "closed" in jobs["up"]["if"] and "!=" in jobs["up"]["if"]
    assert "== 'closed'" in jobs["down"]["if"] and "schedule" in jobs["gc"]["if"]

    def runs(job):
        return "\n".join(s.get("run", "") for s in jobs[job]["steps"])

    assert 'mlinfra env up --pr "$PR"' in runs("up") and "--policy-pack policy" in runs("up")
    assert 'mlinfra env down --pr "$PR"' in runs("down")
    assert "mlinfra env gc" in runs("gc")
    for job in ("up", "down", "gc"):
        uses = [s.get("uses", "") for s in jobs[job]["steps"]]
        assert "pulumi/actions@v6" in uses
        logins = {u.split("@")[0]: s.get("with", {}) for s in jobs[job]["steps"] for u in [s.get("uses", "")]}
        assert "role-to-assume" in logins["aws-actions/configure-aws-credentials"]
        assert "workload_identity_provider" in logins["google-github-actions/auth"]
        assert "client-id" in logins["azure/login"]
    comment = next(s for s in jobs["up"]["steps"] if s.get("uses", "").startswith("actions/github-script"))
    assert "updateComment" in comment["with"]["script"] and "preview.url" in comment["with"]["script"]
    assert "aws-secret-access-key" not in text and "credentials_json" not in text  # no long-lived keys
