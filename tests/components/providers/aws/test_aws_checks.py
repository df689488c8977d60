"""What AWS refuses at plan time: capabilities, Fargate and VM sizes, certificates, accelerators,
alarm windows and budget limits. Each is one line naming the key, exit code 3, before any resource."""
from __future__ import annotations

import subprocess
import sys

import pytest

from components.errors import ConfigError, UnsupportedFeature
from components.providers.aws import sizes
from components.providers.base import Feature, get_provider
from tests.helpers import PROJECT_DIR, inputs

from .util import SERVERLESS, VM, plan_aws


def refused(service: dict, **kwargs) -> ConfigError:
    with pytest.raises(ConfigError) as err:
        plan_aws(service, **kwargs)
    assert err.value.exit_code == 3
    assert "\n" not in str(err.value)
    return err.value


def test_aws_declares_what_it_cannot_do_with_the_reason():
    refusals = get_provider("aws").unsupported()
    assert set(refusals) == {Feature.SERVERLESS_SCALE_TO_ZERO, Feature.VM_SCALE_TO_ZERO}
    assert "Fargate" in refusals[Feature.SERVERLESS_SCALE_TO_ZERO]
    assert "CPU metric" in refusals[Feature.VM_SCALE_TO_ZERO]


@pytest.mark.parametrize("mode,reason", [("serverless", "Fargate service cannot scale to zero"),
                                         ("vm", "cannot start from zero instances")])
def test_scale_to_zero_is_refused_with_the_reason(mode, reason):
    err = refused({"serving": {"mode": mode, "min_instances": 0}})
    assert isinstance(err, UnsupportedFeature)
    assert str(err).startswith("mlinfra:service.serving.min_instances: AWS cannot provide")
    assert reason in str(err)


@pytest.mark.parametrize("cpu,memory,units,mib", [
    (0.25, 0.5, 256, 512), (0.25, 2, 256, 2048), (0.5, 4, 512, 4096), (1, 2, 1024, 2048), (1, 8, 1024, 8192),
    (2, 16, 2048, 16384), (4, 30, 4096, 30720), (8, 60, 8192, 61440), (16, 120, 16384, 122880)])
def test_valid_fargate_sizes_become_ecs_units(cpu, memory, units, mib):
    assert sizes.fargate_size(cpu, memory) == (units, mib)


@pytest.mark.parametrize("cpu,memory,key,allowed", [
    (0.25, 4, "memory_gib", "allowed: 0.5, 1, 2 GiB"),
    (1, 1, "memory_gib", "allowed: 2 to 8 in steps of 1 GiB"),
    (1, 2.5, "memory_gib", "allowed: 2 to 8 in steps of 1 GiB"),
    (8, 18, "memory_gib", "allowed: 16 to 60 in steps of 4 GiB"),
    (3, 6, "cpu", "allowed: 0.25, 0.5, 1, 2, 4, 8, 16"),
])
def test_fargate_memory_a_cpu_size_cannot_have_is_refused_before_any_resource(cpu, memory, key, allowed):
    err = refused({"serving": {"min_instances": 1, "cpu": cpu, "memory_gib": memory}})
    assert str(err).startswith(f"mlinfra:service.serving.{key}:")
    assert allowed in str(err)


def test_fargate_sizes_are_not_checked_in_vm_mode():
    plan = plan_aws({"serving": {"mode": "vm", "min_instances": 1, "cpu": 3, "memory_gib": 6}})
    assert inputs(plan, "aws:ec2/launchTemplate:LaunchTemplate")["instanceType"] == "c7i.xlarge"


@pytest.mark.parametrize("cpu,memory,expected", [
    (1, 2, "c7i.large"), (2, 4, "c7i.large"), (2, 8, "m7i.large"), (2, 16, "r7i.large"), (2, 17, "r7i.xlarge"),
    (3, 4, "c7i.xlarge"), (16, 64, "m7i.4xlarge"), (64, 512, "r7i.16xlarge")])
def test_vm_size_is_the_smallest_type_that_fits(cpu, memory, expected):
    assert sizes.vm_instance_type(cpu, memory) == expected


def test_a_machine_type_override_must_look_like_an_ec2_type():
    err = refused({"serving": {**VM["serving"], "machine_type": "n2-standard-4"}})
    assert str(err).startswith("mlinfra:service.serving.machine_type:") and "m7i.large" in str(err)


def test_a_given_certificate_must_be_an_acm_arn_in_the_region():
    # Without one, the program requests an ACM certificate itself (ingress.py); a given one must be
    # an ACM ARN in the load balancer's region ("an ALB ... certificate from ACM in the same Region").
    err = refused({"serving": {"min_instances": 1, "domain": "api.example.com", "certificate": "my-cert"}})
    assert "not an ACM certificate ARN" in str(err)
    other = "arn:aws:acm:us-east-1:123456789012:certificate/abc-123"
    err = refused({"serving": {"min_instances": 1, "domain": "api.example.com", "certificate": other}})
    assert "certificate is in us-east-1" in str(err)


def test_an_accelerator_the_region_lacks_is_refused_with_the_nearest_regions():
    # eu-west-1 has no L4 (g6) machines in the catalog.
    err = refused({**SERVERLESS, "training": {"enabled": True, "accelerator": "L4"}})
    assert str(err).startswith("mlinfra:regions.aws: L4 x1 (g6.xlarge) is not offered in eu-west-1")
    assert "nearest regions that offer it" in str(err)


def test_an_accelerator_size_aws_does_not_sell_is_refused():
    err = refused({**SERVERLESS, "training": {"enabled": True, "accelerator": "A100", "gpus_per_machine": 1}})
    assert str(err).startswith("mlinfra:service.training.gpus_per_machine:") and "sizes: 8" in str(err)


def test_a_training_image_must_be_an_ami_id():
    err = refused({**SERVERLESS, "training": {"enabled": True, "image": "ubuntu:22.04"}})
    assert str(err).startswith("mlinfra:service.training.image:")


def test_training_alarm_window_limit():
    # 1-hour periods may span up to 7 days (604,800 s) in one CloudWatch alarm.
    assert sizes.training_alarm_window(1) == (3600, 1)
    assert sizes.training_alarm_window(168) == (3600, 168)
    err = refused({**SERVERLESS, "training": {"enabled": True}, "alerts": {"training_max_hours": 169}})
    assert str(err).startswith("mlinfra:service.alerts.training_max_hours: 169") and "1 to 168 hours" in str(err)


def test_the_alarm_window_is_not_checked_without_alerts():
    plan = plan_aws({**SERVERLESS, "training": {"enabled": True},
                     "alerts": {"enabled": False, "training_max_hours": 500}})
    assert not plan.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")


def test_budget_limits():
    # AWS Budgets: 5 notifications per budget; one is the forecast alert, so 4 thresholds at most.
    err = refused({**SERVERLESS, "budget": {"monthly_usd": 10, "alert_thresholds_percent": [10, 20, 30, 40, 50]}})
    assert str(err).startswith("mlinfra:service.budget.alert_thresholds_percent:") and "at most 4" in str(err)
    emails = [f"u{i}@example.com" for i in range(11)]
    err = refused({**SERVERLESS, "budget": {"monthly_usd": 10}, "alerts": {"enabled": False, "emails": emails}})
    assert str(err).startswith("mlinfra:service.alerts.emails:")


def test_checking_a_spec_does_not_load_the_aws_sdk():
    code = (
        "import sys\n"
        "from components.providers.base import get_provider\n"
        "from components.spec import EnvironmentSpec\n"
        "spec = EnvironmentSpec(env='prod', stack='prod', cloud='aws', region='eu-west-1', service={\n"
        "  'serving': {'mode': 'vm', 'min_instances': 3}, 'training': {'enabled': True},\n"
        "  'budget': {'monthly_usd': 100}})\n"
        "get_provider('aws').check(spec)\n"
        "assert 'pulumi_aws' not in sys.modules and 'pulumi' not in sys.modules, sorted(sys.modules)\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=PROJECT_DIR, check=True)
