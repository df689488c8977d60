"""Refusals at plan time: one line naming the key, exit 3, before any resource is registered."""
from __future__ import annotations

import subprocess
import sys

import pytest

from components.errors import ConfigError, UnsupportedFeature
from components.providers.base import Feature, get_provider
from tests.helpers import PROJECT_DIR

from .util import BILLING, IMAGE, plan_gcp


def refused(service: dict, **kwargs) -> ConfigError:
    with pytest.raises(ConfigError) as err:
        plan_gcp(service, **kwargs)
    assert err.value.exit_code == 3
    assert "\n" not in err.value.message
    return err.value


def test_memory_cloud_run_cannot_give_that_cpu():
    err = refused({"serving": {"cpu": 1, "memory_gib": 8, "image": IMAGE}})
    assert err.message == ("mlinfra:service.serving.memory_gib: 8 is not allowed on Cloud Run with cpu 1: "
                           "allowed 0.5-4 GiB")


def test_vm_scale_to_zero_is_declared_unsupported():
    assert Feature.VM_SCALE_TO_ZERO in get_provider("gcp").unsupported()
    err = refused({"serving": {"mode": "vm", "min_instances": 0, "image": IMAGE}})
    assert isinstance(err, UnsupportedFeature)
    assert err.message.startswith("mlinfra:service.serving.min_instances: GCP cannot provide VM scale to zero")
    assert "serverless" in err.message


def test_vm_mode_has_no_internal_ingress():
    err = refused({"serving": {"mode": "vm", "min_instances": 1, "ingress": "internal", "image": IMAGE}})
    assert isinstance(err, UnsupportedFeature)
    assert err.message.startswith("mlinfra:service.serving.ingress: GCP VM mode")


def test_internal_service_has_no_public_domain():
    err = refused({"serving": {"ingress": "internal", "domain": "api.example.com", "image": IMAGE}})
    assert err.message.startswith("mlinfra:service.serving.domain: ")


def test_budget_needs_a_billing_account():
    err = refused({"budget": {"monthly_usd": 100}})
    assert err.message.startswith("mlinfra:service.budget.gcp_billing_account: required on GCP")


def test_budget_billing_account_format():
    err = refused({"budget": {"monthly_usd": 100, "gcp_billing_account": "my-account"}})
    assert err.message.startswith("mlinfra:service.budget.gcp_billing_account: 'my-account' is not a billing account")


def test_accelerator_the_region_does_not_offer():
    # The catalog offers A100 in neither europe-west1 nor most regions; it names where it is.
    err = refused({"training": {"enabled": True, "accelerator": "A100"}})
    assert "A100" in err.message and "europe-west1" in err.message


def test_filestore_basic_hdd_size():
    err = refused({"training": {"enabled": True, "shared_filesystem": True, "shared_filesystem_gib": 500}})
    assert err.message.startswith("mlinfra:service.training.shared_filesystem_gib: 500 is not allowed on GCP")


def test_unknown_region_suggests_close_ones():
    err = refused({}, regions={"gcp": "europe-west7"})
    assert err.message.startswith("mlinfra:regions.gcp: 'europe-west7'") and "europe-west" in err.message


def test_check_never_imports_the_sdk():
    code = ("import sys; from components.providers.base import get_provider; "
            "from components.spec import EnvironmentSpec; "
            "get_provider('gcp').check(EnvironmentSpec(env='dev', stack='dev', cloud='gcp', region='europe-west1', "
            f"service={{'training': {{'enabled': True}}, 'budget': {{'monthly_usd': 5, 'gcp_billing_account': '{BILLING}'}}}})); "
            "print('pulumi_gcp' in sys.modules, 'pulumi' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_DIR, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
