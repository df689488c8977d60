"""The built-in environments plan cleanly on GCP and export the endpoint."""
from __future__ import annotations

import pytest

from stacks.offline import plan_environment
from tests.helpers import PROJECT_DIR


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_builtin_environment_plans_on_gcp(env):
    plan = plan_environment(PROJECT_DIR, env, "gcp")
    assert plan.cloud == "gcp" and plan.region == "europe-west1"
    assert plan.outputs["endpoint"].startswith(("https://", "http://"))
    assert plan.of_type("gcp:storage/bucket:Bucket") and plan.of_type("gcp:artifactregistry/repository:Repository")
    for r in plan.custom():
        if "labels" in r.inputs and r.type.startswith("gcp:") and r.type != "gcp:monitoring/notificationChannel:NotificationChannel":
            assert r.inputs["labels"]["managed-by"] == "mlinfra", r.name
