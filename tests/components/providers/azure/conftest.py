"""Plans shared by the Azure tests: each offline plan costs about a second, so each is made once."""
from __future__ import annotations

import pytest

from .util import DEV, PROD, plan_azure


@pytest.fixture(scope="session")
def dev_plan():
    return plan_azure(DEV, tags={"team": "ml"})


@pytest.fixture(scope="session")
def prod_plan():
    return plan_azure(PROD, env="prod")


@pytest.fixture(scope="session")
def misc_plan():
    """VM serving on an explicit size, custom storage ages, a budget with no alerts to send to."""
    return plan_azure({"serving": {"mode": "vm", "min_instances": 1, "machine_type": "Standard_D8s_v5",
                                   "image": "x/y:1"},
                       "storage": {"warm_after_days": 7, "cold_after_days": 20, "archive_after_days": 100,
                                   "noncurrent_expire_days": 14, "tiered_prefixes": ["raw/"]},
                       "alerts": {"enabled": False}, "budget": {"monthly_usd": 10}})
