"""Config -> EnvironmentSpec: every bad value is one line naming the key path and what is allowed."""
from __future__ import annotations

import pytest

from components.errors import ConfigError
from components.providers.base import get_provider
from stacks.config import environment_spec, from_pairs, load_file

BAD = [
    ({"storage": {"warm_after_days": -5}},
     "mlinfra:service.storage.warm_after_days: -5 is not allowed: Input should be greater than or equal to 1"),
    ({"storage": {"warm_after_days": 100, "cold_after_days": 90}},
     "mlinfra:service.storage.cold_after_days: 90 is not allowed: must be greater than warm_after_days (100)"),
    ({"storage": {"cold_after_days": 400}},
     "mlinfra:service.storage.archive_after_days: 365 is not allowed: must be greater than cold_after_days (400)"),
    ({"storge": {}}, "mlinfra:service.storge: unknown key; did you mean 'storage'?"),
    ({"storage": {"warm_after_dys": 3}}, "mlinfra:service.storage.warm_after_dys: unknown key; did you mean 'warm_after_days'?"),
    ({"serving": {"min_instances": 5, "max_instances": 2}},
     "mlinfra:service.serving.min_instances: 5 is not allowed: must not exceed max_instances (2)"),
    ({"serving": {"port": 70000}}, "mlinfra:service.serving.port: 70000 is not allowed: Input should be less than or equal to 65535"),
    ({"serving": {"port": 0}}, "mlinfra:service.serving.port: 0 is not allowed: Input should be greater than or equal to 1"),
    ({"serving": {"mode": "k8s"}}, "mlinfra:service.serving.mode: \"k8s\" is not allowed: Input should be 'serverless' or 'vm'"),
    ({"serving": {"scale_out_cpu_percent": 150}},
     "mlinfra:service.serving.scale_out_cpu_percent: 150 is not allowed: Input should be less than or equal to 100"),
    ({"serving": {"scale_in_cpu_percent": 80}},
     "mlinfra:service.serving.scale_in_cpu_percent: 80 is not allowed: must be below scale_out_cpu_percent (75)"),
    ({"name": "Digits!"}, "mlinfra:service.name: \"Digits!\" is not allowed: String should match pattern"),
    ({"usage": {"requests_per_month": "lots"}},
     "mlinfra:service.usage.requests_per_month: \"lots\" is not allowed: Input should be a valid number"),
    ({"usage": {"storage_hot_gb": -1}},
     "mlinfra:service.usage.storage_hot_gb: -1 is not allowed: Input should be greater than or equal to 0"),
    ({"alerts": {"emails": ["not-an-email"]}}, "mlinfra:service.alerts.emails: [\"not-an-email\"] is not allowed: 'not-an-email' is not an e-mail address"),
]


def spec_of(service=None, cloud="aws", **pairs):
    config = {"mlinfra:cloud": cloud, "mlinfra:service": service or {}}
    config.update({f"mlinfra:{k}": v for k, v in pairs.items()})
    return environment_spec(from_pairs(config, source="test"), env="dev", stack="dev")


@pytest.mark.parametrize("service,message", BAD, ids=[m.split(":")[1].split(" ")[0] for _, m in BAD])
def test_bad_service_values_name_the_key_path(service, message):
    with pytest.raises(ConfigError) as err:
        spec_of(service)
    assert err.value.message.startswith(message)
    assert err.value.exit_code == 3
    assert "\n" not in err.value.message  # one line


def test_unknown_top_level_key_suggests_the_close_one():
    with pytest.raises(ConfigError, match=r"^mlinfra:servce: unknown key; did you mean mlinfra:service\?$"):
        environment_spec(from_pairs({"mlinfra:cloud": "aws", "mlinfra:servce": {}}), env="dev", stack="dev")


def test_region_singular_suggests_regions():
    # Issue 20: `mlinfra:region` is a common slip for `mlinfra:regions`.
    with pytest.raises(ConfigError, match=r"^mlinfra:region: unknown key; did you mean mlinfra:regions\?$"):
        environment_spec(from_pairs({"mlinfra:cloud": "aws", "mlinfra:region": "eu-west-1"}), env="dev", stack="dev")


def test_every_error_of_a_file_is_reported_in_one_run():
    raw = from_pairs({"mlinfra:cloud": "aws", "mlinfra:region": "eu-west-1", "mlinfra:regions": {"ibm": "x"},
                      "mlinfra:tags": {"Team": "x"},
                      "mlinfra:service": {"storage": {"warm_after_days": -5}, "serving": {"port": 0}}})
    with pytest.raises(ConfigError) as err:
        environment_spec(raw, env="dev", stack="dev")
    lines = err.value.message.splitlines()
    assert lines == [
        "mlinfra:region: unknown key; did you mean mlinfra:regions?",
        "mlinfra:regions.ibm: unknown cloud; allowed: aws, gcp, azure",
        "mlinfra:service.storage.warm_after_days: -5 is not allowed: Input should be greater than or equal to 1",
        "mlinfra:service.serving.port: 0 is not allowed: Input should be greater than or equal to 1",
        "mlinfra:tags.Team: \"x\" is not allowed: tag keys must match ^[a-z][a-z0-9_-]{0,62}$ (the rule every "
        "cloud accepts)",
    ]


def test_other_namespaces_pass_through():
    raw = from_pairs({"mlinfra:cloud": "aws", "aws:region": "eu-west-1", "gcp:project": "p"})
    assert raw.passthrough == {"aws:region": "eu-west-1", "gcp:project": "p"}


@pytest.mark.parametrize("cloud,message", [
    ("awz", "mlinfra:cloud: 'awz' is not a supported cloud; allowed: aws, gcp, azure; did you mean aws?"),
    ("mars", "mlinfra:cloud: 'mars' is not a supported cloud; allowed: aws, gcp, azure"),
])
def test_unknown_cloud(cloud, message):
    with pytest.raises(ConfigError) as err:
        spec_of(cloud=cloud)
    assert err.value.message == message


def test_region_the_cloud_does_not_have():
    with pytest.raises(ConfigError) as err:
        spec_of(cloud="aws", regions={"aws": "eu-west-9"})
    assert err.value.message.startswith("mlinfra:regions.aws: 'eu-west-9' is not a region of AWS; did you mean eu-west-")


def test_region_defaults_per_cloud_when_not_named():
    regions = {"gcp": "europe-west1"}
    assert spec_of(cloud="gcp", regions=regions).region == "europe-west1"
    for cloud in ("aws", "azure"):
        assert spec_of(cloud=cloud, regions=regions).region == get_provider(cloud).default_region


def test_regions_for_unknown_cloud_is_an_error():
    with pytest.raises(ConfigError, match=r"^mlinfra:regions.ibm: unknown cloud; allowed: aws, gcp, azure$"):
        spec_of(regions={"ibm": "x"})


def test_overrides_merge_over_service_and_errors_point_at_the_override():
    spec = spec_of({"serving": {"min_instances": 0, "cpu": 1}}, cloud="aws",
                   overrides={"aws": {"serving": {"min_instances": 1}}})
    assert spec.service.serving.min_instances == 1 and spec.service.serving.cpu == 1
    assert spec_of({"serving": {"min_instances": 0}}, cloud="gcp",
                   overrides={"aws": {"serving": {"min_instances": 1}}}).service.serving.min_instances == 0
    with pytest.raises(ConfigError) as err:
        spec_of({}, cloud="aws", overrides={"aws": {"serving": {"cpu": -1}}})
    assert err.value.message.startswith("mlinfra:overrides.aws.serving.cpu: -1 is not allowed")


def test_tag_keys_follow_the_strictest_cloud_rule():
    with pytest.raises(ConfigError) as err:
        spec_of(tags={"Team": "x"})
    assert err.value.message.startswith("mlinfra:tags.Team: \"x\" is not allowed: tag keys must match")


def test_structured_values_arrive_as_json_strings_from_pulumi_config():
    raw = from_pairs({"mlinfra:cloud": "aws", "mlinfra:service": '{"storage": {"warm_after_days": 45}}'})
    assert environment_spec(raw, env="dev", stack="dev").service.storage.warm_after_days == 45


def test_malformed_yaml_is_one_line(tmp_path):
    path = tmp_path / "Pulumi.dev.yaml"
    path.write_text("config:\n  mlinfra:cloud: aws\n   bad: [\n")
    with pytest.raises(ConfigError) as err:
        load_file(path)
    assert err.value.message.startswith("Pulumi.dev.yaml: not valid YAML at line")
    assert "\n" not in err.value.message


def test_file_without_config_section(tmp_path):
    path = tmp_path / "Pulumi.dev.yaml"
    path.write_text("- just\n- a list\n")
    with pytest.raises(ConfigError, match="expected a mapping with a 'config:' section"):
        load_file(path)


def test_missing_cloud_is_required():
    with pytest.raises(ConfigError, match=r"^mlinfra:cloud: required in test; allowed: aws, gcp, azure$"):
        environment_spec(from_pairs({"mlinfra:service": {}}, source="test"), env="dev", stack="dev")


def test_spec_is_frozen_and_forbids_extra():
    spec = spec_of()
    with pytest.raises(Exception):
        spec.service.storage.warm_after_days = 1  # type: ignore[misc]
    assert spec.service.storage.warm_after_days == 30
    assert (spec.service.storage.cold_after_days, spec.service.storage.archive_after_days) == (90, 365)
