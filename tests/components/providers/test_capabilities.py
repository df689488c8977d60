"""Capabilities as data: every cloud in the registry refuses exactly what it declares, with its reason."""
from __future__ import annotations

import pytest

from components.errors import UnsupportedFeature
from components.providers.base import FEATURE_KEYS, Feature, get_provider, required_features
from stacks.config import environment_spec, from_pairs
from tests.helpers import CLOUDS

# A service patch that asks for each feature (and, with the defaults, little else).
ASKS: dict[Feature, dict] = {
    Feature.SERVERLESS: {"serving": {"mode": "serverless", "min_instances": 1}},
    Feature.VM_SERVING: {"serving": {"mode": "vm", "min_instances": 1}},
    Feature.SERVERLESS_SCALE_TO_ZERO: {"serving": {"mode": "serverless", "min_instances": 0}},
    Feature.VM_SCALE_TO_ZERO: {"serving": {"mode": "vm", "min_instances": 0}},
    Feature.INTERNAL_INGRESS: {"serving": {"min_instances": 1, "ingress": "internal"}},
    Feature.CUSTOM_DOMAIN: {"serving": {"min_instances": 1, "domain": "api.example.com",
                                        "certificate": "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d"}},
    Feature.GPU_TRAINING: {"serving": {"min_instances": 1}, "training": {"enabled": True, "spot": False}},
    Feature.SPOT_TRAINING: {"serving": {"min_instances": 1}, "training": {"enabled": True, "spot": True}},
    Feature.SHARED_FILESYSTEM: {"serving": {"min_instances": 1},
                                "training": {"enabled": True, "spot": False, "shared_filesystem": True}},
    Feature.ALERTS: {"serving": {"min_instances": 1}, "alerts": {"enabled": True}},
    Feature.BUDGET: {"serving": {"min_instances": 1},
                     "budget": {"monthly_usd": 100, "gcp_billing_account": "012345-6789AB-CDEF01"}},
}


def spec_for(cloud: str, service: dict):
    raw = from_pairs({"mlinfra:cloud": cloud, "mlinfra:service": service}, source="test")
    return environment_spec(raw, env="dev", stack="dev")


def test_every_feature_has_a_probe_and_a_key():
    assert set(ASKS) == set(Feature) == set(FEATURE_KEYS)


@pytest.mark.parametrize("feature", list(Feature), ids=lambda f: f.name)
def test_probe_asks_for_its_feature(feature):
    assert feature in required_features(spec_for("aws", ASKS[feature]))


@pytest.mark.parametrize("cloud", CLOUDS)
@pytest.mark.parametrize("feature", list(Feature), ids=lambda f: f.name)
def test_provider_refuses_exactly_what_it_declares(cloud, feature):
    provider = get_provider(cloud)
    spec = spec_for(cloud, ASKS[feature])
    declared = dict(provider.unsupported())
    others = required_features(spec) - {feature}
    # A probe asks for its feature and otherwise only for what this cloud can do.
    assert not others & set(declared), f"probe also asks for {sorted(f.name for f in others & set(declared))}"
    if feature in declared:
        with pytest.raises(UnsupportedFeature) as err:
            provider.check(spec)
        assert err.value.exit_code == 3
        assert err.value.message.startswith(f"{FEATURE_KEYS[feature]}: {provider.display_name} cannot provide")
        assert declared[feature] in err.value.message
    else:
        provider.check(spec)


@pytest.mark.parametrize("cloud", CLOUDS)
def test_reasons_are_sentences_a_user_can_act_on(cloud):
    for feature, reason in get_provider(cloud).unsupported().items():
        assert isinstance(feature, Feature)
        assert len(reason) > 20, f"{cloud} {feature.name}: reason too short to act on: {reason!r}"
