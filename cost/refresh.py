"""`mlinfra prices refresh`: regenerate the dated snapshot `cost/prices/<cloud>.json` from the price APIs.

Reproducible: what is fetched is decided by the current snapshot alone (each row's `query`, the
regions it holds, plus `--region`), and the output is written with sorted keys, so the same API
answers on the same day give the same file. A regional entry the API no longer lists is dropped
(and reported), so the tool then shows that resource as unpriced instead of keeping a stale price.
Spot prices the price list does not carry (AWS: spot is not in the Price List) are kept as observed,
with their own `spot_date`.

Errors: no network or an API error -> PrerequisiteMissing (exit 4) naming the URL; GCP without an
API key -> PrerequisiteMissing naming the environment variable.
"""
from __future__ import annotations

import copy
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import httpx

from components.errors import PrerequisiteMissing
from cost.price_apis import AwsPriceList, AzureRetail, GcpBillingCatalog, NotListed, _get_json
from cost.snapshot import GLOBAL, PRICES_DIR, snapshot_path

GCP_KEY_ENV = "MLINFRA_GCP_API_KEY"
GCP_SERVICES_URL = "https://cloudbilling.googleapis.com/v1/services"
SOURCE_KEY = {"aws": "aws-price-list", "gcp": "gcp-billing-catalog", "azure": "azure-retail-prices"}


@dataclass
class RefreshResult:
    cloud: str
    snapshot: dict[str, Any]
    updated: int = 0
    dropped: list[str] = field(default_factory=list)  # "row region: why"


def _regions(row: dict[str, Any], extra: list[str]) -> list[str]:
    return sorted(set(row.get("regions", {})) | set(extra))


def _gcp_service_ids(client: httpx.Client, api_key: str) -> dict[str, str]:
    """displayName -> service id (e.g. "Compute Engine" -> "6F81-5844-456A"), from /v1/services."""
    out: dict[str, str] = {}
    params = {"key": api_key, "pageSize": "5000"}
    while True:
        page = _get_json(client, GCP_SERVICES_URL, params)
        for svc in page.get("services", []):
            out[svc["displayName"]] = svc["serviceId"]
        token = page.get("nextPageToken")
        if not token:
            return out
        params = {**params, "pageToken": token}


def _service_fetcher(cloud: str, client: httpx.Client, api_key: Optional[str]) -> tuple[Any, Callable]:
    if cloud == "azure":
        api = AzureRetail(client)
        return api, api.service_price
    if cloud == "aws":
        api = AwsPriceList(client)
        return api, api.service_price
    if not api_key:
        raise PrerequisiteMissing(f"mlinfra prices refresh --cloud gcp needs a Google Cloud API key for the Cloud "
                                  f"Billing Catalog API: set {GCP_KEY_ENV} "
                                  "(https://cloud.google.com/billing/v1/how-tos/catalog-api)")
    api = GcpBillingCatalog(client, api_key)
    ids = _gcp_service_ids(client, api_key)

    def fetch(query: dict[str, Any], region: str) -> float:
        if query["service_name"] not in ids:
            raise NotListed(f"no GCP service named {query['service_name']!r}")
        return api.service_price({**query, "service": ids[query["service_name"]]}, region)

    api.service_ids = ids  # type: ignore[attr-defined]
    return api, fetch


def _machine_prices(cloud: str, api: Any, snap: dict[str, Any], name: str, row: dict[str, Any], region: str,
                    old: dict[str, Any]) -> dict[str, Any]:
    """The new regional entry of a machine (or GCP accelerator) row; AWS and Azure look up the type itself."""
    if cloud == "azure":
        od, spot = api.machine_price(name, region)
        return {"on_demand": od, "spot": spot}
    if cloud == "aws":
        entry: dict[str, Any] = {"on_demand": api.machine_price(name, region), "spot": old.get("spot")}
        if old.get("spot") is not None:  # not in the Price List: kept as observed, with its own date
            entry["spot_date"] = old.get("spot_date", old.get("date"))
            entry["spot_source"] = old.get("spot_source", "aws-spot")
        return entry
    engine = api.service_ids["Compute Engine"]
    if "gpu" in row.get("query", {}):
        desc = row["query"]["gpu"]
        od = api.gpu_price(engine, desc, region, "OnDemand")
        try:
            spot: Optional[float] = api.gpu_price(engine, desc, region, "Preemptible")
        except NotListed:
            spot = None
        return {"on_demand": od, "spot": spot}
    family = snap["families"][name.split("-")[0]]
    args = (engine, family["core"], family["ram"], row["vcpus"], row["memory_gib"], region)
    od = api.family_price(*args, "OnDemand")
    try:
        spot = api.family_price(*args, "Preemptible")
    except NotListed:
        spot = None
    return {"on_demand": od, "spot": spot}


def refresh(cloud: str, client: httpx.Client, *, today: str, extra_regions: Optional[list[str]] = None,
            api_key: Optional[str] = None, current: Optional[dict[str, Any]] = None) -> RefreshResult:
    """A new snapshot for `cloud`, dated `today`, from the price API behind `client`."""
    from cost.snapshot import snapshot

    snap = copy.deepcopy(current if current is not None else snapshot(cloud))
    extra = list(extra_regions or [])
    result = RefreshResult(cloud=cloud, snapshot=snap)
    source = SOURCE_KEY[cloud]
    try:
        api, service_price = _service_fetcher(cloud, client, api_key)
        for price_id, row in sorted(snap["prices"].items()):
            query = row.get("query")
            if not query:
                continue
            new: dict[str, Any] = {}
            for region in _regions(row, [] if GLOBAL in row["regions"] else extra):
                asked = query.get("region", region) if region == GLOBAL else region
                try:
                    new[region] = {"usd": round(service_price(query, asked), 10), "source": source, "date": today}
                    result.updated += 1
                except NotListed as why:
                    result.dropped.append(f"{price_id} {region}: {why}")
            row["regions"] = new
        for kind in ("machines", "accelerators"):
            for name, row in sorted(snap.get(kind, {}).items()):
                if cloud == "gcp" and not row.get("query"):
                    continue  # no family / GPU SKU query: carried over unchanged, with its own date
                new = {}
                for region in _regions(row, extra):
                    old = row["regions"].get(region, {})
                    try:
                        entry = _machine_prices(cloud, api, snap, name, row, region, old)
                    except NotListed as why:
                        result.dropped.append(f"{name} {region}: {why}")
                        continue
                    new[region] = {**entry, "source": source, "date": today}
                    result.updated += 1
                row["regions"] = new
    except httpx.HTTPError as exc:
        try:
            url = exc.request.url
            where = f"{url.scheme}://{url.host}{url.path}"
        except RuntimeError:  # an error raised before any request was built
            where = "the price API"
        raise PrerequisiteMissing(f"mlinfra prices refresh --cloud {cloud}: cannot read {where} "
                                  f"({type(exc).__name__}); the refresh needs network access to the price API") from None
    snap["snapshot_date"] = today
    return result


def write(result: RefreshResult, prices_dir: Path = PRICES_DIR) -> Path:
    path = snapshot_path(result.cloud, prices_dir)
    path.write_text(json.dumps(result.snapshot, indent=1, sort_keys=True) + "\n")
    return path


def gcp_api_key() -> Optional[str]:
    return os.environ.get(GCP_KEY_ENV) or None
