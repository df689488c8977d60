"""Serverless serving on AWS Lambda: the service image as a container-image function behind an API
Gateway HTTP API. Nothing runs while nobody calls, so an idle dev or preview costs nothing but
storage (no VPC, NAT gateway, load balancer or warm task). Limits: backends.py.

The image must carry the AWS Lambda Web Adapter extension (/opt/extensions/lambda-adapter): it
turns Lambda's HTTP API events into plain HTTP requests to the app on PORT, after the app answers
its readiness path; outside Lambda it does not run ("AWS Lambda Web Adapter",
https://awslabs.github.io/aws-lambda-web-adapter/). The app needs no change.
"""
from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

from components.providers.base import BuildContext, ServingOutputs
from components.release import container_env

from . import identity
from .backends import LAMBDA_TIMEOUT_S, lambda_memory_mb
from .serving_serverless import LOG_RETENTION_DAYS

# Lambda Web Adapter settings: the app's port and the path it answers once the model is loaded.
ADAPTER_PORT = "AWS_LWA_PORT"
ADAPTER_READINESS = "AWS_LWA_READINESS_CHECK_PATH"


def ecr_policy(function_arn: str) -> str:
    """Repository policy letting Lambda pull this function's image ("Amazon ECR permissions",
    https://docs.aws.amazon.com/lambda/latest/dg/images-create.html#configuration-images-permissions):
    ecr:BatchGetImage and ecr:GetDownloadUrlForLayer for lambda.amazonaws.com, limited by
    aws:sourceArn to this function."""
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Sid": "LambdaPullsServiceImage", "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
        "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
        "Condition": {"StringLike": {"aws:sourceArn": function_arn}}}]})


def build_lambda(provider, parent: pulumi.Resource, ctx: BuildContext) -> ServingOutputs:
    p = ctx.prefix
    sv = ctx.spec.service.serving
    opts = pulumi.ResourceOptions(parent=parent)
    name = f"{p}-serving"
    account = identity.account_id(parent)
    function_arn = account.apply(lambda a: f"arn:aws:lambda:{ctx.spec.region}:{a}:function:{name}")
    logs = aws.cloudwatch.LogGroup(f"{p}-serving-logs", name=f"/mlinfra/{p}/serving",
                                   retention_in_days=LOG_RETENTION_DAYS, tags=ctx.tags, opts=opts)
    statements = pulumi.Output.all(ctx.storage.resource_id, logs.arn).apply(
        lambda a: identity.s3_statements(a[0], read=identity._serving_prefixes(ctx)) + identity.logs_statements(a[1]))
    role = identity.role(ctx, parent, "serving-function", "lambda.amazonaws.com", statements,
                         "mlinfra serving function: reads models from the service bucket, writes its log group")
    pulls = []
    if sv.image is None:
        # The service's own repository: Lambda pulls from it only with this repository policy.
        # (The name comes from the repository URL, so the policy waits for the repository.)
        repository = ctx.registry.url.apply(lambda url: url.split("/", 1)[1])
        pulls.append(aws.ecr.RepositoryPolicy(f"{p}-images-lambda-pull", repository=repository,
                                              policy=function_arn.apply(ecr_policy), opts=opts))
    env = {**container_env(ctx), ADAPTER_PORT: str(sv.port), ADAPTER_READINESS: sv.health_path}
    function = aws.lambda_.Function(
        f"{p}-function", name=name, package_type="Image", image_uri=ctx.image, role=role.role.arn,
        architectures=["x86_64"], memory_size=lambda_memory_mb(ctx.spec), timeout=LAMBDA_TIMEOUT_S,
        environment={"variables": env},
        logging_config={"log_format": "Text", "log_group": logs.name},
        description=f"mlinfra {p}: serving (scales to zero)", tags=ctx.tags,
        # The role's permissions and the image pull grant must exist when Lambda first starts it.
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[*role.ready, *pulls]))
    api = aws.apigatewayv2.Api(f"{p}-api", name=f"{p}-api", protocol_type="HTTP",
                               description=f"mlinfra {p}: HTTPS endpoint of the serving function", tags=ctx.tags,
                               opts=opts)
    integration = aws.apigatewayv2.Integration(
        f"{p}-api-function", api_id=api.id, integration_type="AWS_PROXY", integration_method="POST",
        integration_uri=function.invoke_arn, payload_format_version="2.0", timeout_milliseconds=LAMBDA_TIMEOUT_S * 1000,
        opts=pulumi.ResourceOptions(parent=api))
    aws.apigatewayv2.Route(f"{p}-api-default", api_id=api.id, route_key="$default",
                           target=pulumi.Output.concat("integrations/", integration.id),
                           opts=pulumi.ResourceOptions(parent=api))
    # HTTP API throttling is per stage, not per client: serving.rate_limit_per_minute becomes a ceiling
    # for the whole API, which also bounds what a forgotten preview can spend
    # ("Throttle requests to your HTTP APIs", https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-throttling.html).
    rate = max(1.0, sv.rate_limit_per_minute / 60)
    aws.apigatewayv2.Stage(f"{p}-api-stage", api_id=api.id, name="$default", auto_deploy=True,
                           default_route_settings={"throttling_rate_limit": rate,
                                                   "throttling_burst_limit": int(2 * rate)},
                           tags=ctx.tags, opts=pulumi.ResourceOptions(parent=api))
    # Only this API may invoke the function (aws:SourceArn of its execute-api ARN): "Grant API
    # Gateway permission to invoke your Lambda function",
    # https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html
    aws.lambda_.Permission(f"{p}-api-invoke", action="lambda:InvokeFunction", function=function.name,
                           principal="apigateway.amazonaws.com",
                           source_arn=pulumi.Output.concat(api.execution_arn, "/*/*"),
                           opts=pulumi.ResourceOptions(parent=function))
    ctx.shared["aws:function"] = function
    return ServingOutputs(url=api.api_endpoint, identity=role.role.arn)
