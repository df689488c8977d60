"""`mlinfra gpus`: the catalog through the CLI, text and JSON."""
from __future__ import annotations

import json

from typer.testing import CliRunner

from cli.main import app
from components import catalog

runner = CliRunner()


def test_gpus_json_for_one_cloud_lists_its_rows_with_prices_and_sources():
    result = runner.invoke(app, ["gpus", "--cloud", "aws", "--output", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["clouds"] == ["aws"]
    assert [o["machine_type"] for o in doc["offers"]] == [o.machine_type for o in catalog.offers("aws")]
    p4d = next(o for o in doc["offers"] if o["machine_type"] == "p4d.24xlarge")
    assert (p4d["accelerator"], p4d["gpus"]) == ("A100", 8)
    assert p4d["on_demand_usd_hour"] == catalog.find("aws", "p4d.24xlarge").on_demand_usd_hour
    assert p4d["source"].startswith("https://aws.amazon.com/") and p4d["regions"]


def test_gpus_json_all_clouds_is_the_whole_catalog():
    result = runner.invoke(app, ["gpus", "--cloud", "all", "-o", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["clouds"] == ["aws", "gcp", "azure"]
    assert len(doc["offers"]) == len(catalog.offers())
    assert {o["cloud"] for o in doc["offers"]} == {"aws", "gcp", "azure"}


def test_gpus_text_puts_clouds_side_by_side():
    result = runner.invoke(app, ["gpus"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "AWS (us-east-1)" in out and "GCP (us-central1)" in out and "Azure (eastus)" in out
    h100 = next(line for line in out.splitlines() if "H100" in line and " 8 " in line)
    # one row, three machines: the same accelerator and count on every cloud
    assert "p5.48xlarge" in h100 and "a3-highgpu-8g" in h100 and "Standard_ND96isr_H100_v5" in h100
    assert "55.04 / 22.02" in out


def test_gpus_text_one_cloud_only():
    result = runner.invoke(app, ["gpus", "--cloud", "gcp"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "n1-standard-4" in result.stdout and "g4dn.xlarge" not in result.stdout


def test_gpus_bad_cloud_exits_3():
    result = runner.invoke(app, ["gpus", "--cloud", "ibm"])
    assert result.exit_code == 3
    assert "--cloud: 'ibm' is not a supported cloud; allowed: aws, gcp, azure, all" in result.output
