"""The built-in environments (Pulumi.dev.yaml, Pulumi.prod.yaml) plan cleanly on AWS."""
from __future__ import annotations

import pytest

from stacks.offline import plan_environment
from tests.helpers import PROJECT_DIR, inputs

from .util import named


@pytest.fixture(scope="module")
def dev():
    return plan_environment(PROJECT_DIR, "dev", "aws")


@pytest.fixture(scope="module")
def prod():
    return plan_environment(PROJECT_DIR, "prod", "aws")


def test_dev_scales_to_zero_on_lambda_with_alerts_and_no_training(dev):
    # Issue 21: an idle dev costs (almost) nothing: a Lambda function behind an HTTP API, and none of
    # the hourly-billed pieces (NAT gateway, load balancer, Fargate task; https://aws.amazon.com/vpc/pricing/,
    # https://aws.amazon.com/elasticloadbalancing/pricing/, https://aws.amazon.com/fargate/pricing/).
    assert (dev.cloud, dev.region, dev.stack) == ("aws", "eu-west-1", "dev-aws")
    assert inputs(dev, "aws:lambda/function:Function")["packageType"] == "Image"
    for hourly in ("aws:ec2/natGateway:NatGateway", "aws:lb/loadBalancer:LoadBalancer", "aws:ecs/service:Service",
                   "aws:ec2/vpc:Vpc", "aws:ec2/eip:Eip"):
        assert not dev.of_type(hourly), hourly
    assert not dev.of_type("aws:autoscaling/group:Group") and not dev.of_type("aws:budgets/budget:Budget")
    assert dev.of_type("aws:sns/topic:Topic")
    assert dev.outputs["endpoint"].startswith("https://") and dev.outputs["endpoint"].endswith(".amazonaws.com")
    assert "training_template" not in dev.outputs


def test_prod_is_vms_across_zones_with_a_zero_machine_spot_template_and_a_budget(prod):
    asg = named(prod, "digits-prod-serving-asg").inputs
    assert asg["minSize"] >= 3 and len(asg["vpcZoneIdentifiers"]) == 2
    assert named(prod, "digits-prod-cpu-high").inputs["threshold"] == 75
    assert named(prod, "digits-prod-cpu-low").inputs["threshold"] == 25
    training = named(prod, "digits-prod-training-asg").inputs
    assert training["desiredCapacity"] == 0
    lt = named(prod, "digits-prod-training-lt").inputs
    assert lt["instanceType"] == prod.outputs["training_machine_type"] == "g4dn.xlarge"
    assert lt["instanceMarketOptions"]["marketType"] == "spot"
    assert inputs(prod, "aws:budgets/budget:Budget")["limitAmount"] == "2000.00"
    # Prod's public endpoint is HTTPS on its example domain (issue 18; test_aws_ingress.py has the detail).
    assert prod.outputs["endpoint"] == "https://digits.example.com"
