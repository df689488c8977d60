"""The rules over real plans: every built-in environment passes every mandatory rule on every
cloud, and a spec that asks for what a rule forbids is caught on the resource that breaks it."""
from __future__ import annotations

import pytest

from components.providers.base import cloud_names
from policy.config import load
from policy.runner import evaluate
from stacks.config import builtin_envs
from stacks.offline import plan_environment
from tests.helpers import PROJECT_DIR, plan_spec

CONFIG = load(None)
ENVS = builtin_envs(PROJECT_DIR)
PREVIEW = {"source": "pr-1", "expires_at": "2026-12-01T00:00:00Z"}


def test_there_are_builtin_environments():
    assert {"dev", "prod"} <= set(ENVS)


@pytest.mark.parametrize("cloud", cloud_names())
@pytest.mark.parametrize("env", ENVS)
def test_builtin_environment_passes_every_mandatory_rule(env: str, cloud: str):
    report = evaluate(plan_environment(PROJECT_DIR, env, cloud), CONFIG)
    failed = [f"{v.rule} {v.urn}: {v.message}" for v in report.violations if v.level == "mandatory"]
    assert report.mandatory_failed == 0, "\n".join(failed)


@pytest.fixture(scope="module", params=cloud_names())
def gpu_preview(request):
    plan = plan_spec(request.param, service={"training": {"enabled": True}, "serving": {"min_instances": 1}},
                     env="pr-1", preview=PREVIEW)
    return plan, evaluate(plan, CONFIG)


def test_previews_get_no_gpus(gpu_preview):
    plan, report = gpu_preview
    gpu = [v for v in report.violations if v.rule == "allowed-gpu-types"]
    assert gpu and all(v.level == "mandatory" for v in gpu)
    assert all("not allowed in preview; allowed: none" in v.message for v in gpu)
    # Reported on the training machine itself, as the cloud would receive it.
    urns = {r.urn: r for r in plan.resources}
    assert all(v.urn in urns and urns[v.urn].type == v.type for v in gpu)
    assert {v.type for v in gpu} <= {"aws:ec2/launchTemplate:LaunchTemplate", "gcp:compute/instanceTemplate:InstanceTemplate",
                                     "gcp:compute/instance:Instance", "azure-native:compute:VirtualMachineScaleSet",
                                     "azure-native:compute:VirtualMachine", "aws:ec2/instance:Instance",
                                     "gcp:compute/regionInstanceTemplate:RegionInstanceTemplate"}
    assert report.mandatory_failed >= 1


def test_same_gpu_spec_passes_in_dev():
    plan = plan_spec("aws", service={"training": {"enabled": True}, "serving": {"min_instances": 1}})
    assert [v for v in evaluate(plan, CONFIG).violations if v.rule.startswith("allowed-")] == []


@pytest.mark.parametrize("cloud", cloud_names())
def test_internal_ingress_builds_no_public_endpoint(cloud: str):
    plan = plan_spec(cloud, service={"serving": {"min_instances": 1, "ingress": "internal"}})
    assert [v for v in evaluate(plan, CONFIG).violations if v.rule == "ingress-matches-spec"] == []
