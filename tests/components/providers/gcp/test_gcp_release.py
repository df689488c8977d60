"""The release path on GCP (issue 17): secrets, the container's environment, rollouts by digest."""
from __future__ import annotations

import shlex

import pytest

from components.errors import ConfigError
from tests.helpers import inputs, one

from .util import IMAGE, VM, plan_gcp

SECRET = "gcp:secretmanager/secret:Secret"
SECRET_IAM = "gcp:secretmanager/secretIamMember:SecretIamMember"
RUN = "gcp:cloudrunv2/service:Service"
TEMPLATE = "gcp:compute/instanceTemplate:InstanceTemplate"
SECRETS = {"API_TOKEN": "api-token", "DB_PASSWORD": "db-password"}


@pytest.fixture(scope="module")
def run_plan():
    return plan_gcp({"serving": {"image": IMAGE, "secrets": SECRETS, "env": {"LOG_LEVEL": "info"}}})


@pytest.fixture(scope="module")
def vm_plan():
    return plan_gcp({**VM, "serving": {**VM["serving"], "secrets": SECRETS}}, env="prod")


def test_secret_containers_without_values(run_plan):
    secrets = {s.inputs["secretId"]: s.inputs for s in run_plan.of_type(SECRET)}
    assert set(secrets) == {"digits-dev-api-token", "digits-dev-db-password"}
    assert all(s["replication"] == {"auto": {}} for s in secrets.values())
    # Values are added out of band (secrets.versions.add); the program never holds one.
    assert not [r for r in run_plan.resources if r.type.startswith("gcp:secretmanager/secretVersion")]


def test_only_the_serving_account_reads_each_secret(run_plan):
    # roles/secretmanager.secretAccessor grants secretmanager.versions.access, granted per secret
    # (https://cloud.google.com/secret-manager/docs/access-control), never on the project.
    grants = run_plan.of_type(SECRET_IAM)
    assert len(grants) == 2
    for g in grants:
        assert g.inputs["role"] == "roles/secretmanager.secretAccessor"
        assert g.inputs["member"] == "serviceAccount:digits-dev-serve@mlinfra-mock-project.iam.gserviceaccount.com"
        assert g.inputs["secretId"].startswith("projects/mlinfra-mock-project/secrets/digits-dev-")
    project_roles = {r.inputs["role"] for r in run_plan.of_type("gcp:projects/iAMMember:IAMMember")}
    assert "roles/secretmanager.secretAccessor" not in project_roles


def test_cloud_run_references_secrets_and_waits_for_access(run_plan):
    # Secret env vars are references {secret, version} that Cloud Run resolves when an instance starts
    # (https://cloud.google.com/run/docs/configuring/services/secrets).
    run = one(run_plan, RUN)
    envs = {e["name"]: e for e in run.inputs["template"]["containers"][0]["envs"]}
    assert envs["API_TOKEN"] == {"name": "API_TOKEN", "valueSource": {"secretKeyRef": {
        "secret": "digits-dev-api-token", "version": "latest"}}}
    assert "value" not in envs["DB_PASSWORD"]
    assert envs["LOG_LEVEL"]["value"] == "info"
    assert {g.urn for g in run_plan.of_type(SECRET_IAM)} <= set(run.dependsOn)


def test_vm_fetches_secrets_at_boot_never_from_metadata(vm_plan):
    metadata = inputs(vm_plan, TEMPLATE)["metadata"]
    script = metadata["startup-script"]
    # Metadata is readable by anyone who may read the instance: only references may appear there.
    for name in ("digits-prod-api-token", "digits-prod-db-password"):
        assert (f"https://secretmanager.googleapis.com/v1/projects/mlinfra-mock-project/secrets/{name}"
                "/versions/latest:access") in script
    (line,) = [ln for ln in script.splitlines() if ln.startswith("docker run")]
    argv = shlex.split(line)
    assert argv[argv.index("--env-file") + 1].startswith("/run/")  # tmpfs, never the boot disk
    envs = [argv[i + 1].split("=", 1)[0] for i, a in enumerate(argv) if a == "-e"]
    assert "API_TOKEN" not in envs and "DB_PASSWORD" not in envs
    group = one(vm_plan, "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager")
    assert {g.urn for g in vm_plan.of_type(SECRET_IAM)} <= set(group.dependsOn)


def test_new_image_rolls_out_through_the_template(vm_plan):
    # The image reference lives in the template; a regional MIG with a PROACTIVE update policy replaces
    # instances when its version's template changes (https://cloud.google.com/compute/docs/instance-groups/updating-managed-instance-groups).
    group = inputs(vm_plan, "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager")
    assert group["updatePolicy"]["type"] == "PROACTIVE" and group["updatePolicy"]["minimalAction"] == "REPLACE"
    assert group["updatePolicy"]["maxUnavailableFixed"] == 0
    assert group["versions"][0]["instanceTemplate"].endswith(
        "?uniqueId=" + group["versions"][0]["instanceTemplate"].rsplit("=", 1)[1])  # selfLinkUnique
    assert IMAGE in inputs(vm_plan, TEMPLATE)["metadata"]["startup-script"]


@pytest.mark.parametrize("serving, key", [
    ({"secrets": {"TOKEN": "bad name!"}}, "mlinfra:service.serving.secrets.TOKEN"),
    ({"env": {"K_SERVICE": "x"}}, "mlinfra:service.serving.env.K_SERVICE"),
])
def test_refused_names_point_at_the_key(serving, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        plan_gcp({"serving": {"image": IMAGE, **serving}})
