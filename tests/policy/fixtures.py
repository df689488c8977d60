"""Hand-written fixtures, resource inputs as the engine sends them (camelCase wire names).

Each Case is one small stack: its resources (type, inputs) and, for rules that read it, the
service description carried by the MLService component. `expect` is what the case's rule must
say about it: "pass", "fail" (a violation at the rule's level) or "undecided" (advisory: a value
is unknown until the update runs).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Optional

from stacks.plan import Plan, PlanResource

UNKNOWN_STR = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
UNKNOWN_BOOL = "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7"
TAGS = {"service": "digits", "environment": "dev", "stack": "dev", "managed-by": "mlinfra"}
STORAGE = "mlinfra:storage:StorageTiers"
SERVICE = "mlinfra:service:MLService"
BUCKET = "digits-dev-data-73971b04"
ACCOUNT = "digitsdevdata1a2b3c"


@dataclass
class Case:
    rule: str
    id: str
    resources: list[tuple[str, dict]]
    expect: str  # pass | fail | undecided
    service: Optional[dict] = None  # the MLService inputs, for rules that read the description
    parent: Optional[str] = None  # component type the resources sit under (urn qualifier)
    extra: dict[str, Any] = field(default_factory=dict)

    def plan(self) -> Plan:
        resources = []
        if self.service is not None:
            resources.append(PlanResource(urn=f"urn:pulumi:{self.stack}::mlinfra::{SERVICE}::digits-{self.stack}",
                                          type=SERVICE, name=f"digits-{self.stack}", parent=None, custom=False,
                                          inputs=self.service))
        for i, (type_, inputs) in enumerate(self.resources):
            name = f"r{i}"
            qualifier = f"{self.parent}${type_}" if self.parent else type_
            resources.append(PlanResource(urn=f"urn:pulumi:{self.stack}::mlinfra::{qualifier}::{name}", type=type_,
                                          name=name, parent=None, custom=True, inputs=inputs))
        return Plan(stack=self.stack, env=self.stack, cloud="test", region="test", resources=resources)

    @property
    def stack(self) -> str:
        return (self.service or {}).get("stack", "dev")


def svc(env: str = "dev", preview: bool = False, ingress: str = "public", cloud: str = "gcp") -> dict:
    return {"env": env, "stack": env, "cloud": cloud, "region": "europe-west1", "preview": preview,
            "service": {"name": "digits", "serving": {"ingress": ingress, "mode": "serverless"}}}


def doc(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


PAB = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
S3 = "aws:s3/bucket:Bucket"
SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
GCS = "gcp:storage/bucket:Bucket"
AZ_ACCOUNT = "azure-native:storage:StorageAccount"
LT = "aws:ec2/launchTemplate:LaunchTemplate"
SG = "aws:ec2/securityGroup:SecurityGroup"
FIREWALL = "gcp:compute/firewall:Firewall"
NSG = "azure-native:network:NetworkSecurityGroup"
ECR = "aws:ecr/repository:Repository"
AR = "gcp:artifactregistry/repository:Repository"
RUN = "gcp:cloudrunv2/service:Service"
ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment"
GCP_TEMPLATE = "gcp:compute/instanceTemplate:InstanceTemplate"
VMSS = "azure-native:compute:VirtualMachineScaleSet"

PAB_ON = {"bucket": BUCKET, "blockPublicAcls": True, "blockPublicPolicy": True, "ignorePublicAcls": True,
          "restrictPublicBuckets": True}
S3_BUCKET = {"bucket": BUCKET, "forceDestroy": False, "tags": TAGS}
SSE_ON = {"bucket": BUCKET, "rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms"},
                                       "bucketKeyEnabled": True}]}
VERSIONING_ON = {"bucket": BUCKET, "versioningConfiguration": {"status": "Enabled"}}
TIERS = {"bucket": BUCKET, "rules": [{"id": "tier-data", "status": "Enabled", "filter": {"prefix": "data/"},
                                      "transitions": [{"days": 30, "storageClass": "STANDARD_IA"},
                                                      {"days": 365, "storageClass": "DEEP_ARCHIVE"}]}]}
GCS_OK = {"name": BUCKET, "location": "EUROPE-WEST1", "publicAccessPrevention": "enforced",
          "uniformBucketLevelAccess": True, "versioning": {"enabled": True}, "labels": TAGS,
          "lifecycleRules": [{"action": {"type": "SetStorageClass", "storageClass": "NEARLINE"},
                              "condition": {"age": 30, "matchesPrefixes": ["data/"]}}]}
AZ_OK = {"accountName": ACCOUNT, "kind": "StorageV2", "sku": {"name": "Standard_ZRS"}, "allowBlobPublicAccess": False,
         "enableHttpsTrafficOnly": True, "minimumTlsVersion": "TLS1_2", "tags": TAGS}
AZ_BLOB_VERSIONING = ("azure-native:storage:BlobServiceProperties",
                      {"accountName": ACCOUNT, "blobServicesName": "default", "isVersioningEnabled": True})
AZ_TIERS = ("azure-native:storage:ManagementPolicy", {"accountName": ACCOUNT, "managementPolicyName": "default", "policy": {
    "rules": [{"name": "tier-data", "enabled": True, "type": "Lifecycle", "definition": {
        "filters": {"blobTypes": ["blockBlob"], "prefixMatch": ["data/data/"]},
        "actions": {"baseBlob": {"tierToCool": {"daysAfterModificationGreaterThan": 30},
                                 "tierToArchive": {"daysAfterModificationGreaterThan": 365}}}}}]}})
LT_OK = {"instanceType": "t3.small", "metadataOptions": {"httpTokens": "required", "httpEndpoint": "enabled"},
         "blockDeviceMappings": [{"deviceName": "/dev/xvda", "ebs": {"encrypted": "true", "volumeSize": 30}}],
         "networkInterfaces": [{"associatePublicIpAddress": "false"}], "tags": TAGS}
ALLOW_ECR_LOGIN = {"Sid": "RegistryLogin", "Effect": "Allow", "Action": ["ecr:GetAuthorizationToken"], "Resource": "*"}
READ_MODELS = {"Sid": "ReadObjects", "Effect": "Allow", "Action": ["s3:GetObject"],
               "Resource": [f"arn:aws:s3:::{BUCKET}/models/*"]}
RG_SCOPE = ("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/digits-dev/providers/"
            f"Microsoft.Storage/storageAccounts/{ACCOUNT}")
BLOB_READER = ("/subscriptions/00000000-0000-0000-0000-000000000000/providers/Microsoft.Authorization/"
               "roleDefinitions/2a2b9908-6ea1-4ae2-8e65-a410df84e7d1")
# Contributor, as Microsoft's "Azure built-in roles" table gives it (an earlier fixture had a wrong GUID).
CONTRIBUTOR = ("/subscriptions/00000000-0000-0000-0000-000000000000/providers/Microsoft.Authorization/"
               "roleDefinitions/b24988ac-6180-42a0-ab88-20f7382dd24c")


def _with(base: dict, **changes: Any) -> dict:
    out = json.loads(json.dumps(base))
    out.update(changes)
    return out


def _vmss(nic_ip: dict, size: str = "Standard_D2s_v5") -> dict:
    return {"sku": {"name": size, "capacity": 3}, "tags": TAGS, "virtualMachineProfile": {"networkProfile": {
        "networkInterfaceConfigurations": [{"name": "nic", "primary": True, "ipConfigurations": [
            {"name": "ip", "subnet": {"id": "subnet-id"}, **nic_ip}]}]}}}


def _gcp_template(machine: str = "e2-medium", access: bool = False, accel: Optional[str] = None) -> dict:
    nic: dict = {"network": "default", "subnetwork": "serving"}
    if access:
        nic["accessConfigs"] = [{"networkTier": "PREMIUM"}]
    out: dict = {"machineType": machine, "networkInterfaces": [nic], "labels": TAGS,
                 "disks": [{"boot": True, "sourceImage": "debian-cloud/debian-12"}]}
    if accel:
        out["guestAccelerators"] = [{"type": accel, "count": 1}]
    return out


CASES: list[Case] = [
    # no-public-storage
    Case("no-public-storage", "s3-pab-all-four", [(PAB, PAB_ON)], "pass"),
    Case("no-public-storage", "s3-pab-one-off", [(PAB, _with(PAB_ON, ignorePublicAcls=False))], "fail"),
    Case("no-public-storage", "s3-pab-unknown", [(PAB, _with(PAB_ON, blockPublicAcls=UNKNOWN_BOOL))], "undecided"),
    Case("no-public-storage", "s3-policy-deny-insecure", [("aws:s3/bucketPolicy:BucketPolicy", {"bucket": BUCKET, "policy": doc(
        {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
         "Resource": [f"arn:aws:s3:::{BUCKET}/*"], "Condition": {"Bool": {"aws:SecureTransport": "false"}}})})], "pass"),
    Case("no-public-storage", "s3-policy-public-read", [("aws:s3/bucketPolicy:BucketPolicy", {"bucket": BUCKET, "policy": doc(
        {"Sid": "Public", "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "s3:GetObject",
         "Resource": f"arn:aws:s3:::{BUCKET}/*"})})], "fail"),
    Case("no-public-storage", "s3-acl-public-read", [("aws:s3/bucketAclV2:BucketAclV2",
                                                       {"bucket": BUCKET, "acl": "public-read"})], "fail"),
    Case("no-public-storage", "gcs-enforced-uniform", [(GCS, GCS_OK)], "pass"),
    Case("no-public-storage", "gcs-inherited", [(GCS, _with(GCS_OK, publicAccessPrevention="inherited"))], "fail"),
    Case("no-public-storage", "gcs-iam-allusers", [("gcp:storage/bucketIAMMember:BucketIAMMember",
          {"bucket": BUCKET, "role": "roles/storage.objectViewer", "member": "allUsers"})], "fail"),
    Case("no-public-storage", "gcs-iam-service-account", [("gcp:storage/bucketIAMMember:BucketIAMMember",
          {"bucket": BUCKET, "role": "roles/storage.objectViewer",
           "member": "serviceAccount:digits-dev@p.iam.gserviceaccount.com"})], "pass"),
    Case("no-public-storage", "azure-account-private", [(AZ_ACCOUNT, AZ_OK)], "pass"),
    Case("no-public-storage", "azure-account-public", [(AZ_ACCOUNT, _with(AZ_OK, allowBlobPublicAccess=True))], "fail"),
    Case("no-public-storage", "azure-container-blob", [("azure-native:storage:BlobContainer",
          {"accountName": ACCOUNT, "containerName": "data", "publicAccess": "Blob"})], "fail"),
    Case("no-public-storage", "azure-container-none", [("azure-native:storage:BlobContainer",
          {"accountName": ACCOUNT, "containerName": "data", "publicAccess": "None"})], "pass"),
    # s3-bucket-controls
    Case("s3-bucket-controls", "complete", [(S3, S3_BUCKET), (PAB, PAB_ON), (SSE, SSE_ON), (VERSIONING, VERSIONING_ON)],
         "pass", parent=STORAGE),
    Case("s3-bucket-controls", "no-versioning", [(S3, S3_BUCKET), (PAB, PAB_ON), (SSE, SSE_ON)], "fail", parent=STORAGE),
    Case("s3-bucket-controls", "versioning-suspended", [(S3, S3_BUCKET), (PAB, PAB_ON), (SSE, SSE_ON), (
        VERSIONING, {"bucket": BUCKET, "versioningConfiguration": {"status": "Suspended"}})], "fail", parent=STORAGE),
    Case("s3-bucket-controls", "pab-of-another-bucket", [(S3, S3_BUCKET), (PAB, _with(PAB_ON, bucket="other")),
                                                          (SSE, SSE_ON), (VERSIONING, VERSIONING_ON)], "fail"),
    Case("s3-bucket-controls", "sse-bucket-unknown", [(S3, S3_BUCKET), (PAB, PAB_ON), (SSE, _with(SSE_ON, bucket=UNKNOWN_STR)),
                                                       (VERSIONING, VERSIONING_ON)], "undecided"),
    # encryption-at-rest
    Case("encryption-at-rest", "launch-template-encrypted", [(LT, LT_OK)], "pass"),
    Case("encryption-at-rest", "launch-template-no-volume", [(LT, _with(LT_OK, blockDeviceMappings=[]))], "fail"),
    Case("encryption-at-rest", "launch-template-unencrypted", [(LT, _with(LT_OK, blockDeviceMappings=[
        {"deviceName": "/dev/xvda", "ebs": {"encrypted": "false"}}]))], "fail"),
    Case("encryption-at-rest", "instance-root-encrypted", [("aws:ec2/instance:Instance",
          {"instanceType": "t3.small", "rootBlockDevice": {"encrypted": True}})], "pass"),
    Case("encryption-at-rest", "instance-root-plain", [("aws:ec2/instance:Instance", {"instanceType": "t3.small"})], "fail"),
    Case("encryption-at-rest", "azure-blob-encryption-off", [(AZ_ACCOUNT, _with(AZ_OK, encryption={
        "keySource": "Microsoft.Storage", "services": {"blob": {"enabled": False}}}))], "fail"),
    # data-bucket-versioning
    Case("data-bucket-versioning", "gcs-versioned", [(GCS, GCS_OK)], "pass", parent=STORAGE),
    Case("data-bucket-versioning", "gcs-unversioned", [(GCS, _with(GCS_OK, versioning={"enabled": False}))], "fail",
         parent=STORAGE),
    Case("data-bucket-versioning", "azure-versioned", [(AZ_ACCOUNT, AZ_OK), AZ_BLOB_VERSIONING], "pass", parent=STORAGE),
    Case("data-bucket-versioning", "azure-no-blob-service", [(AZ_ACCOUNT, AZ_OK)], "fail", parent=STORAGE),
    # data-bucket-lifecycle
    Case("data-bucket-lifecycle", "s3-tiers", [(S3, S3_BUCKET), (LIFECYCLE, TIERS)], "pass", parent=STORAGE),
    Case("data-bucket-lifecycle", "s3-expiry-only", [(S3, S3_BUCKET), (LIFECYCLE, {"bucket": BUCKET, "rules": [
        {"id": "expire", "status": "Enabled", "expiration": {"days": 90}}]})], "fail", parent=STORAGE),
    Case("data-bucket-lifecycle", "s3-none", [(S3, S3_BUCKET)], "fail", parent=STORAGE),
    Case("data-bucket-lifecycle", "gcs-set-storage-class", [(GCS, GCS_OK)], "pass", parent=STORAGE),
    Case("data-bucket-lifecycle", "gcs-delete-only", [(GCS, _with(GCS_OK, lifecycleRules=[
        {"action": {"type": "Delete"}, "condition": {"age": 30}}]))], "fail", parent=STORAGE),
    Case("data-bucket-lifecycle", "azure-tier-to-cool", [(AZ_ACCOUNT, AZ_OK), AZ_TIERS], "pass", parent=STORAGE),
    Case("data-bucket-lifecycle", "azure-no-policy", [(AZ_ACCOUNT, AZ_OK)], "fail", parent=STORAGE),
    # tls-minimum
    Case("tls-minimum", "azure-tls12", [(AZ_ACCOUNT, AZ_OK)], "pass"),
    Case("tls-minimum", "azure-tls10", [(AZ_ACCOUNT, _with(AZ_OK, minimumTlsVersion="TLS1_0"))], "fail"),
    Case("tls-minimum", "azure-http-allowed", [(AZ_ACCOUNT, _with(AZ_OK, enableHttpsTrafficOnly=False))], "fail"),
    Case("tls-minimum", "container-app-insecure", [("azure-native:app:ContainerApp", {"configuration": {
        "ingress": {"external": True, "targetPort": 8080, "allowInsecure": True}}, "tags": TAGS})], "fail"),
    Case("tls-minimum", "container-app-https", [("azure-native:app:ContainerApp", {"configuration": {
        "ingress": {"external": True, "targetPort": 8080, "allowInsecure": False}}, "tags": TAGS})], "pass"),
    Case("tls-minimum", "alb-https-tls13", [("aws:lb/listener:Listener", {"protocol": "HTTPS", "port": 443,
          "sslPolicy": "ELBSecurityPolicy-TLS13-1-2-2021-06", "certificateArn": "arn:aws:acm:eu-west-1:1:certificate/x"})],
         "pass"),
    Case("tls-minimum", "alb-https-default-policy", [("aws:lb/listener:Listener", {"protocol": "HTTPS", "port": 443})],
         "fail"),
    Case("tls-minimum", "gcp-ssl-policy-tls10", [("gcp:compute/sSLPolicy:SSLPolicy", {"minTlsVersion": "TLS_1_0"})], "fail"),
    Case("tls-minimum", "gcp-ssl-policy-tls12", [("gcp:compute/sSLPolicy:SSLPolicy",
          {"minTlsVersion": "TLS_1_2", "profile": "MODERN"})], "pass"),
    # no-admin-ports-open
    Case("no-admin-ports-open", "sg-https-world", [(SG, {"ingress": [{"protocol": "tcp", "fromPort": 443, "toPort": 443,
          "cidrBlocks": ["0.0.0.0/0"], "ipv6CidrBlocks": ["::/0"]}], "tags": TAGS})], "pass"),
    Case("no-admin-ports-open", "sg-ssh-world", [(SG, {"ingress": [{"protocol": "tcp", "fromPort": 22, "toPort": 22,
          "cidrBlocks": ["0.0.0.0/0"]}], "tags": TAGS})], "fail"),
    Case("no-admin-ports-open", "sg-all-ipv6", [(SG, {"ingress": [{"protocol": "-1", "fromPort": 0, "toPort": 0,
          "ipv6CidrBlocks": ["::/0"]}], "tags": TAGS})], "fail"),
    Case("no-admin-ports-open", "sg-ssh-vpc", [(SG, {"ingress": [{"protocol": "tcp", "fromPort": 22, "toPort": 22,
          "cidrBlocks": ["10.0.0.0/16"]}], "tags": TAGS})], "pass"),
    Case("no-admin-ports-open", "sg-rule-rdp", [("aws:ec2/securityGroupRule:SecurityGroupRule", {"type": "ingress",
          "protocol": "tcp", "fromPort": 3389, "toPort": 3389, "cidrBlocks": ["0.0.0.0/0"], "securityGroupId": "sg-1"})],
         "fail"),
    Case("no-admin-ports-open", "vpc-ingress-range", [("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", {
        "ipProtocol": "tcp", "fromPort": 20, "toPort": 30, "cidrIpv4": "0.0.0.0/0", "securityGroupId": "sg-1"})], "fail"),
    Case("no-admin-ports-open", "gcp-firewall-ssh-world", [(FIREWALL, {"network": "default", "direction": "INGRESS",
          "sourceRanges": ["0.0.0.0/0"], "allows": [{"protocol": "tcp", "ports": ["22"]}]})], "fail"),
    Case("no-admin-ports-open", "gcp-firewall-ssh-iap", [(FIREWALL, {"network": "default", "direction": "INGRESS",
          "sourceRanges": ["35.235.240.0/20"], "allows": [{"protocol": "tcp", "ports": ["22"]}]})], "pass"),
    Case("no-admin-ports-open", "gcp-firewall-no-source-all", [(FIREWALL, {"network": "default",
          "allows": [{"protocol": "all"}]})], "fail"),
    Case("no-admin-ports-open", "gcp-firewall-health-checks", [(FIREWALL, {"network": "default",
          "sourceRanges": ["130.211.0.0/22", "35.191.0.0/16"], "allows": [{"protocol": "tcp", "ports": ["8080"]}]})],
         "pass"),
    Case("no-admin-ports-open", "nsg-rdp-internet", [(NSG, {"tags": TAGS, "securityRules": [
        {"name": "rdp", "direction": "Inbound", "access": "Allow", "protocol": "Tcp", "priority": 100,
         "sourceAddressPrefix": "Internet", "destinationPortRange": "3389", "sourcePortRange": "*",
         "destinationAddressPrefix": "*"}]})], "fail"),
    Case("no-admin-ports-open", "nsg-ssh-denied", [(NSG, {"tags": TAGS, "securityRules": [
        {"name": "no-ssh", "direction": "Inbound", "access": "Deny", "protocol": "*", "priority": 100,
         "sourceAddressPrefix": "*", "destinationPortRange": "22"}]})], "pass"),
    Case("no-admin-ports-open", "nsg-rule-any", [("azure-native:network:SecurityRule", {"direction": "Inbound",
          "access": "Allow", "protocol": "*", "priority": 100, "sourceAddressPrefix": "*",
          "destinationPortRanges": ["20-25", "443"]})], "fail"),
    # imdsv2-required
    Case("imdsv2-required", "launch-template-required", [(LT, LT_OK)], "pass"),
    Case("imdsv2-required", "launch-template-optional", [(LT, _with(LT_OK, metadataOptions={"httpTokens": "optional"}))],
         "fail"),
    Case("imdsv2-required", "launch-template-unset", [(LT, {k: v for k, v in LT_OK.items() if k != "metadataOptions"})],
         "fail"),
    Case("imdsv2-required", "instance-required", [("aws:ec2/instance:Instance", {"instanceType": "t3.small",
          "metadataOptions": {"httpTokens": "required"}})], "pass"),
    # no-public-ip
    Case("no-public-ip", "launch-template-private", [(LT, LT_OK)], "pass"),
    Case("no-public-ip", "launch-template-public", [(LT, _with(LT_OK, networkInterfaces=[
        {"associatePublicIpAddress": "true"}]))], "fail"),
    Case("no-public-ip", "subnet-maps-public-ip", [("aws:ec2/subnet:Subnet", {"cidrBlock": "10.0.0.0/24",
          "mapPublicIpOnLaunch": True, "tags": TAGS})], "fail"),
    Case("no-public-ip", "gcp-template-private", [(GCP_TEMPLATE, _gcp_template())], "pass"),
    Case("no-public-ip", "gcp-template-external-ip", [(GCP_TEMPLATE, _gcp_template(access=True))], "fail"),
    Case("no-public-ip", "azure-vmss-private", [(VMSS, _vmss({}))], "pass"),
    Case("no-public-ip", "azure-vmss-public", [(VMSS, _vmss({"publicIPAddressConfiguration": {"name": "pip"}}))], "fail"),
    Case("no-public-ip", "azure-nic-public", [("azure-native:network:NetworkInterface", {"tags": TAGS,
          "ipConfigurations": [{"name": "ip", "publicIPAddress": {"id": "pip-id"}}]})], "fail"),
    # registry-*
    Case("registry-admin-user-off", "acr-admin-off", [("azure-native:containerregistry:Registry", {
        "registryName": "digitsdev", "sku": {"name": "Standard"}, "adminUserEnabled": False, "tags": TAGS})], "pass"),
    Case("registry-admin-user-off", "acr-admin-on", [("azure-native:containerregistry:Registry", {
        "registryName": "digitsdev", "sku": {"name": "Standard"}, "adminUserEnabled": True, "tags": TAGS})], "fail"),
    Case("registry-image-scanning", "ecr-scan-on-push", [(ECR, {"name": "digits-dev", "imageTagMutability": "IMMUTABLE",
          "imageScanningConfiguration": {"scanOnPush": True}, "tags": TAGS})], "pass"),
    Case("registry-image-scanning", "ecr-no-scan", [(ECR, {"name": "digits-dev", "imageTagMutability": "IMMUTABLE",
          "imageScanningConfiguration": {"scanOnPush": False}, "tags": TAGS})], "fail"),
    Case("registry-image-scanning", "ar-scanning-disabled", [(AR, {"format": "DOCKER", "repositoryId": "digits-dev",
          "vulnerabilityScanningConfig": {"enablementConfig": "DISABLED"}, "labels": TAGS})], "fail"),
    Case("registry-image-scanning", "ar-scanning-inherited", [(AR, {"format": "DOCKER", "repositoryId": "digits-dev",
          "vulnerabilityScanningConfig": {"enablementConfig": "INHERITED"}, "labels": TAGS})], "pass"),
    Case("registry-immutable-tags", "ecr-immutable", [(ECR, {"name": "digits-dev", "imageTagMutability": "IMMUTABLE",
          "tags": TAGS})], "pass"),
    Case("registry-immutable-tags", "ecr-mutable", [(ECR, {"name": "digits-dev", "imageTagMutability": "MUTABLE",
          "tags": TAGS})], "fail"),
    Case("registry-immutable-tags", "ar-immutable", [(AR, {"format": "DOCKER", "repositoryId": "digits-dev",
          "dockerConfig": {"immutableTags": True}, "labels": TAGS})], "pass"),
    Case("registry-immutable-tags", "ar-mutable", [(AR, {"format": "DOCKER", "repositoryId": "digits-dev",
          "labels": TAGS})], "fail"),
    # ingress-matches-spec
    Case("ingress-matches-spec", "internal-cloud-run-internal", [(RUN, {"ingress": "INGRESS_TRAFFIC_INTERNAL_ONLY",
          "labels": TAGS})], "pass", service=svc(ingress="internal")),
    Case("ingress-matches-spec", "internal-cloud-run-default-all", [(RUN, {"labels": TAGS})], "fail",
         service=svc(ingress="internal")),
    Case("ingress-matches-spec", "internal-invoker-allusers", [(RUN, {"ingress": "INGRESS_TRAFFIC_INTERNAL_ONLY"}), (
        "gcp:cloudrunv2/serviceIamMember:ServiceIamMember", {"name": "digits-dev", "role": "roles/run.invoker",
                                                             "member": "allUsers"})], "fail",
         service=svc(ingress="internal")),
    Case("ingress-matches-spec", "public-cloud-run-all", [(RUN, {"ingress": "INGRESS_TRAFFIC_ALL"}), (
        "gcp:cloudrunv2/serviceIamMember:ServiceIamMember", {"name": "digits-dev", "role": "roles/run.invoker",
                                                             "member": "allUsers"})], "pass", service=svc()),
    Case("ingress-matches-spec", "internal-container-app-external", [("azure-native:app:ContainerApp", {
        "configuration": {"ingress": {"external": True, "targetPort": 8080}}})], "fail",
         service=svc(ingress="internal", cloud="azure")),
    Case("ingress-matches-spec", "internal-alb-internal", [("aws:lb/loadBalancer:LoadBalancer", {
        "internal": True, "loadBalancerType": "application"})], "pass", service=svc(ingress="internal", cloud="aws")),
    Case("ingress-matches-spec", "internal-alb-internet-facing", [("aws:lb/loadBalancer:LoadBalancer", {
        "internal": False, "loadBalancerType": "application"})], "fail", service=svc(ingress="internal", cloud="aws")),
    Case("ingress-matches-spec", "no-description-public-run", [(RUN, {"ingress": "INGRESS_TRAFFIC_ALL"})], "undecided"),
    # iam-no-wildcards
    Case("iam-no-wildcards", "scoped-policy", [("aws:iam/rolePolicy:RolePolicy", {"role": "r",
          "policy": doc(READ_MODELS, ALLOW_ECR_LOGIN)})], "pass"),
    Case("iam-no-wildcards", "wildcard-action", [("aws:iam/rolePolicy:RolePolicy", {"role": "r", "policy": doc(
        {"Effect": "Allow", "Action": "s3:*", "Resource": f"arn:aws:s3:::{BUCKET}"})})], "fail"),
    Case("iam-no-wildcards", "wildcard-resource", [("aws:iam/policy:Policy", {"policy": doc(
        {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "*"}), "tags": TAGS})], "fail"),
    Case("iam-no-wildcards", "any-repository", [("aws:iam/policy:Policy", {"policy": doc(
        {"Effect": "Allow", "Action": ["ecr:BatchGetImage"],
         "Resource": "arn:aws:ecr:eu-west-1:123456789012:repository/*"}), "tags": TAGS})], "fail"),
    Case("iam-no-wildcards", "inline-star", [("aws:iam/role:Role", {"assumeRolePolicy": doc(), "tags": TAGS,
          "inlinePolicies": [{"name": "all", "policy": doc({"Effect": "Allow", "Action": "*", "Resource": "*"})}]})],
         "fail"),
    Case("iam-no-wildcards", "admin-attachment", [("aws:iam/rolePolicyAttachment:RolePolicyAttachment", {
        "role": "r", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"})], "fail"),
    Case("iam-no-wildcards", "policy-unknown", [("aws:iam/rolePolicy:RolePolicy", {"role": "r",
          "policy": UNKNOWN_STR})], "undecided"),
    # gcp-no-primitive-roles
    Case("gcp-no-primitive-roles", "project-editor", [("gcp:projects/iAMMember:IAMMember", {"project": "p",
          "role": "roles/editor", "member": "serviceAccount:digits-dev@p.iam.gserviceaccount.com"})], "fail"),
    Case("gcp-no-primitive-roles", "bucket-object-viewer", [("gcp:storage/bucketIAMMember:BucketIAMMember", {
        "bucket": BUCKET, "role": "roles/storage.objectViewer",
        "member": "serviceAccount:digits-dev@p.iam.gserviceaccount.com"})], "pass"),
    Case("gcp-no-primitive-roles", "project-policy-owner", [("gcp:projects/iAMPolicy:IAMPolicy", {"project": "p",
          "policyData": json.dumps({"bindings": [{"role": "roles/owner", "members": ["user:a@example.com"]}]})})],
         "fail"),
    # azure-role-assignment-scope / azure-no-privileged-roles
    Case("azure-role-assignment-scope", "account-scope", [(ROLE_ASSIGNMENT, {"scope": RG_SCOPE, "principalId": "p",
          "principalType": "ServicePrincipal", "roleDefinitionId": BLOB_READER})], "pass"),
    Case("azure-role-assignment-scope", "subscription-scope", [(ROLE_ASSIGNMENT, {
        "scope": "/subscriptions/00000000-0000-0000-0000-000000000000", "principalId": "p",
        "roleDefinitionId": BLOB_READER})], "fail"),
    Case("azure-role-assignment-scope", "scope-unknown", [(ROLE_ASSIGNMENT, {"scope": UNKNOWN_STR, "principalId": "p",
          "roleDefinitionId": BLOB_READER})], "undecided"),
    Case("azure-no-privileged-roles", "blob-reader", [(ROLE_ASSIGNMENT, {"scope": RG_SCOPE, "principalId": "p",
          "roleDefinitionId": BLOB_READER})], "pass"),
    Case("azure-no-privileged-roles", "contributor", [(ROLE_ASSIGNMENT, {"scope": RG_SCOPE, "principalId": "p",
          "roleDefinitionId": CONTRIBUTOR})], "fail"),
    # required-tags
    Case("required-tags", "bucket-tagged", [(S3, S3_BUCKET)], "pass"),
    Case("required-tags", "bucket-missing-managed-by", [(S3, _with(S3_BUCKET, tags={"service": "digits",
          "environment": "dev", "stack": "dev"}))], "fail"),
    Case("required-tags", "gcs-labels", [(GCS, GCS_OK)], "pass"),
    Case("required-tags", "gcs-no-labels", [(GCS, {k: v for k, v in GCS_OK.items() if k != "labels"})], "fail"),
    Case("required-tags", "asg-tag-list", [("aws:autoscaling/group:Group", {"maxSize": 3, "minSize": 1, "tags": [
        {"key": k, "value": v, "propagateAtLaunch": True} for k, v in TAGS.items()]})], "pass"),
    Case("required-tags", "asg-tag-list-short", [("aws:autoscaling/group:Group", {"maxSize": 3, "minSize": 1, "tags": [
        {"key": "service", "value": "digits", "propagateAtLaunch": True}]})], "fail"),
    Case("required-tags", "alert-policy-user-labels", [("gcp:monitoring/alertPolicy:AlertPolicy", {
        "displayName": "errors", "combiner": "OR", "userLabels": TAGS})], "pass"),
    Case("required-tags", "tags-unknown", [(S3, _with(S3_BUCKET, tags=UNKNOWN_STR))], "undecided"),
    Case("required-tags", "untaggable-versioning", [(VERSIONING, VERSIONING_ON)], "pass"),
    # allowed-instance-types
    Case("allowed-instance-types", "dev-t3-small", [(LT, LT_OK)], "pass", service=svc(cloud="aws")),
    Case("allowed-instance-types", "dev-m6i-4xlarge", [(LT, _with(LT_OK, instanceType="m6i.4xlarge"))], "fail",
         service=svc(cloud="aws")),
    Case("allowed-instance-types", "dev-gcp-e2", [(GCP_TEMPLATE, _gcp_template("e2-medium"))], "pass", service=svc()),
    Case("allowed-instance-types", "prod-gcp-full-url", [(GCP_TEMPLATE, _gcp_template(
        "projects/p/zones/europe-west1-b/machineTypes/n2-standard-8"))], "pass", service=svc("prod")),
    Case("allowed-instance-types", "preview-n2-highmem", [(GCP_TEMPLATE, _gcp_template("n2-highmem-32"))], "fail",
         service=svc("pr-42", preview=True)),
    Case("allowed-instance-types", "prod-azure-d2s", [(VMSS, _vmss({}, "Standard_D2s_v5"))], "pass",
         service=svc("prod", cloud="azure")),
    Case("allowed-instance-types", "machine-unknown", [(LT, _with(LT_OK, instanceType=UNKNOWN_STR))], "undecided",
         service=svc(cloud="aws")),
    # allowed-gpu-types
    Case("allowed-gpu-types", "dev-g4dn", [(LT, _with(LT_OK, instanceType="g4dn.xlarge"))], "pass",
         service=svc(cloud="aws")),
    Case("allowed-gpu-types", "dev-p5", [(LT, _with(LT_OK, instanceType="p5.48xlarge"))], "fail", service=svc(cloud="aws")),
    Case("allowed-gpu-types", "preview-g4dn", [(LT, _with(LT_OK, instanceType="g4dn.xlarge"))], "fail",
         service=svc("pr-7", preview=True, cloud="aws")),
    Case("allowed-gpu-types", "dev-n1-t4", [(GCP_TEMPLATE, _gcp_template("n1-standard-4", accel="nvidia-tesla-t4"))],
         "pass", service=svc()),
    Case("allowed-gpu-types", "preview-n1-t4", [(GCP_TEMPLATE, _gcp_template("n1-standard-4", accel="nvidia-tesla-t4"))],
         "fail", service=svc("pr-9", preview=True)),
    Case("allowed-gpu-types", "prod-a3", [(GCP_TEMPLATE, _gcp_template("a3-highgpu-8g"))], "pass", service=svc("prod")),
    # Without the description (a CrossGuard stack may see component outputs only), the tags tell.
    Case("allowed-gpu-types", "preview-by-expiry-tag", [(LT, _with(LT_OK, instanceType="g4dn.xlarge", tags={
        **TAGS, "environment": "pr-3", "expires-at": "2026-12-01T00:00:00Z"}))], "fail"),
    Case("allowed-gpu-types", "dev-azure-nd", [(VMSS, _vmss({}, "Standard_ND96asr_v4"))], "fail",
         service=svc(cloud="azure")),
    # budget-required
    Case("budget-required", "prod-without-budget", [(VERSIONING, VERSIONING_ON)], "fail",
         service=svc("prod", cloud="aws")),
    Case("budget-required", "prod-with-budget", [("aws:budgets/budget:Budget", {"budgetType": "COST",
          "limitAmount": "500", "limitUnit": "USD", "timeUnit": "MONTHLY", "tags": TAGS})], "pass",
         service=svc("prod", cloud="aws")),
    Case("budget-required", "prod-by-environment-tag", [(S3, _with(S3_BUCKET, tags={**TAGS, "environment": "prod"}))],
         "fail"),
    Case("budget-required", "dev-without-budget", [(S3, S3_BUCKET)], "pass", service=svc("dev", cloud="aws")),
]

# Public endpoints and TLS (issue 18). Sources: Pulumi registry aws.lb.Listener ("For Application Load
# Balancers, valid values are HTTP and HTTPS, with a default of HTTP"); Google "Set up an HTTP-to-HTTPS
# redirect for global external Application Load Balancers" (URL map defaultUrlRedirect.httpsRedirect);
# ARM Microsoft.App containerApps Ingress ("allowInsecure ... If set to false HTTP connections are
# automatically redirected to HTTPS connections"); ARM Microsoft.Cdn routes (httpsRedirect, supportedProtocols).
ALB = "aws:lb/loadBalancer:LoadBalancer"
LISTENER = "aws:lb/listener:Listener"
ALB_ARN = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/digits-prod-alb/314df4967b65e682"
ALB_PUBLIC = {"name": "digits-prod-alb", "internal": False, "loadBalancerType": "application", "tags": TAGS}
FORWARD = {"type": "forward", "targetGroupArn": "arn:aws:elasticloadbalancing:eu-west-1:1:targetgroup/tg/1"}
TO_HTTPS = {"type": "redirect", "redirect": {"protocol": "HTTPS", "port": "443", "statusCode": "HTTP_301"}}
HTTP_FORWARD = {"loadBalancerArn": ALB_ARN, "port": 80, "protocol": "HTTP", "defaultActions": [FORWARD]}
HTTP_REDIRECT = {"loadBalancerArn": ALB_ARN, "port": 80, "protocol": "HTTP", "defaultActions": [TO_HTTPS]}
HTTPS_FORWARD = {"loadBalancerArn": ALB_ARN, "port": 443, "protocol": "HTTPS",
                 "sslPolicy": "ELBSecurityPolicy-TLS13-1-2-2021-06", "certificateArn": "arn:aws:acm:x", "defaultActions": [FORWARD]}
GFR = "gcp:compute/globalForwardingRule:GlobalForwardingRule"
HTTP_PROXY = "gcp:compute/targetHttpProxy:TargetHttpProxy"
URL_MAP = "gcp:compute/uRLMap:URLMap"
GCP_RULE = {"name": "digits-prod-http-rule", "portRange": "80", "loadBalancingScheme": "EXTERNAL_MANAGED",
            "target": "projects/p/global/targetHttpProxies/digits-prod-http-proxy"}
GCP_PROXY = {"name": "digits-prod-http-proxy", "urlMap": "projects/p/global/urlMaps/digits-prod-redirect"}
MAP_FORWARD = {"name": "digits-prod-redirect", "defaultService": "projects/p/global/backendServices/b"}
MAP_REDIRECT = {"name": "digits-prod-redirect", "defaultUrlRedirect": {"httpsRedirect": True, "stripQuery": False}}
AZ_LB_PUBLIC = {"frontendIPConfigurations": [{"name": "frontend", "publicIPAddress": {"id": "pip"}}],
                "loadBalancingRules": [{"name": "http", "frontendPort": 80, "backendPort": 8080, "protocol": "Tcp"}]}
CAPP = "azure-native:app:ContainerApp"
FD_ROUTE = "azure-native:cdn:Route"
WAF_ASSOC = "aws:wafv2/webAclAssociation:WebAclAssociation"
BACKEND = "gcp:compute/backendService:BackendService"

CASES += [
    Case("endpoint-tls-prod", "alb-http-forwards", [(ALB, ALB_PUBLIC), (LISTENER, HTTP_FORWARD)], "fail",
         service=svc("prod", cloud="aws")),
    Case("endpoint-tls-prod", "alb-http-redirects-https-forwards", [(ALB, ALB_PUBLIC), (LISTENER, HTTP_REDIRECT),
                                                                    (LISTENER, HTTPS_FORWARD)], "pass",
         service=svc("prod", cloud="aws")),
    # The ALB's default listener protocol is HTTP: no protocol given is plain HTTP.
    Case("endpoint-tls-prod", "alb-default-protocol-is-http", [(ALB, ALB_PUBLIC), (LISTENER, _with(
        HTTP_FORWARD, protocol=None))], "fail", service=svc("prod", cloud="aws")),
    Case("endpoint-tls-prod", "internal-alb-http", [(ALB, _with(ALB_PUBLIC, internal=True)), (LISTENER, HTTP_FORWARD)],
         "pass", service=svc("prod", cloud="aws", ingress="internal")),
    Case("endpoint-tls-prod", "listener-arn-unknown", [(ALB, ALB_PUBLIC), (LISTENER, _with(
        HTTP_FORWARD, loadBalancerArn=UNKNOWN_STR))], "undecided", service=svc("prod", cloud="aws")),
    Case("endpoint-tls-prod", "dev-is-not-in-scope", [(ALB, ALB_PUBLIC), (LISTENER, HTTP_FORWARD)], "pass",
         service=svc("dev", cloud="aws")),
    Case("endpoint-tls-prod", "gcp-http-proxy-forwards", [(GFR, GCP_RULE), (HTTP_PROXY, GCP_PROXY),
                                                          (URL_MAP, MAP_FORWARD)], "fail", service=svc("prod")),
    Case("endpoint-tls-prod", "gcp-http-proxy-redirects", [(GFR, GCP_RULE), (HTTP_PROXY, GCP_PROXY),
                                                           (URL_MAP, MAP_REDIRECT)], "pass", service=svc("prod")),
    Case("endpoint-tls-prod", "azure-public-l4-lb", [("azure-native:network:LoadBalancer", AZ_LB_PUBLIC)], "fail",
         service=svc("prod", cloud="azure")),
    # Behind Front Door: the load balancer admits only the AzureFrontDoor.Backend service tag.
    Case("endpoint-tls-prod", "azure-lb-only-front-door-reaches", [
        ("azure-native:network:LoadBalancer", AZ_LB_PUBLIC),
        ("azure-native:network:NetworkSecurityGroup", {"securityRules": [
            {"name": "probe", "direction": "Inbound", "access": "Allow", "sourceAddressPrefix": "AzureLoadBalancer"},
            {"name": "fd", "direction": "Inbound", "access": "Allow", "sourceAddressPrefix": "AzureFrontDoor.Backend"},
            {"name": "deny", "direction": "Inbound", "access": "Deny", "sourceAddressPrefix": "Internet"}]}),
        (FD_ROUTE, {"routeName": "r", "httpsRedirect": "Enabled"})], "pass", service=svc("prod", cloud="azure")),
    Case("endpoint-tls-prod", "azure-lb-open-beside-front-door", [
        ("azure-native:network:LoadBalancer", AZ_LB_PUBLIC),
        ("azure-native:network:NetworkSecurityGroup", {"securityRules": [
            {"name": "any", "direction": "Inbound", "access": "Allow", "sourceAddressPrefix": "Internet"}]}),
        (FD_ROUTE, {"routeName": "r", "httpsRedirect": "Enabled"})], "fail", service=svc("prod", cloud="azure")),
    Case("endpoint-tls-prod", "container-app-allow-insecure", [(CAPP, {"configuration": {"ingress": {
        "external": True, "allowInsecure": True, "targetPort": 8080}}})], "fail", service=svc("prod", cloud="azure")),
    Case("endpoint-tls-prod", "container-app-https-only", [(CAPP, {"configuration": {"ingress": {
        "external": True, "allowInsecure": False, "targetPort": 8080}}})], "pass", service=svc("prod", cloud="azure")),
    # ARM default for supportedProtocols is [Http, Https] and httpsRedirect defaults to Disabled.
    Case("endpoint-tls-prod", "front-door-route-defaults", [(FD_ROUTE, {"routeName": "r"})], "fail",
         service=svc("prod", cloud="azure")),
    Case("endpoint-tls-prod", "front-door-route-redirects", [(FD_ROUTE, {"routeName": "r", "httpsRedirect": "Enabled",
                                                                         "supportedProtocols": ["Http", "Https"]})],
         "pass", service=svc("prod", cloud="azure")),
    Case("endpoint-tls", "dev-alb-http-forwards", [(ALB, ALB_PUBLIC), (LISTENER, HTTP_FORWARD)], "fail",
         service=svc("dev", cloud="aws")),
    Case("endpoint-tls", "prod-is-left-to-the-mandatory-rule", [(ALB, ALB_PUBLIC), (LISTENER, HTTP_FORWARD)], "pass",
         service=svc("prod", cloud="aws")),
    Case("endpoint-firewall", "alb-without-waf", [(ALB, ALB_PUBLIC), (LISTENER, HTTPS_FORWARD)], "fail",
         service=svc("prod", cloud="aws")),
    Case("endpoint-firewall", "alb-with-waf", [(ALB, ALB_PUBLIC), (LISTENER, HTTPS_FORWARD), (WAF_ASSOC, {
        "resourceArn": ALB_ARN, "webAclArn": "arn:aws:wafv2:eu-west-1:1:regional/webacl/w/1"})], "pass",
         service=svc("prod", cloud="aws")),
    Case("endpoint-firewall", "gcp-backend-without-armor", [(GFR, GCP_RULE), (BACKEND, {
        "loadBalancingScheme": "EXTERNAL_MANAGED"})], "fail", service=svc("prod")),
    Case("endpoint-firewall", "gcp-backend-with-armor", [(GFR, GCP_RULE), (BACKEND, {
        "loadBalancingScheme": "EXTERNAL_MANAGED", "securityPolicy": "projects/p/global/securityPolicies/s"})], "pass",
         service=svc("prod")),
    Case("endpoint-firewall", "dev-not-in-scope", [(ALB, ALB_PUBLIC), (LISTENER, HTTPS_FORWARD)], "pass",
         service=svc("dev", cloud="aws")),
]
