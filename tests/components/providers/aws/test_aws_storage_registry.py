"""S3 storage tiers and the ECR registry: the exact inputs AWS receives, and the name limits."""
from __future__ import annotations

import json

import pytest

from components.errors import ConfigError
from tests.helpers import inputs, one

from .util import SERVERLESS, plan_aws

TAGS = {"service": "digits", "environment": "dev", "stack": "dev", "managed-by": "mlinfra", "team": "ml"}



def data(plan, role: str) -> dict:
    """Inputs of the data bucket's resource `role` (the load balancer's access-log bucket is separate)."""
    [found] = [r for r in plan.resources
               if r.type.startswith("aws:s3/") and r.name.endswith(f"-{role}") and "-logs" not in r.name]
    return found.inputs


@pytest.fixture(scope="module")
def plan():
    return plan_aws(SERVERLESS, tags={"team": "ml"})


def test_bucket_is_named_within_limits_tagged_and_kept_on_destroy_by_default(plan):
    bucket = data(plan, "data")
    assert bucket["bucket"].startswith("digits-dev-data-") and len(bucket["bucket"]) == len("digits-dev-data-") + 8
    assert bucket["forceDestroy"] is False
    assert bucket["tags"] == TAGS
    assert plan.outputs["bucket"] == bucket["bucket"]
    assert plan.outputs["bucket_url"] == f"s3://{bucket['bucket']}"


def test_bucket_is_private_encrypted_and_versioned(plan):
    block = data(plan, "data-public-access")
    assert {k: block[k] for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls",
                                  "restrictPublicBuckets")} == dict.fromkeys(
        ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"), True)
    sse = data(plan, "data-encryption")
    assert sse["rules"] == [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms"},
                             "bucketKeyEnabled": True}]
    versioning = data(plan, "data-versioning")
    assert versioning["versioningConfiguration"] == {"status": "Enabled"}
    ownership = data(plan, "data-ownership")
    assert ownership["rule"] == {"objectOwnership": "BucketOwnerEnforced"}


def test_bucket_policy_denies_plain_http(plan):
    policy = json.loads(data(plan, "data-tls-only")["policy"])
    [deny] = policy["Statement"]
    arn = f"arn:aws:s3:::{data(plan, 'data')['bucket']}"
    assert deny["Effect"] == "Deny" and deny["Resource"] == [arn, f"{arn}/*"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_prefixes_age_only_into_classes_their_readers_can_read(plan):
    # STANDARD_IA and GLACIER_IR answer GetObject in milliseconds; DEEP_ARCHIVE objects must be
    # restored first ("Restoring an archived object",
    # https://docs.aws.amazon.com/AmazonS3/latest/userguide/restoring-objects.html). Training reads
    # data/ directly, so it stops at GLACIER_IR; runs/ is read back on purpose and may archive.
    rules = {r["id"]: r for r in data(plan, "data-lifecycle")["rules"]}
    assert set(rules) == {"tier-data", "tier-runs", "expire-old-versions"}
    for prefix in ("data", "runs"):
        rule = rules[f"tier-{prefix}"]
        assert rule["status"] == "Enabled" and rule["filter"] == {"prefix": f"{prefix}/"}
    assert [(t["days"], t["storageClass"]) for t in rules["tier-data"]["transitions"]] == [
        (30, "STANDARD_IA"), (90, "GLACIER_IR")]
    assert [(t["days"], t["storageClass"]) for t in rules["tier-runs"]["transitions"]] == [
        (30, "STANDARD_IA"), (90, "GLACIER_IR"), (365, "DEEP_ARCHIVE")]
    old = rules["expire-old-versions"]
    assert old["noncurrentVersionExpiration"] == {"noncurrentDays": 90}
    assert old["abortIncompleteMultipartUpload"] == {"daysAfterInitiation": 7}
    assert not any("models/" in str(r.get("filter")) for r in rules.values())


def test_tier_ages_come_from_the_spec():
    plan = plan_aws({**SERVERLESS, "storage": {"warm_after_days": 45, "cold_after_days": 120,
                                               "archive_after_days": 400, "force_destroy": True}})
    rule = next(r for r in data(plan, "data-lifecycle")["rules"]
                if r["id"] == "tier-runs")
    assert [t["days"] for t in rule["transitions"]] == [45, 120, 400]
    assert data(plan, "data")["forceDestroy"] is True
    assert inputs(plan, "aws:ecr/repository:Repository")["forceDelete"] is True


def test_repository_is_immutable_scanned_and_encrypted(plan):
    repo = inputs(plan, "aws:ecr/repository:Repository")
    assert repo["name"] == "digits-dev"
    assert repo["imageTagMutability"] == "IMMUTABLE"
    assert repo["imageScanningConfiguration"] == {"scanOnPush": True}
    assert repo["encryptionConfigurations"] == [{"encryptionType": "KMS"}]
    assert repo["tags"] == TAGS
    assert plan.outputs["registry"] == "123456789012.dkr.ecr.eu-west-1.amazonaws.com/digits-dev"


def test_repository_lifecycle_expires_untagged_and_keeps_the_last_images():
    plan = plan_aws({**SERVERLESS, "registry": {"keep_last_images": 12, "untagged_expire_days": 3}})
    policy = json.loads(inputs(plan, "aws:ecr/lifecyclePolicy:LifecyclePolicy")["policy"])
    untagged, keep = policy["rules"]
    assert untagged["selection"] == {"tagStatus": "untagged", "countType": "sinceImagePushed",
                                     "countUnit": "days", "countNumber": 3}
    assert keep["selection"] == {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 12}
    assert [untagged["rulePriority"], keep["rulePriority"]] == [1, 2]
    assert untagged["action"] == keep["action"] == {"type": "expire"}


def test_the_image_is_pushed_to_the_repository_and_is_what_serving_runs(plan):
    image = one(plan, "docker-build:index:Image").inputs
    assert image["push"] is True
    assert image["tags"][0].startswith("123456789012.dkr.ecr.eu-west-1.amazonaws.com/digits-dev:")
    # Serving runs `repository-url/image@digest` (ECS ContainerDefinition `image`), the pushed digest.
    assert plan.outputs["image"] == image["tags"][0].rpartition(":")[0] + "@" + plan.outputs["image_digest"]


# S3 bucket names: 3-63 characters. `<service>-<env>-data-<8 hex>` is 15 + len(service) + len(env);
# the spec's own limits (service 2-20, env 2-24) keep it within 19-59, which these plans prove.
@pytest.mark.parametrize("service,env", [("ab", "d1"), ("a" * 20, "e" * 24)])
def test_shortest_and_longest_derived_bucket_names_plan(service, env):
    plan = plan_aws({**SERVERLESS, "name": service}, env=env)
    name = data(plan, "data")["bucket"]
    assert name.startswith(f"{service}-{env}-data-") and len(name) == 15 + len(service) + len(env)
    assert 3 <= len(name) <= 63


def _unvalidated_spec(service: str, env: str):
    from components.spec import EnvironmentSpec, ServiceSpec

    # Bypass the spec's own limits to reach the S3 rule behind them.
    return EnvironmentSpec.model_construct(env=env, stack=env, project="mlinfra", cloud="aws", region="eu-west-1",
                                           tags={}, preview=None, service=ServiceSpec.model_construct(name=service))


def test_a_bucket_name_of_64_characters_is_refused_naming_the_s3_limit():
    from components.providers.base import get_provider

    aws = get_provider("aws")
    assert len(aws.bucket_name(_unvalidated_spec("a" * 24, "e" * 24))) == 63
    with pytest.raises(ConfigError) as err:
        aws.bucket_name(_unvalidated_spec("a" * 25, "e" * 24))
    assert "S3 bucket: 3-63" in str(err.value) and "(64 chars)" in str(err.value)
    assert str(err.value).startswith("mlinfra:service.name:") and err.value.exit_code == 3


@pytest.mark.parametrize("storage,key,message", [
    ({"warm_after_days": 29, "cold_after_days": 90}, "warm_after_days", "no earlier than 30 days"),
    ({"warm_after_days": 30, "cold_after_days": 59}, "cold_after_days", "at least 60"),
])
def test_s3_lifecycle_30_day_rules_are_refused_before_any_resource(storage, key, message):
    with pytest.raises(ConfigError) as err:
        plan_aws({**SERVERLESS, "storage": storage})
    assert str(err.value).startswith(f"mlinfra:service.storage.{key}:")
    assert message in str(err.value) and err.value.exit_code == 3


def test_s3_lifecycle_exactly_30_days_apart_is_accepted():
    plan = plan_aws({**SERVERLESS, "storage": {"warm_after_days": 30, "cold_after_days": 60,
                                               "archive_after_days": 61}})
    rule = next(r for r in data(plan, "data-lifecycle")["rules"]
                if r["id"] == "tier-runs")
    assert [t["days"] for t in rule["transitions"]] == [30, 60, 61]
