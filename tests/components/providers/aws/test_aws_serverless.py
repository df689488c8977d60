"""Serverless serving on AWS: VPC, load balancer, ECS Fargate service, autoscaling, identity."""
from __future__ import annotations

import json

import pytest

from tests.helpers import inputs, one

from components.providers.aws.mocks import _hex

from .util import by_sid, named, plan_aws, sg_id, statements

CERT = "arn:aws:acm:eu-west-1:123456789012:certificate/0f1e2d3c-aaaa-bbbb-cccc-123456789012"
SERVICE = {"serving": {"min_instances": 2, "max_instances": 7, "cpu": 0.5, "memory_gib": 1, "port": 9000,
                       "scale_out_cpu_percent": 60, "scale_in_cpu_percent": 20, "health_path": "/ready",
                       "env": {"LOG_LEVEL": "debug"}}}


@pytest.fixture(scope="module")
def plan():
    return plan_aws(SERVICE)


@pytest.fixture(scope="module")
def https_internal():
    return plan_aws({"serving": {"min_instances": 1, "ingress": "internal", "domain": "api.example.com",
                                 "certificate": CERT}})


def no_remote_admin(groups) -> None:
    for sg in groups:
        for rule in sg.inputs.get("ingress", []):
            assert not (rule["fromPort"] <= 22 <= rule["toPort"]), sg.name
            assert not (rule["fromPort"] <= 3389 <= rule["toPort"]), sg.name
            assert rule["protocol"] != "-1", sg.name


def test_vpc_spans_two_zones_with_public_and_private_subnets(plan):
    vpc = inputs(plan, "aws:ec2/vpc:Vpc")
    assert vpc["cidrBlock"] == "10.0.0.0/16" and vpc["enableDnsHostnames"] and vpc["enableDnsSupport"]
    subnets = {s.name: s.inputs for s in plan.of_type("aws:ec2/subnet:Subnet")}
    assert {n: (s["availabilityZone"], s["cidrBlock"]) for n, s in subnets.items()} == {
        "digits-dev-public-a": ("eu-west-1a", "10.0.0.0/24"), "digits-dev-public-b": ("eu-west-1b", "10.0.1.0/24"),
        "digits-dev-private-a": ("eu-west-1a", "10.0.128.0/20"),
        "digits-dev-private-b": ("eu-west-1b", "10.0.144.0/20")}
    assert all(s["mapPublicIpOnLaunch"] is False for s in subnets.values())


def test_a_zone_redundant_service_leaves_each_zone_through_its_own_nat(plan):
    # min_instances 2 spans both zones: "create a NAT gateway in each Availability Zone" and route each
    # zone's private subnet to it, so one zone's failure does not cut the other's egress
    # (https://docs.aws.amazon.com/vpc/latest/userguide/vpc-nat-gateway.html).
    nats = {r.name: r.inputs for r in plan.of_type("aws:ec2/natGateway:NatGateway")}
    assert set(nats) == {"digits-dev-nat-a", "digits-dev-nat-b"}
    subnet_ids = {r.name: f"subnet-{_hex(r.name)}" for r in plan.of_type("aws:ec2/subnet:Subnet")}
    assert nats["digits-dev-nat-a"]["subnetId"] == subnet_ids["digits-dev-public-a"]
    assert nats["digits-dev-nat-b"]["subnetId"] == subnet_ids["digits-dev-public-b"]
    for zone in "ab":
        rt = named(plan, f"digits-dev-private-rt-{zone}").inputs
        assert rt["routes"] == [{"cidrBlock": "0.0.0.0/0", "natGatewayId": f"nat-{_hex(f'digits-dev-nat-{zone}')}"}]
        assoc = named(plan, f"digits-dev-private-{zone}-rt").inputs
        assert (assoc["subnetId"], assoc["routeTableId"]) == (
            subnet_ids[f"digits-dev-private-{zone}"], f"rtb-{_hex(f'digits-dev-private-rt-{zone}')}")
    assert named(plan, "digits-dev-public-rt").inputs["routes"][0]["gatewayId"].startswith("igw-")
    endpoint = inputs(plan, "aws:ec2/vpcEndpoint:VpcEndpoint")
    assert endpoint["serviceName"] == "com.amazonaws.eu-west-1.s3" and endpoint["vpcEndpointType"] == "Gateway"
    assert len(endpoint["routeTableIds"]) == 3
    assert inputs(plan, "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")["ingress"] == []


def test_tasks_are_reachable_only_from_the_load_balancer(plan):
    alb_sg = named(plan, "digits-dev-alb-sg")
    app_sg = named(plan, "digits-dev-app-sg")
    assert [(r["fromPort"], r["toPort"], r["cidrBlocks"]) for r in alb_sg.inputs["ingress"]] == [
        (80, 80, ["0.0.0.0/0"])]
    [rule] = app_sg.inputs["ingress"]
    assert (rule["protocol"], rule["fromPort"], rule["toPort"]) == ("tcp", 9000, 9000)
    assert "cidrBlocks" not in rule and rule["securityGroups"] == [sg_id("digits-dev-alb-sg")]
    assert [(r["fromPort"], r["cidrBlocks"]) for r in app_sg.inputs["egress"]] == [(443, ["0.0.0.0/0"])]
    assert alb_sg.inputs["egress"] == [{"protocol": "tcp", "fromPort": 9000, "toPort": 9000,
                                        "cidrBlocks": ["10.0.0.0/16"],
                                        "description": "to the service port of targets in the VPC"}]
    no_remote_admin(plan.of_type("aws:ec2/securityGroup:SecurityGroup"))


def test_load_balancer_forwards_http_to_a_target_group_checking_the_health_path(plan):
    alb = inputs(plan, "aws:lb/loadBalancer:LoadBalancer")
    assert alb["loadBalancerType"] == "application" and alb["internal"] is False
    assert alb["dropInvalidHeaderFields"] is True and len(alb["subnets"]) == 2
    tg = inputs(plan, "aws:lb/targetGroup:TargetGroup")
    assert (tg["port"], tg["protocol"], tg["targetType"]) == (9000, "HTTP", "ip")
    assert tg["healthCheck"]["path"] == "/ready" and tg["healthCheck"]["matcher"] == "200"
    [listener] = plan.of_type("aws:lb/listener:Listener")
    assert (listener.inputs["port"], listener.inputs["protocol"]) == (80, "HTTP")
    assert listener.inputs["defaultActions"][0]["type"] == "forward"
    assert plan.outputs["endpoint"].startswith("http://digits-dev-alb-")
    assert plan.outputs["endpoint"].endswith(".eu-west-1.elb.amazonaws.com")


def test_with_a_certificate_http_redirects_to_https_and_the_endpoint_is_the_domain(https_internal):
    listeners = {r.inputs["port"]: r.inputs for r in https_internal.of_type("aws:lb/listener:Listener")}
    assert listeners[443]["protocol"] == "HTTPS" and listeners[443]["certificateArn"] == CERT
    # AWS's recommended policy: TLS 1.2+ with hybrid post-quantum key exchange ("Security policies for
    # your Application Load Balancer", https://docs.aws.amazon.com/elasticloadbalancing/latest/application/describe-ssl-policies.html).
    assert listeners[443]["sslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09"
    assert listeners[443]["defaultActions"][0]["type"] == "forward"
    assert listeners[80]["defaultActions"] == [{"type": "redirect", "redirect": {
        "port": "443", "protocol": "HTTPS", "statusCode": "HTTP_301"}}]
    assert https_internal.outputs["endpoint"] == "https://api.example.com"


def test_internal_ingress_is_an_internal_alb_open_only_to_the_vpc(https_internal):
    alb = inputs(https_internal, "aws:lb/loadBalancer:LoadBalancer")
    assert alb["internal"] is True
    private = {r.inputs["cidrBlock"] for r in https_internal.of_type("aws:ec2/subnet:Subnet")
               if "private" in r.name}
    assert len(alb["subnets"]) == 2 and private == {"10.0.128.0/20", "10.0.144.0/20"}
    sg = named(https_internal, "digits-dev-alb-sg").inputs
    assert sorted((r["fromPort"], tuple(r["cidrBlocks"])) for r in sg["ingress"]) == [
        (80, ("10.0.0.0/16",)), (443, ("10.0.0.0/16",))]


def test_container_insights_only_where_the_service_is_zone_redundant(plan):
    # Container Insights metrics are billed per task (https://aws.amazon.com/cloudwatch/pricing/):
    # on for a service spread over zones, off for a single warm task.
    cluster = inputs(plan, "aws:ecs/cluster:Cluster")
    assert cluster["settings"] == [{"name": "containerInsights", "value": "enabled"}]
    assert cluster["name"] == "digits-dev"
    single = inputs(plan_aws({"serving": {"min_instances": 1}}), "aws:ecs/cluster:Cluster")
    assert single["settings"] == [{"name": "containerInsights", "value": "disabled"}]


def test_task_definition_is_a_fargate_task_of_the_spec_size_running_the_image(plan):
    task = inputs(plan, "aws:ecs/taskDefinition:TaskDefinition")
    assert task["requiresCompatibilities"] == ["FARGATE"] and task["networkMode"] == "awsvpc"
    assert (task["cpu"], task["memory"]) == ("512", "1024")
    [container] = json.loads(task["containerDefinitions"])
    assert container["image"] == plan.outputs["image"]
    assert container["portMappings"] == [{"containerPort": 9000, "hostPort": 9000, "protocol": "tcp"}]
    # components/release.py: every serving container gets serving.env, PORT and MODEL_URI.
    bucket = plan.outputs["bucket"]
    assert container["environment"] == [{"name": "LOG_LEVEL", "value": "debug"},
                                        {"name": "MODEL_URI", "value": f"s3://{bucket}/models/digits/current/"},
                                        {"name": "PORT", "value": "9000"}]
    assert "secrets" not in container
    assert "http://127.0.0.1:%s/ready" in container["healthCheck"]["command"][-1]
    logs = container["logConfiguration"]
    assert logs["logDriver"] == "awslogs" and logs["options"]["awslogs-group"] == "/mlinfra/digits-dev/serving"
    assert logs["options"]["awslogs-region"] == "eu-west-1"
    # Non-blocking delivery with a buffer: a CloudWatch Logs throttle must not stall the app's writes
    # (awslogs options mode / max-buffer-size, https://docs.aws.amazon.com/AmazonECS/latest/developerguide/using_awslogs.html;
    # https://aws.amazon.com/blogs/containers/preventing-log-loss-with-non-blocking-mode-in-the-awslogs-container-log-driver/).
    assert (logs["options"]["mode"], logs["options"]["max-buffer-size"]) == ("non-blocking", "25m")
    assert inputs(plan, "aws:cloudwatch/logGroup:LogGroup")["retentionInDays"] == 30


def test_a_prebuilt_image_is_run_as_given_and_nothing_is_built():
    plan = plan_aws({"serving": {"min_instances": 1, "image": "public.ecr.aws/acme/digits:1.2"}})
    assert not plan.of_type("docker-build:index:Image")
    [container] = json.loads(inputs(plan, "aws:ecs/taskDefinition:TaskDefinition")["containerDefinitions"])
    assert container["image"] == "public.ecr.aws/acme/digits:1.2" and "healthCheck" not in container


def test_service_runs_min_instances_privately_behind_the_target_group(plan):
    svc = inputs(plan, "aws:ecs/service:Service")
    assert svc["launchType"] == "FARGATE" and svc["desiredCount"] == 2
    net = svc["networkConfiguration"]
    assert net["assignPublicIp"] is False and len(net["subnets"]) == 2
    assert net["securityGroups"] == [sg_id("digits-dev-app-sg")]
    assert svc["loadBalancers"] == [{"targetGroupArn": svc["loadBalancers"][0]["targetGroupArn"],
                                     "containerName": "app", "containerPort": 9000}]
    assert ":targetgroup/" in svc["loadBalancers"][0]["targetGroupArn"]
    assert svc["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}


def test_autoscaling_tracks_cpu_between_min_and_max(plan):
    target = inputs(plan, "aws:appautoscaling/target:Target")
    assert (target["minCapacity"], target["maxCapacity"]) == (2, 7)
    assert target["resourceId"] == "service/digits-dev/digits-dev-serving"
    assert target["scalableDimension"] == "ecs:service:DesiredCount" and target["serviceNamespace"] == "ecs"
    policy = inputs(plan, "aws:appautoscaling/policy:Policy")
    assert policy["policyType"] == "TargetTrackingScaling" and policy["resourceId"] == target["resourceId"]
    config = policy["targetTrackingScalingPolicyConfiguration"]
    assert config["targetValue"] == 60
    assert config["predefinedMetricSpecification"] == {"predefinedMetricType": "ECSServiceAverageCPUUtilization"}


def test_task_role_reads_only_the_models_prefix_of_this_bucket(plan):
    bucket = f"arn:aws:s3:::{plan.outputs['bucket']}"
    role = named(plan, "digits-dev-serving-task")
    assert json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]["Principal"] == {
        "Service": "ecs-tasks.amazonaws.com"}
    task = inputs(plan, "aws:ecs/taskDefinition:TaskDefinition")
    assert plan.outputs["serving_identity"] == task["taskRoleArn"]
    sids = by_sid(named(plan, "digits-dev-serving-task-policy"))
    assert set(sids) == {"ReadObjects", "ListPrefixes"}
    assert sids["ReadObjects"] == {"Sid": "ReadObjects", "Effect": "Allow", "Action": ["s3:GetObject"],
                                   "Resource": [f"{bucket}/models/*"]}
    assert sids["ListPrefixes"]["Resource"] == [bucket]
    assert sids["ListPrefixes"]["Condition"] == {"StringLike": {"s3:prefix": ["models/", "models/*"]}}


def test_execution_role_pulls_from_this_repository_and_writes_this_log_group(plan):
    sids = by_sid(named(plan, "digits-dev-serving-execution-policy"))
    repo = "arn:aws:ecr:eu-west-1:123456789012:repository/digits-dev"
    assert sids["PullImages"]["Resource"] == [repo]
    assert sorted(sids["PullImages"]["Action"]) == [
        "ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
    assert sids["RegistryLogin"] == {"Sid": "RegistryLogin", "Effect": "Allow",
                                     "Action": ["ecr:GetAuthorizationToken"], "Resource": "*"}
    # Service Authorization Reference, CloudWatch Logs: CreateLogStream acts on the log-group resource,
    # PutLogEvents on log-stream resources of it; nothing outside this group.
    group = "arn:aws:logs:eu-west-1:123456789012:log-group:/mlinfra/digits-dev/serving"
    assert sids["WriteLogs"]["Resource"] == [group, f"{group}:log-stream:*"]


def test_no_policy_grants_every_action_or_any_resource_but_the_registry_login(plan):
    for policy in plan.of_type("aws:iam/rolePolicy:RolePolicy"):
        for st in statements(policy):
            actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
            assert "*" not in actions and not any(a.endswith(":*") for a in actions), policy.name
            if st["Resource"] == "*":
                assert actions == ["ecr:GetAuthorizationToken"], policy.name


def test_every_taggable_resource_carries_the_tags(plan):
    untaggable = {"aws:ec2/routeTableAssociation:RouteTableAssociation", "aws:iam/rolePolicy:RolePolicy",
                  "aws:appautoscaling/policy:Policy", "aws:ecr/lifecyclePolicy:LifecyclePolicy",
                  "aws:s3/bucketPolicy:BucketPolicy", "aws:s3/bucketVersioning:BucketVersioning",
                  "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
                  "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
                  "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
                  "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "aws:kms/alias:Alias",
                  "aws:sns/topicPolicy:TopicPolicy", "aws:sns/topicSubscription:TopicSubscription"}
    for r in plan.resources:
        if r.custom and r.type.startswith("aws:") and r.type not in untaggable:
            assert r.inputs.get("tags", {}).get("managed-by") == "mlinfra", r.type
            assert r.inputs["tags"]["environment"] == "dev", r.type
    assert one(plan, "aws:ec2/vpc:Vpc").inputs["tags"]["Name"] == "digits-dev-vpc"
