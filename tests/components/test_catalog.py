"""The accelerator catalog: every accelerator per cloud, and the errors a user reads when it cannot be had."""
from __future__ import annotations

import json

import pytest

from components import catalog
from components.errors import ConfigError
from components.providers.base import cloud_names

DATA = json.loads(catalog.DATA_FILE.read_text())
ROWS = [(cloud, row) for cloud, block in DATA["clouds"].items() for row in block["offers"]]


def test_catalog_names_the_required_accelerators_and_every_registered_cloud():
    assert {"T4", "L4", "A10G", "A100", "H100"} <= set(catalog.accelerators())
    assert set(catalog.catalog_clouds()) == set(cloud_names())


@pytest.mark.parametrize("cloud,row", ROWS, ids=[f"{c}-{r['machine_type']}" for c, r in ROWS])
def test_every_row_names_its_regions_and_carries_no_price(cloud, row):
    # Prices live per region in the dated snapshot (cost/prices/<cloud>.json), never in the catalog:
    # one catalog-wide price per machine was what priced eu-west-1 at the us-east-1 figure (issue 21).
    assert row["accelerator"] in catalog.accelerators()
    assert not {"on_demand_usd_hour", "spot_usd_hour", "price_region"} & set(row)
    assert row["regions"] and all(r in DATA["region_locations"] for r in row["regions"])
    assert row["gpus"] >= 1 and row["vcpus"] >= 1


@pytest.mark.parametrize("cloud", cloud_names())
def test_one_machine_per_accelerator_and_count(cloud):
    keys = [(o.accelerator, o.gpus) for o in catalog.offers(cloud)]
    assert len(keys) == len(set(keys))


# Each catalog accelerator on each cloud, in a region that offers it: the machine a provider builds.
LOOKUPS = [
    ("aws", "T4", 1, "eu-west-1", "g4dn.xlarge", "nvidia-tesla-t4", False),
    ("aws", "L4", 1, "us-east-1", "g6.xlarge", "nvidia-l4", False),
    ("aws", "A10G", 4, "us-west-2", "g5.12xlarge", "nvidia-a10g", False),
    ("aws", "A100", 8, "eu-west-1", "p4d.24xlarge", "nvidia-tesla-a100", False),
    ("aws", "H100", 8, "us-east-1", "p5.48xlarge", "nvidia-h100-80gb", False),
    ("gcp", "T4", 1, "europe-west1", "n1-standard-4", "nvidia-tesla-t4", True),
    ("gcp", "T4", 4, "us-central1", "n1-standard-16", "nvidia-tesla-t4", True),
    ("gcp", "L4", 1, "europe-west1", "g2-standard-4", "nvidia-l4", False),
    ("gcp", "A100", 1, "europe-west4", "a2-highgpu-1g", "nvidia-tesla-a100", False),
    ("gcp", "H100", 8, "us-central1", "a3-highgpu-8g", "nvidia-h100-80gb", False),
    ("azure", "T4", 1, "westeurope", "Standard_NC4as_T4_v3", "nvidia-tesla-t4", False),
    ("azure", "A10", 1, "westeurope", "Standard_NV36ads_A10_v5", "nvidia-a10", False),
    ("azure", "A100", 1, "eastus", "Standard_NC24ads_A100_v4", "nvidia-tesla-a100", False),
    ("azure", "H100", 8, "eastus", "Standard_ND96isr_H100_v5", "nvidia-h100-80gb", False),
]


@pytest.mark.parametrize("cloud,accel,gpus,region,machine,gpu_type,attach", LOOKUPS)
def test_lookup(cloud, accel, gpus, region, machine, gpu_type, attach):
    offer = catalog.lookup(cloud, accel.lower(), gpus, region)
    assert (offer.cloud, offer.accelerator, offer.gpus) == (cloud, accel, gpus)
    assert (offer.machine_type, offer.gpu_type, offer.attach) == (machine, gpu_type, attach)
    assert region in offer.regions
    assert catalog.find(cloud, machine, gpus) == offer


@pytest.mark.parametrize("cloud", cloud_names())
def test_every_offer_is_found_by_lookup_in_each_of_its_regions(cloud):
    for offer in catalog.offers(cloud):
        for region in offer.regions:
            assert catalog.lookup(cloud, offer.accelerator, offer.gpus, region) == offer


def test_the_default_training_machine_exists_in_the_built_in_regions():
    # Pulumi.dev/prod.yaml regions; the spec's default is one T4.
    for cloud, region in {"aws": "eu-west-1", "gcp": "europe-west1", "azure": "westeurope"}.items():
        assert catalog.lookup(cloud, "T4", 1, region).gpus == 1


def _error(*args) -> str:
    with pytest.raises(ConfigError) as info:
        catalog.lookup(*args)
    assert info.value.exit_code == 3
    assert "\n" not in info.value.message
    return info.value.message


def test_unknown_accelerator_lists_the_catalog():
    assert _error("aws", "V100", 1, "us-east-1") == (
        "mlinfra:service.training.accelerator: 'V100' is not in the catalog; allowed: "
        + ", ".join(catalog.accelerators()))


def test_accelerator_a_cloud_lacks_names_the_nearest_alternative():
    assert _error("gcp", "A10G", 1, "europe-west1") == (
        "mlinfra:service.training.accelerator: GCP has no A10G machines; nearest alternative: L4 (g2-standard-4); "
        "GCP offers: T4, L4, A100, H100")
    assert _error("azure", "L4", 1, "westeurope").startswith(
        "mlinfra:service.training.accelerator: Azure has no L4 machines; nearest alternative: A10 "
        "(Standard_NV36ads_A10_v5)")


def test_gpu_count_without_a_machine_lists_the_sizes():
    assert _error("aws", "A100", 3, "us-east-1") == (
        "mlinfra:service.training.gpus_per_machine: AWS has no A100 machine with 3 GPUs; sizes: 8")
    assert _error("gcp", "T4", 8, "us-central1").endswith("GCP has no T4 machine with 8 GPUs; sizes: 1, 2, 4")


def test_region_without_the_machine_names_the_nearest_regions_that_have_it():
    msg = _error("aws", "A100", 8, "eu-north-1")
    assert msg.startswith("mlinfra:regions.aws: A100 x8 (p4d.24xlarge) is not offered in eu-north-1; "
                          "nearest regions that offer it: eu-central-1, eu-west-1, us-east-1")
    # and what eu-north-1 does have instead
    assert msg.endswith("accelerators offered in eu-north-1: T4, L4, A10G, H100")


def test_region_error_names_other_sizes_of_the_same_accelerator_when_the_region_has_them():
    msg = _error("aws", "T4", 8, "eu-north-1")
    assert msg == ("mlinfra:regions.aws: T4 x8 (g4dn.metal) is not offered in eu-north-1; nearest regions that offer "
                   "it: eu-central-1, eu-west-1, us-east-1; T4 sizes offered in eu-north-1: 1, 4")


def test_gcp_a100_is_not_in_europe_west1_and_the_neighbour_is_suggested():
    msg = _error("gcp", "A100", 1, "europe-west1")
    assert "nearest regions that offer it: europe-west4," in msg


def test_nearest_regions_rank_by_distance_and_fall_back_on_the_name():
    assert catalog.nearest_regions("eu-north-1", ["us-east-1", "ap-northeast-1", "eu-west-1", "eu-central-1"]) == [
        "eu-central-1", "eu-west-1", "us-east-1"]
    # a region with no known location: same geography prefix first
    assert catalog.nearest_regions("eu-nowhere-9", ["us-east-1", "eu-west-1"], n=1) == ["eu-west-1"]


def test_unknown_cloud_is_a_config_error():
    with pytest.raises(ConfigError, match="allowed: aws, gcp, azure"):
        catalog.offers("ibm")
