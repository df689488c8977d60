"""The estimator on hand-written plans: no provider code involved, every rule kind exercised.

Expected figures are read from the shipped price snapshot (cost/prices/<cloud>.json) for the plan's
own region, never typed here: the rule under test is the arithmetic and the region resolution.
"""
from __future__ import annotations

import json

import pytest

from components.errors import ConfigError
from cost.estimate import PRICES_DIR, RULES_DIR, estimate
from stacks.plan import Plan, PlanResource

H = 730  # hours in a month, as the price files say
BOOK = {c: json.loads((PRICES_DIR / f"{c}.json").read_text()) for c in ("aws", "gcp", "azure")}
RULEBOOK = {c: json.loads((RULES_DIR / f"{c}.json").read_text()) for c in ("aws", "gcp", "azure")}
# Each cloud's reference region: the snapshot prices every row used below there.
REGION = {"aws": "us-east-1", "gcp": "us-central1", "azure": "eastus"}


def usd(cloud: str, price_id: str, region: str = "") -> float:
    regions = BOOK[cloud]["prices"][price_id]["regions"]
    entry = regions.get(region or REGION[cloud]) or regions["*"]
    return entry["usd"]


def machine(cloud: str, name: str, kind: str = "on_demand", region: str = "") -> float:
    return BOOK[cloud]["machines"][name]["regions"][region or REGION[cloud]][kind]


def res(cloud: str, type_: str, name: str, inputs: dict, parent: str = "urn:svc", custom: bool = True) -> PlanResource:
    return PlanResource(urn=f"urn:pulumi:dev::mlinfra::{type_}::{name}", type=type_, name=name, parent=parent,
                        custom=custom, inputs=inputs)


STORAGE_PARENT = "urn:pulumi:dev::mlinfra::mlinfra:storage:StorageTiers::digits-dev-storage"
USAGE = {"storage_hot_gb": 10, "storage_warm_gb": 20, "storage_cold_gb": 40, "storage_archive_gb": 1000,
         "requests_per_month": 2_000_000, "request_seconds": 0.2, "training_hours_per_month": 12, "registry_gb": 7}


def service(usage: dict | None = USAGE, **serving) -> PlanResource:
    svc = {"name": "digits", "serving": {"cpu": 1, "memory_gib": 2, **serving}}
    if usage is not None:
        svc["usage"] = usage
    return res("", "mlinfra:service:MLService", "digits-dev", {"env": "dev", "cloud": "x", "service": svc},
               parent=None, custom=False)


def plan(cloud: str, resources: list[PlanResource], region: str = "") -> Plan:
    return Plan(stack="dev", env="dev", cloud=cloud, region=region or REGION[cloud], resources=resources)


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
        res("aws", "aws:s3/bucket:Bucket", "data", {"bucket": "b"}, parent=STORAGE_PARENT),
        res("aws", "aws:s3/bucket:Bucket", "access-logs", {"bucket": "l"}, parent="urn:serving"),
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
            {"instanceType": "g4dn.xlarge", "instanceMarketOptions": {"marketType": "spot"}}, parent="urn:training"),
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


def test_a_bucket_outside_the_storage_component_is_not_priced_as_the_data_tiers(aws_report):
    (line,) = by_name(aws_report)["access-logs"]
    assert line.monthly_usd == pytest.approx(usd("aws", "s3_standard_gb_month")) and line.category == "usage"


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


def test_gpu_training_priced_at_the_observed_spot_price_of_the_region(aws_report):
    spot = machine("aws", "g4dn.xlarge", "spot")
    lines = by_name(aws_report)
    (template,) = lines["train-lt"]
    assert template.monthly_usd == pytest.approx(12 * spot) and template.assumption
    (group,) = lines["train-asg"]
    assert group.monthly_usd == pytest.approx(2 * H * spot) and not group.assumption


def test_vm_group_machine_type_comes_from_its_own_template(aws_report):
    lines = by_name(aws_report)
    assert "serve-lt" not in lines  # a serving template is priced on its group
    (group,) = lines["serve-asg"]
    assert group.monthly_usd == pytest.approx(3 * H * machine("aws", "m7i.xlarge"))


def test_unpriced_resources_are_listed_never_zero(aws_report):
    unpriced = {u["urn"].rsplit("::", 1)[-1]: u for u in aws_report.unpriced}
    # the group that runs the unknown machine is unpriced; its (serving) template costs nothing by itself
    assert set(unpriced) == {"studio", "odd-asg"}
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
    assert set(doc["lines"][0]) == {"urn", "type", "name", "monthly_usd", "basis", "assumption", "category"}
    assert doc["region"] == "us-east-1" and doc["snapshot_date"] == BOOK["aws"]["snapshot_date"]
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
    (tpl,) = lines["tpl"]  # GCP bills the n1 host plus each attached T4 (Compute Engine GPU pricing)
    t4 = BOOK["gcp"]["accelerators"]["nvidia-tesla-t4"]["regions"]["us-central1"]["on_demand"]
    assert tpl.monthly_usd == pytest.approx(12 * (machine("gcp", "n1-standard-4") + t4))
    (group,) = lines["group"]
    assert group.monthly_usd == pytest.approx(2 * H * machine("gcp", "e2-standard-4"))
    assert report.unpriced == []


def test_azure_storage_by_redundancy_registry_by_sku_and_gpu_scale_set():
    report = estimate(plan("azure", [
        service(),
        res("azure", "azure-native:storage:StorageAccount", "acct", {"sku": {"name": "Standard_ZRS"}},
            parent=STORAGE_PARENT),
        res("azure", "azure-native:containerregistry:Registry", "acr", {"sku": {"name": "Premium"}}),
        res("azure", "azure-native:containerregistry:Registry", "acr-odd", {"sku": {"name": "Classic"}}),
        res("azure", "azure-native:compute:VirtualMachineScaleSet", "train", {
            "sku": {"name": "Standard_NC24ads_A100_v4", "capacity": 1},
            "virtualMachineProfile": {"priority": "Spot"}}),
    ]))
    lines = by_name(report)
    zrs = RULEBOOK["azure"]["rules"]["azure-native:storage:StorageAccount"]["variants"]["Standard_ZRS"]
    assert lines["acct"][0].monthly_usd == pytest.approx(sum(
        USAGE[f"storage_{tier}_gb"] * usd("azure", zrs[tier]) for tier in ("hot", "warm", "cold", "archive")))
    assert lines["acr"][0].monthly_usd == pytest.approx(H / 24 * usd("azure", "acr_premium_day"))
    spot = machine("azure", "Standard_NC24ads_A100_v4", "spot")
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


def test_every_rule_names_known_snapshot_rows():
    from cost.rules import RULES

    for cloud, book in RULEBOOK.items():
        prices = BOOK[cloud]["prices"]

        def ids(tree):
            if isinstance(tree, dict):
                for key, value in tree.items():
                    if key in ("price", "lcu_price") or (isinstance(value, str) and value in prices):
                        yield value
                    else:
                        yield from ids(value)

        for token, rule in book["rules"].items():
            assert rule["kind"] in RULES, token
            assert all(i in prices for i in ids(rule)), token
        assert not set(book["free"]) & set(book["rules"])


def test_inputs_a_rule_cannot_read_make_the_resource_unpriced_not_a_crash():
    report = estimate(plan("aws", [
        res("aws", "aws:ecs/taskDefinition:TaskDefinition", "task", {"cpu": "lots"}),
        res("aws", "aws:ecs/service:Service", "svc", {"desiredCount": 1}),
    ]))
    assert report.lines == []
    (item,) = report.unpriced
    assert item["urn"].endswith("::svc") and item["reason"].startswith("cannot read its inputs (ValueError")


# --- Each resource is priced in its own region; a region the snapshot lacks is unpriced (issue 21) ---

def _regions_of(cloud: str, price_id: str) -> set[str]:
    return set(BOOK[cloud]["prices"][price_id]["regions"])


def test_the_same_resource_is_priced_at_its_own_regions_list_price():
    # NAT gateway hours differ by region in the AWS Price List (eu-west-1 above us-east-1): the snapshot
    # holds both, and each plan must get its own region's row.
    nat = [res("aws", "aws:ec2/natGateway:NatGateway", "nat", {})]
    assert {"us-east-1", "eu-west-1"} <= _regions_of("aws", "nat_hour")
    for region in ("us-east-1", "eu-west-1"):
        (line,) = estimate(plan("aws", nat, region=region)).lines
        assert line.monthly_usd == pytest.approx(H * usd("aws", "nat_hour", region))
        assert region in line.basis
    assert usd("aws", "nat_hour", "eu-west-1") != usd("aws", "nat_hour", "us-east-1")


def test_a_region_the_snapshot_lacks_is_unpriced_with_the_reason_never_priced_elsewhere():
    region = "ap-southeast-4"
    assert region not in _regions_of("aws", "nat_hour") and "*" not in _regions_of("aws", "nat_hour")
    report = estimate(plan("aws", [res("aws", "aws:ec2/natGateway:NatGateway", "nat", {})], region=region))
    assert report.lines == []
    (item,) = report.unpriced
    assert region in item["reason"] and "nat_hour" in item["reason"] and "us-east-1" in item["reason"]


def test_a_machine_type_missing_in_the_region_is_unpriced_not_priced_at_the_reference_region():
    # m7i rows exist only for us-east-1 in the snapshot.
    assert set(BOOK["aws"]["machines"]["m7i.xlarge"]["regions"]) == {"us-east-1"}
    report = estimate(plan("aws", [
        res("aws", "aws:ec2/launchTemplate:LaunchTemplate", "lt", {"instanceType": "m7i.xlarge"}, parent="urn:vm"),
        res("aws", "aws:autoscaling/group:Group", "asg", {"minSize": 2, "launchTemplate": {"id": "x"}}, parent="urn:vm"),
    ], region="eu-west-1"))
    assert [u["urn"].rsplit("::", 1)[-1] for u in report.unpriced] == ["asg"]
    assert "eu-west-1" in report.unpriced[0]["reason"]


def test_spot_without_an_observed_price_is_unpriced_not_a_fraction_of_on_demand():
    # p5.48xlarge: the snapshot has an on-demand list price but no observed spot price.
    assert BOOK["aws"]["machines"]["p5.48xlarge"]["regions"]["us-east-1"]["spot"] is None
    report = estimate(plan("aws", [res("aws", "aws:ec2/instance:Instance", "train", {
        "instanceType": "p5.48xlarge", "instanceMarketOptions": {"marketType": "spot"}})]))
    (item,) = report.unpriced
    assert "no observed spot price" in item["reason"]


def test_a_global_price_applies_in_every_region():
    # KMS: one price for every region ("Each AWS KMS key ... costs $1/month", aws.amazon.com/kms/pricing).
    assert set(BOOK["aws"]["prices"]["kms_key_month"]["regions"]) == {"*"}
    (line,) = estimate(plan("aws", [res("aws", "aws:kms/key:Key", "k", {})], region="ap-south-2")).lines
    assert line.monthly_usd == pytest.approx(usd("aws", "kms_key_month", "*")) and "all regions" in line.basis


def test_lambda_is_priced_per_request_and_gb_second_of_its_memory_and_architecture():
    # Lambda pricing: requests x request price + duration x memory (GB) x GB-second price, per architecture.
    report = estimate(plan("aws", [service(), res("aws", "aws:lambda/function:Function", "fn",
                                                  {"memorySize": 2048, "architectures": ["arm64"]})],
                           region="eu-west-1"))
    (line,) = report.lines
    requests, seconds = USAGE["requests_per_month"], USAGE["request_seconds"]
    expected = (requests / 1e6 * usd("aws", "lambda_request_million_arm64", "eu-west-1")
                + requests * seconds * 2.0 * usd("aws", "lambda_gb_second_arm64", "eu-west-1"))
    assert line.monthly_usd == pytest.approx(expected) and line.assumption
    # and nothing while idle: no requests, no charge (scale to zero)
    from components.spec import UsageSpec

    idle = estimate(plan("aws", [service(), res("aws", "aws:lambda/function:Function", "fn", {})], region="eu-west-1"),
                    usage=UsageSpec(requests_per_month=0))
    assert idle.lines[0].monthly_usd == 0


def test_web_acl_pays_for_itself_its_rules_and_requests():
    # AWS WAF pricing: per web ACL per month, per rule per month, per million requests (same in all regions).
    report = estimate(plan("aws", [service(), res("aws", "aws:wafv2/webAcl:WebAcl", "waf",
                                                  {"rules": [{"name": "a"}, {"name": "b"}]})], region="eu-west-1"))
    acl, rules, requests = by_name(report)["waf"]
    assert acl.monthly_usd == pytest.approx(usd("aws", "waf_acl_month", "*"))
    assert rules.monthly_usd == pytest.approx(2 * usd("aws", "waf_rule_month", "*"))
    assert requests.monthly_usd == pytest.approx(USAGE["requests_per_month"] / 1e6 * usd("aws", "waf_request_million", "*"))


def test_a_serving_group_grows_past_its_minimum_when_the_traffic_needs_more_machines():
    # One request keeps one vCPU busy for request_seconds; machines scale out at 75 % CPU (the spec default).
    busy_usage = {**USAGE, "requests_per_month": 500_000_000, "request_seconds": 0.1}
    report = estimate(plan("aws", [
        service(usage=busy_usage),
        res("aws", "aws:ec2/launchTemplate:LaunchTemplate", "lt", {"instanceType": "c7i.large"}, parent="urn:vm"),
        res("aws", "aws:autoscaling/group:Group", "asg", {"minSize": 1, "launchTemplate": {"id": "x"}}, parent="urn:vm"),
    ]))
    (line,) = report.lines
    vcpus = BOOK["aws"]["machines"]["c7i.large"]["vcpus"]
    needed = -(-500_000_000 * 0.1 // (vcpus * H * 3600 * 0.75))
    assert needed > 1
    assert line.monthly_usd == pytest.approx(needed * H * machine("aws", "c7i.large")) and line.assumption
