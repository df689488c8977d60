"""GCP's rules as data: label rewriting, name limits, Cloud Run sizes, VM shapes (no SDK needed)."""
from __future__ import annotations

import re

import pytest

from components.errors import ConfigError
from components.providers.base import get_provider
from components.providers.gcp import limits
from components.spec import EnvironmentSpec, ServingSpec

LABEL = re.compile(r"[a-z0-9_-]{0,63}")
LABEL_KEY = re.compile(r"[a-z][a-z0-9_-]{0,62}")


def spec(service: str = "digits", env: str = "dev") -> EnvironmentSpec:
    return EnvironmentSpec(env=env, stack=env, cloud="gcp", region="europe-west1", service={"name": service})


def test_expiry_timestamp_becomes_a_valid_label_value():
    assert get_provider("gcp").tags({"expires-at": "2026-11-25T10:00:00Z"}) == {"expires-at": "2026-11-25t10-00-00z"}


@pytest.mark.parametrize("key, value, want_key, want_value", [
    ("Team", "ML-Platform", "team", "ml-platform"),
    ("preview-of", "feature/Login.Page", "preview-of", "feature-login-page"),
    ("owner", "a@b.io", "owner", "a-b-io"),
    ("9lives", "x", "k9lives", "x"),
    ("cost_center", "", "cost_center", ""),
    ("k" * 80, "v" * 80, "k" * 63, "v" * 63),
])
def test_label_rules(key, value, want_key, want_value):
    out = limits.labels({key: value})
    assert out == {want_key: want_value}
    assert LABEL_KEY.fullmatch(want_key) and LABEL.fullmatch(want_value)


def test_short_names_are_kept_as_they_read():
    s = spec()
    assert limits.account_id(s, "serve") == "digits-dev-serve"
    assert limits.repository_id(s) == "digits-dev"
    assert limits.run_service_name(s) == "digits-dev-serve"
    assert re.fullmatch(r"digits-dev-data-[0-9a-f]{8}", limits.bucket_name(s))


def test_longest_names_are_cut_with_a_hash_and_stay_distinct():
    a = spec("a" * 20, "b" * 23 + "1")
    b = spec("a" * 20, "b" * 23 + "2")
    for role in ("serve", "train"):
        ida, idb = limits.account_id(a, role), limits.account_id(b, role)
        # Service account ids: 6-30 characters of [a-z]([-a-z0-9]*[a-z0-9]).
        assert 6 <= len(ida) <= 30 and re.fullmatch(r"[a-z]([-a-z0-9]*[a-z0-9])", ida)
        assert ida.endswith(f"-{role}") and ida != idb
    assert len(limits.run_service_name(a)) <= 49
    assert limits.run_service_name(a) != limits.run_service_name(b)
    assert len(limits.bucket_name(a)) <= 63


def test_account_id_at_the_limit_is_not_shortened():
    s = spec("abcdefghij", "klmnopqrstu")  # 10 + 1 + 11 + "-serve" = 28
    assert limits.account_id(s, "serve") == "abcdefghij-klmnopqrstu-serve"


def test_bucket_may_not_contain_google():
    with pytest.raises(ConfigError) as err:
        limits.bucket_name(spec("google-ml"))
    assert err.value.exit_code == 3
    assert err.value.message.startswith("mlinfra:service.name:") and "google" in err.value.message


@pytest.mark.parametrize("cpu, memory, concurrency", [
    (1, 0.5, 80), (1, 4, 80), (2, 8, 80), (4, 2, 80), (4, 16, 80), (6, 24, 80), (8, 32, 80),
    (0.5, 1, 1), (0.25, 0.5, 1), (0.08, 0.5, 1),
])
def test_cloud_run_accepts_documented_sizes(cpu, memory, concurrency):
    limits.check_run_size(cpu, memory, concurrency)


@pytest.mark.parametrize("cpu, memory, concurrency, key, allowed", [
    (1, 8, 80, "memory_gib", "allowed 0.5-4 GiB"),
    (2, 16, 80, "memory_gib", "allowed 0.5-8 GiB"),
    (4, 1, 80, "memory_gib", "allowed 2-16 GiB"),
    (8, 64, 80, "memory_gib", "allowed 4-32 GiB"),
    (3, 4, 80, "cpu", "one of 1, 2, 4, 6, 8"),
    (16, 32, 80, "cpu", "one of 1, 2, 4, 6, 8"),
    (0.05, 0.5, 1, "cpu", "0.08-1"),
    (0.255, 0.5, 1, "cpu", "steps of 0.01"),
    (0.25, 1, 1, "memory_gib", "allowed 0.5-0.5 GiB"),
    (0.5, 2, 1, "memory_gib", "allowed 0.5-1 GiB"),
    (0.5, 1, 80, "concurrency", "concurrency must be 1"),
    (1, 0.25, 80, "memory_gib", "allowed 0.5-4 GiB"),
])
def test_cloud_run_refuses_other_sizes_naming_the_key(cpu, memory, concurrency, key, allowed):
    with pytest.raises(ConfigError) as err:
        limits.check_run_size(cpu, memory, concurrency)
    assert err.value.message.startswith(f"mlinfra:service.serving.{key}: ")
    assert allowed in err.value.message and "\n" not in err.value.message


@pytest.mark.parametrize("cpu, memory, machine", [
    (1, 2, "e2-medium"), (0.5, 1, "e2-small"), (2, 2, "e2-highcpu-2"), (2, 8, "e2-standard-2"),
    (4, 30, "e2-highmem-4"), (32, 128, "e2-standard-32"),
])
def test_vm_machine_type_is_the_smallest_e2_that_fits(cpu, memory, machine):
    assert limits.vm_machine_type(ServingSpec(mode="vm", cpu=cpu, memory_gib=memory)) == machine


def test_vm_machine_type_override_and_too_large():
    assert limits.vm_machine_type(ServingSpec(mode="vm", cpu=64, memory_gib=256, machine_type="n2-standard-64")) \
        == "n2-standard-64"
    with pytest.raises(ConfigError) as err:
        limits.vm_machine_type(ServingSpec(mode="vm", cpu=64, memory_gib=256))
    assert "mlinfra:service.serving.machine_type" in err.value.message
