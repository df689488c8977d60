"""VM serving on AWS: hardened launch template, Auto Scaling group behind the ALB, CPU alarms."""
from __future__ import annotations

import base64
import json

import pytest

from tests.helpers import inputs

from .util import by_sid, named, plan_aws, sg_id

SERVICE = {"serving": {"mode": "vm", "min_instances": 3, "max_instances": 10, "cpu": 2, "memory_gib": 8,
                       "port": 8080, "env": {"LOG_LEVEL": "info"}}}


@pytest.fixture(scope="module")
def plan():
    return plan_aws(SERVICE, env="prod")


def test_launch_template_is_hardened(plan):
    lt = named(plan, "digits-prod-serving-lt").inputs
    assert lt["metadataOptions"]["httpTokens"] == "required" and lt["metadataOptions"]["httpEndpoint"] == "enabled"
    assert lt["blockDeviceMappings"] == [{"deviceName": "/dev/xvda", "ebs": {
        "volumeSize": 30, "volumeType": "gp3", "encrypted": "true", "deleteOnTermination": "true"}}]
    [nic] = lt["networkInterfaces"]
    assert nic["associatePublicIpAddress"] == "false" and nic["securityGroups"] == [sg_id("digits-prod-app-sg")]
    assert "keyName" not in lt
    assert lt["iamInstanceProfile"]["arn"].startswith(
        "arn:aws:iam::123456789012:instance-profile/digits-prod-serving-instance-profile")
    assert lt["instanceType"] == "m7i.large"
    assert lt["imageId"].startswith("ami-")
    assert {t["resourceType"] for t in lt["tagSpecifications"]} == {"instance", "volume"}
    assert all(t["tags"]["environment"] == "prod" for t in lt["tagSpecifications"])


def test_machine_type_override_is_used():
    plan = plan_aws({"serving": {**SERVICE["serving"], "machine_type": "m7i-flex.xlarge"}})
    assert named(plan, "digits-dev-serving-lt").inputs["instanceType"] == "m7i-flex.xlarge"


def test_user_data_logs_in_to_ecr_and_runs_the_image_on_the_port(plan):
    script = base64.b64decode(named(plan, "digits-prod-serving-lt").inputs["userData"]).decode()
    image = plan.outputs["image"]
    server = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
    assert script.startswith("#!/bin/bash\n")
    assert f"aws ecr get-login-password --region eu-west-1 | docker login --username AWS --password-stdin {server}" \
        in script
    assert f"docker pull {image}" in script
    run = next(line for line in script.splitlines() if line.startswith("docker run"))
    assert "-p 8080:8080" in run and run.endswith(image)
    # components/release.py: serving.env, PORT and MODEL_URI (the environment's own bucket).
    bucket = plan.outputs["bucket"]
    assert "-e PORT=8080" in run and "-e LOG_LEVEL=info" in run
    assert f"-e MODEL_URI=s3://{bucket}/models/digits/current/" in run
    assert "--log-opt awslogs-group=/mlinfra/digits-prod/serving" in run
    # Non-blocking awslogs with a buffer (docker log delivery mode,
    # https://docs.docker.com/engine/logging/configure/#configure-the-delivery-mode-of-log-messages-from-container-to-log-driver).
    assert "--log-opt mode=non-blocking --log-opt max-buffer-size=25m" in run
    # The image runs by digest: a new build is a new launch template version.
    assert "@sha256:" in image


def test_group_spans_the_private_subnets_with_min_max_and_elb_health(plan):
    asg = named(plan, "digits-prod-serving-asg").inputs
    assert (asg["minSize"], asg["maxSize"]) == (3, 10)
    private = [named(plan, f"digits-prod-private-{z}") for z in "ab"]
    assert len(asg["vpcZoneIdentifiers"]) == 2 and {p.inputs["availabilityZone"] for p in private} == {
        "eu-west-1a", "eu-west-1b"}
    assert asg["healthCheckType"] == "ELB"
    tg = inputs(plan, "aws:lb/targetGroup:TargetGroup")
    assert tg["targetType"] == "instance" and tg["healthCheck"]["path"] == "/v2/health/ready"
    assert len(asg["targetGroupArns"]) == 1 and ":targetgroup/" in asg["targetGroupArns"][0]
    assert asg["launchTemplate"]["id"].startswith("lt-")
    assert "GroupInServiceInstances" in asg["enabledMetrics"]
    assert not plan.of_type("aws:ecs/service:Service")


def test_scales_out_above_and_in_below_the_cpu_thresholds(plan):
    out, in_ = named(plan, "digits-prod-cpu-high").inputs, named(plan, "digits-prod-cpu-low").inputs
    assert (out["comparisonOperator"], out["threshold"]) == ("GreaterThanThreshold", 75)
    assert (in_["comparisonOperator"], in_["threshold"]) == ("LessThanThreshold", 25)
    for alarm in (out, in_):
        assert (alarm["namespace"], alarm["metricName"], alarm["statistic"]) == ("AWS/EC2", "CPUUtilization", "Average")
        assert alarm["dimensions"] == {"AutoScalingGroupName": named(plan, "digits-prod-scale-out").inputs[
            "autoscalingGroupName"]}
    assert "policyName/digits-prod-scale-out" in out["alarmActions"][0]
    assert "policyName/digits-prod-scale-in" in in_["alarmActions"][0]
    assert named(plan, "digits-prod-scale-in").inputs["scalingAdjustment"] == -1
    scale_out = named(plan, "digits-prod-scale-out").inputs
    assert (scale_out["adjustmentType"], scale_out["scalingAdjustment"], scale_out["minAdjustmentMagnitude"]) == (
        "PercentChangeInCapacity", 50, 1)


def test_thresholds_come_from_the_spec():
    plan = plan_aws({"serving": {**SERVICE["serving"], "scale_out_cpu_percent": 80, "scale_in_cpu_percent": 30}})
    assert named(plan, "digits-dev-cpu-high").inputs["threshold"] == 80
    assert named(plan, "digits-dev-cpu-low").inputs["threshold"] == 30


def test_instance_role_reads_models_pulls_the_image_and_uses_ssm(plan):
    role = named(plan, "digits-prod-serving-instance").inputs
    assert json.loads(role["assumeRolePolicy"])["Statement"][0]["Principal"] == {"Service": "ec2.amazonaws.com"}
    sids = by_sid(named(plan, "digits-prod-serving-instance-policy"))
    bucket = f"arn:aws:s3:::{plan.outputs['bucket']}"
    assert sids["ReadObjects"]["Resource"] == [f"{bucket}/models/*"]
    assert sids["PullImages"]["Resource"] == ["arn:aws:ecr:eu-west-1:123456789012:repository/digits-prod"]
    assert set(sids) == {"ReadObjects", "ListPrefixes", "PullImages", "RegistryLogin", "WriteLogs"}
    attachment = named(plan, "digits-prod-serving-instance-managed-0").inputs
    assert attachment["policyArn"] == "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
    assert plan.outputs["serving_identity"].startswith("arn:aws:iam::123456789012:role/digits-prod-serving-instance")


def test_no_security_group_opens_ssh_or_rdp(plan):
    for sg in plan.of_type("aws:ec2/securityGroup:SecurityGroup"):
        for rule in sg.inputs["ingress"]:
            assert rule["protocol"] == "tcp" and not (rule["fromPort"] <= 22 <= rule["toPort"])
            assert not (rule["fromPort"] <= 3389 <= rule["toPort"])
            assert "::/0" not in rule.get("ipv6CidrBlocks", [])
