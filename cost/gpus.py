"""GPU training prices: each catalog machine, per region, on-demand and spot as observed, and the saving.

The catalog (components/catalog.py) says which machine carries which GPUs and where it is offered;
the dated snapshot (cost/snapshot.py) prices it per region. A region that offers a machine but
has no price in the snapshot is listed as unpriced with the reason, never priced from elsewhere.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Optional

from components import catalog
from cost import snapshot


@dataclass(frozen=True)
class GpuPrice:
    cloud: str
    accelerator: str
    gpus: int
    machine_type: str
    region: str
    on_demand_usd_hour: float
    spot_usd_hour: Optional[float]  # as observed; None when the snapshot has no spot price here
    saving_percent: Optional[float]  # 100 x (1 - spot / on-demand)
    source: str
    date: str

    def usd_hour(self, spot: bool) -> Optional[float]:
        return self.spot_usd_hour if spot else self.on_demand_usd_hour

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class GpuReport:
    prices: list[GpuPrice]
    unpriced: list[dict[str, str]]
    cheapest: list[GpuPrice]
    snapshot_dates: dict[str, str]

    def to_dict(self) -> dict[str, Any]:
        return {"snapshot_dates": self.snapshot_dates, "offers": [p.to_dict() for p in self.prices],
                "cheapest": [p.to_dict() for p in self.cheapest], "unpriced": self.unpriced}


def price_offer(offer: catalog.Offer, region: str) -> GpuPrice:
    """One catalog machine in one region; raises snapshot.Unpriced when the snapshot lacks it there."""
    found = snapshot.machine(offer.cloud, offer.machine_type, region, gpus=offer.gpus, gpu_type=offer.gpu_type)
    return GpuPrice(cloud=offer.cloud, accelerator=offer.accelerator, gpus=offer.gpus,
                    machine_type=offer.machine_type, region=region, on_demand_usd_hour=found.on_demand,
                    spot_usd_hour=found.spot, saving_percent=found.saving_percent, source=found.source,
                    date=found.date)


def gpu_prices(clouds: list[str], region: Optional[str] = None, max_price: Optional[float] = None,
               spot: bool = False) -> GpuReport:
    """Every catalog machine of `clouds` in every region offering it (or only `region`).

    `max_price` keeps machines whose hourly price (spot when `spot`, else on-demand) is at most it;
    a machine without an observed spot price is left out of a spot filter. `cheapest` holds, per
    accelerator and GPU count, the lowest-priced region across the clouds after the filters.
    """
    prices: list[GpuPrice] = []
    unpriced: list[dict[str, str]] = []
    for cloud in clouds:
        for offer in catalog.offers(cloud):
            for where in offer.regions:
                if region is not None and where != region:
                    continue
                try:
                    prices.append(price_offer(offer, where))
                except snapshot.Unpriced as why:
                    unpriced.append({"cloud": cloud, "machine_type": offer.machine_type, "region": where,
                                     "reason": str(why)})
    if max_price is not None:
        prices = [p for p in prices if p.usd_hour(spot) is not None and p.usd_hour(spot) <= max_price]
    best: dict[tuple[str, int], GpuPrice] = {}
    for p in prices:
        cost = p.usd_hour(spot)
        if cost is None:
            continue
        key = (p.accelerator, p.gpus)
        held = best.get(key)
        if held is None or (cost, p.cloud, p.region) < (held.usd_hour(spot), held.cloud, held.region):
            best[key] = p
    order = catalog.accelerators()
    cheapest = [best[k] for k in sorted(best, key=lambda k: (order.index(k[0]), k[1]))]
    return GpuReport(prices=prices, unpriced=unpriced, cheapest=cheapest,
                     snapshot_dates={c: snapshot.snapshot_date(c) for c in clouds})
