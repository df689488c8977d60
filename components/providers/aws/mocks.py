"""Realistic outputs for the offline plan: what AWS would answer for each resource and invoke."""
from __future__ import annotations

import hashlib

ACCOUNT = "123456789012"
REGION_KEY = "__region"  # set by the offline driver through the provider resource


def _hex(name: str, n: int = 17) -> str:
    return hashlib.sha1(name.encode()).hexdigest()[:n]


# EC2 resource types and the prefix of their ids.
_EC2_IDS = {
    "aws:ec2/vpc:Vpc": "vpc", "aws:ec2/subnet:Subnet": "subnet", "aws:ec2/securityGroup:SecurityGroup": "sg",
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": "sg", "aws:ec2/internetGateway:InternetGateway": "igw",
    "aws:ec2/natGateway:NatGateway": "nat", "aws:ec2/eip:Eip": "eipalloc", "aws:ec2/routeTable:RouteTable": "rtb",
    "aws:ec2/routeTableAssociation:RouteTableAssociation": "rtbassoc", "aws:ec2/vpcEndpoint:VpcEndpoint": "vpce",
}


def _uuid(name: str) -> str:
    h = _hex(name, 32)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def new_resource(typ: str, name: str, inputs: dict, region: str = "us-east-1") -> tuple[str, dict]:
    out = dict(inputs)
    region = inputs.get("region") or region
    if typ == "aws:s3/bucket:Bucket":
        bucket = inputs.get("bucket") or f"{name}-{_hex(name, 7)}"
        out.update(bucket=bucket, arn=f"arn:aws:s3:::{bucket}", bucketDomainName=f"{bucket}.s3.amazonaws.com",
                   bucketRegionalDomainName=f"{bucket}.s3.{region}.amazonaws.com", region=region)
        return bucket, out
    if typ == "aws:ecr/repository:Repository":
        repo = inputs.get("name") or name
        out.update(arn=f"arn:aws:ecr:{region}:{ACCOUNT}:repository/{repo}", registryId=ACCOUNT,
                   repositoryUrl=f"{ACCOUNT}.dkr.ecr.{region}.amazonaws.com/{repo}")
        return repo, out
    if typ.startswith("aws:iam/role:Role"):
        role = inputs.get("name") or f"{name}-{_hex(name, 7)}"
        out.update(name=role, arn=f"arn:aws:iam::{ACCOUNT}:role/{role}", uniqueId=f"AROA{_hex(name, 17).upper()}")
        return role, out
    if typ.startswith("aws:iam/policy:Policy"):
        pol = inputs.get("name") or f"{name}-{_hex(name, 7)}"
        out.update(arn=f"arn:aws:iam::{ACCOUNT}:policy/{pol}")
        return pol, out
    if typ.startswith("aws:iam/instanceProfile:InstanceProfile"):
        prof = inputs.get("name") or f"{name}-{_hex(name, 7)}"
        out.update(name=prof, arn=f"arn:aws:iam::{ACCOUNT}:instance-profile/{prof}")
        return prof, out
    if typ == "aws:sns/topic:Topic":
        topic = inputs.get("name") or f"{name}-{_hex(name, 7)}"
        out.update(arn=f"arn:aws:sns:{region}:{ACCOUNT}:{topic}", name=topic)
        return out["arn"], out
    if typ == "aws:lb/loadBalancer:LoadBalancer":
        lb = inputs.get("name") or name[:32]
        out.update(arn=f"arn:aws:elasticloadbalancing:{region}:{ACCOUNT}:loadbalancer/app/{lb}/{_hex(name, 16)}",
                   dnsName=f"{lb}-{int(_hex(name, 8), 16) % 10**10}.{region}.elb.amazonaws.com",
                   arnSuffix=f"app/{lb}/{_hex(name, 16)}", zoneId="Z32O12XQLNTSW2")
        return out["arn"], out
    if typ == "aws:lb/targetGroup:TargetGroup":
        tg = inputs.get("name") or name[:32]
        out.update(arn=f"arn:aws:elasticloadbalancing:{region}:{ACCOUNT}:targetgroup/{tg}/{_hex(name, 16)}",
                   arnSuffix=f"targetgroup/{tg}/{_hex(name, 16)}")
        return out["arn"], out
    if typ in _EC2_IDS:
        rid = f"{_EC2_IDS[typ]}-{_hex(name)}"
        kind = typ.split(":")[-1].lower()
        out.update(arn=f"arn:aws:ec2:{region}:{ACCOUNT}:{kind}/{rid}", ownerId=ACCOUNT)
        if typ == "aws:ec2/vpc:Vpc":
            out.update(defaultSecurityGroupId=f"sg-{_hex(name + 'default')}", mainRouteTableId=f"rtb-{_hex(name)}")
        if typ == "aws:ec2/securityGroup:SecurityGroup":
            out.setdefault("name", f"{name}-{_hex(name, 7)}")
        if typ == "aws:ec2/eip:Eip":
            out.update(allocationId=rid, publicIp=f"203.0.113.{int(_hex(name, 2), 16) % 254 + 1}")
        return rid, out
    if typ == "aws:cloudwatch/logGroup:LogGroup":
        group = inputs.get("name") or f"{name}-{_hex(name, 7)}"
        out.update(name=group, arn=f"arn:aws:logs:{region}:{ACCOUNT}:log-group:{group}")
        return group, out
    if typ == "aws:cloudwatch/metricAlarm:MetricAlarm":
        alarm = inputs.get("name") or f"{name}-{_hex(name, 7)}"
        out.update(name=alarm, arn=f"arn:aws:cloudwatch:{region}:{ACCOUNT}:alarm:{alarm}")
        return alarm, out
    if typ == "aws:autoscaling/group:Group":
        group = inputs.get("name") or f"{name}-{_hex(name, 7)}"
        out.update(name=group, arn=f"arn:aws:autoscaling:{region}:{ACCOUNT}:autoScalingGroup:"
                                   f"{_uuid(name)}:autoScalingGroupName/{group}")
        return group, out
    if typ == "aws:autoscaling/policy:Policy":
        pol = inputs.get("name") or f"{name}-{_hex(name, 7)}"
        out.update(name=pol, arn=f"arn:aws:autoscaling:{region}:{ACCOUNT}:scalingPolicy:{_uuid(name)}:"
                                 f"autoScalingGroupName/{inputs.get('autoscalingGroupName')}:policyName/{pol}")
        return pol, out
    if typ == "aws:ecs/service:Service":
        svc = inputs.get("name") or f"{name}-{_hex(name, 7)}"
        out.update(name=svc, arn=f"arn:aws:ecs:{region}:{ACCOUNT}:service/{svc}")
        return out["arn"], out
    if typ == "aws:kms/key:Key":
        key = _uuid(name)
        out.update(keyId=key, arn=f"arn:aws:kms:{region}:{ACCOUNT}:key/{key}")
        return key, out
    if typ == "aws:kms/alias:Alias":
        out.update(arn=f"arn:aws:kms:{region}:{ACCOUNT}:{inputs.get('name')}")
        return inputs.get("name") or name, out
    if typ == "aws:sns/topicSubscription:TopicSubscription":
        out.update(arn=f"{inputs.get('topic')}:{_uuid(name)}", pendingConfirmation=True)
        return out["arn"], out
    if typ == "aws:efs/fileSystem:FileSystem":
        fs = f"fs-{_hex(name)}"
        out.update(arn=f"arn:aws:elasticfilesystem:{region}:{ACCOUNT}:file-system/{fs}",
                   dnsName=f"{fs}.efs.{region}.amazonaws.com")
        return fs, out
    if typ == "aws:efs/mountTarget:MountTarget":
        return f"fsmt-{_hex(name)}", out
    if typ == "aws:acm/certificate:Certificate":
        # ACM answers DNS validation with one CNAME per name: _<token>.<domain> -> _<token>.acm-validations.aws.
        cert = _uuid(name)
        domain = inputs.get("domainName", "example.com")
        out.update(arn=f"arn:aws:acm:{region}:{ACCOUNT}:certificate/{cert}", status="PENDING_VALIDATION",
                   domainValidationOptions=[{
                       "domainName": domain, "resourceRecordName": f"_{_hex(domain, 32)}.{domain}.",
                       "resourceRecordType": "CNAME",
                       "resourceRecordValue": f"_{_hex(domain + 'v', 32)}.abcdefghij.acm-validations.aws."}])
        return out["arn"], out
    if typ == "aws:acm/certificateValidation:CertificateValidation":
        return f"{inputs.get('certificateArn')}-validation", out
    if typ == "aws:route53/record:Record":
        out.update(fqdn=str(inputs.get("name", "")).rstrip("."))
        return f"{inputs.get('zoneId')}_{inputs.get('name')}_{inputs.get('type')}", out
    if typ == "aws:wafv2/webAcl:WebAcl":
        acl = inputs.get("name") or name
        out.update(arn=f"arn:aws:wafv2:{region}:{ACCOUNT}:regional/webacl/{acl}/{_uuid(name)}")
        return _uuid(name), out
    if typ == "aws:lambda/function:Function":
        fn = inputs.get("name") or name
        arn = f"arn:aws:lambda:{region}:{ACCOUNT}:function:{fn}"
        out.update(arn=arn, invokeArn=f"arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{arn}/invocations",
                   name=fn, version="$LATEST")
        return fn, out
    if typ == "aws:apigatewayv2/api:Api":
        api = _hex(name, 10)
        out.update(apiEndpoint=f"https://{api}.execute-api.{region}.amazonaws.com",
                   executionArn=f"arn:aws:execute-api:{region}:{ACCOUNT}:{api}",
                   arn=f"arn:aws:apigateway:{region}::/apis/{api}")
        return api, out
    if typ == "aws:secretsmanager/secret:Secret":
        # Secrets Manager appends six random characters to the name in the ARN.
        secret = inputs.get("name") or name
        out.update(arn=f"arn:aws:secretsmanager:{region}:{ACCOUNT}:secret:{secret}-{_hex(name, 6)}")
        return out["arn"], out
    if typ == "aws:budgets/budget:Budget":
        budget = inputs.get("name") or f"{name}-{_hex(name, 7)}"
        out.update(name=budget, accountId=ACCOUNT, arn=f"arn:aws:budgets::{ACCOUNT}:budget/{budget}")
        return f"{ACCOUNT}:{budget}", out
    if typ == "aws:ec2/launchTemplate:LaunchTemplate":
        out.update(latestVersion=1, arn=f"arn:aws:ec2:{region}:{ACCOUNT}:launch-template/lt-{_hex(name)}")
        return f"lt-{_hex(name)}", out
    if typ == "aws:ecs/cluster:Cluster":
        out.update(arn=f"arn:aws:ecs:{region}:{ACCOUNT}:cluster/{inputs.get('name') or name}")
        return out["arn"], out
    if typ == "aws:ecs/taskDefinition:TaskDefinition":
        fam = inputs.get("family") or name
        out.update(arn=f"arn:aws:ecs:{region}:{ACCOUNT}:task-definition/{fam}:1", revision=1)
        return out["arn"], out
    # Anything else: an id shaped like the name, and an ARN when the type usually has one.
    arn = f"arn:aws:{typ.split(':')[1].split('/')[0]}:{region}:{ACCOUNT}:{name}"
    out.setdefault("arn", arn)
    out.setdefault("name", f"{name}-{_hex(name, 7)}")  # what autonaming would have produced
    return f"{name}-{_hex(name, 8)}", out


def call(token: str, args: dict, region: str = "us-east-1") -> dict:
    if token == "aws:ecr/getAuthorizationToken:getAuthorizationToken":
        return {"userName": "AWS", "password": "mock-ecr-token", "authorizationToken": "QVdTOm1vY2s=",
                "proxyEndpoint": f"https://{ACCOUNT}.dkr.ecr.{region}.amazonaws.com", "expiresAt": "2099-01-01T00:00:00Z"}
    if token == "aws:index/getAvailabilityZones:getAvailabilityZones":
        return {"names": [f"{region}a", f"{region}b", f"{region}c"], "zoneIds": ["z1", "z2", "z3"], "id": region}
    if token == "aws:index/getCallerIdentity:getCallerIdentity":
        return {"accountId": ACCOUNT, "arn": f"arn:aws:iam::{ACCOUNT}:user/mock", "userId": "AIDAMOCK", "id": ACCOUNT}
    if token == "aws:elb/getServiceAccount:getServiceAccount":
        # A few of the regional ELB accounts (terraform-provider-aws aws_elb_service_account map).
        accounts = {"eu-west-1": "156460612806", "us-east-1": "127311923021", "eu-central-1": "054676820928"}
        acct = accounts.get(args.get("region") or region, "000000000000")
        return {"arn": f"arn:aws:iam::{acct}:root", "id": acct, "region": args.get("region") or region}
    if token == "aws:route53/getZone:getZone":
        zone = str(args.get("name", "example.com")).rstrip(".")
        return {"zoneId": f"Z{_hex(zone, 13).upper()}", "name": zone, "id": f"Z{_hex(zone, 13).upper()}",
                "privateZone": False}
    if token == "aws:index/getRegion:getRegion":
        return {"name": region, "region": region, "id": region}
    if token == "aws:index/getPartition:getPartition":
        return {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws"}
    if token == "aws:ec2/getAmi:getAmi":
        # The newest image matching the name filter, with a stable id per filter.
        filters = {f.get("name"): f.get("values", [""])[0] for f in args.get("filters") or []}
        pattern = filters.get("name", "image-*")
        ami = filters.get("image-id") or f"ami-{_hex(pattern)}"
        return {"id": ami, "imageId": ami, "name": pattern.replace("*", "20261101"), "architecture": "x86_64",
                "ownerId": "137112412989", "rootDeviceName": "/dev/xvda" if "al2023" in pattern else "/dev/sda1",
                "state": "available"}
    if token == "aws:iam/getPolicyDocument:getPolicyDocument":
        import json

        return {"json": json.dumps({"Version": "2012-10-17", "Statement": args.get("statements", [])}), "id": "doc"}
    return {}
