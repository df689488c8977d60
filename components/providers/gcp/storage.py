"""GCS storage tiers: private, uniform access, versioned; data prefixes age to ARCHIVE.

Encryption at rest: GCS always encrypts with Google-managed keys; no key is configured here
(a customer-managed key would add a KMS key ring whose deletion makes the data unreadable).
"""
from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from components.providers.base import BuildContext, StorageOutputs

from .edge import ACCESS_LOG_PREFIX, has_load_balancer
from .foundation import res_opts

# Tier -> GCS storage class, in the order objects move through them.
HOT, WARM, COLD, ARCHIVE = "STANDARD", "NEARLINE", "COLDLINE", "ARCHIVE"


def lifecycle_rules(ctx: BuildContext) -> list[dict]:
    st = ctx.spec.service.storage
    prefixes = list(st.tiered_prefixes)
    rules: list[dict] = []
    # Each step only takes objects still in the previous class, so one object moves one tier at a
    # time; prefixes outside `tiered_prefixes` (models/) stay hot.
    for days, source, target in ((st.warm_after_days, HOT, WARM), (st.cold_after_days, WARM, COLD),
                                 (st.archive_after_days, COLD, ARCHIVE)):
        rules.append({"action": {"type": "SetStorageClass", "storage_class": target},
                      "condition": {"age": days, "matches_prefixes": prefixes, "matches_storage_classes": [source]}})
    rules.append({"action": {"type": "Delete"},
                  "condition": {"days_since_noncurrent_time": st.noncurrent_expire_days, "with_state": "ARCHIVED"}})
    rules.append({"action": {"type": "AbortIncompleteMultipartUpload"}, "condition": {"age": 7}})
    serving = ctx.spec.service.serving
    if has_load_balancer(serving):  # its access logs are routed here (edge.access_log_sink)
        rules.append({"action": {"type": "Delete"},
                      "condition": {"age": serving.access_log_days, "matches_prefixes": [ACCESS_LOG_PREFIX]}})
    return rules


def build_storage(provider, parent: pulumi.Resource, ctx: BuildContext) -> StorageOutputs:
    st = ctx.spec.service.storage
    bucket = gcp.storage.Bucket(
        f"{ctx.prefix}-data", name=provider.bucket_name(ctx), location=ctx.spec.region.upper(),
        storage_class=HOT, uniform_bucket_level_access=True, public_access_prevention="enforced",
        versioning={"enabled": True}, force_destroy=st.force_destroy, lifecycle_rules=lifecycle_rules(ctx),
        labels=ctx.tags, opts=res_opts(parent, ctx))
    return StorageOutputs(bucket=bucket.name, url=pulumi.Output.concat("gs://", bucket.name), resource_id=bucket.name)
