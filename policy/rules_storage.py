"""Storage: nothing public, encrypted at rest, and the data bucket versioned and tiered."""
from __future__ import annotations

from typing import Any, Iterator, Mapping

from policy.rules_base import (STORAGE_PART, Finding, Resource, Stack, Undecided, as_list, get, items, json_doc,
                               resource_rule, stack_rule, truthy)

S3_BUCKET = "aws:s3/bucket:Bucket"
S3_PAB = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
S3_SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
S3_VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
S3_LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
S3_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
S3_ACLS = ("aws:s3/bucketAcl:BucketAcl", "aws:s3/bucketAclV2:BucketAclV2")
GCS_BUCKET = "gcp:storage/bucket:Bucket"
GCS_IAM = ("gcp:storage/bucketIAMMember:BucketIAMMember", "gcp:storage/bucketIAMBinding:BucketIAMBinding")
GCS_ACL = "gcp:storage/bucketAccessControl:BucketAccessControl"
AZ_ACCOUNT = "azure-native:storage:StorageAccount"
AZ_CONTAINER = "azure-native:storage:BlobContainer"
AZ_BLOB_SERVICE = "azure-native:storage:BlobServiceProperties"
AZ_MANAGEMENT = "azure-native:storage:ManagementPolicy"
EC2_LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
EC2_INSTANCE = "aws:ec2/instance:Instance"
EFS = "aws:efs/fileSystem:FileSystem"

PAB_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
PUBLIC_MEMBERS = ("allUsers", "allAuthenticatedUsers")
PUBLIC_ACLS = ("public-read", "public-read-write", "authenticated-read")


def _public_principal(principal: Any) -> bool:
    if principal == "*":
        return True
    if isinstance(principal, Mapping):
        return any(p == "*" for p in as_list(principal.get("AWS")))
    return False


@resource_rule("no-public-storage", "No bucket, container or storage account is readable by the public.",
               severity="critical",
               types=(S3_PAB, S3_POLICY, *S3_ACLS, GCS_BUCKET, *GCS_IAM, GCS_ACL, AZ_ACCOUNT, AZ_CONTAINER))
def no_public_storage(type_: str, inputs: Mapping[str, Any], _settings) -> Iterator[str]:
    if type_ == S3_PAB:
        off = [flag for flag in PAB_FLAGS if get(inputs, flag) is not True]
        if off:
            yield f"S3 public access block must set all four flags; not true: {', '.join(off)}"
    elif type_ == S3_POLICY:
        doc = json_doc(get(inputs, "policy"), "policy") or {}
        for st in as_list(doc.get("Statement")):
            if st.get("Effect") == "Allow" and _public_principal(st.get("Principal")) and not st.get("Condition"):
                yield f"bucket policy statement {st.get('Sid') or ''!r} allows Principal '*' (public access)"
    elif type_ in S3_ACLS:
        acl = get(inputs, "acl")
        if acl in PUBLIC_ACLS:
            yield f"bucket ACL {acl!r} makes objects public"
    elif type_ == GCS_BUCKET:
        if get(inputs, "publicAccessPrevention") != "enforced":
            yield "GCS bucket must set publicAccessPrevention: enforced"
        if get(inputs, "uniformBucketLevelAccess") is not True:
            yield "GCS bucket must set uniformBucketLevelAccess: true (no per-object ACLs)"
    elif type_ in GCS_IAM:
        members = [get(inputs, "member")] + items(inputs, "members")
        public = [m for m in members if m in PUBLIC_MEMBERS]
        if public:
            yield f"bucket IAM grants {get(inputs, 'role')} to {', '.join(public)}"
    elif type_ == GCS_ACL:
        if get(inputs, "entity") in PUBLIC_MEMBERS:
            yield f"bucket ACL grants access to {get(inputs, 'entity')}"
    elif type_ == AZ_ACCOUNT:
        if get(inputs, "allowBlobPublicAccess") is not False:
            yield "storage account must set allowBlobPublicAccess: false"
    elif type_ == AZ_CONTAINER:
        access = get(inputs, "publicAccess")
        if access not in (None, "None"):
            yield f"blob container publicAccess is {access!r}; must be None"


def _ebs_encrypted(mappings: list, where: str) -> Iterator[str]:
    for i, mapping in enumerate(mappings):
        ebs = get(mapping, "ebs")
        if ebs is not None and not truthy(get(ebs, "encrypted")):
            yield f"{where}[{i}] ({get(mapping, 'deviceName') or 'volume'}) is not encrypted"


@resource_rule("encryption-at-rest", "Volumes, file systems and storage accounts are encrypted at rest.",
               severity="high", types=(EC2_LAUNCH_TEMPLATE, EC2_INSTANCE, EFS, AZ_ACCOUNT))
def encryption_at_rest(type_: str, inputs: Mapping[str, Any], _settings) -> Iterator[str]:
    if type_ == EC2_LAUNCH_TEMPLATE:
        mappings = items(inputs, "blockDeviceMappings")
        if not any(get(m, "ebs") is not None for m in mappings):
            yield "launch template sets no EBS block device: the root volume's encryption is left to the AMI"
        yield from _ebs_encrypted(mappings, "blockDeviceMappings")
    elif type_ == EC2_INSTANCE:
        if not truthy(get(inputs, "rootBlockDevice.encrypted")):
            yield "instance root volume must set rootBlockDevice.encrypted: true"
        for i, dev in enumerate(items(inputs, "ebsBlockDevices")):
            if not truthy(get(dev, "encrypted")):
                yield f"ebsBlockDevices[{i}] is not encrypted"
    elif type_ == EFS:
        if not truthy(get(inputs, "encrypted")):
            yield "EFS file system must set encrypted: true"
    elif type_ == AZ_ACCOUNT:
        for service in ("blob", "file"):
            if get(inputs, f"encryption.services.{service}.enabled") is False:
                yield f"storage account disables {service} encryption"


def data_stores(stack: Stack, type_: str) -> list[Resource]:
    """The service's data buckets: those under the storage part, else (a hand-written plan) every one."""
    found = stack.of_type(type_)
    tiered = [r for r in found if f"{STORAGE_PART}$" in r.urn]
    return tiered or found


def _attached(stack: Stack, bucket: Resource, child_type: str, prop: str, *keys: str) -> tuple[list[Resource], bool]:
    """Children of `child_type` whose `prop` names `bucket`, and whether any reference was unknown."""
    matched, unknown = [], False
    for child in stack.of_type(child_type):
        verdict = stack.refers(child, prop, bucket, *keys)
        if verdict is None:
            unknown = True
        elif verdict:
            matched.append(child)
    return matched, unknown


def _require(stack: Stack, bucket: Resource, child_type: str, what: str, ok, prop: str = "bucket",
             keys: tuple[str, ...] = ("bucket",)) -> Iterator[Finding]:
    children, unknown = _attached(stack, bucket, child_type, prop, *keys)
    try:
        good = [c for c in children if ok(c.inputs)]
    except Undecided as und:
        yield Finding(f"cannot decide {what}: {und.path} is unknown", bucket.urn, undecided=True,
                      path=und.path)
        return
    if good:
        return
    if unknown:
        yield Finding(f"cannot decide {what}: a {child_type.rsplit(':', 1)[-1]} refers to an unknown bucket",
                      bucket.urn, undecided=True, path=prop)
    elif children:
        yield Finding(f"{what}: the attached {child_type.rsplit(':', 1)[-1]} does not comply", bucket.urn)
    else:
        yield Finding(f"{what}: no {child_type.rsplit(':', 1)[-1]} for this bucket", bucket.urn)


def _pab_ok(inputs) -> bool:
    return all(get(inputs, flag) is True for flag in PAB_FLAGS)


def _sse_ok(inputs) -> bool:
    return any(get(r, "applyServerSideEncryptionByDefault.sseAlgorithm") for r in items(inputs, "rules"))


def _versioning_ok(inputs) -> bool:
    return get(inputs, "versioningConfiguration.status") == "Enabled"


@stack_rule("s3-bucket-controls", "Every S3 bucket has a public access block (all four flags), default "
            "encryption and versioning.", severity="critical",
            types=(S3_BUCKET, S3_PAB, S3_SSE, S3_VERSIONING))
def s3_bucket_controls(stack: Stack, _settings) -> Iterator[Finding]:
    for bucket in stack.of_type(S3_BUCKET):
        yield from _require(stack, bucket, S3_PAB, "public access block", _pab_ok)
        yield from _require(stack, bucket, S3_SSE, "server-side encryption", _sse_ok)
        yield from _require(stack, bucket, S3_VERSIONING, "versioning", _versioning_ok)


@stack_rule("data-bucket-versioning", "The data bucket keeps object versions (GCS versioning, Azure blob "
            "versioning; S3 is covered by s3-bucket-controls).", severity="medium",
            types=(GCS_BUCKET, AZ_ACCOUNT, AZ_BLOB_SERVICE))
def data_bucket_versioning(stack: Stack, _settings) -> Iterator[Finding]:
    for bucket in data_stores(stack, GCS_BUCKET):
        try:
            if get(bucket.inputs, "versioning.enabled") is not True:
                yield Finding("GCS data bucket must set versioning.enabled: true", bucket.urn)
        except Undecided as und:
            yield Finding(f"cannot decide versioning: {und.path} is unknown", bucket.urn, undecided=True,
                          path=und.path)
    for account in data_stores(stack, AZ_ACCOUNT):
        yield from _require(stack, account, AZ_BLOB_SERVICE, "blob versioning",
                            lambda i: get(i, "isVersioningEnabled") is True,
                            prop="accountName", keys=("accountName",))


def _s3_tiers_ok(inputs) -> bool:
    return any(get(r, "status") == "Enabled" and items(r, "transitions") for r in items(inputs, "rules"))


def _gcs_tiers(inputs) -> bool:
    return any(get(r, "action.type") == "SetStorageClass" for r in items(inputs, "lifecycleRules"))


def _azure_tiers_ok(inputs) -> bool:
    for rule in items(inputs, "policy.rules"):
        base = get(rule, "definition.actions.baseBlob") or {}
        tiers = ("tierToCool", "tierToCold", "tierToArchive")
        if get(rule, "enabled") is not False and any(get(base, k) for k in tiers):
            return True
    return False


@stack_rule("data-bucket-lifecycle", "The data bucket moves data through cheaper tiers with age "
            "(lifecycle transitions / SetStorageClass / tierTo* rules).", severity="medium",
            types=(S3_BUCKET, S3_LIFECYCLE, GCS_BUCKET, AZ_ACCOUNT, AZ_MANAGEMENT))
def data_bucket_lifecycle(stack: Stack, _settings) -> Iterator[Finding]:
    for bucket in data_stores(stack, S3_BUCKET):
        yield from _require(stack, bucket, S3_LIFECYCLE, "lifecycle tiers", _s3_tiers_ok)
    for bucket in data_stores(stack, GCS_BUCKET):
        try:
            if not _gcs_tiers(bucket.inputs):
                yield Finding("GCS data bucket has no SetStorageClass lifecycle rule", bucket.urn)
        except Undecided as und:
            yield Finding(f"cannot decide lifecycle tiers: {und.path} is unknown", bucket.urn, undecided=True,
                          path=und.path)
    for account in data_stores(stack, AZ_ACCOUNT):
        yield from _require(stack, account, AZ_MANAGEMENT, "lifecycle tiers", _azure_tiers_ok,
                            prop="accountName", keys=("accountName",))
