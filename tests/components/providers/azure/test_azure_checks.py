"""Azure checks before any resource: names within limits, tags, sizes, capabilities, accelerators."""
from __future__ import annotations

import re

import pytest

from components.errors import ConfigError, UnsupportedFeature
from components.providers.base import get_provider
from components.providers.azure.access import unheld_ssh_key
from stacks.config import environment_spec, from_pairs

from .util import REGION, plan_azure

AZ = get_provider("azure")


def spec_for(service: dict, env: str = "dev", region: str = REGION):
    raw = from_pairs({"mlinfra:cloud": "azure", "mlinfra:service": service,
                      "mlinfra:regions": {"azure": region}}, source="test")
    return environment_spec(raw, env=env, stack=env)


def test_provider_identity():
    assert (AZ.name, AZ.display_name, AZ.packages, AZ.default_region) == ("azure", "Azure", ("azure-native",), "eastus")
    assert {"eastus", "westeurope", "northeurope", "uksouth"} <= AZ.regions
    assert "eu-west-1" not in AZ.regions


def test_unknown_region_names_the_key_and_suggests():
    with pytest.raises(ConfigError) as err:
        spec_for({}, region="westeurop")
    assert err.value.exit_code == 3
    assert err.value.message.startswith("mlinfra:regions.azure: 'westeurop'") and "westeurope" in err.value.message


def test_names_of_the_default_service():
    spec = spec_for({})
    assert AZ.resource_group_name(spec) == "digits-dev-rg"
    account = AZ.storage_account_name(spec)
    assert re.fullmatch(r"digitsdev[0-9a-f]{6}", account)
    assert re.fullmatch(r"digitsdev[0-9a-f]{6}", AZ.registry_name(spec))
    assert AZ.container_app_name(spec) == "digits-dev"


def test_global_names_differ_per_stack_and_region():
    a, b = spec_for({}), spec_for({}, region="northeurope")
    assert AZ.storage_account_name(a) != AZ.storage_account_name(b)
    assert AZ.storage_account_name(a) == AZ.storage_account_name(spec_for({}))  # stable


def test_twenty_char_service_in_prod_is_cut_to_fit_the_storage_account_limit():
    long_a = spec_for({"name": "abcdefghijklmnopqrst"}, env="prod")
    long_b = spec_for({"name": "abcdefghijklmnopqrsu"}, env="prod")
    name = AZ.storage_account_name(long_a)
    # Azure storage account: 3-24 lowercase letters and digits. 18 of the stem + a 6-char hash.
    assert len(name) == 24 and re.fullmatch(r"[a-z0-9]+", name)
    assert name.startswith("abcdefghijklmnopqr")
    # Same cut stem, different services: the hash (of the full names) still tells them apart.
    assert AZ.storage_account_name(long_b)[:18] == name[:18] and AZ.storage_account_name(long_b) != name
    assert len(AZ.files_account_name(long_a)) == 24
    registry = AZ.registry_name(long_a)
    assert registry.startswith("abcdefghijklmnopqrstprod") and 5 <= len(registry) <= 50


def test_longest_names_fit_every_limit():
    spec = spec_for({"name": "a" * 20}, env="b" * 24)
    assert len(AZ.storage_account_name(spec)) == 24
    assert len(AZ.registry_name(spec)) == 50
    app = AZ.container_app_name(spec)
    assert len(app) <= 32 and re.fullmatch(r"[a-z][a-z0-9-]*[a-z0-9]", app) and "--" not in app
    assert app.startswith("aaaaaaaaaaaaaaaaaaaa-bbbb")


def test_tags_follow_azure_rules():
    tags = AZ.tags({"team": "ml", "bad/name?": "v" * 300, "x<y>": "ok"})
    assert tags["team"] == "ml"
    assert tags["bad_name_"] == "v" * 256
    assert tags["x_y_"] == "ok"


def test_vm_scale_to_zero_is_refused_with_the_reason():
    with pytest.raises(UnsupportedFeature) as err:
        AZ.check(spec_for({"serving": {"mode": "vm", "min_instances": 0}}))
    assert err.value.exit_code == 3
    assert err.value.message.startswith("mlinfra:service.serving.min_instances: Azure cannot provide VM scale to zero")
    assert "serverless" in err.value.message


def test_serverless_scale_to_zero_is_allowed():
    AZ.check(spec_for({"serving": {"min_instances": 0}}))


def test_custom_domain_is_supported_on_public_endpoints():
    AZ.check(spec_for({"serving": {"min_instances": 1, "domain": "api.example.com"}}))
    AZ.check(spec_for({"serving": {"mode": "vm", "min_instances": 1, "domain": "api.example.com"}}))


@pytest.mark.parametrize("serving, key", [
    ({"ingress": "internal", "domain": "api.example.com"}, "serving.domain"),
    ({"firewall": True}, "serving.firewall"),
    ({"domain": "api.example.com", "dns_zone": "a/b/c"}, "serving.dns_zone"),
])
def test_ingress_settings_azure_cannot_honour_are_refused(serving, key):
    with pytest.raises(ConfigError) as err:
        AZ.check(spec_for({"serving": {"min_instances": 1, **serving}}))
    assert err.value.exit_code == 3 and err.value.message.startswith(f"mlinfra:service.{key}: ")


@pytest.mark.parametrize("cpu, memory", [(0.25, 0.5), (0.5, 1), (1, 2), (1.75, 3.5), (4, 8)])
def test_container_apps_pairs_accepted(cpu, memory):
    AZ.check(spec_for({"serving": {"cpu": cpu, "memory_gib": memory}}))


def test_container_apps_memory_that_cpu_cannot_have_fails_before_any_resource():
    with pytest.raises(ConfigError) as err:
        plan_azure({"serving": {"cpu": 1, "memory_gib": 3}})
    assert err.value.exit_code == 3
    assert err.value.message == ("mlinfra:service.serving.memory_gib: 3 is not allowed with cpu 1 on Azure Container "
                                 "Apps: memory must be 2 GiB per vCPU (set memory_gib: 2)")
    assert "\n" not in err.value.message


@pytest.mark.parametrize("cpu", [0.3, 6])
def test_container_apps_cpu_outside_the_steps(cpu):
    with pytest.raises(ConfigError) as err:
        AZ.check(spec_for({"serving": {"cpu": cpu, "memory_gib": cpu * 2}}))
    assert err.value.message.startswith(f"mlinfra:service.serving.cpu: {cpu:g} is not allowed on Azure Container Apps")


def test_vm_mode_does_not_apply_container_apps_pairs_and_sizes_are_checked():
    AZ.check(spec_for({"serving": {"mode": "vm", "min_instances": 1, "cpu": 3, "memory_gib": 5}}))
    with pytest.raises(ConfigError) as err:
        AZ.check(spec_for({"serving": {"mode": "vm", "min_instances": 1, "cpu": 64, "memory_gib": 512,
                                       "machine_type": "n2-standard-4"}}))
    assert err.value.message.startswith("mlinfra:service.serving.machine_type: 'n2-standard-4' is not an Azure VM size")


def test_training_accelerator_azure_lacks_names_the_alternatives():
    with pytest.raises(ConfigError) as err:
        AZ.check(spec_for({"training": {"enabled": True, "accelerator": "L4"}}))
    assert err.value.exit_code == 3
    assert err.value.message.startswith("mlinfra:service.training.accelerator: Azure has no L4 machines")


def test_training_gpu_count_azure_lacks():
    with pytest.raises(ConfigError) as err:
        AZ.check(spec_for({"training": {"enabled": True, "accelerator": "T4", "gpus_per_machine": 2}}))
    assert err.value.message.startswith("mlinfra:service.training.gpus_per_machine: Azure has no T4 machine with 2 GPUs")


def test_training_region_without_the_offer_fails_at_plan_time():
    from components import catalog

    offer = catalog.lookup("azure", "H100", 8, "eastus")
    missing = sorted(AZ.regions - set(offer.regions))
    assert missing, "the catalog offers H100 x8 everywhere; pick another probe"
    with pytest.raises(ConfigError) as err:
        plan_azure({"training": {"enabled": True, "accelerator": "H100", "gpus_per_machine": 8}},
                   regions={"azure": missing[0]})
    assert err.value.message.startswith(f"mlinfra:regions.azure: H100 x8 ({offer.machine_type}) is not offered in "
                                        f"{missing[0]}; nearest regions that offer it:")


def test_training_image_must_be_an_azure_image():
    AZ.check(spec_for({"training": {"enabled": True, "image": "Canonical:ubuntu-24_04-lts:server:latest"}}))
    AZ.check(spec_for({"training": {"enabled": True, "image": "/subscriptions/x/resourceGroups/y/providers/"
                                                              "Microsoft.Compute/images/z"}}))
    with pytest.raises(ConfigError) as err:
        AZ.check(spec_for({"training": {"enabled": True, "image": "ami-0123456789abcdef0"}}))
    assert err.value.message.startswith("mlinfra:service.training.image: 'ami-0123456789abcdef0' is not an Azure image")


def test_unheld_ssh_key_is_a_valid_deterministic_ed25519_key():
    import base64
    import struct

    key = unheld_ssh_key("mlinfra/prod")
    assert key == unheld_ssh_key("mlinfra/prod") and key != unheld_ssh_key("mlinfra/dev")
    kind, blob, comment = key.split()
    raw = base64.b64decode(blob)
    (n,) = struct.unpack(">I", raw[:4])
    assert kind == "ssh-ed25519" and raw[4:4 + n] == b"ssh-ed25519" and comment == "mlinfra-no-private-key"
    (m,) = struct.unpack(">I", raw[4 + n:8 + n])
    point = raw[8 + n:]
    assert m == 32 and len(point) == 32
    # The point decodes on the curve: x^2 = (y^2 - 1) / (d y^2 + 1) is a square mod p.
    p = 2**255 - 19
    d = (-121665 * pow(121666, p - 2, p)) % p
    y = int.from_bytes(point, "little") & ((1 << 255) - 1)
    x2 = (y * y - 1) * pow(d * y * y + 1, p - 2, p) % p
    assert x2 == 0 or pow(x2, (p - 1) // 2, p) == 1


def test_checking_a_spec_never_loads_the_sdk():
    import subprocess
    import sys

    from tests.helpers import PROJECT_DIR

    code = ("import sys\n"
            "from components.providers.base import get_provider\n"
            "from stacks.config import environment_spec, from_pairs\n"
            "raw = from_pairs({'mlinfra:cloud': 'azure', 'mlinfra:service': {'serving': {'mode': 'vm', "
            "'min_instances': 3}, 'training': {'enabled': True}}}, source='t')\n"
            "get_provider('azure').check(environment_spec(raw, env='prod', stack='prod'))\n"
            "print('pulumi_azure_native' in sys.modules, 'pulumi' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_DIR, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
