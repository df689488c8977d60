"""Set up the `pulumi` test double (tests/fakes/pulumi) for a test: a throwaway project, a private
HOME and state folder, PATH with the double first, and readers for what it recorded."""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

FAKES = Path(__file__).resolve().parent
DOUBLE = FAKES / "pulumi"

PROJECT_YAML = "name: mlinfra\nruntime:\n  name: python\n"
DEV_YAML = """\
# dev: a comment the deploy must not lose
config:
  mlinfra:cloud: gcp
  mlinfra:regions: {aws: eu-west-1, gcp: europe-west1, azure: westeurope}
  mlinfra:tags: {team: ml-platform}
  mlinfra:service:
    name: digits
    registry: {keep_last_images: 10}
    serving: {min_instances: 0, max_instances: 3}
  mlinfra:overrides:
    aws:
      serving: {min_instances: 1}
"""
PROD_YAML = "config:\n  mlinfra:cloud: gcp\n  mlinfra:service:\n    name: digits\n"
POLICY_YAML = "description: mlinfra policies\nruntime: python\nversion: 0.1.0\n"

# Variables that would let a developer's own setup leak into a test.
SCRUB = ("PULUMI_BACKEND_URL", "PULUMI_HOME", "PULUMI_ACCESS_TOKEN", "PULUMI_CONFIG_PASSPHRASE_FILE",
         "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE",
         "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONFIG_FILE",
         "AWS_SHARED_CREDENTIALS_FILE", "GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_CREDENTIALS", "GOOGLE_PROJECT",
         "GOOGLE_CLOUD_PROJECT", "GCLOUD_PROJECT", "CLOUDSDK_CORE_PROJECT", "CLOUDSDK_CONFIG",
         "GOOGLE_OAUTH_ACCESS_TOKEN", "CLOUDSDK_AUTH_ACCESS_TOKEN", "ARM_CLIENT_ID", "ARM_TENANT_ID",
         "ARM_CLIENT_SECRET", "ARM_USE_OIDC", "ARM_USE_MSI", "ARM_CLIENT_CERTIFICATE_PATH", "AZURE_CONFIG_DIR",
         "FAKE_PULUMI_LOCKED", "FAKE_PULUMI_FAIL", "FAKE_PULUMI_STEPS",
         "FAKE_PULUMI_PROTECTED", "FAKE_PULUMI_HANG", "FAKE_PULUMI_GARBAGE", "FAKE_PULUMI_FAIL_VERSION", "MLINFRA_PULUMI_TIMEOUT", "PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK")


@dataclass
class Fake:
    project: Path
    home: Path
    state_home: Path
    log: Path
    state: Path

    def calls(self) -> list[list[str]]:
        if not self.log.exists():
            return []
        return [json.loads(line)["argv"] for line in self.log.read_text().splitlines()]

    def records(self) -> list[dict]:
        return [json.loads(line) for line in self.log.read_text().splitlines()] if self.log.exists() else []

    def clear(self) -> None:
        self.log.unlink(missing_ok=True)

    def stacks(self) -> dict:
        return json.loads(self.state.read_text())["stacks"] if self.state.exists() else {}

    def seed_stack(self, name: str, *, config: dict, resources: int = 3, outputs: dict | None = None,
                   protected: int = 0) -> None:
        """A stack made elsewhere (another machine, by hand): no settings file here, config in its history."""
        state = json.loads(self.state.read_text()) if self.state.exists() else {"stacks": {}, "current": None}
        cfg = {k: {"value": v if isinstance(v, str) else json.dumps(v), "secret": False} for k, v in config.items()}
        state["stacks"][name] = {
            "resources": resources, "protected": protected, "outputs": outputs or {},
            "lastUpdate": "2026-01-01T00:00:00.000000Z",
            "history": [{"kind": "update", "startTime": "2026-01-01T00:00:00.000000Z",
                         "endTime": "2026-01-01T00:00:00.000000Z", "message": "", "environment": {},
                         "config": cfg, "result": "succeeded", "version": 1, "resourceChanges": {"create": resources}}],
        }
        self.state.write_text(json.dumps(state))

    @property
    def backend_dir(self) -> Path:
        return self.state_home / "mlinfra" / "pulumi"

    @property
    def settings_dir(self) -> Path:
        return next((self.state_home / "mlinfra" / "settings").glob("project-*"))


def install(tmp_path: Path, monkeypatch) -> Fake:
    project = tmp_path / "project"
    (project / "policy").mkdir(parents=True)
    (project / "Pulumi.yaml").write_text(PROJECT_YAML)
    (project / "Pulumi.dev.yaml").write_text(DEV_YAML)
    (project / "Pulumi.prod.yaml").write_text(PROD_YAML)
    (project / "policy" / "PulumiPolicy.yaml").write_text(POLICY_YAML)
    fake = Fake(project=project, home=tmp_path / "home", state_home=tmp_path / "state",
                log=tmp_path / "pulumi-calls.jsonl", state=tmp_path / "pulumi-state.json")
    fake.home.mkdir()
    for name in SCRUB:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(fake.home))
    monkeypatch.setenv("XDG_STATE_HOME", str(fake.state_home))
    # The double first; the interpreter's folder so `#!/usr/bin/env python3` finds one with PyYAML.
    monkeypatch.setenv("PATH", f"{FAKES}:{Path(sys.executable).parent}:/usr/bin:/bin")
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "correct horse battery staple")
    monkeypatch.setenv("FAKE_PULUMI_LOG", str(fake.log))
    monkeypatch.setenv("FAKE_PULUMI_STATE", str(fake.state))
    # Credentials for every cloud (only their presence is checked before the engine runs).
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAFAKE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "fake")
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "wif.json"))
    monkeypatch.setenv("GOOGLE_PROJECT", "demo-project")
    monkeypatch.setenv("ARM_CLIENT_ID", "00000000-0000-0000-0000-000000000001")
    monkeypatch.setenv("ARM_TENANT_ID", "00000000-0000-0000-0000-000000000002")
    monkeypatch.setenv("ARM_USE_OIDC", "true")
    # `deploy` runs `mlinfra doctor` first, whose checks call the clouds: these fake credentials cannot
    # answer them. tests/cli/test_doctor_cli.py covers that gate with recorded answers.
    monkeypatch.setenv("MLINFRA_SKIP_CHECKS", "1")
    return fake
