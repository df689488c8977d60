"""GPU training on GCP: the catalog's machine, spot scheduling, identity, shared filesystem."""
from __future__ import annotations

import pytest

from components import catalog
from tests.helpers import inputs

from .util import IMAGE, REGION, named, plan_gcp

TEMPLATE = "gcp:compute/instanceTemplate:InstanceTemplate"
GROUP = "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager"
GCP_OFFERS = [(o.accelerator, o.gpus) for o in catalog.offers("gcp")]


def train(training: dict, **kwargs):
    return plan_gcp({"serving": {"image": IMAGE}, "alerts": {"enabled": False},
                     "training": {"enabled": True, **training}}, **kwargs)


def template(plan):
    return named(plan, "digits-dev-train-template").inputs


@pytest.fixture(scope="module")
def spot():
    return train({"accelerator": "T4", "gpus_per_machine": 1, "machines": 0})


@pytest.mark.parametrize("accelerator, gpus", GCP_OFFERS, ids=[f"{a}x{g}" for a, g in GCP_OFFERS])
def test_each_catalog_offer_becomes_its_machine(accelerator, gpus):
    offer = next(o for o in catalog.offers("gcp") if (o.accelerator, o.gpus) == (accelerator, gpus))
    region = REGION if REGION in offer.regions else sorted(offer.regions)[0]
    plan = train({"accelerator": accelerator, "gpus_per_machine": gpus}, regions={"gcp": region})
    t = template(plan)
    assert t["machineType"] == offer.machine_type == plan.outputs["training_machine_type"]
    if offer.attach:  # N1: GPUs are attached to the machine
        assert t["guestAccelerators"] == [{"type": offer.gpu_type, "count": gpus}]
    else:  # A2 / A3 / G2: the machine type carries its GPUs
        assert "guestAccelerators" not in t


def test_spot_scheduling(spot):
    # On preemption Compute Engine stops (default) or deletes a Spot VM per its termination action
    # (https://cloud.google.com/compute/docs/instances/create-use-spot); a stopped VM still pays for
    # its disks (https://cloud.google.com/compute/docs/instances/stop-start-instance), so DELETE.
    assert template(spot)["scheduling"] == {"provisioningModel": "SPOT", "preemptible": True,
                                            "automaticRestart": False, "instanceTerminationAction": "DELETE",
                                            "onHostMaintenance": "TERMINATE"}


def test_on_demand_scheduling():
    t = template(train({"spot": False}))
    assert t["scheduling"] == {"provisioningModel": "STANDARD", "preemptible": False, "automaticRestart": True,
                               "onHostMaintenance": "TERMINATE"}


def test_template_image_disk_network(spot):
    t = template(spot)
    (disk,) = t["disks"]
    assert disk["sourceImage"].startswith("projects/deeplearning-platform-release/global/images/family/")
    assert disk["diskSizeGb"] == 200 and disk["boot"] is True
    assert t["networkInterfaces"] == [{"subnetwork": f"projects/mlinfra-mock-project/regions/{REGION}/subnetworks/"
                                                     "digits-dev-train-subnet"}]  # no public IP
    assert t["metadata"]["enable-oslogin"] == "TRUE"
    assert t["labels"]["mlinfra-role"] == "training" and t["labels"]["managed-by"] == "mlinfra"
    assert spot.outputs["training_template"].startswith(
        "https://www.googleapis.com/compute/v1/projects/mlinfra-mock-project/global/instanceTemplates/digits-dev-train-")


def test_image_override_and_disk_size():
    t = template(train({"image": "projects/acme/global/images/trainer-v3", "boot_disk_gib": 500}))
    assert t["disks"][0]["sourceImage"] == "projects/acme/global/images/trainer-v3"
    assert t["disks"][0]["diskSizeGb"] == 500


def test_zero_machines_is_the_template_only(spot):
    assert spot.of_type(GROUP) == []


def test_machines_run_in_a_group_of_that_size():
    group = inputs(train({"machines": 3}), GROUP)
    assert group["targetSize"] == 3
    assert group["distributionPolicyTargetShape"] == "ANY_SINGLE_ZONE"
    assert group["versions"][0]["instanceTemplate"].startswith(
        "https://www.googleapis.com/compute/v1/projects/mlinfra-mock-project/global/instanceTemplates/digits-dev-train-")


def test_training_identity_scope(spot):
    bucket = spot.outputs["bucket"]
    grants = {g.inputs["role"]: g.inputs["condition"]["expression"]
              for g in spot.of_type("gcp:storage/bucketIAMMember:BucketIAMMember")
              if g.inputs["member"].startswith("serviceAccount:digits-dev-train@")}
    assert set(grants) == {"roles/storage.objectViewer", "roles/storage.objectUser"}
    for prefix in ("data/", "runs/", "models/"):
        assert f"projects/_/buckets/{bucket}/objects/{prefix}" in grants["roles/storage.objectViewer"]
    write = grants["roles/storage.objectUser"]
    # models/ is what serving loads (components/release.py): training may read it, never replace it.
    assert "/objects/runs/" in write and "/objects/models/" not in write and "/objects/data/" not in write
    assert 'startsWith("models/")' not in write  # nor list-and-write through the prefix condition
    project_roles = sorted(r.inputs["role"] for r in spot.of_type("gcp:projects/iAMMember:IAMMember"))
    assert project_roles == ["roles/logging.logWriter", "roles/monitoring.metricWriter"]
    readers = [r.inputs["member"] for r in
               spot.of_type("gcp:artifactregistry/repositoryIamMember:RepositoryIamMember")]
    assert "serviceAccount:digits-dev-train@mlinfra-mock-project.iam.gserviceaccount.com" in readers


def test_shared_filesystem_reachable_from_training_only():
    plan = train({"shared_filesystem": True, "shared_filesystem_gib": 2048})
    fs = inputs(plan, "gcp:filestore/instance:Instance")
    assert fs["tier"] == "BASIC_HDD" and fs["fileShares"]["capacityGb"] == 2048
    assert fs["fileShares"]["nfsExportOptions"][0]["ipRanges"] == ["10.20.0.0/20"]  # the training subnet
    assert fs["networks"][0]["network"] == "digits-dev-vpc"
    allow = named(plan, "digits-dev-train-fs-allow").inputs
    deny = named(plan, "digits-dev-train-fs-deny").inputs
    assert allow["targetServiceAccounts"] == ["digits-dev-train@mlinfra-mock-project.iam.gserviceaccount.com"]
    assert allow["priority"] < deny["priority"] and "targetServiceAccounts" not in deny
    assert {p for a in allow["allows"] for p in a["ports"]} == {"111", "2049", "20048"}
    assert allow["destinationRanges"] == deny["destinationRanges"] == ["10.30.0.0/29"]
    assert "mount -t nfs" in template(plan)["metadata"]["startup-script"]
