"""The three public price lists `mlinfra prices refresh` reads, one small client each.

- Azure Retail Prices API (no key): GET https://prices.azure.com/api/retail/prices?$filter=...,
  pages through `NextPageLink`; items carry `retailPrice`, `unitOfMeasure`, `tierMinimumUnits`,
  `meterName`, `productName`. (https://learn.microsoft.com/rest/api/cost-management/retail-prices/azure-retail-prices)
- AWS Price List bulk API (no key): one offer file per service and region,
  https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws/<offer>/current/<region>/index.json;
  `products[sku].attributes.usagetype` names the meter with a region prefix (`EU-NatGateway-Hours`,
  `NatGateway-Hours` or `USE1-...` in us-east-1), `terms.OnDemand[sku]...priceDimensions` the price.
  (https://docs.aws.amazon.com/awsaccountbilling/latest/aboutv2/using-ppslong.html)
  Spot prices are not in the Price List; refresh keeps the snapshot's observed spot figures.
- GCP Cloud Billing Catalog API (API key): GET https://cloudbilling.googleapis.com/v1/services/<id>/skus,
  pages through `nextPageToken`; a SKU has `description`, `category.usageType` (OnDemand,
  Preemptible for Spot, Commit*), `serviceRegions` and `pricingInfo[0].pricingExpression.tieredRates`
  of `{units, nanos}`. (https://cloud.google.com/billing/docs/reference/rest/v1/services.skus/list)

Every client takes an httpx.Client, so tests replay recorded responses (respx) and nothing here
decides what to fetch: the snapshot rows' `query` does.
"""
from __future__ import annotations

from typing import Any, Optional

import httpx

AZURE_URL = "https://prices.azure.com/api/retail/prices"
AWS_URL = "https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws/{offer}/current/{region}/index.json"
GCP_URL = "https://cloudbilling.googleapis.com/v1/services/{service}/skus"


class NotListed(Exception):
    """The price list answered but holds no price for this query in this region."""


def _get_json(client: httpx.Client, url: str, params: Optional[dict[str, str]] = None) -> Any:
    response = client.get(url, params=params)
    response.raise_for_status()
    return response.json()


class AzureRetail:
    def __init__(self, client: httpx.Client):
        self.client = client

    def items(self, odata_filter: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        page = _get_json(self.client, AZURE_URL, {"$filter": odata_filter})
        while True:
            out.extend(page.get("Items", []))
            link = page.get("NextPageLink")
            if not link:
                return out
            page = _get_json(self.client, link)

    def service_price(self, query: dict[str, Any], region: str) -> float:
        """The first paid tier of the meter the query names (free grants are tiers priced 0)."""
        items = [i for i in self.items(f"{query['filter']} and armRegionName eq '{region}' and type eq 'Consumption'")
                 if i.get("retailPrice", 0) > 0]
        if not items:
            raise NotListed(f"no Azure meter for {query['filter']} in {region}")
        item = min(items, key=lambda i: float(i.get("tierMinimumUnits", 0)))
        if item.get("unitOfMeasure") != query["unit_of_measure"]:
            raise NotListed(f"Azure meter unit {item.get('unitOfMeasure')!r}, expected {query['unit_of_measure']!r}")
        return float(item["retailPrice"]) / float(query.get("per", 1))

    def machine_price(self, machine_type: str, region: str) -> tuple[float, Optional[float]]:
        """(on-demand, spot) of a Linux VM size: Windows and Low Priority meters left out."""
        items = self.items(f"serviceName eq 'Virtual Machines' and armSkuName eq '{machine_type}' "
                           f"and armRegionName eq '{region}' and type eq 'Consumption'")
        linux = [i for i in items if not i.get("productName", "").endswith("Windows")
                 and "Low Priority" not in i.get("meterName", "") and i.get("unitOfMeasure") == "1 Hour"]
        regular = [float(i["retailPrice"]) for i in linux if not i.get("meterName", "").endswith(" Spot")]
        spot = [float(i["retailPrice"]) for i in linux if i.get("meterName", "").endswith(" Spot")]
        if not regular:
            raise NotListed(f"no Linux Consumption meter for {machine_type} in {region}")
        return min(regular), (min(spot) if spot else None)


def _usagetype_matches(usagetype: str, wanted: str) -> bool:
    """`EU-NatGateway-Hours`, `USE1-NatGateway-Hours` and `NatGateway-Hours` all match `NatGateway-Hours`."""
    if usagetype == wanted:
        return True
    prefix, _, rest = usagetype.partition("-")
    return rest == wanted and prefix.isupper()


class AwsPriceList:
    def __init__(self, client: httpx.Client):
        self.client = client
        self._offers: dict[tuple[str, str], dict[str, Any]] = {}

    def offer(self, offer: str, region: str) -> dict[str, Any]:
        key = (offer, region)
        if key not in self._offers:
            self._offers[key] = _get_json(self.client, AWS_URL.format(offer=offer, region=region))
        return self._offers[key]

    def _on_demand(self, doc: dict[str, Any], sku: str) -> float:
        for term in doc.get("terms", {}).get("OnDemand", {}).get(sku, {}).values():
            dims = sorted(term["priceDimensions"].values(), key=lambda d: float(d.get("beginRange", 0)))
            paid = [d for d in dims if float(d["pricePerUnit"]["USD"]) > 0] or dims
            return float(paid[0]["pricePerUnit"]["USD"])
        raise NotListed(f"no OnDemand term for SKU {sku}")

    def service_price(self, query: dict[str, Any], region: str) -> float:
        doc = self.offer(query["offer"], region)
        extra = query.get("attributes", {})
        for sku, product in sorted(doc.get("products", {}).items()):
            attrs = product.get("attributes", {})
            if _usagetype_matches(attrs.get("usagetype", ""), query["usagetype"]) and \
                    all(attrs.get(k) == v for k, v in extra.items()):
                return self._on_demand(doc, sku) / float(query.get("per", 1))
        raise NotListed(f"no {query['offer']} usage type {query['usagetype']} in {region}")

    def machine_price(self, machine_type: str, region: str) -> float:
        """On-demand Linux, shared tenancy, no pre-installed software, capacity in use."""
        doc = self.offer("AmazonEC2", region)
        wanted = {"instanceType": machine_type, "operatingSystem": "Linux", "tenancy": "Shared",
                  "preInstalledSw": "NA", "capacitystatus": "Used"}
        for sku, product in sorted(doc.get("products", {}).items()):
            attrs = product.get("attributes", {})
            if all(attrs.get(k) == v for k, v in wanted.items()):
                return self._on_demand(doc, sku)
        raise NotListed(f"no AmazonEC2 on-demand Linux price for {machine_type} in {region}")


def _money(rate: dict[str, Any]) -> float:
    price = rate["unitPrice"]
    return int(price.get("units", 0) or 0) + int(price.get("nanos", 0) or 0) / 1e9


class GcpBillingCatalog:
    def __init__(self, client: httpx.Client, api_key: str):
        self.client = client
        self.api_key = api_key
        self._skus: dict[str, list[dict[str, Any]]] = {}

    def skus(self, service: str) -> list[dict[str, Any]]:
        if service not in self._skus:
            out: list[dict[str, Any]] = []
            params = {"key": self.api_key, "currencyCode": "USD", "pageSize": "5000"}
            while True:
                page = _get_json(self.client, GCP_URL.format(service=service), params)
                out.extend(page.get("skus", []))
                token = page.get("nextPageToken")
                if not token:
                    break
                params = {**params, "pageToken": token}
            self._skus[service] = out
        return self._skus[service]

    def _find(self, service: str, description: str, region: str, usage_type: str = "OnDemand") -> dict[str, Any]:
        for sku in self.skus(service):
            regions = sku.get("serviceRegions", [])
            if (description in sku.get("description", "") and sku.get("category", {}).get("usageType") == usage_type
                    and (region in regions or "global" in regions)
                    and not sku.get("description", "").startswith("Commitment")):
                return sku
        raise NotListed(f"no {usage_type} SKU '{description}' in {region}")

    @staticmethod
    def _price(sku: dict[str, Any], usage_unit: Optional[str] = None) -> float:
        expression = sku["pricingInfo"][0]["pricingExpression"]
        if usage_unit and expression.get("usageUnit") != usage_unit:
            raise NotListed(f"SKU {sku.get('description')} unit {expression.get('usageUnit')!r}, expected {usage_unit!r}")
        rates = [_money(r) for r in expression["tieredRates"]]
        return next((r for r in rates if r > 0), rates[0])  # the first paid tier: free tiers are priced 0

    def service_price(self, query: dict[str, Any], region: str) -> float:
        sku = self._find(query["service"], query["description"], region)
        return self._price(sku, query.get("usage_unit")) / float(query.get("per", 1))

    def family_price(self, service: str, core: str, ram: str, vcpus: float, memory_gib: float, region: str,
                     usage_type: str) -> float:
        """A machine type's hourly price from its family's per-vCPU and per-GiB SKUs."""
        cpu = self._price(self._find(service, core, region, usage_type), "h")
        mem = self._price(self._find(service, ram, region, usage_type), "GiBy.h")
        return round(vcpus * cpu + memory_gib * mem, 6)

    def gpu_price(self, service: str, description: str, region: str, usage_type: str) -> float:
        return self._price(self._find(service, description, region, usage_type), "h")
