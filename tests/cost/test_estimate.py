"""The estimator on hand-written plans: no provider code involved, every rule kind exercised."""
from __future__ import annotations

import json

import pytest

from components import catalog
from components.errors import ConfigError
from cost.estimate import PRICES_DIR, estimate
from stacks.plan import Plan, PlanResource

H = 730  # hours in a month, as the price files say
BOOK = {c: json.loads((PRICES_DIR / f"{c}.json").read_text()) for c in ("aws", "gcp", "azure")}


def usd(cloud: str, price_id: str) -> float:
    return BOOK[cloud]["prices"][price_id]["usd"]


def res(cloud: str, type_: str, name: str, inputs: dict, parent: str = "urn:svc", custom: bool = True) -> PlanResource:
    return PlanResource(urn=f"urn:pulumi:dev::mlinfra::{type_}::{name}", type=type_, name=name, parent=parent,
                        custom=custom, inputs=inputs)


USAGE = {"storage_hot_gb": 10, "storage_warm_gb": 20, "storage_cold_gb": 40, "storage_archive_gb": 1000,
         "requests_per_month": 2_000_000, "request_seconds": 0.2, "training_hours_per_month": 12, "registry_gb": 7}


def service(usage: dict | None = USAGE, **serving) -> PlanResource:
    svc = {"name": "digits", "serving": {"cpu": 1, "memory_gib": 2, **serving}}
    if usage is not None:
        svc["usage"] = usage
    return res("", "mlinfra:service:MLService", "digits-dev", {"env": "dev", "cloud": "x", "service": svc},
               parent=None, custom=False)


def plan(cloud: str, resources: list[PlanResource]) -> Plan:
    return Plan(stack="dev", env="dev", cloud=cloud, region="r", resources=resources)


def by_name(report) -> dict[str, list]:
    out: dict[str, list] = {}
    for line in report.lines:
        out.setdefault(line.name, []).append(line)
    return out


@pytest.fixture(scope="module")
def aws_report():
    return estimate(plan("aws", [
        service(),
        res("aws", "pulumi:providers:aws", "p", {}),
        res("aws", "mlinfra:storage:StorageTiers", "digits-dev-storage", {}, custom=False),
        res("aws", "aws:s3/bucket:Bucket", "data", {"bucket": "b"}),
        res("aws", "aws:iam/role:Role", "role", {}),
        res("aws", "aws:ecs/taskDefinition:TaskDefinition", "task", {"cpu": "2048", "memory": "4096"}, parent="urn:serving"),
        res("aws", "aws:ecs/service:Service", "svc", {"taskDefinition": "arn:...:task-definition/x:1"}, parent="urn:serving"),
        res("aws", "aws:appautoscaling/target:Target", "target", {"minCapacity": 2}, parent="urn:serving"),
        res("aws", "aws:ec2/natGateway:NatGateway", "nat", {}),
        res("aws", "aws:ec2/vpcEndpoint:VpcEndpoint", "s3-endpoint", {"vpcEndpointType": "Gateway"}),
        res("aws", "aws:ec2/vpcEndpoint:VpcEndpoint", "ecr-endpoint", {"vpcEndpointType": "Interface",
                                                                      "subnetIds": ["a", "b"]}),
        res("aws", "aws:lb/loadBalancer:LoadBalancer", "alb", {}),
        res("aws", "aws:ecr/repository:Repository", "images", {}),
        res("aws", "aws:ec2/launchTemplate:LaunchTemplate", "train-lt",
            {"instanceType": "g5.xlarge", "instanceMarketOptions": {"marketType": "spot"}}, parent="urn:training"),
        res("aws", "aws:autoscaling/group:Group", "train-asg", {"desiredCapacity": 2, "launchTemplate": {"id": "lt-1"}},
            parent="urn:training"),
        res("aws", "aws:ec2/launchTemplate:LaunchTemplate", "serve-lt", {"instanceType": "m7i.xlarge"},
            parent="urn:vm"),
        res("aws", "aws:autoscaling/group:Group", "serve-asg", {"minSize": 3, "launchTemplate": {"id": "lt-2"}},
            parent="urn:vm"),
        res("aws", "aws:ec2/launchTemplate:LaunchTemplate", "odd-lt", {"instanceType": "x9.huge"}, parent="urn:odd"),
        res("aws", "aws:autoscaling/group:Group", "odd-asg", {"minSize": 1, "launchTemplate": {"id": "lt-3"}},
            parent="urn:odd"),
        res("aws", "aws:sagemaker/domain:Domain", "studio", {}),
    ]))


def test_storage_tiers_from_usage(aws_report):
    (line,) = by_name(aws_report)["data"]
    expected = (10 * usd("aws", "s3_standard_gb_month") + 20 * usd("aws", "s3_standard_ia_gb_month")
                + 40 * usd("aws", "s3_glacier_ir_gb_month") + 1000 * usd("aws", "s3_deep_archive_gb_month"))
    assert line.monthly_usd == pytest.approx(expected)
    assert line.assumption is True and "archive 1000 GB" in line.basis


def test_fargate_tasks_from_the_task_definition_and_scaling_floor(aws_report):
    (line,) = by_name(aws_report)["svc"]
    assert line.monthly_usd == pytest.approx(2 * H * (2 * usd("aws", "fargate_vcpu_hour") + 4 * usd("aws", "fargate_gib_hour")))
    assert line.assumption is False


def test_hourly_and_conditional_lines(aws_report):
    lines = by_name(aws_report)
    assert lines["nat"][0].monthly_usd == pytest.approx(H * usd("aws", "nat_hour"))
    assert "s3-endpoint" not in lines  # a gateway endpoint is free
    assert lines["ecr-endpoint"][0].monthly_usd == pytest.approx(2 * H * usd("aws", "interface_endpoint_hour"))


def test_load_balancer_hour_and_capacity_units_from_requests(aws_report):
    hour, lcu = by_name(aws_report)["alb"]
    assert hour.monthly_usd == pytest.approx(H * usd("aws", "alb_hour")) and not hour.assumption
    rps = 2_000_000 / (H * 3600)
    assert lcu.monthly_usd == pytest.approx(H * rps / 25 * usd("aws", "alb_lcu_hour")) and lcu.assumption


def test_registry_storage_from_usage(aws_report):
    assert by_name(aws_report)["images"][0].monthly_usd == pytest.approx(7 * usd("aws", "ecr_gb_month"))


def test_gpu_training_priced_from_the_catalog(aws_report):
    spot = catalog.find("aws", "g5.xlarge").spot_usd_hour
    lines = by_name(aws_report)
    (template,) = lines["train-lt"]
    assert template.monthly_usd == pytest.approx(12 * spot) and template.assumption
    (group,) = lines["train-asg"]
    assert group.monthly_usd == pytest.approx(2 * H * spot) and not group.assumption


def test_vm_group_machine_type_comes_from_its_own_template(aws_report):
    lines = by_name(aws_report)
    assert "serve-lt" not in lines  # a serving template is priced on its group
    (group,) = lines["serve-asg"]
    assert group.monthly_usd == pytest.approx(3 * H * BOOK["aws"]["machines"]["m7i.xlarge"]["usd_hour"])


def test_unpriced_resources_are_listed_never_zero(aws_report):
    unpriced = {u["urn"].rsplit("::", 1)[-1]: u for u in aws_report.unpriced}
    assert set(unpriced) == {"studio", "odd-asg", "odd-lt"}
    assert unpriced["studio"]["reason"] == "no price rule for this type"
    assert "x9.huge" in unpriced["odd-asg"]["reason"]
    assert all(line.name not in unpriced for line in aws_report.lines)


def test_free_components_and_providers_are_neither_priced_nor_unpriced(aws_report):
    names = {line.name for line in aws_report.lines} | {u["urn"].rsplit("::", 1)[-1] for u in aws_report.unpriced}
    assert not names & {"role", "task", "target", "p", "digits-dev-storage", "digits-dev"}


def test_report_dict_shape_and_total(aws_report):
    doc = aws_report.to_dict()
    assert doc["currency"] == "USD"
    assert doc["monthly_usd"] == pytest.approx(sum(line["monthly_usd"] for line in doc["lines"]), abs=0.01)
    assert set(doc["lines"][0]) == {"urn", "type", "name", "monthly_usd", "basis", "assumption"}
    assert {"urn", "type"} <= set(doc["unpriced"][0])
    assert doc["usage"]["registry_gb"] == 7


def test_gcp_serverless_with_idle_minimum_and_autoscaled_group():
    report = estimate(plan("gcp", [
        service(),
        res("gcp", "gcp:cloudrunv2/service:Service", "run", {"template": {
            "containers": [{"resources": {"limits": {"cpu": "2", "memory": "512Mi"}}}],
            "scaling": {"minInstanceCount": 1}}}),
        res("gcp", "gcp:compute/instanceTemplate:InstanceTemplate", "tpl", {
            "machineType": "n1-standard-4", "guestAccelerators": [{"type": "nvidia-tesla-t4", "count": 1}],
            "scheduling": {"provisioningModel": "STANDARD"}}, parent="urn:training"),
        res("gcp", "gcp:compute/instanceTemplate:InstanceTemplate", "serve-tpl", {"machineType": "e2-standard-4"},
            parent="urn:vm"),
        res("gcp", "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager", "group",
            {"versions": [{"instanceTemplate": "https://.../serve-tpl"}]}, parent="urn:vm"),
        res("gcp", "gcp:compute/regionAutoscaler:RegionAutoscaler", "scaler",
            {"target": "group-id", "autoscalingPolicy": {"minReplicas": 2}}, parent="urn:vm"),
    ]))
    lines = by_name(report)
    active_s = 2_000_000 * 0.2
    active, idle = lines["run"]
    assert active.monthly_usd == pytest.approx(active_s * (2 * usd("gcp", "run_vcpu_second") + 0.5 * usd("gcp", "run_gib_second"))
                                               + 2 * usd("gcp", "run_request_million"))
    idle_s = H * 3600 - active_s
    assert idle.monthly_usd == pytest.approx(idle_s * (2 * usd("gcp", "run_idle_vcpu_second")
                                                       + 0.5 * usd("gcp", "run_idle_gib_second")))
    (tpl,) = lines["tpl"]  # n1 + one attached T4, on-demand
    assert tpl.monthly_usd == pytest.approx(12 * catalog.find("gcp", "n1-standard-4", 1).on_demand_usd_hour)
    (group,) = lines["group"]
    assert group.monthly_usd == pytest.approx(2 * H * BOOK["gcp"]["machines"]["e2-standard-4"]["usd_hour"])
    assert report.unpriced == []


def test_azure_storage_by_redundancy_registry_by_sku_and_gpu_scale_set():
    report = estimate(plan("azure", [
        service(),
        res("azure", "azure-native:storage:StorageAccount", "acct", {"sku": {"name": "Standard_ZRS"}}),
        res("azure", "azure-native:containerregistry:Registry", "acr", {"sku": {"name": "Premium"}}),
        res("azure", "azure-native:containerregistry:Registry", "acr-odd", {"sku": {"name": "Classic"}}),
        res("azure", "azure-native:compute:VirtualMachineScaleSet", "train", {
            "sku": {"name": "Standard_NC24ads_A100_v4", "capacity": 1},
            "virtualMachineProfile": {"priority": "Spot"}}),
    ]))
    lines = by_name(report)
    zrs = BOOK["azure"]["rules"]["azure-native:storage:StorageAccount"]["variants"]["Standard_ZRS"]
    assert lines["acct"][0].monthly_usd == pytest.approx(sum(
        USAGE[f"storage_{tier}_gb"] * usd("azure", zrs[tier]) for tier in ("hot", "warm", "cold", "archive")))
    assert lines["acr"][0].monthly_usd == pytest.approx(H / 24 * usd("azure", "acr_premium_day"))
    spot = catalog.find("azure", "Standard_NC24ads_A100_v4").spot_usd_hour
    running, adhoc = lines["train"]
    assert running.monthly_usd == pytest.approx(H * spot)
    assert adhoc.monthly_usd == pytest.approx(12 * spot) and adhoc.assumption
    assert [u["urn"].rsplit("::", 1)[-1] for u in report.unpriced] == ["acr-odd"]


def test_a_plan_without_a_service_description_uses_the_usage_defaults():
    from components.spec import UsageSpec

    report = estimate(plan("aws", [res("aws", "aws:ecr/repository:Repository", "images", {})]))
    assert report.lines[0].monthly_usd == pytest.approx(UsageSpec().registry_gb * usd("aws", "ecr_gb_month"))


@pytest.mark.parametrize("bad,shown", [({"storage_hot_gb": -5}, "-5"), ({"requests_per_month": "lots"}, '"lots"')])
def test_bad_usage_in_a_plan_is_a_config_error(bad, shown):
    p = plan("aws", [service(usage={**USAGE, **bad})])
    with pytest.raises(ConfigError) as info:
        estimate(p)
    key = next(iter(bad))
    assert info.value.exit_code == 3
    assert info.value.message.startswith(f"mlinfra:service.usage.{key}: {shown} is not allowed")


def test_every_price_row_is_sourced_and_dated_and_every_rule_names_known_rows():
    from cost.rules import RULES

    for cloud, book in BOOK.items():
        rows = {**book["prices"], **book["machines"]}
        for row in rows.values():
            assert row["source"].startswith("https://") and row["region"] and len(row["date"]) == 10
        for token, rule in book["rules"].items():
            assert rule["kind"] in RULES, token
            ids = [v for k, v in rule.items() if k in ("price", "lcu_price")]
            ids += list(rule.get("prices", {}).values()) + [
                v for variant in rule.get("variants", {}).values()
                for v in (variant.values() if isinstance(variant, dict) else [variant])]
            assert all(i in book["prices"] for i in ids), token
        assert not set(book["free"]) & set(book["rules"])


def test_inputs_a_rule_cannot_read_make_the_resource_unpriced_not_a_crash():
    report = estimate(plan("aws", [
        res("aws", "aws:ecs/taskDefinition:TaskDefinition", "task", {"cpu": "lots"}),
        res("aws", "aws:ecs/service:Service", "svc", {"desiredCount": 1}),
    ]))
    assert report.lines == []
    (item,) = report.unpriced
    assert item["urn"].endswith("::svc") and item["reason"].startswith("cannot read its inputs (ValueError")
