"""`mlinfra cost`: per-resource lines, totals per cloud side by side, --plan-file, and its errors."""
from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from cli.main import app
from tests.helpers import PROJECT_DIR

runner = CliRunner()
SNAPSHOT = json.loads((PROJECT_DIR / "cost" / "prices" / "aws.json").read_text())
PRICES = SNAPSHOT["prices"]


def usd(price_id: str, region: str) -> float:
    regions = PRICES[price_id]["regions"]
    return (regions.get(region) or regions["*"])["usd"]


@pytest.fixture(scope="module")
def prod_all():
    result = runner.invoke(app, ["cost", "--env", "prod", "--cloud", "all", "--output", "json",
                                 "--project-dir", str(PROJECT_DIR)])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_json_has_one_estimate_per_cloud_and_totals_side_by_side(prod_all):
    assert [e["cloud"] for e in prod_all["estimates"]] == ["aws", "gcp", "azure"]
    for entry in prod_all["estimates"]:
        assert entry["env"] == "prod" and entry["currency"] == "USD"
        assert entry["monthly_usd"] == pytest.approx(sum(ln["monthly_usd"] for ln in entry["lines"]), abs=0.01)
        assert prod_all["totals"]["prod"][entry["cloud"]] == entry["monthly_usd"]
        assert entry["region"] in ("eu-west-1", "europe-west1", "westeurope")  # each stack in its own region
    every = [ln for entry in prod_all["estimates"] for ln in entry["lines"]]
    assert any(ln["assumption"] for ln in every) and any(not ln["assumption"] for ln in every)


def test_text_marks_assumptions_and_prints_totals():
    result = runner.invoke(app, ["cost", "--env", "dev", "--cloud", "aws", "--project-dir", str(PROJECT_DIR)],
                           env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Monthly total per cloud" in out and "dev-aws on aws" in out
    # the snapshot date the figures come from is printed (issue 21)
    assert f"Price snapshot: aws {SNAPSHOT['snapshot_date']}" in out
    assert " *" in out and "* estimate from usage assumptions" in out
    registry = next(line for line in out.splitlines() if "aws:ecr/repository:Repository" in line)
    assert "*" in registry  # registry GB come from the usage section
    # a bucket whose tiers lack eu-west-1 prices is listed unpriced with the region, not priced elsewhere
    unpriced = [line for line in out.splitlines() if line.startswith("  unpriced:")]
    assert all("eu-west-1" in line for line in unpriced)


HAND_PLAN = {"plans": [{
    "stack": "hand", "env": "hand", "cloud": "aws", "region": "us-east-1", "outputs": {},
    "resources": [
        {"urn": "urn:svc", "type": "mlinfra:service:MLService", "name": "svc", "parent": None, "custom": False,
         "inputs": {"service": {"usage": {"registry_gb": 30}}}},
        {"urn": "urn:nat", "type": "aws:ec2/natGateway:NatGateway", "name": "nat", "parent": "urn:svc",
         "custom": True, "inputs": {}},
        {"urn": "urn:repo", "type": "aws:ecr/repository:Repository", "name": "repo", "parent": "urn:svc",
         "custom": True, "inputs": {}},
        {"urn": "urn:odd", "type": "aws:redshift/cluster:Cluster", "name": "odd", "parent": "urn:svc",
         "custom": True, "inputs": {}},
    ]}]}


def test_plan_file_is_priced_without_planning(tmp_path):
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(HAND_PLAN))
    result = runner.invoke(app, ["cost", "--plan-file", str(path), "-o", "json"])
    assert result.exit_code == 0, result.output
    (entry,) = json.loads(result.stdout)["estimates"]
    lines = {ln["name"]: ln for ln in entry["lines"]}
    assert lines["nat"]["monthly_usd"] == pytest.approx(730 * usd("nat_hour", "us-east-1"))
    assert lines["repo"]["monthly_usd"] == pytest.approx(30 * usd("ecr_gb_month", "us-east-1"))
    assert entry["region"] == "us-east-1" and entry["snapshot_date"] == SNAPSHOT["snapshot_date"]
    assert entry["unpriced"] == [{"urn": "urn:odd", "type": "aws:redshift/cluster:Cluster",
                                  "reason": "no price rule for this type"}]
    text = runner.invoke(app, ["cost", "--plan-file", str(path)], env={"COLUMNS": "200"})
    assert text.exit_code == 0 and "unpriced" in text.stdout and "(+unpriced)" in text.stdout


def test_plan_file_with_bad_usage_exits_3(tmp_path):
    doc = json.loads(json.dumps(HAND_PLAN))
    doc["plans"][0]["resources"][0]["inputs"]["service"]["usage"] = {"training_hours_per_month": "often"}
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(doc))
    result = runner.invoke(app, ["cost", "--plan-file", str(path)])
    assert result.exit_code == 3
    assert 'mlinfra:service.usage.training_hours_per_month: "often" is not allowed' in result.output


@pytest.mark.parametrize("value,shown", [(-10, "-10"), ("many", '"many"')])
def test_bad_usage_in_an_environment_exits_3_naming_the_key(tmp_path, value, shown):
    (tmp_path / "Pulumi.yaml").write_text("name: mlinfra\nruntime: python\n")
    (tmp_path / "Pulumi.dev.yaml").write_text(
        "config:\n  mlinfra:cloud: gcp\n  mlinfra:service:\n    usage:\n"
        f"      storage_cold_gb: {json.dumps(value)}\n")
    result = runner.invoke(app, ["cost", "--env", "dev", "--project-dir", str(tmp_path)])
    assert result.exit_code == 3, result.output
    assert f"mlinfra:service.usage.storage_cold_gb: {shown} is not allowed" in result.output


def test_bad_cloud_exits_3():
    result = runner.invoke(app, ["cost", "--cloud", "mars", "--project-dir", str(PROJECT_DIR)])
    assert result.exit_code == 3
    assert "--cloud: 'mars' is not a supported cloud" in result.output


def test_plan_file_in_a_region_the_snapshot_lacks_lists_the_resource_unpriced(tmp_path):
    doc = json.loads(json.dumps(HAND_PLAN))
    doc["plans"][0]["region"] = "ap-southeast-4"  # no NAT price for it in the snapshot
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(doc))
    result = runner.invoke(app, ["cost", "--plan-file", str(path), "-o", "json"])
    assert result.exit_code == 0, result.output
    (entry,) = json.loads(result.stdout)["estimates"]
    nat = next(u for u in entry["unpriced"] if u["urn"] == "urn:nat")
    assert "ap-southeast-4" in nat["reason"]
    assert "nat" not in {ln["name"] for ln in entry["lines"]}


@pytest.mark.parametrize("value", ["lots", "1M,", "-5"])
def test_bad_requests_value_is_a_usage_error(value):
    result = runner.invoke(app, ["cost", "--requests", value, "--project-dir", str(PROJECT_DIR)])
    assert result.exit_code == 2
    assert "--requests" in result.output


def test_requests_cannot_read_a_plan_file(tmp_path):
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(HAND_PLAN))
    result = runner.invoke(app, ["cost", "--requests", "1M", "--plan-file", str(path)])
    assert result.exit_code == 2


def test_requests_compares_serverless_and_vm_per_level_with_a_break_even():
    result = runner.invoke(app, ["cost", "--env", "dev", "--cloud", "gcp", "--requests", "0,100k,100M",
                                 "--project-dir", str(PROJECT_DIR), "-o", "json"])
    assert result.exit_code == 0, result.output
    (comparison,) = json.loads(result.stdout)["comparisons"]
    assert comparison["cloud"] == "gcp" and comparison["region"] == "europe-west1"
    levels = comparison["levels"]
    assert [lv["requests_per_month"] for lv in levels] == [0, 100_000, 100_000_000]
    # Cloud Run bills requests; with no traffic and min 0 it costs nothing a VM group (min 1 machine) does.
    assert levels[0]["serverless"] < levels[0]["vm"]
    assert levels[2]["serverless"] > levels[1]["serverless"]
    even = comparison["break_even_requests_per_month"]
    assert even is None or even > 100_000
    text = runner.invoke(app, ["cost", "--env", "dev", "--cloud", "gcp", "--requests", "1M",
                               "--project-dir", str(PROJECT_DIR)], env={"COLUMNS": "200"})
    assert text.exit_code == 0 and "break-even" in text.stdout and "Price snapshot: gcp" in text.stdout


def test_summary_gives_idle_and_loaded_for_the_environment_and_a_preview():
    result = runner.invoke(app, ["cost", "--summary", "--env", "prod", "--cloud", "gcp", "-o", "json",
                                 "--project-dir", str(PROJECT_DIR)])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert [e["env"] for e in doc["environments"]] == ["preview (pr-1)", "prod"]
    for entry in doc["environments"]:
        assert entry["cloud"] == "gcp" and entry["region"] == "europe-west1"
        assert 0 <= entry["idle_usd"] <= entry["loaded_usd"]
    assert doc["snapshot_dates"] == {"gcp": json.loads((PROJECT_DIR / "cost/prices/gcp.json").read_text())["snapshot_date"]}


def test_readme_needs_summary():
    result = runner.invoke(app, ["cost", "--readme", "README.md", "--project-dir", str(PROJECT_DIR)])
    assert result.exit_code == 2
