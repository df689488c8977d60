"""AWS egress per environment, confused-deputy trust conditions, pinned images and start-up ordering."""
from __future__ import annotations

import json

import pytest

from components.errors import ConfigError
from components.providers.aws.mocks import _hex
from stacks.offline import plan_environment
from tests.helpers import PROJECT_DIR, inputs

from .util import SERVERLESS, VM, named, plan_aws


def deps(plan, name: str) -> set[str]:
    """Names of the resources `name` explicitly depends on (the plan's dependsOn URNs)."""
    return {urn.rsplit("::", 1)[1] for urn in named(plan, name).dependsOn}


@pytest.fixture(scope="module")
def prod():
    return plan_environment(PROJECT_DIR, "prod", "aws")


def test_dev_has_no_nat_gateway_and_its_task_is_public_behind_the_load_balancer_only():
    # A NAT gateway is billed per hour whether used or not (https://aws.amazon.com/vpc/pricing/);
    # a Fargate task reaches ECR either through a NAT or with a public IP ("Fargate task networking",
    # https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-task-networking.html).
    plan = plan_aws(SERVERLESS)
    assert not plan.of_type("aws:ec2/natGateway:NatGateway") and not plan.of_type("aws:ec2/eip:Eip")
    svc = inputs(plan, "aws:ecs/service:Service")["networkConfiguration"]
    public = {f"subnet-{_hex(f'digits-dev-public-{z}')}" for z in "ab"}
    assert svc["assignPublicIp"] is True and set(svc["subnets"]) == public
    # The security group is the boundary: only the load balancer's group reaches the task.
    [rule] = named(plan, "digits-dev-app-sg").inputs["ingress"]
    assert "cidrBlocks" not in rule and len(rule["securityGroups"]) == 1
    # The private subnets have no default route at all.
    assert named(plan, "digits-dev-private-rt").inputs["routes"] == []
    # S3 stays free of internet egress through the gateway endpoint on the public route table too.
    endpoint = inputs(plan, "aws:ec2/vpcEndpoint:VpcEndpoint")
    assert f"rtb-{_hex('digits-dev-public-rt')}" in endpoint["routeTableIds"]


def test_a_single_fargate_task_runs_without_container_insights():
    cluster = inputs(plan_aws(SERVERLESS), "aws:ecs/cluster:Cluster")
    assert cluster["settings"] == [{"name": "containerInsights", "value": "disabled"}]


def test_non_redundant_vm_serving_shares_one_nat():
    plan = plan_aws({"serving": {"mode": "vm", "min_instances": 1, "max_instances": 2}})
    [nat] = plan.of_type("aws:ec2/natGateway:NatGateway")
    assert nat.name == "digits-dev-nat"
    assert named(plan, "digits-dev-private-rt").inputs["routes"][0]["natGatewayId"] == f"nat-{_hex('digits-dev-nat')}"


def test_prod_has_a_nat_gateway_in_each_zone(prod):
    # "create a NAT gateway in each Availability Zone and configure your routing to ensure that
    # resources use the NAT gateway in the same Availability Zone"
    # (https://docs.aws.amazon.com/vpc/latest/userguide/vpc-nat-gateway.html).
    nats = {r.name: r.inputs["subnetId"] for r in prod.of_type("aws:ec2/natGateway:NatGateway")}
    assert nats == {f"digits-prod-nat-{z}": f"subnet-{_hex(f'digits-prod-public-{z}')}" for z in "ab"}
    for z in "ab":
        assert named(prod, f"digits-prod-private-rt-{z}").inputs["routes"] == [
            {"cidrBlock": "0.0.0.0/0", "natGatewayId": f"nat-{_hex(f'digits-prod-nat-{z}')}"}]
        assoc = named(prod, f"digits-prod-private-{z}-rt").inputs
        assert assoc["routeTableId"] == f"rtb-{_hex(f'digits-prod-private-rt-{z}')}"


def test_ecs_task_roles_carry_the_documented_confused_deputy_conditions():
    # "Amazon ECS task IAM role": trust ecs-tasks.amazonaws.com with ArnLike aws:SourceArn
    # arn:aws:ecs:<region>:<account>:* and StringEquals aws:SourceAccount
    # (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-iam-roles.html).
    plan = plan_aws(SERVERLESS)
    for name in ("digits-dev-serving-task", "digits-dev-serving-execution"):
        [statement] = json.loads(named(plan, name).inputs["assumeRolePolicy"])["Statement"]
        assert statement["Principal"] == {"Service": "ecs-tasks.amazonaws.com"}
        assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"},
                                          "ArnLike": {"aws:SourceArn": "arn:aws:ecs:eu-west-1:123456789012:*"}}


def test_instance_roles_trust_ec2_without_source_conditions(prod):
    # EC2 documents no aws:SourceArn for instance-profile role assumption; a condition there would
    # make the role unusable (IAM User Guide, "The confused deputy problem",
    # https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html: only where the service sets it).
    roles = {r.name: r for r in prod.of_type("aws:iam/role:Role")}
    for name in ("digits-prod-serving-instance", "digits-prod-training"):
        [statement] = json.loads(roles[name].inputs["assumeRolePolicy"])["Statement"]
        assert statement["Principal"] == {"Service": "ec2.amazonaws.com"} and "Condition" not in statement


def test_ecs_service_waits_for_its_routes_and_its_roles_permissions():
    # The service's inputs name subnets and role ARNs, which exist before the route-table
    # associations and the inline policies do; the first tasks would start without a route to ECR
    # or without permission to pull (Pulumi "dependsOn" resource option,
    # https://www.pulumi.com/docs/iac/concepts/resources/options/dependson/).
    plan = plan_aws(SERVERLESS)
    assert {"digits-dev-public-a-rt", "digits-dev-public-b-rt", "digits-dev-serving-task-policy",
            "digits-dev-serving-execution-policy"} <= deps(plan, "digits-dev-service")
    private = plan_aws({"serving": {"min_instances": 2}})
    assert {"digits-dev-private-a-rt", "digits-dev-private-b-rt", "digits-dev-nat-a",
            "digits-dev-nat-b"} <= deps(private, "digits-dev-service")


def test_groups_wait_for_routes_nat_profile_and_policies(prod):
    for group, role in (("digits-prod-serving-asg", "digits-prod-serving-instance"),
                        ("digits-prod-training-asg", "digits-prod-training")):
        needed = {"digits-prod-private-a-rt", "digits-prod-private-b-rt", "digits-prod-nat-a", "digits-prod-nat-b",
                  f"{role}-policy", f"{role}-managed-0", f"{role}-profile"}
        assert needed <= deps(prod, group), group


def test_serving_vms_boot_a_pinned_image_and_a_new_pin_is_the_upgrade():
    from components.providers.aws.images import AL2023

    plan = plan_aws(VM)
    assert "*" not in AL2023
    assert named(plan, "digits-dev-serving-lt").inputs["imageId"] == f"ami-{_hex(AL2023)}"
    newer = "al2023-ami-2023.12.20261201.0-kernel-6.1-x86_64"
    moved = plan_aws({"serving": {**VM["serving"], "machine_image": newer}})
    assert named(moved, "digits-dev-serving-lt").inputs["imageId"] == f"ami-{_hex(newer)}"
    by_id = plan_aws({"serving": {**VM["serving"], "machine_image": "ami-0123456789abcdef0"}})
    assert named(by_id, "digits-dev-serving-lt").inputs["imageId"] == "ami-0123456789abcdef0"


def test_a_wildcard_serving_image_is_refused():
    with pytest.raises(ConfigError) as err:
        plan_aws({"serving": {**VM["serving"], "machine_image": "al2023-ami-2023.*-x86_64"}})
    assert str(err.value).startswith("mlinfra:service.serving.machine_image:") and err.value.exit_code == 3


def test_prod_pins_its_images_in_its_own_config(prod):
    # Pulumi.prod.yaml pins prod's images (overrides.aws), so changing a default in code never
    # moves prod: the launch templates use the pinned names.
    import yaml

    over = yaml.safe_load((PROJECT_DIR / "Pulumi.prod.yaml").read_text())["config"]["mlinfra:overrides"]["aws"]
    serving_pin, training_pin = over["serving"]["machine_image"], over["training"]["image"]
    assert named(prod, "digits-prod-serving-lt").inputs["imageId"] == f"ami-{_hex(serving_pin)}"
    assert named(prod, "digits-prod-training-lt").inputs["imageId"] == f"ami-{_hex(training_pin)}"


def test_vm_instance_refresh_rolls_new_template_versions_and_skips_matching(prod):
    # "instance_refresh: ... A refresh is started when any of the following Auto Scaling Group
    # properties change: launch_configuration, launch_template, mixed_instances_policy"
    # (aws.autoscaling.Group, https://www.pulumi.com/registry/packages/aws/api-docs/autoscaling/group/).
    asg = named(prod, "digits-prod-serving-asg").inputs
    assert asg["launchTemplate"]["version"] == "1"
    assert asg["instanceRefresh"]["strategy"] == "Rolling"
    assert asg["instanceRefresh"]["preferences"]["skipMatching"] is True
