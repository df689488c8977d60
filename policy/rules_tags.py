"""Required tags / labels on everything taggable."""
from __future__ import annotations

from typing import Any, Iterator, Mapping

from pydantic import Field

from policy.rules_base import Settings, Undecided, get, is_unknown, items, resource_rule

# Taggable types this service builds -> the input carrying tags (checked against the SDKs by
# tests/policy/test_sdk_tokens.py). Any other resource that sends `tags` / `labels` is checked too.
TAGGABLE: dict[str, str] = {
    **{t: "tags" for t in (
        "aws:s3/bucket:Bucket", "aws:ecr/repository:Repository", "aws:iam/role:Role", "aws:iam/policy:Policy",
        "aws:iam/instanceProfile:InstanceProfile", "aws:ec2/vpc:Vpc", "aws:ec2/subnet:Subnet",
        "aws:ec2/securityGroup:SecurityGroup", "aws:ec2/launchTemplate:LaunchTemplate", "aws:ec2/instance:Instance",
        "aws:ec2/internetGateway:InternetGateway", "aws:ec2/routeTable:RouteTable", "aws:ec2/natGateway:NatGateway",
        "aws:ec2/eip:Eip", "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
        "aws:lb/loadBalancer:LoadBalancer", "aws:lb/listener:Listener", "aws:lb/targetGroup:TargetGroup",
        "aws:ecs/cluster:Cluster", "aws:ecs/service:Service",
        "aws:ecs/taskDefinition:TaskDefinition", "aws:sns/topic:Topic", "aws:cloudwatch/metricAlarm:MetricAlarm",
        "aws:cloudwatch/logGroup:LogGroup", "aws:appautoscaling/target:Target", "aws:budgets/budget:Budget",
        "aws:kms/key:Key", "aws:efs/fileSystem:FileSystem", "aws:autoscaling/group:Group",
        "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup", "aws:ec2/vpcEndpoint:VpcEndpoint",
        "azure-native:resources:ResourceGroup", "azure-native:storage:StorageAccount",
        "azure-native:containerregistry:Registry", "azure-native:managedidentity:UserAssignedIdentity",
        "azure-native:app:ManagedEnvironment", "azure-native:app:ContainerApp",
        "azure-native:compute:VirtualMachineScaleSet", "azure-native:compute:VirtualMachine",
        "azure-native:network:NetworkSecurityGroup", "azure-native:network:VirtualNetwork",
        "azure-native:network:NetworkInterface", "azure-native:network:PublicIPAddress",
        "azure-native:network:LoadBalancer", "azure-native:monitor:ActionGroup", "azure-native:monitor:MetricAlert",
        "azure-native:monitor:AutoscaleSetting", "azure-native:operationalinsights:Workspace",
        "azure-native:containerregistry:Task", "azure-native:network:NatGateway")},
    **{t: "labels" for t in (
        "gcp:storage/bucket:Bucket", "gcp:artifactregistry/repository:Repository", "gcp:cloudrunv2/service:Service",
        "gcp:compute/instance:Instance", "gcp:compute/instanceTemplate:InstanceTemplate",
        "gcp:compute/regionInstanceTemplate:RegionInstanceTemplate", "gcp:compute/forwardingRule:ForwardingRule",
        "gcp:compute/globalForwardingRule:GlobalForwardingRule", "gcp:compute/disk:Disk",
        "gcp:compute/address:Address", "gcp:compute/globalAddress:GlobalAddress", "gcp:filestore/instance:Instance")},
    # Cloud Monitoring keeps user labels apart from its own.
    "gcp:monitoring/alertPolicy:AlertPolicy": "userLabels",
    "gcp:monitoring/notificationChannel:NotificationChannel": "userLabels",
}


CLOUD_PREFIXES = ("aws:", "gcp:", "azure-native:")


class TagSettings(Settings):
    tags: list[str] = Field(default=["service", "environment", "stack", "managed-by"],
                            description="Keys every taggable resource carries (GCP labels keep them lowercase).")


def _keys(value: Any, prop: str) -> set[str]:
    if is_unknown(value):
        raise Undecided(prop)
    if isinstance(value, Mapping):
        for v in value.values():
            if is_unknown(v):
                raise Undecided(prop)
        return {str(k).lower() for k in value}
    # Auto Scaling groups: [{key, value, propagateAtLaunch}].
    return {str(get(t, "key")).lower() for t in items({prop: value}, prop)}


@resource_rule("required-tags", "Every taggable resource carries the required tags / labels.",
               severity="low", types=tuple(TAGGABLE), settings=TagSettings)
def required_tags(type_: str, inputs: Mapping[str, Any], settings: TagSettings) -> Iterator[str]:
    prop = TAGGABLE.get(type_)
    if prop is None:
        # Not in the table: a cloud resource is still checked when it sends a tags / labels map.
        if not type_.startswith(CLOUD_PREFIXES):
            return
        prop = next((p for p in ("tags", "labels") if isinstance(inputs.get(p), Mapping)), None)
        if prop is None:
            return
    present = _keys(inputs.get(prop) or {}, prop)
    missing = [k for k in settings.tags if k.lower() not in present]
    if missing:
        yield f"{prop} lack {', '.join(missing)}"
