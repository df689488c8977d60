"""The dated price snapshot shipped in `cost/prices/<cloud>.json`, read per region.

A snapshot row is one priced thing (`nat_hour`, a machine type, a GCP accelerator) with a price
per region. Every regional price names its source (a key of the file's `sources`, or the row's
own pricing page `url`) and the date it was read. `mlinfra prices refresh` (cost/refresh.py)
regenerates the file from the clouds' price APIs; nothing here touches the network.

Region resolution is strict: a resource is priced in its own region, or at the row's single
global price (`"*"`) when the cloud publishes one price for every region. Anything else raises
Unpriced naming the region and the regions the snapshot has - never another region's price.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Optional

from components.errors import ConfigError

PRICES_DIR = Path(__file__).resolve().parent / "prices"
GLOBAL = "*"  # the row's one price for every region (the price list publishes no regional variation)


class Unpriced(Exception):
    """A price the snapshot lacks (region, SKU or spot price); the message says which and why."""


@dataclass(frozen=True)
class Price:
    usd: float
    unit: str
    what: str
    region: str  # the region whose price this is, or "*" for a global price
    source: str  # URL (with what it is)
    date: str

    def describe(self) -> str:
        where = "all regions" if self.region == GLOBAL else self.region
        return f"{self.usd:g} USD/{self.unit} ({self.what}, {where})"


@dataclass(frozen=True)
class MachinePrice:
    machine_type: str
    region: str
    on_demand: float
    spot: Optional[float]  # as observed; None when the snapshot holds no spot price for this region
    source: str
    date: str

    def usd_hour(self, spot: bool) -> float:
        if not spot:
            return self.on_demand
        if self.spot is None:
            raise Unpriced(f"the price snapshot has no observed spot price for {self.machine_type} in {self.region}")
        return self.spot

    @property
    def saving_percent(self) -> Optional[float]:
        return None if self.spot is None else round(100 * (1 - self.spot / self.on_demand), 1)


def snapshot_path(cloud: str, prices_dir: Path = PRICES_DIR) -> Path:
    return prices_dir / f"{cloud}.json"


@lru_cache(maxsize=None)
def snapshot(cloud: str) -> dict[str, Any]:
    path = snapshot_path(cloud)
    if not path.is_file():
        known = sorted(p.stem for p in PRICES_DIR.glob("*.json"))
        raise ConfigError(f"cost: no price snapshot for cloud {cloud!r}; priced clouds: {', '.join(known)}")
    return json.loads(path.read_text())


def snapshot_date(cloud: str) -> str:
    return str(snapshot(cloud)["snapshot_date"])


def _source(cloud: str, row: dict[str, Any], entry: dict[str, Any], key: str = "source") -> str:
    ref = entry.get(key, "page")
    if ref == "page":
        return str(entry.get("url") or row.get("url", ""))
    src = snapshot(cloud)["sources"][ref]
    return f"{src['url']} ({src['what']})"


def _entry(cloud: str, kind: str, key: str, region: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    rows = snapshot(cloud).get(kind, {})
    row = rows.get(key)
    if row is None:
        raise Unpriced(f"the price snapshot ({snapshot_date(cloud)}) has no {kind[:-1]} {key}")
    regions = row["regions"]
    if region in regions:
        return row, regions[region], region
    if GLOBAL in regions:
        return row, regions[GLOBAL], GLOBAL
    have = ", ".join(sorted(regions)) or "none"
    raise Unpriced(f"the price snapshot ({snapshot_date(cloud)}) has no {region} price for {key}; regions it has: {have}")


def price(cloud: str, price_id: str, region: str) -> Price:
    """One service price (`nat_hour`, `s3_standard_gb_month`...) in `region`, or Unpriced."""
    row, entry, where = _entry(cloud, "prices", price_id, region)
    return Price(usd=float(entry["usd"]), unit=row["unit"], what=row["what"], region=where,
                 source=_source(cloud, row, entry), date=str(entry["date"]))


def _machine_row(cloud: str, kind: str, key: str, region: str) -> MachinePrice:
    row, entry, where = _entry(cloud, kind, key, region)
    spot = entry.get("spot")
    return MachinePrice(machine_type=key, region=where, on_demand=float(entry["on_demand"]),
                        spot=None if spot is None else float(spot), source=_source(cloud, row, entry),
                        date=str(entry["date"]))


def machine(cloud: str, machine_type: str, region: str, gpus: int = 0, gpu_type: str = "") -> MachinePrice:
    """A machine's hourly list price in `region`; GPUs included.

    GCP bills a GPU machine as its host plus each accelerator (Compute Engine pricing lists
    "GPU pricing" separately from the a2/a3/g2/n1 machine prices), so the snapshot holds GCP
    hosts and accelerators apart and they are added here; AWS and Azure price the whole machine.
    """
    host = _machine_row(cloud, "machines", machine_type, region)
    if not gpus or "accelerators" not in snapshot(cloud):
        return host
    gpu = _machine_row(cloud, "accelerators", gpu_type, region)
    spot = None if host.spot is None or gpu.spot is None else round(host.spot + gpus * gpu.spot, 6)
    return MachinePrice(machine_type=f"{machine_type} + {gpus} x {gpu_type}", region=region,
                        on_demand=round(host.on_demand + gpus * gpu.on_demand, 6), spot=spot,
                        source=f"{host.source}; {gpu.source}", date=min(host.date, gpu.date))


def regions_with_machine(cloud: str, machine_type: str) -> list[str]:
    row = snapshot(cloud).get("machines", {}).get(machine_type)
    return sorted(row["regions"]) if row else []


def machine_vcpus(cloud: str, machine_type: str) -> float:
    """vCPUs of a machine type as the snapshot records them (0 when it does not)."""
    row = snapshot(cloud).get("machines", {}).get(machine_type)
    return float(row.get("vcpus", 0)) if row else 0.0
