"""The built-in environments priced on every cloud, each resource in its own region (issue 21).

Expectations are derived here from the snapshot rows of the plan's region and the plan's inputs;
where the snapshot lacks the region the resource must be listed unpriced, naming the region.
"""
from __future__ import annotations

import json

import pytest

from components.spec import UsageSpec
from cost.compare import IDLE_USAGE, env_cost
from cost.estimate import PRICES_DIR, RULES_DIR, estimate
from stacks.offline import plan_environment
from tests.helpers import CLOUDS, PROJECT_DIR

H = 730
USAGE = UsageSpec()  # the built-in environments leave usage at its documented defaults
STORAGE = {"aws": "aws:s3/bucket:Bucket", "gcp": "gcp:storage/bucket:Bucket",
           "azure": "azure-native:storage:StorageAccount"}
SNAP = {c: json.loads((PRICES_DIR / f"{c}.json").read_text()) for c in CLOUDS}
RULES = {c: json.loads((RULES_DIR / f"{c}.json").read_text()) for c in CLOUDS}
CASES = [(env, cloud) for env in ("dev", "prod") for cloud in CLOUDS]
OTHER_REGIONS = {"us-east-1", "us-central1", "eastus"}  # the old price files' reference regions


@pytest.fixture(scope="module")
def priced():
    out = {}
    for env, cloud in CASES:
        plan = plan_environment(PROJECT_DIR, env, cloud)
        out[env, cloud] = (plan, estimate(plan))
    return out


def price(cloud, price_id, region):
    regions = SNAP[cloud]["prices"][price_id]["regions"]
    entry = regions.get(region) or regions.get("*")
    return None if entry is None else entry["usd"]


@pytest.mark.parametrize("env,cloud", CASES)
def test_every_resource_type_has_a_rule_or_is_free(priced, env, cloud):
    plan, report = priced[env, cloud]
    assert [u for u in report.unpriced if u["reason"] == "no price rule for this type"] == []


@pytest.mark.parametrize("env,cloud", CASES)
def test_lines_use_the_plans_region_and_unpriced_items_say_why(priced, env, cloud):
    plan, report = priced[env, cloud]
    assert plan.region not in OTHER_REGIONS  # the built-in environments deploy in Europe
    for line in report.lines:
        assert plan.region in line.basis or "all regions" in line.basis, line.basis
        assert not any(other in line.basis for other in OTHER_REGIONS), line.basis
    priced_urns = {line.urn for line in report.lines}
    for item in report.unpriced:
        assert item["reason"] and item["urn"] not in priced_urns
    assert report.to_dict()["monthly_usd"] == pytest.approx(sum(ln.monthly_usd for ln in report.lines), abs=0.01)


@pytest.mark.parametrize("env,cloud", CASES)
def test_storage_line_at_the_regions_tier_prices_or_unpriced_naming_the_region(priced, env, cloud):
    plan, report = priced[env, cloud]
    rule = RULES[cloud]["rules"][STORAGE[cloud]]
    prices = rule["prices"]
    if "variant" in rule:  # Azure: by the account's redundancy SKU
        sku = [r for r in plan.of_type(STORAGE[cloud]) if rule["component"] in (r.parent or "")][0].inputs["sku"]["name"]
        prices = rule["variants"].get(sku, prices)
    found = {t: price(cloud, prices[t], plan.region) for t in ("hot", "warm", "cold", "archive")}
    # the data bucket / account of the storage component (an access-log bucket is priced apart, as usage)
    (data,) = [r for r in plan.of_type(STORAGE[cloud]) if rule["component"] in (r.parent or "")]
    lines = [ln for ln in report.lines if ln.urn == data.urn]
    if None in found.values():
        (item,) = [u for u in report.unpriced if u["urn"] == data.urn]
        assert plan.region in item["reason"]
        assert lines == []
        return
    (line,) = lines
    expected = sum(getattr(USAGE, f"storage_{t}_gb") * found[t] for t in found)
    assert line.monthly_usd == pytest.approx(expected) and line.assumption and line.category == "storage"


@pytest.mark.parametrize("env,cloud", CASES)
def test_hourly_lines_are_730_hours_at_the_regions_price(priced, env, cloud):
    plan, report = priced[env, cloud]
    for token, rule in RULES[cloud]["rules"].items():
        if rule["kind"] != "hourly" or "when" in rule or "assumed_quantity" in rule or "count" in rule:
            continue
        usd = price(cloud, rule["price"], plan.region)
        for resource in plan.of_type(token):
            lines = [ln for ln in report.lines if ln.urn == resource.urn]
            if usd is None:
                assert lines == [] and any(u["urn"] == resource.urn for u in report.unpriced)
            else:
                (line,) = lines
                assert line.monthly_usd == pytest.approx(H * usd), resource.name


@pytest.mark.parametrize("cloud", CLOUDS)
def test_idle_figure_leaves_out_storage_registry_and_traffic(priced, cloud):
    plan, _ = priced["dev", cloud]
    idle = estimate(plan, usage=IDLE_USAGE)
    cost = env_cost(plan)
    assert cost.idle_usd == pytest.approx(sum(ln.monthly_usd for ln in idle.lines
                                              if ln.category not in ("storage", "registry", "usage")))
    # with no requests, request-billed serverless serving costs nothing
    for line in idle.lines:
        if line.type in ("gcp:cloudrunv2/service:Service", "azure-native:app:ContainerApp",
                         "aws:lambda/function:Function") and "minimum instance" not in line.basis:
            assert line.monthly_usd == 0, line.basis


def _upper_bound_of_unpriced_idle(plan, cost):
    """What unpriced idle items could cost at most: each at the highest regional price the snapshot has.

    Only a bound for the test; the tool itself never prices a resource at another region.
    """
    from cost.compare import IDLE_USAGE as idle_usage
    from cost.estimate import USAGE_CATEGORIES

    bound = 0.0
    for item in cost.unpriced:
        if item.get("category") in USAGE_CATEGORIES:
            continue
        rule = RULES[plan.cloud]["rules"][item["type"]]
        assert rule["kind"] in ("monthly", "hourly"), f"an unpriced idle item the bound cannot cover: {item}"
        prices = SNAP[plan.cloud]["prices"][rule["price"]]["regions"].values()
        top = max(p["usd"] for p in prices)
        bound += top * (H if rule["kind"] == "hourly" else 1)
    assert idle_usage.requests_per_month == 0
    return bound


@pytest.mark.parametrize("cloud", CLOUDS)
def test_dev_and_a_preview_cost_at_most_5_usd_a_month_while_idle(priced, cloud):
    # Issue 21: with no traffic, dev and preview environments cost at most $5 a month on each cloud at
    # list price, storage and registry aside (they are usage).
    from stacks.planning import plan_targets

    (preview,) = plan_targets(PROJECT_DIR, cloud=cloud, pr=1, verdicts=False)
    for plan in (priced["dev", cloud][0], preview):
        cost = env_cost(plan)
        assert cost.idle_usd + _upper_bound_of_unpriced_idle(plan, cost) <= 5.0, (plan.stack, cost.to_dict())
