"""The Lambda serverless backend on AWS: a container-image function behind an HTTP API that scales to
zero, and every option it refuses with the key to change."""
from __future__ import annotations

import json

import pytest

from components.errors import ConfigError, UnsupportedFeature
from components.providers.aws.mocks import ACCOUNT
from tests.helpers import inputs, one

from .util import by_sid, named, plan_aws

LAMBDA = {"serving": {"backend": "lambda", "min_instances": 0, "memory_gib": 2, "port": 9000,
                      "health_path": "/ready", "env": {"LOG_LEVEL": "info"}},
          "alerts": {"emails": ["a@example.com"]}}
FUNCTION_ARN = f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:digits-dev-serving"


@pytest.fixture(scope="module")
def plan():
    return plan_aws(LAMBDA)


def refused(service: dict) -> ConfigError:
    with pytest.raises(ConfigError) as err:
        plan_aws(service)
    assert err.value.exit_code == 3 and "\n" not in str(err.value)
    return err.value


def test_the_function_runs_the_pushed_image_and_scales_to_zero(plan):
    fn = inputs(plan, "aws:lambda/function:Function")
    assert (fn["packageType"], fn["imageUri"]) == ("Image", plan.outputs["image"])
    assert "@sha256:" in fn["imageUri"] and fn["architectures"] == ["x86_64"]
    # Memory in MB, 128-10,240 ("Lambda quotas"); the HTTP API waits 30 s at most ("API Gateway quotas").
    assert fn["memorySize"] == 2048 and fn["timeout"] == 30
    assert not plan.of_type("aws:lambda/provisionedConcurrencyConfig:ProvisionedConcurrencyConfig")
    for hourly in ("aws:ec2/vpc:Vpc", "aws:ec2/natGateway:NatGateway", "aws:lb/loadBalancer:LoadBalancer",
                   "aws:ecs/service:Service"):
        assert not plan.of_type(hourly), hourly


def test_the_container_gets_model_uri_and_the_web_adapter_settings(plan):
    # AWS Lambda Web Adapter: AWS_LWA_PORT, AWS_LWA_READINESS_CHECK_PATH
    # (https://awslabs.github.io/aws-lambda-web-adapter/); components/release.py: PORT and MODEL_URI.
    env = inputs(plan, "aws:lambda/function:Function")["environment"]["variables"]
    assert env == {"LOG_LEVEL": "info", "PORT": "9000", "MODEL_URI": f"s3://{plan.outputs['bucket']}/models/digits/current/",
                   "AWS_LWA_PORT": "9000", "AWS_LWA_READINESS_CHECK_PATH": "/ready"}


def test_the_endpoint_is_an_http_api_proxying_every_route_to_the_function(plan):
    api = inputs(plan, "aws:apigatewayv2/api:Api")
    assert api["protocolType"] == "HTTP"
    integration = inputs(plan, "aws:apigatewayv2/integration:Integration")
    assert (integration["integrationType"], integration["payloadFormatVersion"]) == ("AWS_PROXY", "2.0")
    assert integration["integrationUri"].endswith(f"functions/{FUNCTION_ARN}/invocations")
    route = inputs(plan, "aws:apigatewayv2/route:Route")
    assert route["routeKey"] == "$default" and route["target"].startswith("integrations/")
    stage = inputs(plan, "aws:apigatewayv2/stage:Stage")
    assert (stage["name"], stage["autoDeploy"]) == ("$default", True)
    # HTTP API throttling is per stage: the per-minute limit becomes a whole-API ceiling (600/min = 10/s).
    assert stage["defaultRouteSettings"] == {"throttlingRateLimit": 10, "throttlingBurstLimit": 20}
    assert plan.outputs["endpoint"].startswith("https://") and ".execute-api.eu-west-1." in plan.outputs["endpoint"]


def test_only_this_api_may_invoke_the_function(plan):
    # "Grant API Gateway permission to invoke your Lambda function": principal apigateway.amazonaws.com,
    # SourceArn the API's execute-api ARN (confused-deputy protection).
    perm = inputs(plan, "aws:lambda/permission:Permission")
    assert (perm["action"], perm["principal"]) == ("lambda:InvokeFunction", "apigateway.amazonaws.com")
    assert perm["sourceArn"].startswith(f"arn:aws:execute-api:eu-west-1:{ACCOUNT}:") and perm["sourceArn"].endswith("/*/*")


def test_lambda_may_pull_only_for_this_function_and_the_role_reads_models_and_writes_logs(plan):
    # Lambda pulls from ECR under the repository policy: ecr:BatchGetImage and ecr:GetDownloadUrlForLayer
    # for lambda.amazonaws.com ("Create a Lambda function using a container image", Amazon ECR permissions).
    [statement] = json.loads(inputs(plan, "aws:ecr/repositoryPolicy:RepositoryPolicy")["policy"])["Statement"]
    assert statement["Principal"] == {"Service": "lambda.amazonaws.com"}
    assert sorted(statement["Action"]) == ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
    assert statement["Condition"] == {"StringLike": {"aws:sourceArn": FUNCTION_ARN}}
    assert inputs(plan, "aws:ecr/repositoryPolicy:RepositoryPolicy")["repository"] == "digits-dev"
    [trust] = json.loads(named(plan, "digits-dev-serving-function").inputs["assumeRolePolicy"])["Statement"]
    assert trust["Principal"] == {"Service": "lambda.amazonaws.com"}
    sids = by_sid(named(plan, "digits-dev-serving-function-policy"))
    bucket = f"arn:aws:s3:::{plan.outputs['bucket']}"
    assert sids["ReadObjects"]["Resource"] == [f"{bucket}/models/*"]
    group = f"arn:aws:logs:eu-west-1:{ACCOUNT}:log-group:/mlinfra/digits-dev/serving"
    assert sids["WriteLogs"]["Resource"] == [group, f"{group}:log-stream:*"]
    fn = inputs(plan, "aws:lambda/function:Function")
    assert fn["loggingConfig"] == {"logFormat": "Text", "logGroup": "/mlinfra/digits-dev/serving"}
    assert {u.rsplit("::", 1)[1] for u in named(plan, "digits-dev-function").dependsOn} >= {
        "digits-dev-serving-function-policy", "digits-dev-images-lambda-pull"}


def test_alerts_watch_the_functions_errors_and_duration(plan):
    # AWS/Lambda Errors, Invocations, Duration (milliseconds), dimension FunctionName
    # (https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html).
    alarms = {r.name: r.inputs for r in plan.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")}
    assert set(alarms) == {"digits-dev-error-rate", "digits-dev-p99-latency"}
    queries = {q["id"]: q for q in alarms["digits-dev-error-rate"]["metricQueries"]}
    assert queries["errors"]["metric"]["metricName"] == "Errors"
    assert queries["invocations"]["metric"]["metricName"] == "Invocations"
    assert queries["errors"]["metric"]["dimensions"] == {"FunctionName": "digits-dev-serving"}
    p99 = alarms["digits-dev-p99-latency"]
    assert (p99["namespace"], p99["metricName"], p99["extendedStatistic"], p99["threshold"]) == (
        "AWS/Lambda", "Duration", "p99", 1000)


def test_an_unknown_backend_is_refused_naming_the_key_and_the_choices():
    err = refused({"serving": {"backend": "cloudrun", "min_instances": 1}})
    assert str(err) == ("mlinfra:service.serving.backend: 'cloudrun' is not an AWS serverless backend; "
                        "allowed: fargate, lambda")


def test_a_backend_in_vm_mode_is_refused():
    err = refused({"serving": {"mode": "vm", "backend": "lambda", "min_instances": 1}})
    assert str(err).startswith("mlinfra:service.serving.backend:")


def test_fargate_still_refuses_scale_to_zero_and_points_at_lambda():
    with pytest.raises(UnsupportedFeature) as err:
        plan_aws({"serving": {"min_instances": 0}})
    assert "serving.backend: lambda" in str(err.value)
    with pytest.raises(UnsupportedFeature):
        plan_aws({"serving": {"min_instances": 0, "backend": "fargate"}})


@pytest.mark.parametrize("patch,key", [
    ({"min_instances": 1}, "min_instances"),
    ({"ingress": "internal"}, "ingress"),
    ({"domain": "api.example.com"}, "domain"),
    ({"firewall": True}, "firewall"),
    ({"secrets": {"API_TOKEN": "api-token"}}, "secrets"),
    ({"memory_gib": 12}, "memory_gib"),
    ({"image": "public.ecr.aws/acme/digits:1.2"}, "image"),
])
def test_what_the_lambda_backend_cannot_do_is_refused_with_the_key(patch, key):
    err = refused({"serving": {"backend": "lambda", "min_instances": 0, **patch}})
    assert str(err).startswith(f"mlinfra:service.serving.{key}:") and "lambda" in str(err)


def test_a_prebuilt_ecr_image_runs_as_given_without_a_repository_policy():
    image = f"{ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com/shared/digits@sha256:" + "a" * 64
    plan = plan_aws({"serving": {"backend": "lambda", "min_instances": 0, "image": image}})
    assert inputs(plan, "aws:lambda/function:Function")["imageUri"] == image
    assert not plan.of_type("aws:ecr/repositoryPolicy:RepositoryPolicy") and not plan.of_type("docker-build:index:Image")
    one(plan, "aws:apigatewayv2/api:Api")
