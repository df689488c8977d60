"""Tags per resource: user tags plus mlinfra's must fit each cloud's documented limit, refused up front.

- AWS, "Tagging your AWS resources" / service tag restrictions: "Maximum number of tags per resource – 50"
  (aws:-prefixed tags don't count; mlinfra writes none).
- GCP, "Requirements for labels": "Each resource can have multiple labels, up to a maximum of 64".
- Azure, Resource Manager Tags - Create Or Update At Scope: "The specified entity can have a maximum of 50 tags".
"""
from __future__ import annotations

import pytest

from components.errors import ConfigError
from components.providers.base import get_provider
from stacks.config import environment_spec, from_pairs

DOCUMENTED = {"aws": 50, "gcp": 64, "azure": 50}
MLINFRA_TAGS = 4  # service, environment, stack, managed-by (components/tags.py)


def spec(cloud: str, user_tags: int):
    tags = {f"t{i:02d}": "x" for i in range(user_tags)}
    raw = from_pairs({"mlinfra:cloud": cloud, "mlinfra:tags": tags,
                      "mlinfra:service": {"serving": {"min_instances": 1}}}, source="test")
    return environment_spec(raw, env="dev", stack="dev", cloud=cloud)


@pytest.mark.parametrize("cloud", sorted(DOCUMENTED))
def test_the_documented_limit_fits_and_one_more_is_refused(cloud):
    provider = get_provider(cloud)
    limit = DOCUMENTED[cloud]
    provider.check(spec(cloud, limit - MLINFRA_TAGS))  # exactly at the limit
    with pytest.raises(ConfigError) as err:
        provider.check(spec(cloud, limit - MLINFRA_TAGS + 1))
    assert err.value.message.startswith("mlinfra:tags:")
    assert f"at most {limit} per resource" in err.value.message
    assert f"at most {limit - MLINFRA_TAGS} in mlinfra:tags" in err.value.message
