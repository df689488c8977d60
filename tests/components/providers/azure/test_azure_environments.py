"""The built-in environments (Pulumi.dev.yaml, Pulumi.prod.yaml) plan cleanly on Azure."""
from __future__ import annotations

import pytest

from stacks.offline import plan_environment
from tests.helpers import PROJECT_DIR, inputs


@pytest.fixture(scope="module", params=["dev", "prod"])
def builtin(request):
    return request.param, plan_environment(PROJECT_DIR, request.param, "azure")


def test_builtin_environment_plans_on_azure(builtin):
    env, plan = builtin
    assert plan.cloud == "azure" and plan.region == "westeurope"
    assert plan.outputs["endpoint"].startswith(("https://", "http://"))
    assert inputs(plan, "azure-native:resources:ResourceGroup")["resourceGroupName"] == f"digits-{env}-rg"
    vmss = {r.name: r.inputs for r in plan.of_type("azure-native:compute:VirtualMachineScaleSet")}
    if env == "prod":
        # One scale set per zone (zonal stacks), at least 3 instances across the zones.
        zonal = [vmss[f"digits-prod-vmss-z{z}"] for z in ("1", "2", "3")]
        assert sum(s["sku"]["capacity"] for s in zonal) >= 3
        assert [s["zones"] for s in zonal] == [["1"], ["2"], ["3"]]
        assert vmss["digits-prod-gpu"]["sku"]["capacity"] == 0
        assert plan.of_type("azure-native:consumption:Budget")
    else:
        assert not vmss
        app = inputs(plan, "azure-native:app:ContainerApp")
        assert app["template"]["scale"]["minReplicas"] == 0
