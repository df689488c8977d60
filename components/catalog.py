"""The accelerator catalog: accelerator x GPU count -> each cloud's machine type and the regions offering it.

The data lives in `components/data/accelerators.json`: which machine carries which GPUs and
where it is offered. Prices are not part of the catalog: they are per region in the dated price
snapshot (`cost/prices/<cloud>.json`, read by cost/snapshot.py). This module only reads the
catalog and answers questions; it imports no cloud SDK, so the CLI and `provider.check()` can
use it freely. Errors name the config key a user changes (`mlinfra:service.training.accelerator`).
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Optional

from components.errors import ConfigError

DATA_FILE = Path(__file__).resolve().parent / "data" / "accelerators.json"
ACCELERATOR_KEY = "mlinfra:service.training.accelerator"
GPUS_KEY = "mlinfra:service.training.gpus_per_machine"
# How many regions an error suggests: enough to choose from, short enough for one line.
NEAREST = 3


@dataclass(frozen=True)
class Offer:
    """One machine type of one cloud that carries `gpus` x `accelerator`."""

    cloud: str
    accelerator: str
    gpus: int
    machine_type: str
    gpu_type: str  # the cloud's accelerator id (GCP acceleratorType), e.g. nvidia-tesla-t4
    attach: bool  # GPUs attached to a general-purpose machine (GCP n1) rather than built in
    vcpus: int
    memory_gib: float
    gpu_memory_gib: float
    regions: tuple[str, ...]

    @property
    def label(self) -> str:
        return f"{self.accelerator} x{self.gpus} ({self.machine_type})"

    def to_dict(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["regions"] = list(self.regions)
        return doc


@lru_cache(maxsize=1)
def _data() -> dict[str, Any]:
    return json.loads(DATA_FILE.read_text())


@lru_cache(maxsize=1)
def _offers() -> tuple[Offer, ...]:
    rows: list[Offer] = []
    for cloud, block in _data()["clouds"].items():
        for row in block["offers"]:
            rows.append(Offer(cloud=cloud, **{**row, "regions": tuple(row["regions"])}))
    return tuple(rows)


def accelerators() -> list[str]:
    """Every accelerator name in the catalog, in catalog order (smallest first)."""
    return list(_data()["accelerators"])


def catalog_clouds() -> list[str]:
    return list(_data()["clouds"])


def display_name(cloud: str) -> str:
    return _data()["clouds"].get(cloud, {}).get("display_name", cloud)


def about() -> str:
    return _data()["_about"]


def _check_cloud(cloud: str) -> None:
    if cloud not in _data()["clouds"]:
        raise ConfigError(f"mlinfra:cloud: {cloud!r} is not in the accelerator catalog; "
                          f"allowed: {', '.join(catalog_clouds())}")


def offers(cloud: Optional[str] = None) -> list[Offer]:
    """The catalog rows, for one cloud or all, in file order."""
    if cloud is not None:
        _check_cloud(cloud)
    return [o for o in _offers() if cloud is None or o.cloud == cloud]


def find(cloud: str, machine_type: str, gpus: Optional[int] = None) -> Optional[Offer]:
    """The row for a machine type (and GPU count, for attach-style machines), or None."""
    for offer in _offers():
        if offer.cloud == cloud and offer.machine_type == machine_type and (gpus is None or offer.gpus == gpus):
            return offer
    return None


def _distance_km(a: str, b: str) -> float:
    """Great-circle distance between two regions' approximate locations; inf when one is unknown."""
    locations = _data()["region_locations"]
    if a not in locations or b not in locations:
        return math.inf
    (lat1, lon1), (lat2, lon2) = (map(math.radians, locations[a]), map(math.radians, locations[b]))
    hav = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371 * math.asin(math.sqrt(hav))


def nearest_regions(region: str, candidates: tuple[str, ...] | list[str], n: int = NEAREST) -> list[str]:
    """Candidates ranked by distance from `region`.

    Ranking: great-circle distance between the regions' approximate city locations
    (`region_locations` in the data file). A region without a location falls back to sharing the
    name's geography prefix (`eu-`, `europe-`, `us`...), then alphabetical order.
    """
    stem = region.split("-")[0][:2]

    def rank(candidate: str) -> tuple[float, int, str]:
        return (_distance_km(region, candidate), 0 if candidate.startswith(stem) else 1, candidate)

    return sorted(candidates, key=rank)[:n]


def _alternatives(cloud: str, accelerator: str) -> list[str]:
    here = {o.accelerator for o in _offers() if o.cloud == cloud}
    return [a for a in _data()["accelerators"][accelerator].get("alternatives", []) if a in here]


def lookup(cloud: str, accelerator: str, gpus: int, region: str) -> Offer:
    """The machine of `cloud` with `gpus` x `accelerator` offered in `region`, or a ConfigError saying why not."""
    _check_cloud(cloud)
    name = display_name(cloud)
    accelerator = str(accelerator).upper()
    known = accelerators()
    if accelerator not in known:
        raise ConfigError(f"{ACCELERATOR_KEY}: {accelerator!r} is not in the catalog; allowed: {', '.join(known)}")
    of_accel = [o for o in _offers() if o.cloud == cloud and o.accelerator == accelerator]
    if not of_accel:
        offered = sorted({o.accelerator for o in _offers() if o.cloud == cloud}, key=known.index)
        alts = _alternatives(cloud, accelerator)
        hint = ""
        if alts:
            best = min((o for o in _offers() if o.cloud == cloud and o.accelerator == alts[0]), key=lambda o: o.gpus)
            hint = f"; nearest alternative: {alts[0]} ({best.machine_type})"
        raise ConfigError(f"{ACCELERATOR_KEY}: {name} has no {accelerator} machines{hint}; "
                          f"{name} offers: {', '.join(offered)}")
    sized = [o for o in of_accel if o.gpus == gpus]
    if not sized:
        sizes = ", ".join(str(o.gpus) for o in sorted(of_accel, key=lambda o: o.gpus))
        raise ConfigError(f"{GPUS_KEY}: {name} has no {accelerator} machine with {gpus} GPU{'s' * (gpus != 1)}; "
                          f"sizes: {sizes}")
    offer = sized[0]
    if region in offer.regions:
        return offer
    near = nearest_regions(region, offer.regions)
    same_here = [o for o in of_accel if region in o.regions]
    if same_here:
        extra = f"; {accelerator} sizes offered in {region}: {', '.join(str(o.gpus) for o in same_here)}"
    else:
        here = [a for a in known if any(o.cloud == cloud and o.accelerator == a and region in o.regions
                                        for o in _offers())]
        extra = f"; accelerators offered in {region}: {', '.join(here)}" if here else ""
    raise ConfigError(f"mlinfra:regions.{cloud}: {offer.label} is not offered in {region}; "
                      f"nearest regions that offer it: {', '.join(near)}{extra}")
