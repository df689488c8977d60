"""Which AWS service runs `serving.mode: serverless`, and what each one can do (pure data and checks,
no SDK import, so `provider.check` refuses before anything is built).

- fargate (default): an ECS Fargate service behind an ALB. Always at least one task running;
  HTTPS on a domain, WAF, secrets, internal ingress.
- lambda: the same container image as an AWS Lambda function behind an API Gateway HTTP API.
  Scales to zero, so an idle dev or preview environment costs nothing but storage; no VPC, no NAT,
  no load balancer. What it does not offer is refused here with the reason.
"""
from __future__ import annotations

from typing import Optional

from components.errors import ConfigError

BACKENDS = ("fargate", "lambda")
DEFAULT = "fargate"
# Lambda function memory: 128 MB to 10,240 MB in 1 MB steps; CPU is allocated in proportion to
# memory ("Lambda quotas", https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html).
LAMBDA_MIN_MB, LAMBDA_MAX_MB = 128, 10_240
# An HTTP API waits at most 30 seconds for its integration ("Amazon API Gateway quotas",
# https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html): the function need not run longer.
LAMBDA_TIMEOUT_S = 30
# Lambda runs images from Amazon ECR only ("Create a Lambda function using a container image",
# https://docs.aws.amazon.com/lambda/latest/dg/images-create.html).
ECR_IMAGE = r"\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/.+"

KEY = "mlinfra:service.serving.backend"


def serverless_backend(spec) -> Optional[str]:
    """The backend serverless serving uses (None in VM mode); a ConfigError for a value AWS lacks."""
    sv = spec.service.serving
    if sv.backend is not None and sv.backend not in BACKENDS:
        raise ConfigError(f"{KEY}: {sv.backend!r} is not an AWS serverless backend; allowed: {', '.join(BACKENDS)}")
    if sv.mode != "serverless":
        if sv.backend is not None:
            raise ConfigError(f"{KEY}: {sv.backend!r} applies to serving.mode: serverless only; "
                              "remove it for serving.mode: vm")
        return None
    return sv.backend or DEFAULT


def lambda_memory_mb(spec) -> int:
    return int(round(spec.service.serving.memory_gib * 1024))


def check_lambda(spec) -> None:
    """What the Lambda backend cannot do, each refused naming the key to change."""
    import re

    sv = spec.service.serving
    why = "with serving.backend: lambda on AWS"
    if sv.min_instances != 0:
        raise ConfigError(f"mlinfra:service.serving.min_instances: {sv.min_instances} {why}: a Lambda function "
                          "scales to zero and keeps nothing warm; set 0, or serving.backend: fargate")
    if sv.ingress == "internal":
        raise ConfigError(f"mlinfra:service.serving.ingress: internal is not available {why}: an HTTP API is "
                          "reachable from the internet; use serving.backend: fargate for VPC-only ingress")
    if sv.domain:
        raise ConfigError(f"mlinfra:service.serving.domain: a custom domain is not built {why}; the endpoint is the "
                          "HTTP API's own HTTPS URL; use serving.backend: fargate for a domain")
    if sv.firewall:
        raise ConfigError(f"mlinfra:service.serving.firewall: AWS WAF cannot be associated with an HTTP API {why}; "
                          "use serving.backend: fargate for a firewall")
    if sv.secrets:
        raise ConfigError(f"mlinfra:service.serving.secrets: not available {why}: Lambda has no secret injection and "
                          "environment values are readable in the function configuration; use serving.backend: fargate")
    mb = lambda_memory_mb(spec)
    if not LAMBDA_MIN_MB <= mb <= LAMBDA_MAX_MB:
        raise ConfigError(f"mlinfra:service.serving.memory_gib: {sv.memory_gib:g} GiB {why}; allowed: "
                          f"{LAMBDA_MIN_MB / 1024:g} to {LAMBDA_MAX_MB / 1024:g} GiB")
    if sv.image is not None and not re.fullmatch(ECR_IMAGE, sv.image):
        raise ConfigError(f"mlinfra:service.serving.image: {sv.image!r} {why}: Lambda runs images from Amazon ECR "
                          "only (<account>.dkr.ecr.<region>.amazonaws.com/<repository>)")
