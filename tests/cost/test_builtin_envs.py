"""The built-in environments priced on every cloud; expectations derived here from price rows and plan inputs."""
from __future__ import annotations

import json

import pytest

from components.spec import UsageSpec
from cost.estimate import PRICES_DIR, estimate
from stacks.offline import plan_environment
from tests.helpers import CLOUDS, PROJECT_DIR

H = 730
USAGE = UsageSpec()  # the built-in environments leave usage at its documented defaults
STORAGE = {"aws": "aws:s3/bucket:Bucket", "gcp": "gcp:storage/bucket:Bucket",
           "azure": "azure-native:storage:StorageAccount"}


@pytest.fixture(scope="module")
def priced():
    out = {}
    for env in ("dev", "prod"):
        for cloud in CLOUDS:
            plan = plan_environment(PROJECT_DIR, env, cloud)
            out[env, cloud] = (plan, estimate(plan))
    return out


def gib(text) -> float:
    text = str(text)
    return float(text[:-2]) / 1024 if text.endswith("Mi") else float(text.removesuffix("Gi"))


def book(cloud):
    return json.loads((PRICES_DIR / f"{cloud}.json").read_text())


def p(cloud, price_id):
    return book(cloud)["prices"][price_id]["usd"]


def lines_of(report, type_token):
    return [line for line in report.lines if line.type == type_token]


CASES = [(env, cloud) for env in ("dev", "prod") for cloud in CLOUDS]


@pytest.mark.parametrize("env,cloud", CASES)
def test_nothing_is_unpriced_and_the_total_is_the_sum(priced, env, cloud):
    plan, report = priced[env, cloud]
    assert report.unpriced == []
    assert report.to_dict()["monthly_usd"] == pytest.approx(sum(line.monthly_usd for line in report.lines), abs=0.01)
    assert report.monthly_usd > 0


@pytest.mark.parametrize("env,cloud", CASES)
def test_storage_line(priced, env, cloud):
    plan, report = priced[env, cloud]
    (line,) = lines_of(report, STORAGE[cloud])
    rule = book(cloud)["rules"][STORAGE[cloud]]
    prices = rule["prices"]
    if "variant" in rule:  # Azure: by the account's redundancy SKU
        sku = plan.of_type(STORAGE[cloud])[0].inputs["sku"]["name"]
        prices = rule["variants"].get(sku, prices)
    expected = sum(getattr(USAGE, f"storage_{t}_gb") * p(cloud, prices[t]) for t in ("hot", "warm", "cold", "archive"))
    assert line.monthly_usd == pytest.approx(expected) and line.assumption


def _serving_expected(cloud, env, plan):
    """(type token, expected monthly USD of the serving compute) from the plan's own inputs."""
    machines = book(cloud)["machines"]
    if cloud == "aws" and plan.of_type("aws:ecs/service:Service"):
        svc = plan.of_type("aws:ecs/service:Service")[0].inputs
        task = plan.of_type("aws:ecs/taskDefinition:TaskDefinition")[0].inputs
        per_task = int(task["cpu"]) / 1024 * p(cloud, "fargate_vcpu_hour") + int(task["memory"]) / 1024 * p(cloud, "fargate_gib_hour")
        return "aws:ecs/service:Service", svc["desiredCount"] * H * per_task
    if cloud == "aws":
        group = next(g for g in plan.of_type("aws:autoscaling/group:Group") if "serving" in g.name)
        template = next(t for t in plan.of_type("aws:ec2/launchTemplate:LaunchTemplate") if t.parent == group.parent)
        count = group.inputs.get("desiredCapacity", group.inputs["minSize"])
        return "aws:autoscaling/group:Group", count * H * machines[template.inputs["instanceType"]]["usd_hour"]
    if cloud == "gcp" and plan.of_type("gcp:cloudrunv2/service:Service"):
        run = plan.of_type("gcp:cloudrunv2/service:Service")[0].inputs["template"]
        limits = run["containers"][0]["resources"]["limits"]
        cpu, mem = float(limits["cpu"]), gib(limits["memory"])
        active = USAGE.requests_per_month * USAGE.request_seconds
        expected = (active * (cpu * p(cloud, "run_vcpu_second") + mem * p(cloud, "run_gib_second"))
                    + USAGE.requests_per_month / 1e6 * p(cloud, "run_request_million"))
        idle = (run.get("scaling") or {}).get("minInstanceCount") or 0
        expected += max(0, idle * H * 3600 - active) * (cpu * p(cloud, "run_idle_vcpu_second")
                                                        + mem * p(cloud, "run_idle_gib_second"))
        return "gcp:cloudrunv2/service:Service", expected
    if cloud == "gcp":
        token = "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager"
        group = plan.of_type(token)[0]
        template = next(t for t in plan.of_type("gcp:compute/instanceTemplate:InstanceTemplate")
                        if not t.inputs.get("guestAccelerators"))
        scaler = plan.of_type("gcp:compute/regionAutoscaler:RegionAutoscaler")
        count = scaler[0].inputs["autoscalingPolicy"]["minReplicas"] if scaler else group.inputs["targetSize"]
        return token, count * H * machines[template.inputs["machineType"]]["usd_hour"]
    if plan.of_type("azure-native:app:ContainerApp"):
        tpl = plan.of_type("azure-native:app:ContainerApp")[0].inputs["template"]
        res = tpl["containers"][0]["resources"]
        cpu, mem = float(res["cpu"]), gib(res["memory"])
        active = USAGE.requests_per_month * USAGE.request_seconds
        expected = (active * (cpu * p(cloud, "aca_vcpu_second") + mem * p(cloud, "aca_gib_second"))
                    + USAGE.requests_per_month / 1e6 * p(cloud, "aca_request_million"))
        idle = (tpl.get("scale") or {}).get("minReplicas") or 0
        expected += max(0, idle * H * 3600 - active) * (cpu * p(cloud, "aca_idle_vcpu_second")
                                                        + mem * p(cloud, "aca_idle_gib_second"))
        return "azure-native:app:ContainerApp", expected
    token = "azure-native:compute:VirtualMachineScaleSet"
    vmss = next(v for v in plan.of_type(token) if v.inputs["sku"]["name"] in machines)
    return token, vmss.inputs["sku"]["capacity"] * H * machines[vmss.inputs["sku"]["name"]]["usd_hour"]


@pytest.mark.parametrize("env,cloud", CASES)
def test_serving_compute_line(priced, env, cloud):
    plan, report = priced[env, cloud]
    token, expected = _serving_expected(cloud, env, plan)
    priced_lines = lines_of(report, token)
    assert sum(line.monthly_usd for line in priced_lines
               if "training" not in line.name and "train" not in line.name) == pytest.approx(expected)


@pytest.mark.parametrize("env,cloud", CASES)
def test_hourly_network_lines(priced, env, cloud):
    plan, report = priced[env, cloud]
    rules = book(cloud)["rules"]
    for token, rule in rules.items():
        if rule["kind"] != "hourly" or "when" in rule or "assumed_quantity" in rule:
            continue
        for resource in plan.of_type(token):
            (line,) = [ln for ln in report.lines if ln.urn == resource.urn]
            assert line.monthly_usd == pytest.approx(H * p(cloud, rule["price"])), resource.name


def test_prod_training_template_costs_nothing_at_zero_training_hours(priced):
    for cloud in CLOUDS:
        plan, report = priced["prod", cloud]
        gpu_lines = [ln for ln in report.lines if "accelerator catalog" in ln.basis]
        assert gpu_lines, cloud  # the training machine is recognised as a catalog GPU machine
        assert all(ln.monthly_usd == 0 for ln in gpu_lines), cloud
