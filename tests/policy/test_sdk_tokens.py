"""The rule tables name real resources: every type token and tag property exists in the installed SDKs."""
from __future__ import annotations

import importlib
import inspect

import pytest

from policy.rules import RULES
from policy.rules_tags import TAGGABLE

PACKAGES = {"aws": "pulumi_aws", "gcp": "pulumi_gcp", "azure-native": "pulumi_azure_native"}
TOKENS = sorted({t for rule in RULES for t in rule.types} | set(TAGGABLE))


def sdk_class(token: str):
    package, module, name = token.split(":")
    folder = module.split("/")[0]
    folder = f"{folder}_" if folder in ("lambda",) else folder  # Python keywords get a trailing underscore
    mod = importlib.import_module(f"{PACKAGES[package]}.{folder}")
    return getattr(mod, name)


def snake(wire: str) -> str:
    out = "".join(f"_{c.lower()}" if c.isupper() else c for c in wire)
    return out.lstrip("_")


@pytest.mark.parametrize("token", TOKENS)
def test_type_token_is_the_sdks(token: str):
    cls = sdk_class(token)
    # The SDK registers each class under exactly this token.
    assert f"'{token}'" in inspect.getsource(cls), f"{cls.__name__} is not registered as {token}"


@pytest.mark.parametrize("token", sorted(TAGGABLE))
def test_tag_property_exists(token: str):
    params = inspect.signature(sdk_class(token)._internal_init).parameters
    assert snake(TAGGABLE[token]) in params
