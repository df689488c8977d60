"""GCS tiers and Artifact Registry: the inputs GCP receives."""
from __future__ import annotations

import re

import pytest

from tests.helpers import inputs, one

from .util import IMAGE, REGION, plan_gcp

BUCKET = "gcp:storage/bucket:Bucket"
REPO = "gcp:artifactregistry/repository:Repository"


@pytest.fixture(scope="module")
def plan():
    return plan_gcp({"serving": {"image": IMAGE},
                     "storage": {"warm_after_days": 10, "cold_after_days": 40, "archive_after_days": 200,
                                 "noncurrent_expire_days": 30, "force_destroy": True},
                     "registry": {"keep_last_images": 12, "untagged_expire_days": 3}},
                    tags={"team": "ML-Platform"}, preview={"source": "pr-7", "expires_at": "2026-11-25T10:00:00Z"})


def test_bucket_is_private_versioned_and_regional(plan):
    b = inputs(plan, BUCKET)
    assert re.fullmatch(r"digits-dev-data-[0-9a-f]{8}", b["name"])
    assert b["location"] == "EUROPE-WEST1" and b["storageClass"] == "STANDARD"
    assert b["uniformBucketLevelAccess"] is True
    assert b["publicAccessPrevention"] == "enforced"
    assert b["versioning"] == {"enabled": True}
    assert b["forceDestroy"] is True
    assert "encryption" not in b  # Google-managed keys: no KMS key to lose


def test_bucket_labels_follow_gcp_rules(plan):
    labels = inputs(plan, BUCKET)["labels"]
    assert labels["team"] == "ml-platform"
    assert labels["expires-at"] == "2026-11-25t10-00-00z"
    assert labels["preview-of"] == "pr-7"
    assert labels["managed-by"] == "mlinfra" and labels["environment"] == "dev"


def test_data_prefixes_age_one_tier_at_a_time(plan):
    rules = inputs(plan, BUCKET)["lifecycleRules"]
    tiers = [(r["condition"]["age"], r["condition"]["matchesStorageClasses"], r["action"]["storageClass"])
             for r in rules if r["action"]["type"] == "SetStorageClass"]
    assert tiers == [(10, ["STANDARD"], "NEARLINE"), (40, ["NEARLINE"], "COLDLINE"), (200, ["COLDLINE"], "ARCHIVE")]
    for r in rules:
        if r["action"]["type"] == "SetStorageClass":
            assert r["condition"]["matchesPrefixes"] == ["data/", "runs/"]  # models/ stays hot


def test_old_versions_and_uploads_expire(plan):
    rules = {r["action"]["type"]: r["condition"] for r in inputs(plan, BUCKET)["lifecycleRules"]
             if r["action"]["type"] != "SetStorageClass"}
    assert rules["Delete"] == {"daysSinceNoncurrentTime": 30, "withState": "ARCHIVED"}
    assert rules["AbortIncompleteMultipartUpload"] == {"age": 7}


def test_repository_is_immutable_with_cleanup(plan):
    r = inputs(plan, REPO)
    assert r["repositoryId"] == "digits-dev" and r["format"] == "DOCKER" and r["location"] == REGION
    assert r["dockerConfig"] == {"immutableTags": True}
    assert r["cleanupPolicyDryRun"] is False
    policies = {p["id"]: p for p in r["cleanupPolicies"]}
    assert policies["keep-recent"] == {"id": "keep-recent", "action": "KEEP", "mostRecentVersions": {"keepCount": 12}}
    # "A keep policy only exempts matching artifacts from deletion": without a DELETE policy that
    # also matches tagged versions, keep_last_images would delete nothing
    # (https://cloud.google.com/artifact-registry/docs/repositories/cleanup-policy-overview).
    deletes = [p for p in r["cleanupPolicies"] if p["action"] == "DELETE"]
    assert deletes and all(p["condition"].get("tagState", "ANY") == "ANY" for p in deletes)
    assert deletes[0]["condition"]["olderThan"] == "259200s"
    assert r["vulnerabilityScanningConfig"] == {"enablementConfig": "INHERITED"}
    assert r["labels"]["expires-at"] == "2026-11-25t10-00-00z"


def test_outputs_name_bucket_and_registry(plan):
    bucket = inputs(plan, BUCKET)["name"]
    assert plan.outputs["bucket"] == bucket and plan.outputs["bucket_url"] == f"gs://{bucket}"
    # LOCATION-docker.pkg.dev/PROJECT-ID/REPOSITORY/IMAGE: an image name has the image segment
    # (https://cloud.google.com/artifact-registry/docs/docker/names).
    assert plan.outputs["registry"] == f"{REGION}-docker.pkg.dev/mlinfra-mock-project/digits-dev/digits"


def test_image_build_pushes_to_the_repository_with_a_token():
    plan = plan_gcp({})
    build = one(plan, "docker-build:index:Image").inputs
    assert build["push"] is True
    # Pushed as LOCATION-docker.pkg.dev/PROJECT-ID/REPOSITORY/IMAGE:TAG, the documented image name
    # form; the repository path alone names no image (https://cloud.google.com/artifact-registry/docs/docker/names).
    assert build["tags"][0].startswith(f"{REGION}-docker.pkg.dev/mlinfra-mock-project/digits-dev/digits:")
    assert build["registries"] == "[secret]"  # the access token never shows in a plan
    run = inputs(plan, "gcp:cloudrunv2/service:Service")
    assert run["template"]["containers"][0]["image"] == plan.outputs["image"]
    # Serving runs the image by digest, IMAGE@sha256:DIGEST (same page, "digest" form).
    assert re.fullmatch(rf"{REGION}-docker\.pkg\.dev/mlinfra-mock-project/digits-dev/digits@sha256:[0-9a-f]{{64}}",
                        plan.outputs["image"])
