"""AWS prerequisites of a plan (`mlinfra doctor`): G/P instance vCPU quotas (on-demand and spot),
activated cost-allocation tags, and the IAM actions the deploying identity must be allowed.

Live checks use boto3 with explicit timeouts and no retries (a throttled call is reported, not
waited out); every call is read-only: sts:GetCallerIdentity, servicequotas:GetServiceQuota,
ce:ListCostAllocationTags, iam:SimulatePrincipalPolicy. Sources are cited at each table.
"""
from __future__ import annotations

import re
from collections import defaultdict
from typing import Any, Iterable, Optional

from components import catalog
from stacks.doctor import CredentialsAbsent, LiveContext, Requirement, Status, Unknown, once, settle, why

CLOUD = "aws"

# EC2 vCPU quotas (Service Quotas, service code `ec2`), per Region, in vCPUs. Quota names: Amazon EC2
# User Guide, "Amazon EC2 service quotas" / "On-Demand Instance quotas" and "Spot Instance quotas"
# (https://docs.aws.amazon.com/ec2/latest/instancetypes/ec2-instance-quotas.html,
# https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/using-spot-limits.html: "All G and VT Spot
# Instance Requests", "All P4, P3 and P2 Spot Instance Requests", "All P5 Spot Instance Requests").
# Quota codes as the Service Quotas console and API name them
# (https://console.aws.amazon.com/servicequotas/home/services/ec2/quotas/<code>); the doctor reads each
# by code with GetServiceQuota, so a wrong code shows as `unknown` (NoSuchResource), never as `ok`.
QUOTAS: dict[str, str] = {
    "L-DB2E81BA": "Running On-Demand G and VT instances",
    "L-3819A6DF": "All G and VT Spot Instance Requests",
    "L-417A185B": "Running On-Demand P instances",
    "L-7212CCBC": "All P4, P3 and P2 Spot Instance Requests",
    "L-C4BD4855": "All P5 Spot Instance Requests",
}


def quota_code(instance_type: str, spot: bool) -> Optional[str]:
    """The vCPU quota an instance type launches against, for the G/VT and P families; None otherwise."""
    family = instance_type.split(".")[0].lower()
    if re.match(r"^(g|vt)\d", family):
        return "L-3819A6DF" if spot else "L-DB2E81BA"
    if re.match(r"^p5", family):
        return "L-C4BD4855" if spot else "L-417A185B"
    if re.match(r"^p\d", family):
        return "L-7212CCBC" if spot else "L-417A185B"
    return None


# Resource type -> the IAM actions creating it takes. Action names: Service Authorization Reference,
# "Actions defined by ..." for each service (https://docs.aws.amazon.com/service-authorization/latest/reference/):
# list_amazons3.html, list_amazonelasticcontainerregistry.html, list_awsidentityandaccessmanagementiam.html,
# list_awskeymanagementservice.html, list_amazonec2.html, list_amazonec2autoscaling.html,
# list_elasticloadbalancingv2.html, list_amazonelasticcontainerservice.html,
# list_applicationautoscaling.html, list_amazoncloudwatchlogs.html, list_amazoncloudwatch.html,
# list_amazonsns.html, list_awsbudgetservice.html (CreateBudget is authorised by budgets:ModifyBudget),
# list_awscostexplorerservice.html, list_awscertificatemanager.html, list_awswafv2.html,
# list_awssecretsmanager.html, list_amazonroute53.html, list_awslambda.html.
ACTIONS: dict[str, tuple[str, ...]] = {
    "aws:s3/bucket:Bucket": ("s3:CreateBucket",),
    "aws:s3/bucketPolicy:BucketPolicy": ("s3:PutBucketPolicy",),
    "aws:s3/bucketVersioning:BucketVersioning": ("s3:PutBucketVersioning",),
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration":
        ("s3:PutEncryptionConfiguration",),
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": ("s3:PutBucketPublicAccessBlock",),
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": ("s3:PutLifecycleConfiguration",),
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": ("s3:PutBucketOwnershipControls",),
    "aws:ecr/repository:Repository": ("ecr:CreateRepository",),
    "aws:ecr/lifecyclePolicy:LifecyclePolicy": ("ecr:PutLifecyclePolicy",),
    "aws:iam/role:Role": ("iam:CreateRole",),
    "aws:iam/rolePolicy:RolePolicy": ("iam:PutRolePolicy",),
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": ("iam:AttachRolePolicy",),
    "aws:iam/instanceProfile:InstanceProfile": ("iam:CreateInstanceProfile", "iam:AddRoleToInstanceProfile"),
    "aws:kms/key:Key": ("kms:CreateKey",),
    "aws:kms/alias:Alias": ("kms:CreateAlias",),
    "aws:ec2/vpc:Vpc": ("ec2:CreateVpc",),
    "aws:ec2/subnet:Subnet": ("ec2:CreateSubnet",),
    "aws:ec2/internetGateway:InternetGateway": ("ec2:CreateInternetGateway", "ec2:AttachInternetGateway"),
    "aws:ec2/natGateway:NatGateway": ("ec2:CreateNatGateway",),
    "aws:ec2/eip:Eip": ("ec2:AllocateAddress",),
    "aws:ec2/routeTable:RouteTable": ("ec2:CreateRouteTable", "ec2:CreateRoute"),
    "aws:ec2/routeTableAssociation:RouteTableAssociation": ("ec2:AssociateRouteTable",),
    "aws:ec2/securityGroup:SecurityGroup": ("ec2:CreateSecurityGroup", "ec2:AuthorizeSecurityGroupIngress",
                                            "ec2:AuthorizeSecurityGroupEgress"),
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": ("ec2:RevokeSecurityGroupIngress",
                                                          "ec2:RevokeSecurityGroupEgress"),
    "aws:ec2/vpcEndpoint:VpcEndpoint": ("ec2:CreateVpcEndpoint",),
    # A launch template or task definition that names a role hands it over: iam:PassRole.
    "aws:ec2/launchTemplate:LaunchTemplate": ("ec2:CreateLaunchTemplate", "iam:PassRole"),
    "aws:autoscaling/group:Group": ("autoscaling:CreateAutoScalingGroup",),
    "aws:autoscaling/policy:Policy": ("autoscaling:PutScalingPolicy",),
    "aws:lb/loadBalancer:LoadBalancer": ("elasticloadbalancing:CreateLoadBalancer",),
    "aws:lb/targetGroup:TargetGroup": ("elasticloadbalancing:CreateTargetGroup",),
    "aws:lb/listener:Listener": ("elasticloadbalancing:CreateListener",),
    "aws:ecs/cluster:Cluster": ("ecs:CreateCluster",),
    "aws:ecs/service:Service": ("ecs:CreateService",),
    "aws:ecs/taskDefinition:TaskDefinition": ("ecs:RegisterTaskDefinition", "iam:PassRole"),
    "aws:lambda/function:Function": ("lambda:CreateFunction", "iam:PassRole"),
    "aws:lambda/permission:Permission": ("lambda:AddPermission",),
    # API Gateway v2 management actions are the HTTP verbs on the resource path
    # (list_amazonapigatewaymanagementv2.html): creating an API, integration, route or stage is a POST.
    "aws:apigatewayv2/api:Api": ("apigateway:POST",),
    "aws:apigatewayv2/integration:Integration": ("apigateway:POST",),
    "aws:apigatewayv2/route:Route": ("apigateway:POST",),
    "aws:apigatewayv2/stage:Stage": ("apigateway:POST",),
    "aws:ecr/repositoryPolicy:RepositoryPolicy": ("ecr:SetRepositoryPolicy",),
    "aws:appautoscaling/target:Target": ("application-autoscaling:RegisterScalableTarget",),
    "aws:appautoscaling/policy:Policy": ("application-autoscaling:PutScalingPolicy",),
    "aws:cloudwatch/logGroup:LogGroup": ("logs:CreateLogGroup",),
    "aws:cloudwatch/metricAlarm:MetricAlarm": ("cloudwatch:PutMetricAlarm",),
    "aws:sns/topic:Topic": ("sns:CreateTopic",),
    "aws:sns/topicPolicy:TopicPolicy": ("sns:SetTopicAttributes",),
    "aws:sns/topicSubscription:TopicSubscription": ("sns:Subscribe",),
    "aws:acm/certificate:Certificate": ("acm:RequestCertificate",),
    "aws:acm/certificateValidation:CertificateValidation": ("acm:DescribeCertificate",),
    "aws:wafv2/webAcl:WebAcl": ("wafv2:CreateWebACL",),
    # AssociateWebACL "requires permissions that are specific to the protected resource type" (WAFV2 API
    # Reference, AssociateWebACL; WAF Developer Guide "Permissions for AssociateWebACL"): an ALB's is
    # elasticloadbalancing:SetWebACL.
    "aws:wafv2/webAclAssociation:WebAclAssociation": ("wafv2:AssociateWebACL", "elasticloadbalancing:SetWebACL"),
    "aws:secretsmanager/secret:Secret": ("secretsmanager:CreateSecret",),
    "aws:secretsmanager/secretPolicy:SecretPolicy": ("secretsmanager:PutResourcePolicy",),
    "aws:route53/record:Record": ("route53:ChangeResourceRecordSets",),
    "aws:budgets/budget:Budget": ("budgets:ModifyBudget",),
    "aws:costexplorer/costAllocationTag:CostAllocationTag": ("ce:UpdateCostAllocationTagsStatus",),
}

BUDGET_TYPE = "aws:budgets/budget:Budget"
TAG_TYPE = "aws:costexplorer/costAllocationTag:CostAllocationTag"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"


# -- derivation from the plan --------------------------------------------------------------------
def _tag_keys(value: Any) -> set[str]:
    """Tag keys a budget filters on: `filterExpression` ... {"tags": {"key": k}} and the older
    `costFilters` TagKeyValue values "user:<key>$<value>" (AWS Budgets API, Expression / CostFilters)."""
    keys: set[str] = set()
    if isinstance(value, dict):
        tags = value.get("tags")
        if isinstance(tags, dict) and tags.get("key"):
            keys.add(str(tags["key"]))
        if value.get("name") == "TagKeyValue":
            for item in value.get("values") or []:
                keys.add(str(item).removeprefix("user:").split("$", 1)[0])
        for v in value.values():
            keys |= _tag_keys(v)
    elif isinstance(value, list):
        for v in value:
            keys |= _tag_keys(v)
    return keys


def requirements(plan: Any) -> list[Requirement]:
    reqs: list[Requirement] = []
    by_type: dict[str, list[Any]] = defaultdict(list)
    for r in plan.resources:
        by_type[r.type].append(r)
    # vCPU quota to start one GPU machine from each template (a template starts none by itself).
    for lt in by_type.get(LAUNCH_TEMPLATE, []):
        instance_type = str(lt.inputs.get("instanceType") or "")
        spot = (lt.inputs.get("instanceMarketOptions") or {}).get("marketType") == "spot"
        code = quota_code(instance_type, spot)
        offer = next((o for o in catalog.offers(CLOUD) if o.machine_type == instance_type), None)
        if code is None or offer is None:
            continue
        reqs.append(Requirement(
            CLOUD, "quota", f"{code} in {plan.region}",
            f"{why([lt])}: one {instance_type}{' spot' if spot else ''} instance = {offer.vcpus} vCPUs "
            f"({QUOTAS[code]})",
            f"aws service-quotas request-service-quota-increase --service-code ec2 --quota-code {code} "
            f"--desired-value {offer.vcpus} --region {plan.region} "
            f"(https://console.aws.amazon.com/servicequotas/home/services/ec2/quotas/{code})",
            data={"code": code, "need": offer.vcpus, "region": plan.region}))
    # A budget filtered on tags counts nothing until those keys are activated as cost-allocation tags
    # ("Activating user-defined cost allocation tags",
    # https://docs.aws.amazon.com/awsaccountbilling/latest/aboutv2/activating-tags.html); keys the program
    # activates itself (costexplorer.CostAllocationTag, status Active) are not prerequisites.
    activated = {str(t.inputs.get("tagKey")) for t in by_type.get(TAG_TYPE, [])
                 if str(t.inputs.get("status", "Active")) == "Active"}
    budgets = by_type.get(BUDGET_TYPE, [])
    for key in sorted(set().union(*(_tag_keys(b.inputs) for b in budgets)) - activated if budgets else set()):
        users = [b for b in budgets if key in _tag_keys(b.inputs)]
        reqs.append(Requirement(
            CLOUD, "tag", key, f"{why(users)} filters on tag {key!r}",
            f"aws ce update-cost-allocation-tags-status --cost-allocation-tags-status TagKey={key},Status=Active "
            "(or Billing console > Cost allocation tags; a key is listed only after a resource carries it)",
            data={"key": key}))
    actions: dict[str, list[Any]] = defaultdict(list)
    for typ, rs in by_type.items():
        for action in ACTIONS.get(typ, ()):
            actions[action].extend(rs)
    for action, rs in sorted(actions.items()):
        reqs.append(Requirement(
            CLOUD, "permission", action, why(rs),
            f"allow {action} in a policy of the deploying identity "
            "(https://docs.aws.amazon.com/service-authorization/latest/reference/)"))
    return reqs


# -- live checks ---------------------------------------------------------------------------------
THROTTLED = {"Throttling", "ThrottlingException", "TooManyRequestsException", "RequestLimitExceeded",
             "LimitExceededException", "SlowDown"}
DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnauthorizedException",
          "UnrecognizedClientException", "InvalidClientTokenId", "ExpiredToken", "ExpiredTokenException"}
NOT_FOUND = {"NoSuchResourceException", "NoSuchEntity", "NoSuchEntityException"}


def _call(client: Any, operation: str, what: str, **kwargs: Any) -> dict:
    """One boto3 call; throttled / denied / timed out / unreachable -> Unknown, not found -> LookupError."""
    from botocore.exceptions import BotoCoreError, ClientError, ConnectTimeoutError, ReadTimeoutError

    try:
        return getattr(client, operation)(**kwargs)
    except ClientError as exc:
        error = exc.response.get("Error") or {}
        code, message = str(error.get("Code", "")), str(error.get("Message", ""))[:200]
        if code in NOT_FOUND:
            raise LookupError(f"{what}: {code}: {message}") from None
        if code in THROTTLED:
            raise Unknown(f"{what}: throttled ({code}); run the doctor again later") from None
        if code in DENIED:
            raise Unknown(f"{what}: denied ({code}): {message}") from None
        raise Unknown(f"{what}: {code}: {message}") from None
    except (ConnectTimeoutError, ReadTimeoutError):
        raise Unknown(f"{what}: no answer within the timeout") from None
    except BotoCoreError as exc:
        raise Unknown(f"{what}: {type(exc).__name__}: {exc}") from None


def clients(plan: Any, live: LiveContext) -> dict[str, Any]:
    """boto3 clients with the context's timeout and no retries. Cost Explorer answers in us-east-1 only
    (https://docs.aws.amazon.com/general/latest/gr/billing.html: ce.us-east-1.amazonaws.com)."""
    try:
        import boto3
        from botocore.config import Config
        from botocore.exceptions import BotoCoreError
    except ImportError:
        raise CredentialsAbsent("the AWS checks need boto3: pip install 'mlinfra-iac[cloud]'") from None
    try:
        session = boto3.Session(profile_name=live.config.get("aws:profile") or live.env.get("AWS_PROFILE") or None,
                                region_name=plan.region)
        if session.get_credentials() is None:
            raise CredentialsAbsent("no AWS credentials found by boto3: set AWS_ACCESS_KEY_ID and "
                                    "AWS_SECRET_ACCESS_KEY or AWS_PROFILE, or run `aws sso login`")
    except BotoCoreError as exc:
        raise CredentialsAbsent(f"AWS credentials could not be loaded ({exc}); run `aws configure` or "
                                "`aws sso login`") from None
    config = Config(connect_timeout=live.timeout, read_timeout=live.timeout, retries={"max_attempts": 1})
    return {
        "sts": session.client("sts", config=config),
        "iam": session.client("iam", config=config),
        "service-quotas": session.client("service-quotas", config=config),
        "ce": session.client("ce", region_name="us-east-1", config=config),
    }


def check(plan: Any, reqs: list[Requirement], live: LiveContext, made: Optional[dict[str, Any]] = None
          ) -> list[Requirement]:
    made = made if made is not None else clients(plan, live)
    memo: dict[str, Any] = {"_actions": [r.name for r in reqs if r.kind == "permission"],
                            "_tags": [r.name for r in reqs if r.kind == "tag"]}
    return [settle(r, lambda r: _check_one(made, r, memo)) for r in reqs]


def _check_one(made: dict[str, Any], req: Requirement, memo: dict[str, Any]) -> tuple[Status, str]:
    if req.kind == "quota":
        return _quota(made["service-quotas"], req)
    if req.kind == "tag":
        tags = once(memo, "tags", lambda: _cost_allocation_tags(made["ce"], memo["_tags"]))
        status = tags.get(req.name)
        if status == "Active":
            return Status.ok, "active"
        if status is None:
            # Cost Explorer lists a key only once a resource carries it (up to 24 h after tagging):
            # before the first deploy nobody can tell, and it must not block that deploy.
            raise Unknown("not yet known to Cost Explorer (it lists a tag key only after a resource carries it); "
                          "activate it after the first deploy")
        return Status.missing, f"{status}: the budget's tag filter counts nothing until it is Active"
    if req.kind == "permission":
        decisions = once(memo, "simulate", lambda: _simulate(made["sts"], made["iam"], memo["_actions"]))
        decision = decisions.get(req.name)
        if decision is None:
            raise Unknown("the policy simulator gave no decision for this action")
        return (Status.ok, decision) if decision == "allowed" else (Status.missing, decision)
    raise Unknown(f"no live check for {req.kind}")


def _quota(client: Any, req: Requirement) -> tuple[Status, str]:
    """GetServiceQuota (applied value); an account that never changed it answers NoSuchResource, then the
    default (GetAWSDefaultServiceQuota) applies (Service Quotas API Reference)."""
    code = req.data["code"]
    try:
        quota = _call(client, "get_service_quota", "Service Quotas GetServiceQuota", ServiceCode="ec2", QuotaCode=code)
    except LookupError:
        try:
            quota = _call(client, "get_aws_default_service_quota", "Service Quotas GetAWSDefaultServiceQuota",
                          ServiceCode="ec2", QuotaCode=code)
        except LookupError as exc:
            raise Unknown(str(exc)) from None
    value = float((quota.get("Quota") or {}).get("Value") or 0)
    need = int(req.data["need"])
    detail = f"{QUOTAS.get(code, code)}: {value:g} vCPUs, {need} needed"
    return (Status.ok, detail) if value >= need else (Status.missing, detail)


def _cost_allocation_tags(client: Any, keys: list[str]) -> dict[str, str]:
    """ListCostAllocationTags filtered to the plan's keys: {TagKey: Active | Inactive}."""
    out: dict[str, str] = {}
    token: Optional[str] = None
    for _ in range(20):  # bounded paging
        kwargs: dict[str, Any] = {"TagKeys": keys, "Type": "UserDefined"}
        if token:
            kwargs["NextToken"] = token
        page = _call(client, "list_cost_allocation_tags", "Cost Explorer ListCostAllocationTags", **kwargs)
        for tag in page.get("CostAllocationTags") or []:
            out[str(tag.get("TagKey"))] = str(tag.get("Status"))
        token = page.get("NextToken")
        if not token:
            break
    return out


def principal_arn(caller_arn: str) -> Optional[str]:
    """The IAM ARN the policy simulator takes for a caller (None for the root user, who may do anything).
    An assumed-role session (arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION) is simulated as its role,
    arn:aws:iam::ACCOUNT:role/ROLE ("Testing IAM policies with the IAM policy simulator"); a role with a
    path answers NoSuchEntity, which the doctor reports as unknown."""
    parts = caller_arn.split(":", 5)
    if len(parts) < 6:
        raise Unknown(f"unexpected caller ARN {caller_arn!r}")
    partition, service, account, resource = parts[1], parts[2], parts[4], parts[5]
    if service == "iam" and resource == "root":
        return None
    if service == "sts" and resource.startswith("assumed-role/"):
        role = resource.split("/")[1]
        return f"arn:{partition}:iam::{account}:role/{role}"
    if service == "iam" and resource.startswith(("user/", "role/")):
        return caller_arn
    raise Unknown(f"the policy simulator cannot evaluate {caller_arn} (federated or unknown principal)")


def _simulate(sts: Any, iam: Any, actions: Iterable[str]) -> dict[str, str]:
    """iam:SimulatePrincipalPolicy for every action on resource `*`: {action: allowed | implicitDeny | explicitDeny}."""
    caller = _call(sts, "get_caller_identity", "STS GetCallerIdentity")
    arn = principal_arn(str(caller.get("Arn", "")))
    actions = sorted(set(actions))
    if arn is None:
        return {a: "allowed" for a in actions}
    out: dict[str, str] = {}
    marker: Optional[str] = None
    for _ in range(20):  # bounded paging
        kwargs: dict[str, Any] = {"PolicySourceArn": arn, "ActionNames": actions}
        if marker:
            kwargs["Marker"] = marker
        try:
            page = _call(iam, "simulate_principal_policy", "IAM SimulatePrincipalPolicy", **kwargs)
        except LookupError as exc:
            raise Unknown(f"{exc} (a role with a path cannot be found from its session ARN)") from None
        for result in page.get("EvaluationResults") or []:
            out[str(result.get("EvalActionName"))] = str(result.get("EvalDecision"))
        if not page.get("IsTruncated"):
            break
        marker = page.get("Marker")
    return out
