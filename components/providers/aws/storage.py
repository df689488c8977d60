"""S3 storage tiers: private, KMS-encrypted, versioned, TLS-only, data prefixes aging by how they are read.

Tiers follow how each prefix is read ("Understanding and managing Amazon S3 storage classes",
https://docs.aws.amazon.com/AmazonS3/latest/userguide/storage-class-intro.html):
- STANDARD_IA and GLACIER_IR serve GetObject in milliseconds, so any prefix can age into them.
- DEEP_ARCHIVE objects cannot be read until restored ("Restoring an archived object",
  https://docs.aws.amazon.com/AmazonS3/latest/userguide/restoring-objects.html). Only prefixes
  read back on purpose go there: `runs/` (finished runs' outputs and checkpoints). Data that
  training jobs read directly (`data/` and any other tiered prefix) stops at GLACIER_IR, so an
  old dataset never fails a job with InvalidObjectState.

Restore path for an archived run (the training role holds s3:RestoreObject on `runs/`):
  aws s3api restore-object --bucket <bucket> --key runs/<run>/<file> \
      --restore-request '{"Days": 7, "GlacierJobParameters": {"Tier": "Bulk"}}'
then wait until `aws s3api head-object` shows `Restore: ongoing-request="false"` (Bulk: within
48 hours, Standard: within 12 hours for DEEP_ARCHIVE, per the restore page above) and read it
as usual for `Days` days.
"""
from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

from components.providers.base import BuildContext, StorageOutputs

# Tier -> S3 storage class. Glacier Instant Retrieval keeps cold data readable in milliseconds.
WARM, COLD, ARCHIVE = "STANDARD_IA", "GLACIER_IR", "DEEP_ARCHIVE"
# Tiered prefixes whose old objects are only read back after an explicit restore.
RESTORE_BEFORE_READ = ("runs/",)


def archived_prefixes(ctx: BuildContext) -> list[str]:
    return [p for p in ctx.spec.service.storage.tiered_prefixes if p in RESTORE_BEFORE_READ]


def lifecycle_rules(ctx: BuildContext) -> list[dict]:
    st = ctx.spec.service.storage
    rules: list[dict] = []
    archived = archived_prefixes(ctx)
    for prefix in st.tiered_prefixes:
        transitions = [{"days": st.warm_after_days, "storage_class": WARM},
                       {"days": st.cold_after_days, "storage_class": COLD}]
        if prefix in archived:
            transitions.append({"days": st.archive_after_days, "storage_class": ARCHIVE})
        rules.append({
            "id": f"tier-{prefix.rstrip('/')}",
            "status": "Enabled",
            "filter": {"prefix": prefix},
            "transitions": transitions,
        })
    rules.append({
        "id": "expire-old-versions",
        "status": "Enabled",
        "filter": {"prefix": ""},
        "noncurrent_version_expiration": {"noncurrent_days": st.noncurrent_expire_days},
        "abort_incomplete_multipart_upload": {"days_after_initiation": 7},
    })
    return rules


def private_bucket(ctx: BuildContext, parent: pulumi.Resource, logical: str, name: str, *, force_destroy: bool,
                   sse_algorithm: str, rules: list[dict],
                   extra_statements=lambda arn: []) -> tuple[aws.s3.Bucket, aws.s3.BucketPolicy]:
    """A bucket with every control the policy pack requires (public access block, owner-enforced
    objects, default encryption, versioning, lifecycle) and a TLS-only policy, plus any statements
    `extra_statements(bucket_arn)` adds (e.g. log delivery). Returns (bucket, its policy)."""
    bucket = aws.s3.Bucket(logical, bucket=name, force_destroy=force_destroy, tags=ctx.tags,
                           opts=pulumi.ResourceOptions(parent=parent))
    dep = pulumi.ResourceOptions(parent=parent, depends_on=[bucket])
    aws.s3.BucketPublicAccessBlock(f"{logical}-public-access", bucket=bucket.id, block_public_acls=True,
                                   block_public_policy=True, ignore_public_acls=True, restrict_public_buckets=True,
                                   opts=dep)
    aws.s3.BucketOwnershipControls(f"{logical}-ownership", bucket=bucket.id,
                                   rule={"object_ownership": "BucketOwnerEnforced"}, opts=dep)
    aws.s3.BucketServerSideEncryptionConfiguration(
        f"{logical}-encryption", bucket=bucket.id,
        rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": sse_algorithm},
                "bucket_key_enabled": True}],
        opts=dep)
    versioning = aws.s3.BucketVersioning(f"{logical}-versioning", bucket=bucket.id,
                                         versioning_configuration={"status": "Enabled"}, opts=dep)
    aws.s3.BucketLifecycleConfiguration(f"{logical}-lifecycle", bucket=bucket.id, rules=rules,
                                        opts=pulumi.ResourceOptions(parent=parent, depends_on=[versioning]))
    policy = aws.s3.BucketPolicy(
        f"{logical}-tls-only", bucket=bucket.id,
        policy=bucket.arn.apply(lambda arn: pulumi.Output.from_input(extra_statements(arn)).apply(
            lambda extra: json.dumps({
                "Version": "2012-10-17",
                "Statement": [{
                    "Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
                    "Resource": [arn, f"{arn}/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }, *extra],
            }))),
        opts=dep)
    return bucket, policy


def build_storage(provider, parent: pulumi.Resource, ctx: BuildContext) -> StorageOutputs:
    p = ctx.prefix
    st = ctx.spec.service.storage
    bucket, _ = private_bucket(ctx, parent, f"{p}-data", provider.bucket_name(ctx), force_destroy=st.force_destroy,
                               sse_algorithm="aws:kms", rules=lifecycle_rules(ctx))
    return StorageOutputs(bucket=bucket.bucket, url=pulumi.Output.concat("s3://", bucket.bucket), resource_id=bucket.arn)
