"""GPU training on AWS: catalog machine types, spot vs on-demand, DLAMI, EFS, identity."""
from __future__ import annotations

import base64

import pytest

from components import catalog
from components.errors import ConfigError
from tests.helpers import inputs

from .util import SERVERLESS, by_sid, named, plan_aws, sg_id

EU_WEST_1 = [o for o in catalog.offers("aws") if "eu-west-1" in o.regions]


def training(**kwargs) -> dict:
    return {**SERVERLESS, "alerts": {"enabled": False}, "training": {"enabled": True, **kwargs}}


@pytest.fixture(scope="module")
def spot():
    return plan_aws(training(machines=2, boot_disk_gib=300))


@pytest.mark.parametrize("offer", EU_WEST_1, ids=[o.label for o in EU_WEST_1])
def test_each_catalog_accelerator_becomes_its_instance_type(offer):
    plan = plan_aws(training(accelerator=offer.accelerator, gpus_per_machine=offer.gpus))
    assert named(plan, "digits-dev-training-lt").inputs["instanceType"] == offer.machine_type
    assert plan.outputs["training_machine_type"] == offer.machine_type


def test_spot_template_is_hardened_with_the_deep_learning_ami(spot):
    lt = named(spot, "digits-dev-training-lt").inputs
    assert lt["instanceType"] == "g4dn.xlarge"
    assert lt["instanceMarketOptions"] == {"marketType": "spot", "spotOptions": {
        "spotInstanceType": "one-time", "instanceInterruptionBehavior": "terminate"}}
    assert lt["metadataOptions"]["httpTokens"] == "required"
    # The Ubuntu DLAMI's root device, as the AMI lookup reports it.
    assert lt["blockDeviceMappings"] == [{"deviceName": "/dev/sda1", "ebs": {
        "volumeSize": 300, "volumeType": "gp3", "encrypted": "true", "deleteOnTermination": "true"}}]
    assert lt["networkInterfaces"][0]["associatePublicIpAddress"] == "false"
    assert lt["networkInterfaces"][0]["securityGroups"] == [sg_id("digits-dev-training-sg")]
    from components.providers.aws.images import DLAMI
    from components.providers.aws.mocks import _hex

    assert lt["imageId"] == f"ami-{_hex(DLAMI)}"
    assert DLAMI.startswith("Deep Learning") and "GPU" in DLAMI
    assert spot.outputs["training_template"].startswith("lt-")


def test_the_training_image_is_pinned_and_moving_it_is_a_config_edit():
    # A name lookup with most_recent follows AWS's newest release and replaces the launch template
    # on an unrelated deploy ("most_recent: If more than one result is returned, use the most
    # recent AMI", aws.ec2.getAmi, https://www.pulumi.com/registry/packages/aws/api-docs/ec2/getami/).
    # The pin is an exact name (no wildcard); a new name in config is the upgrade, visible in a plan.
    from components.providers.aws.images import DLAMI
    from components.providers.aws.mocks import _hex

    assert "*" not in DLAMI and "?" not in DLAMI
    newer = "Deep Learning Base OSS Nvidia Driver GPU AMI (Ubuntu 22.04) 20261120"
    plan = plan_aws(training(image=newer))
    assert named(plan, "digits-dev-training-lt").inputs["imageId"] == f"ami-{_hex(newer)}"


def test_a_wildcard_image_is_refused_because_it_is_not_a_pin():
    with pytest.raises(ConfigError) as err:
        plan_aws(training(image="Deep Learning Base OSS Nvidia Driver GPU AMI (Ubuntu 22.04) *"))
    assert str(err.value).startswith("mlinfra:service.training.image:") and "no wildcards" in str(err.value)


def test_group_holds_exactly_the_machine_count(spot):
    asg = named(spot, "digits-dev-training-asg").inputs
    assert (asg["minSize"], asg["maxSize"], asg["desiredCapacity"]) == (2, 2, 2)
    # Capacity Rebalancing terminates an at-risk spot instance after launching its replacement
    # (https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-capacity-rebalancing.html):
    # that would kill running jobs, so it is off and jobs resume from checkpoints after a real reclaim.
    assert len(asg["vpcZoneIdentifiers"]) == 2 and asg["capacityRebalance"] is False


def test_zero_machines_keeps_the_template_and_runs_nothing():
    plan = plan_aws(training())
    asg = named(plan, "digits-dev-training-asg").inputs
    assert (asg["minSize"], asg["maxSize"], asg["desiredCapacity"]) == (0, 0, 0)


def test_on_demand_has_no_market_options():
    plan = plan_aws(training(spot=False, accelerator="A10G", gpus_per_machine=4))
    lt = named(plan, "digits-dev-training-lt").inputs
    assert "instanceMarketOptions" not in lt and lt["instanceType"] == "g5.12xlarge"
    assert named(plan, "digits-dev-training-asg").inputs["capacityRebalance"] is False


def test_a_machine_image_override_replaces_the_dlami():
    plan = plan_aws(training(image="ami-0123456789abcdef0"))
    assert named(plan, "digits-dev-training-lt").inputs["imageId"] == "ami-0123456789abcdef0"


def test_training_machines_accept_no_inbound_traffic(spot):
    sg = named(spot, "digits-dev-training-sg").inputs
    assert sg["ingress"] == []
    # 443 for AWS APIs, images and pip; 80 for the Ubuntu DLAMI's apt mirrors
    # (http://<region>.ec2.archive.ubuntu.com), which bootstrap packages such as the NFS client.
    assert [(r["protocol"], r["fromPort"], r["toPort"], r["cidrBlocks"]) for r in sg["egress"]] == [
        ("tcp", 443, 443, ["0.0.0.0/0"]), ("tcp", 80, 80, ["0.0.0.0/0"])]
    assert not spot.of_type("aws:efs/fileSystem:FileSystem")


def test_training_role_reads_data_writes_runs_and_models_pulls_images(spot):
    bucket = f"arn:aws:s3:::{spot.outputs['bucket']}"
    sids = by_sid(named(spot, "digits-dev-training-policy"))
    assert sids["ReadObjects"]["Action"] == ["s3:GetObject"]
    assert sids["ReadObjects"]["Resource"] == [f"{bucket}/{p}*" for p in ("data/", "runs/", "models/")]
    assert sids["WriteObjects"]["Action"] == ["s3:PutObject"]
    assert sids["WriteObjects"]["Resource"] == [f"{bucket}/runs/*", f"{bucket}/models/*"]
    assert sids["PullImages"]["Resource"] == ["arn:aws:ecr:eu-west-1:123456789012:repository/digits-dev"]
    # runs/ ages into DEEP_ARCHIVE, which is read only after s3:RestoreObject (resource type object,
    # https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html);
    # data/ never leaves instantly readable classes, so it needs no restore.
    assert sids["RestoreArchivedObjects"]["Action"] == ["s3:RestoreObject"]
    assert sids["RestoreArchivedObjects"]["Resource"] == [f"{bucket}/runs/*"]
    assert set(sids) == {"ReadObjects", "RestoreArchivedObjects", "WriteObjects", "ListPrefixes", "PullImages",
                         "RegistryLogin"}
    assert named(spot, "digits-dev-training-managed-0").inputs["policyArn"].endswith("AmazonSSMManagedInstanceCore")
    lt = named(spot, "digits-dev-training-lt").inputs
    assert "digits-dev-training-profile" in lt["iamInstanceProfile"]["arn"]


def test_shared_filesystem_is_encrypted_and_reachable_only_from_training():
    plan = plan_aws(training(shared_filesystem=True))
    fs = inputs(plan, "aws:efs/fileSystem:FileSystem")
    assert fs["encrypted"] is True and fs["throughputMode"] == "elastic" and fs["tags"]["environment"] == "dev"
    targets = plan.of_type("aws:efs/mountTarget:MountTarget")
    private = {named(plan, f"digits-dev-private-{z}").inputs["cidrBlock"] for z in "ab"}
    assert len(targets) == 2 and len(private) == 2
    assert all(t.inputs["securityGroups"] == [sg_id("digits-dev-shared-fs-sg")] for t in targets)
    efs_sg = named(plan, "digits-dev-shared-fs-sg").inputs
    assert efs_sg["ingress"] == [{"protocol": "tcp", "fromPort": 2049, "toPort": 2049,
                                  "securityGroups": [sg_id("digits-dev-training-sg")],
                                  "description": "NFS from training"}]
    egress = named(plan, "digits-dev-training-sg").inputs["egress"]
    assert (2049, ["10.0.0.0/16"]) in [(r["fromPort"], r["cidrBlocks"]) for r in egress]
    script = base64.b64decode(named(plan, "digits-dev-training-lt").inputs["userData"]).decode()
    assert ".efs.eu-west-1.amazonaws.com:/ /mnt/shared nfs4" in script
    assert script.index("nfs-common") < script.index("mount /mnt/shared")


def test_training_shares_the_serving_vpc():
    plan = plan_aws(training())
    assert len(plan.of_type("aws:ec2/vpc:Vpc")) == 1 and len(plan.of_type("aws:ec2/natGateway:NatGateway")) == 1
