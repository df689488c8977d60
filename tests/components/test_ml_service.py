"""Cloud-neutral composition tests, run for every cloud in the provider registry."""
from __future__ import annotations

import pytest

from components.providers.base import get_provider
from tests.helpers import CLOUDS, plan_spec

BASE_TAGS = {"service": "digits", "environment": "dev", "managed-by": "mlinfra"}
SERVICE = {"name": "digits", "serving": {"min_instances": 1}}


@pytest.fixture(scope="module", params=CLOUDS)
def plan(request):
    return plan_spec(request.param, SERVICE, tags={"team": "ml-platform"})


def ancestors(plan, resource):
    by_urn = {r.urn: r for r in plan.resources}
    chain = []
    while resource.parent in by_urn:
        resource = by_urn[resource.parent]
        chain.append(resource.type)
    return chain


def test_one_service_component_with_its_parts(plan):
    types = [r.type for r in plan.resources if not r.custom]
    assert types.count("mlinfra:service:MLService") == 1
    for part in ("mlinfra:storage:StorageTiers", "mlinfra:registry:ContainerRegistry", "mlinfra:serving:Serving"):
        assert types.count(part) == 1, part


def test_every_cloud_resource_lives_under_the_service(plan):
    for res in plan.custom():
        if res.type.startswith("pulumi:providers:"):
            continue
        assert "mlinfra:service:MLService" in ancestors(plan, res), f"{res.type} {res.name} is not under MLService"
        assert res.name.startswith("digits-dev"), res.name


def test_explicit_provider_carries_the_region(plan):
    providers = [r for r in plan.resources if r.type.startswith("pulumi:providers:") and "docker" not in r.type]
    assert len(providers) == 1
    assert plan.region in providers[0].inputs.values()


def test_every_taggable_resource_carries_the_base_tags(plan):
    provider = get_provider(plan.cloud)
    expected = provider.tags({**BASE_TAGS, "stack": plan.stack, "team": "ml-platform"})
    # docker-build's `labels` are OCI image labels, not cloud tags.
    tagged = [r for r in plan.custom() if not r.type.startswith("docker-build:")
              and (isinstance(r.inputs.get("tags"), dict) or isinstance(r.inputs.get("labels"), dict))]
    assert len(tagged) >= 3
    for res in tagged:
        tags = res.inputs.get("tags") if isinstance(res.inputs.get("tags"), dict) else res.inputs["labels"]
        missing = {k: v for k, v in expected.items() if tags.get(k) != v}
        assert not missing, f"{res.type} {res.name} lacks {missing}"


def test_outputs_name_the_bucket_registry_and_endpoint(plan):
    out = plan.outputs
    assert out["cloud"] == plan.cloud and out["region"] == plan.region
    assert out["bucket_url"].split("://")[0] in {"s3", "gs", "az"}
    assert out["bucket"] in out["bucket_url"]
    assert out["endpoint"].startswith(("http://", "https://"))
    assert out["registry"] and out["image"].startswith(out["registry"])
    assert "@sha256:" in out["image"]  # serving runs the pushed digest


def test_description_travels_with_the_plan(plan):
    (service,) = plan.of_type("mlinfra:service:MLService")
    assert service.inputs["env"] == "dev" and service.inputs["cloud"] == plan.cloud
    assert service.inputs["service"]["serving"]["min_instances"] == 1


@pytest.mark.parametrize("cloud", CLOUDS)
def test_prebuilt_image_skips_the_build(cloud):
    plan = plan_spec(cloud, {"serving": {"min_instances": 1, "image": "ghcr.io/acme/digits:1.2.3"}})
    assert not plan.of_type("docker-build:index:Image")
    assert plan.outputs["image"] == "ghcr.io/acme/digits:1.2.3"


@pytest.mark.parametrize("cloud", CLOUDS)
def test_preview_resources_carry_an_expiry(cloud):
    plan = plan_spec(cloud, SERVICE, env="pr-42",
                     preview={"source": "pr-42", "ttl_hours": 72, "expires_at": "2026-11-25T10:00:00Z"})
    expected = get_provider(cloud).tags({"expires-at": "2026-11-25T10:00:00Z"})
    bucket_like = [r for r in plan.custom() if not r.type.startswith("docker-build:")
                   and isinstance(r.inputs.get("tags") or r.inputs.get("labels"), dict)]
    assert bucket_like
    for res in bucket_like:
        tags = res.inputs.get("tags") or res.inputs.get("labels")
        assert tags.get("expires-at") == expected["expires-at"], res.name
    assert plan.outputs["expires_at"] == "2026-11-25T10:00:00Z"
