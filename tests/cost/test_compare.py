"""Serverless vs VM per traffic level and the break-even; idle vs loaded; the README table block.

The break-even is checked against the closed form the pricing rules imply, with every price read
from the snapshot file for the plan's region: Cloud Run bills each request's active vCPU and memory
seconds plus a per-request fee (cloud.google.com/run/pricing, request-based billing), a VM group
bills its machines' hours (Compute Engine on-demand), so at the group's minimum size the two meet
at N* = machines x 730 h x price / (cost of one request).
"""
from __future__ import annotations

import json

import pytest

from components.errors import ConfigError
from cost.compare import (README_BEGIN, README_END, EnvCost, compare, env_cost, markdown_table,
                          replace_readme_block)
from cost.snapshot import PRICES_DIR
from stacks.plan import Plan, PlanResource

GCP = json.loads((PRICES_DIR / "gcp.json").read_text())
REGION = "europe-west1"
H = 730
CPU, GIB, SECONDS = 1.0, 2.0, 0.05


def usd(price_id: str) -> float:
    regions = GCP["prices"][price_id]["regions"]
    return (regions.get(REGION) or regions["*"])["usd"]


def res(type_, name, inputs, parent="urn:svc"):
    return PlanResource(urn=f"urn:pulumi:dev::mlinfra::{type_}::{name}", type=type_, name=name, parent=parent,
                        custom=True, inputs=inputs)


def service(min_instances=0):
    svc = {"name": "digits", "serving": {"cpu": CPU, "memory_gib": GIB, "min_instances": min_instances},
           "usage": {"request_seconds": SECONDS, "storage_hot_gb": 10}}
    return PlanResource(urn="urn:svc", type="mlinfra:service:MLService", name="digits-dev", parent=None, custom=False,
                        inputs={"service": svc})


def plans(machines=1):
    serverless = Plan(stack="dev", env="dev", cloud="gcp", region=REGION, resources=[
        service(), res("gcp:cloudrunv2/service:Service", "run", {"template": {
            "containers": [{"resources": {"limits": {"cpu": "1", "memory": "2Gi"}}}], "scaling": {"minInstanceCount": 0}}}),
        res("gcp:storage/bucket:Bucket", "data", {}, parent="urn:x$mlinfra:storage:StorageTiers::s"),
    ])
    vm = Plan(stack="dev", env="dev", cloud="gcp", region=REGION, resources=[
        service(machines),
        res("gcp:compute/instanceTemplate:InstanceTemplate", "tpl", {"machineType": "e2-standard-2"}, parent="urn:vm"),
        res("gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager", "group",
            {"versions": [{"instanceTemplate": "tpl"}], "targetSize": machines}, parent="urn:vm"),
        res("gcp:storage/bucket:Bucket", "data", {}, parent="urn:x$mlinfra:storage:StorageTiers::s"),
    ])
    return {"serverless": serverless, "vm": vm}


def per_request() -> float:
    return SECONDS * (CPU * usd("run_vcpu_second") + GIB * usd("run_gib_second")) + usd("run_request_million") / 1e6


def machine_hour() -> float:
    return GCP["machines"]["e2-standard-2"]["regions"][REGION]["on_demand"]


def test_costs_per_level_follow_the_snapshot_prices_of_the_region():
    levels = [0, 1e5, 1e7]
    result = compare(plans(), levels)
    assert result.region == REGION
    for i, n in enumerate(levels):
        assert result.usd["serverless"][i] == pytest.approx(n * per_request())
        assert result.usd["vm"][i] == pytest.approx(H * machine_hour())  # one machine carries this traffic
    assert result.unpriced == {"serverless": [], "vm": []}


def test_break_even_is_where_serverless_stops_being_cheaper():
    result = compare(plans(), [1e6])
    expected = H * machine_hour() / per_request()
    assert result.break_even == pytest.approx(expected, rel=2e-3)
    below = compare(plans(), [expected * 0.98]).usd
    above = compare(plans(), [expected * 1.02]).usd
    assert below["serverless"][0] < below["vm"][0] and above["vm"][0] <= above["serverless"][0]


def test_storage_is_left_out_of_both_modes():
    result = compare(plans(), [0])
    assert result.usd["serverless"][0] == 0  # the bucket's storage line does not count


def test_no_break_even_when_vms_never_catch_up():
    two = plans()
    # a VM group so large it never costs less below the search bound
    two["vm"].resources[2].inputs["targetSize"] = 10_000_000
    assert compare(two, [1]).break_even is None


def test_idle_leaves_out_traffic_storage_and_registry_but_loaded_counts_them():
    cost = env_cost(plans()["serverless"])
    assert cost.idle_usd == 0  # Cloud Run at min 0 with no requests, storage aside
    assert cost.loaded_usd > 0


def _cost(env, cloud, idle, loaded, unpriced=()):
    return EnvCost(stack=env, env=env, cloud=cloud, region="r", idle_usd=idle, loaded_usd=loaded,
                   unpriced=list(unpriced))


def test_markdown_table_one_row_per_environment_and_idle_gap_only_for_idle_costs():
    costs = [_cost("dev", "aws", 1.0, 3.0, [{"urn": "u", "type": "t", "reason": "r", "category": "storage"}]),
             _cost("dev", "gcp", 4.5, 9.0), _cost("prod", "aws", 200.0, 210.0, [{"urn": "u", "type": "t", "reason": "r"}])]
    table = markdown_table(costs, {"aws": "2026-12-04", "gcp": "2026-12-04"})
    lines = table.splitlines()
    assert lines[0] == "| environment | aws idle | aws loaded | gcp idle | gcp loaded |"
    assert lines[2] == "| dev | 1.00 | 3.00 +unpriced | 4.50 | 9.00 |"  # unpriced storage: idle stays complete
    assert lines[3] == "| prod | 200.00 +unpriced | 210.00 +unpriced | - | - |"
    assert "price snapshot aws 2026-12-04" in table


def test_readme_block_is_replaced_between_the_markers_only():
    text = f"intro\n{README_BEGIN}\nold table\n{README_END}\noutro\n"
    out = replace_readme_block(text, "NEW")
    assert out == f"intro\n{README_BEGIN}\n\nNEW\n\n{README_END}\noutro\n"
    with pytest.raises(ConfigError, match="markers"):
        replace_readme_block("no markers", "NEW")


def test_the_repository_readme_carries_the_generated_table():
    from tests.helpers import PROJECT_DIR

    text = (PROJECT_DIR / "README.md").read_text()
    block = text[text.index(README_BEGIN) + len(README_BEGIN):text.index(README_END)]
    assert "| environment | aws idle | aws loaded |" in block and "| dev |" in block and "| prod |" in block
    assert "price snapshot" in block


def test_mode_variants_set_the_mode_and_keep_a_vm_group_serving():
    from cost.compare import _with_mode

    values = {"service": {"serving": {"mode": "serverless", "min_instances": 0}},
              "overrides": {"aws": {"serving": {"backend": "lambda", "min_instances": 0}}}}
    vm = _with_mode(values, "vm")
    assert vm["service"]["serving"] == {"mode": "vm", "min_instances": 1}
    # a serverless backend choice means nothing for VMs; a zero minimum would serve nothing
    assert vm["overrides"]["aws"]["serving"] == {"min_instances": 1}
    serverless = _with_mode({"service": {"serving": {"mode": "vm", "min_instances": 3}}}, "serverless")
    assert serverless["service"]["serving"] == {"mode": "serverless", "min_instances": 3}
    assert values["service"]["serving"]["mode"] == "serverless"  # the input is not changed
