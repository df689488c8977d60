"""The release path on AWS: what the serving container is given (MODEL_URI, secrets) and how a
new image reaches it, in both serving modes."""
from __future__ import annotations

import base64
import json

import pytest

from components.errors import ConfigError
from tests.helpers import inputs

from .util import by_sid, named, plan_aws

SECRETS = {"API_TOKEN": "api-token", "DB_PASSWORD": "db/password"}


def _arns(plan) -> dict[str, str]:
    from components.providers.aws.mocks import ACCOUNT, _hex

    out = {}
    for r in plan.of_type("aws:secretsmanager/secret:Secret"):
        env = r.name.removeprefix("digits-dev-secret-").replace("-", "_").upper()
        out[env] = f"arn:aws:secretsmanager:eu-west-1:{ACCOUNT}:secret:{r.inputs['name']}-{_hex(r.name, 6)}"
    return out


@pytest.fixture(scope="module")
def fargate():
    return plan_aws({"serving": {"min_instances": 1, "secrets": SECRETS}})


@pytest.fixture(scope="module")
def vm():
    return plan_aws({"serving": {"mode": "vm", "min_instances": 1, "secrets": SECRETS}})


def test_each_secret_is_an_empty_container_scoped_to_the_service(fargate):
    # The program creates containers only: no SecretVersion, so no value in the plan or the state.
    secrets = {r.inputs["name"]: r.inputs for r in fargate.of_type("aws:secretsmanager/secret:Secret")}
    assert set(secrets) == {"mlinfra/digits-dev/api-token", "mlinfra/digits-dev/db/password"}
    assert not fargate.of_type("aws:secretsmanager/secretVersion:SecretVersion")
    assert all(s["tags"]["service"] == "digits" and s["tags"]["environment"] == "dev" for s in secrets.values())
    # recovery_window_in_days: 0 or 7-30 (aws.secretsmanager.Secret); dev keeps the 30-day window.
    assert {s["recoveryWindowInDays"] for s in secrets.values()} == {30}


def test_previews_delete_secrets_at_once_so_a_recreated_preview_can_reuse_the_names():
    plan = plan_aws({"serving": {"min_instances": 1, "secrets": {"API_TOKEN": "api-token"}},
                     "storage": {"force_destroy": True}})
    assert inputs(plan, "aws:secretsmanager/secret:Secret")["recoveryWindowInDays"] == 0


def test_ecs_injects_secrets_by_arn_and_only_the_execution_role_may_read_them(fargate):
    # "Pass Secrets Manager secrets through Amazon ECS environment variables": container
    # `secrets` [{name, valueFrom: secret ARN}], read by the task execution role with
    # secretsmanager:GetSecretValue
    # (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/secrets-envvar-secrets-manager.html).
    arns = _arns(fargate)
    [container] = json.loads(inputs(fargate, "aws:ecs/taskDefinition:TaskDefinition")["containerDefinitions"])
    assert container["secrets"] == [{"name": "API_TOKEN", "valueFrom": arns["API_TOKEN"]},
                                    {"name": "DB_PASSWORD", "valueFrom": arns["DB_PASSWORD"]}]
    assert not {"API_TOKEN", "DB_PASSWORD"} & {e["name"] for e in container["environment"]}
    read = by_sid(named(fargate, "digits-dev-serving-execution-policy"))["ReadServiceSecrets"]
    assert read["Action"] == ["secretsmanager:GetSecretValue"] and sorted(read["Resource"]) == sorted(arns.values())
    task_policy = named(fargate, "digits-dev-serving-task-policy").inputs["policy"]
    assert "secretsmanager" not in task_policy


def test_vms_fetch_secrets_at_boot_and_user_data_holds_no_value(vm):
    arns = _arns(vm)
    script = base64.b64decode(named(vm, "digits-dev-serving-lt").inputs["userData"]).decode()
    for name, arn in arns.items():
        assert f"printf '%s=%s\\n' {name} \"$(aws secretsmanager get-secret-value --region eu-west-1 " \
               f"--secret-id {arn} --query SecretString --output text)\"" in script
    run = next(line for line in script.splitlines() if line.startswith("docker run"))
    assert "--env-file /run/mlinfra/secrets.env" in run and "API_TOKEN=" not in run
    # The file is created root-only before anything is written to it.
    assert script.index("install -m 600 /dev/null /run/mlinfra/secrets.env") < script.index("get-secret-value")
    read = by_sid(named(vm, "digits-dev-serving-instance-policy"))["ReadServiceSecrets"]
    assert sorted(read["Resource"]) == sorted(arns.values())


def test_without_secrets_no_secret_permission_is_granted():
    plan = plan_aws({"serving": {"min_instances": 1}})
    assert not plan.of_type("aws:secretsmanager/secret:Secret")
    assert "secretsmanager" not in named(plan, "digits-dev-serving-execution-policy").inputs["policy"]


def test_a_secret_name_secrets_manager_refuses_is_a_config_error():
    # Secret names: letters, digits and /_+=.@- (CreateSecret, Name).
    with pytest.raises(ConfigError) as err:
        plan_aws({"serving": {"min_instances": 1, "secrets": {"API_TOKEN": "api token!"}}})
    assert str(err.value).startswith("mlinfra:service.serving.secrets:") and err.value.exit_code == 3


def test_the_image_is_pushed_with_program_obtained_credentials_and_runs_by_digest(fargate):
    # ECR push credentials come from ecr.getAuthorizationToken inside the program (registry.py),
    # handed to the build as a secret registry entry; serving runs `repo:tag@sha256:digest`.
    build = inputs(fargate, "docker-build:index:Image")
    assert build["push"] is True and build["registries"] == "[secret]"
    [container] = json.loads(inputs(fargate, "aws:ecs/taskDefinition:TaskDefinition")["containerDefinitions"])
    assert "@sha256:" in container["image"] and container["image"] == fargate.outputs["image"]
