"""`mlinfra prices refresh`: the snapshot regenerated from the three price APIs, replayed with respx.

Rules encoded: the refresh reads the documented APIs (Azure Retail Prices `$filter` + `NextPageLink`;
AWS Price List per-region offer files, OnDemand terms; GCP Cloud Billing Catalog `services` and
`skus` pages with an API key, OnDemand and Preemptible (Spot) usage types), it is reproducible
(same answers -> same bytes), and without network or key it fails with one line and exit 4.
Fixture shapes and provenance: tests/cost/fixtures/README.md.
"""
from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
import respx
from typer.testing import CliRunner

from cli.main import app
from components.errors import PrerequisiteMissing
from cost.price_apis import AWS_URL, AZURE_URL, GCP_URL
from cost.refresh import GCP_SERVICES_URL, refresh, write

FIXTURES = Path(__file__).parent / "fixtures"
AZURE = json.loads((FIXTURES / "azure_retail_prices.json").read_text())
AWS = json.loads((FIXTURES / "aws_offer_eu-west-1.json").read_text())
GCP = json.loads((FIXTURES / "gcp_billing_catalog.json").read_text())
TODAY = "2026-12-05"
runner = CliRunner()


def snap(cloud, prices=None, machines=None, **extra):
    return {"cloud": cloud, "currency": "USD", "snapshot_date": "2026-01-01", "hours_per_month": 730, "sources": {},
            "prices": prices or {}, "machines": machines or {}, **extra}


def old_entry(**kw):
    return {"source": "page", "date": "2025-07-01", **kw}


def azure_routes(mock):
    def answer(request: httpx.Request):
        flt = request.url.params.get("$filter", "")
        if "page2" in flt:
            return httpx.Response(200, json=AZURE["vm_page2"])
        if "armSkuName eq 'Standard_D2s_v5'" in flt:
            return httpx.Response(200, json=AZURE["vm_page1"])
        if "Standard vCPU Active Usage" in flt:
            return httpx.Response(200, json=AZURE["aca_vcpu"])
        if "Standard Requests" in flt:
            return httpx.Response(200, json=AZURE["aca_requests_wrong_unit"])
        return httpx.Response(200, json={"Items": [], "NextPageLink": None})

    return mock.get(url__startswith=AZURE_URL).mock(side_effect=answer)


AZURE_SNAPSHOT = snap("azure", prices={
    "aca_vcpu_second": {"unit": "vCPU-second", "what": "vCPU", "url": "https://x", "query": {
        "filter": "serviceName eq 'Azure Container Apps' and meterName eq 'Standard vCPU Active Usage'",
        "unit_of_measure": "1 Second"}, "regions": {"westeurope": old_entry(usd=1.0)}},
    "aca_request_million": {"unit": "million requests", "what": "requests", "url": "https://x", "query": {
        "filter": "serviceName eq 'Azure Container Apps' and meterName eq 'Standard Requests'",
        "unit_of_measure": "1M"}, "regions": {"westeurope": old_entry(usd=1.0)}},
    "lb_standard_hour": {"unit": "hour", "what": "no query: carried over", "url": "https://x",
                         "regions": {"eastus": old_entry(usd=0.025)}},
}, machines={"Standard_D2s_v5": {"vcpus": 2, "regions": {"westeurope": old_entry(on_demand=1.0, spot=None)}}})


def test_azure_prices_follow_the_filter_pages_and_pick_linux_spot_and_the_first_paid_tier():
    with respx.mock(assert_all_called=False) as mock:
        route = azure_routes(mock)
        with httpx.Client() as client:
            result = refresh("azure", client, today=TODAY, current=AZURE_SNAPSHOT)
    vm = result.snapshot["machines"]["Standard_D2s_v5"]["regions"]["westeurope"]
    linux = AZURE["vm_page1"]["Items"][0]
    spot = next(i for i in AZURE["vm_page2"]["Items"] if i["meterName"].endswith(" Spot"))
    assert (vm["on_demand"], vm["spot"]) == (linux["retailPrice"], spot["retailPrice"])  # not Windows, not Low Priority
    assert vm["source"] == "azure-retail-prices" and vm["date"] == TODAY
    aca = result.snapshot["prices"]["aca_vcpu_second"]["regions"]["westeurope"]
    assert aca["usd"] == AZURE["aca_vcpu"]["Items"][1]["retailPrice"]  # the free grant tier (price 0) is skipped
    assert result.snapshot["snapshot_date"] == TODAY
    # every request names the region and Consumption prices in the OData filter
    filters = [call.request.url.params["$filter"] for call in route.calls]
    assert any("armRegionName eq 'westeurope'" in f and "type eq 'Consumption'" in f for f in filters)
    assert any("page2" in f for f in filters)  # NextPageLink was followed


def test_a_meter_in_another_unit_is_dropped_and_reported_never_converted_silently():
    with respx.mock(assert_all_called=False) as mock, httpx.Client() as client:
        azure_routes(mock)
        result = refresh("azure", client, today=TODAY, current=AZURE_SNAPSHOT)
    assert result.snapshot["prices"]["aca_request_million"]["regions"] == {}
    assert any(line.startswith("aca_request_million westeurope") and "10K" in line for line in result.dropped)
    # a row without a query is carried over with its own (older) date
    assert result.snapshot["prices"]["lb_standard_hour"]["regions"]["eastus"]["date"] == "2025-07-01"


def aws_routes(mock):
    for offer, doc in AWS.items():
        mock.get(AWS_URL.format(offer=offer, region="eu-west-1")).mock(return_value=httpx.Response(200, json=doc))


AWS_SNAPSHOT = snap("aws", prices={
    "nat_hour": {"unit": "hour", "what": "NAT", "url": "https://x", "query": {"offer": "AmazonEC2", "usagetype": "NatGateway-Hours"},
                 "regions": {"eu-west-1": old_entry(usd=1.0)}},
    "fargate_vcpu_hour": {"unit": "vCPU-hour", "what": "Fargate", "url": "https://x",
                          "query": {"offer": "AmazonECS", "usagetype": "Fargate-vCPU-Hours:perCPU"},
                          "regions": {"eu-west-1": old_entry(usd=1.0)}},
}, machines={"c7i.large": {"vcpus": 2, "regions": {"eu-west-1": old_entry(on_demand=1.0, spot=0.03, source="aws-price-list",
                                                                           spot_source="aws-spot", date="2026-12-01")}}})


def test_aws_offer_files_give_on_demand_linux_shared_and_keep_the_observed_spot():
    with respx.mock() as mock, httpx.Client() as client:
        aws_routes(mock)
        result = refresh("aws", client, today=TODAY, current=AWS_SNAPSHOT)
    ec2 = AWS["AmazonEC2"]
    nat = result.snapshot["prices"]["nat_hour"]["regions"]["eu-west-1"]
    assert nat["usd"] == float(ec2["terms"]["OnDemand"]["NATH"]["NATH.JRTCKXETXF"]["priceDimensions"][
        "NATH.JRTCKXETXF.6YS6EN2CT7"]["pricePerUnit"]["USD"])
    c7i = result.snapshot["machines"]["c7i.large"]["regions"]["eu-west-1"]
    linux = float(ec2["terms"]["OnDemand"]["C7IL"]["C7IL.JRTCKXETXF"]["priceDimensions"][
        "C7IL.JRTCKXETXF.6YS6EN2CT7"]["pricePerUnit"]["USD"])
    assert c7i["on_demand"] == linux  # not the Windows or capacity-reservation product
    # spot is not in the Price List: the observed figure is kept with its own date
    assert (c7i["spot"], c7i["spot_date"], c7i["date"]) == (0.03, "2026-12-01", TODAY)
    fargate = result.snapshot["prices"]["fargate_vcpu_hour"]["regions"]["eu-west-1"]
    assert fargate["usd"] == 0.04048  # x86, not the ARM usage type


GCP_SNAPSHOT = snap("gcp", machines={"e2-standard-2": {"vcpus": 2, "memory_gib": 8, "query": {"family": "e2"},
                                                        "regions": {"europe-west1": old_entry(on_demand=1.0, spot=None)}},
                                      "g2-standard-4": {"vcpus": 4, "memory_gib": 16,
                                                        "regions": {"europe-west1": old_entry(on_demand=0.5, spot=None)}}},
                    accelerators={"nvidia-tesla-t4": {"query": {"gpu": "Nvidia Tesla T4 GPU"},
                                                      "regions": {"europe-west1": old_entry(on_demand=1.0, spot=None)}}},
                    families={"e2": {"core": "E2 Instance Core", "ram": "E2 Instance Ram"}})


def gcp_routes(mock):
    mock.get(url__startswith=GCP_SERVICES_URL.rstrip("/") + "?").mock(return_value=httpx.Response(200, json=GCP["services"]))

    def skus(request: httpx.Request):
        assert request.url.params["key"] == "test-key"
        page = GCP["skus_page2"] if request.url.params.get("pageToken") == "page-2" else GCP["skus_page1"]
        return httpx.Response(200, json=page)

    mock.get(url__startswith=GCP_URL.format(service="6F81-5844-456A")).mock(side_effect=skus)


def _money(desc):
    sku = next(s for page in ("skus_page1", "skus_page2") for s in GCP[page]["skus"] if s["description"] == desc)
    price = sku["pricingInfo"][0]["pricingExpression"]["tieredRates"][0]["unitPrice"]
    return int(price["units"]) + price["nanos"] / 1e9


def test_gcp_machines_are_family_core_and_ram_skus_and_spot_is_the_preemptible_usage_type():
    with respx.mock() as mock, httpx.Client() as client:
        gcp_routes(mock)
        result = refresh("gcp", client, today=TODAY, current=GCP_SNAPSHOT, api_key="test-key")
    e2 = result.snapshot["machines"]["e2-standard-2"]["regions"]["europe-west1"]
    assert e2["on_demand"] == pytest.approx(2 * _money("E2 Instance Core running in EMEA")
                                            + 8 * _money("E2 Instance Ram running in EMEA"))
    assert e2["spot"] == pytest.approx(2 * _money("Spot Preemptible E2 Instance Core running in EMEA")
                                       + 8 * _money("Spot Preemptible E2 Instance Ram running in EMEA"))
    t4 = result.snapshot["accelerators"]["nvidia-tesla-t4"]["regions"]["europe-west1"]
    assert (t4["on_demand"], t4["spot"]) == (pytest.approx(_money("Nvidia Tesla T4 GPU running in EMEA")),
                                             pytest.approx(_money("Nvidia Tesla T4 GPU attached to Spot Preemptible VMs running in EMEA")))
    # a host without a family query is carried over unchanged
    assert result.snapshot["machines"]["g2-standard-4"]["regions"]["europe-west1"]["on_demand"] == 0.5


def test_gcp_without_an_api_key_is_a_missing_prerequisite():
    with httpx.Client() as client, pytest.raises(PrerequisiteMissing) as info:
        refresh("gcp", client, today=TODAY, current=GCP_SNAPSHOT, api_key=None)
    assert info.value.exit_code == 4 and "MLINFRA_GCP_API_KEY" in info.value.message


def test_the_same_answers_give_the_same_file(tmp_path):
    outputs = []
    for run in ("a", "b"):
        with respx.mock(assert_all_called=False) as mock, httpx.Client() as client:
            azure_routes(mock)
            result = refresh("azure", client, today=TODAY, current=AZURE_SNAPSHOT)
        folder = tmp_path / run
        folder.mkdir()
        outputs.append(write(result, folder).read_bytes())
    assert outputs[0] == outputs[1]


def test_cli_without_network_exits_4_with_one_line(tmp_path):
    with respx.mock() as mock:
        mock.get(url__startswith=AZURE_URL).mock(side_effect=httpx.ConnectError("Name or service not known"))
        result = runner.invoke(app, ["prices", "refresh", "--cloud", "azure", "--out-dir", str(tmp_path)])
    assert result.exit_code == 4
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and "https://prices.azure.com/api/retail/prices" in lines[0] and "network" in lines[0]
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_cli_gcp_without_key_exits_4(tmp_path, monkeypatch):
    monkeypatch.delenv("MLINFRA_GCP_API_KEY", raising=False)
    result = runner.invoke(app, ["prices", "refresh", "--cloud", "gcp", "--out-dir", str(tmp_path)])
    assert result.exit_code == 4 and "MLINFRA_GCP_API_KEY" in result.output


def test_cli_writes_a_dated_snapshot_and_lists_what_is_no_longer_listed(tmp_path):
    with respx.mock(assert_all_called=False) as mock:
        azure_routes(mock)
        result = runner.invoke(app, ["prices", "refresh", "--cloud", "azure", "--out-dir", str(tmp_path),
                                     "--date", TODAY], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    written = json.loads((tmp_path / "azure.json").read_text())
    assert written["snapshot_date"] == TODAY
    assert written["machines"]["Standard_D2s_v5"]["regions"]["westeurope"]["on_demand"] == \
        AZURE["vm_page1"]["Items"][0]["retailPrice"]
    assert "not listed, now unpriced:" in result.stdout


def test_cli_bad_date_is_a_config_error(tmp_path):
    result = runner.invoke(app, ["prices", "refresh", "--cloud", "azure", "--out-dir", str(tmp_path), "--date", "soon"])
    assert result.exit_code == 3 and "--date" in result.output
