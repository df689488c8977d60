"""`mlinfra gpus`: GPU machines per region, on-demand and spot as observed, the saving, filters, the cheapest region.

Expected figures come from the shipped snapshot (cost/prices/<cloud>.json) and the catalog, never typed here.
"""
from __future__ import annotations

import json

from typer.testing import CliRunner

from cli.main import app
from components import catalog
from cost.snapshot import PRICES_DIR

runner = CliRunner()
SNAP = {c: json.loads((PRICES_DIR / f"{c}.json").read_text()) for c in ("aws", "gcp", "azure")}


def gpus_json(*args):
    result = runner.invoke(app, ["gpus", "-o", "json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_each_offer_is_priced_in_its_region_from_the_snapshot_with_the_saving():
    doc = gpus_json("--cloud", "aws", "--region", "eu-west-1")
    assert doc["snapshot_dates"] == {"aws": SNAP["aws"]["snapshot_date"]}
    t4 = next(o for o in doc["offers"] if o["machine_type"] == "g4dn.xlarge")
    entry = SNAP["aws"]["machines"]["g4dn.xlarge"]["regions"]["eu-west-1"]
    assert (t4["on_demand_usd_hour"], t4["spot_usd_hour"]) == (entry["on_demand"], entry["spot"])
    assert t4["saving_percent"] == round(100 * (1 - entry["spot"] / entry["on_demand"]), 1)
    assert {o["region"] for o in doc["offers"]} == {"eu-west-1"}


def test_region_filter_lists_only_machines_offered_there_and_unpriced_ones_with_a_reason():
    doc = gpus_json("--cloud", "aws", "--region", "eu-west-1")
    offered = {o.machine_type for o in catalog.offers("aws") if "eu-west-1" in o.regions}
    listed = {o["machine_type"] for o in doc["offers"]} | {u["machine_type"] for u in doc["unpriced"]}
    assert listed == offered
    for item in doc["unpriced"]:
        assert "eu-west-1" in item["reason"]


def test_max_price_keeps_only_machines_at_or_below_it_on_the_chosen_price():
    doc = gpus_json("--max-price", "1")
    assert doc["offers"] and all(o["on_demand_usd_hour"] <= 1 for o in doc["offers"])
    spot = gpus_json("--max-price", "0.3", "--spot")
    assert spot["offers"] and all(o["spot_usd_hour"] is not None and o["spot_usd_hour"] <= 0.3 for o in spot["offers"])


def test_cheapest_region_per_accelerator_is_the_minimum_across_clouds():
    doc = gpus_json()
    for best in doc["cheapest"]:
        same = [o for o in doc["offers"] if (o["accelerator"], o["gpus"]) == (best["accelerator"], best["gpus"])]
        assert best["on_demand_usd_hour"] == min(o["on_demand_usd_hour"] for o in same)
    clouds = {b["cloud"] for b in doc["cheapest"]}
    assert len(clouds) > 1  # compared across clouds, not per cloud


def test_text_shows_on_demand_spot_saving_and_the_snapshot_date():
    result = runner.invoke(app, ["gpus", "--region", "europe-west1"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "GPU machines in europe-west1" in out and "Cheapest region per accelerator (on-demand)" in out
    assert "n1-standard-4" in out and "Spot saving" in out
    assert f"gcp {SNAP['gcp']['snapshot_date']}" in out


def test_nothing_under_the_price_says_so():
    result = runner.invoke(app, ["gpus", "--max-price", "0.0001"])
    assert result.exit_code == 0 and "No GPU machine matches these filters." in result.stdout


def test_gpus_bad_cloud_exits_3():
    result = runner.invoke(app, ["gpus", "--cloud", "ibm"])
    assert result.exit_code == 3
    assert "--cloud: 'ibm' is not a supported cloud; allowed: aws, gcp, azure, all" in result.output


def test_negative_max_price_is_a_usage_error():
    assert runner.invoke(app, ["gpus", "--max-price", "-1"]).exit_code == 2
