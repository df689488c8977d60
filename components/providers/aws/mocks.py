"""Realistic outputs for the offline plan: what AWS would answer for each resource and invoke."""
from __future__ import annotations

import hashlib

ACCOUNT = "123456789012"
REGION_KEY = "__region"  # set by the offline driver through the provider resource


def _hex(name: str, n: int = 17) -> str:
    return hashlib.sha1(name.encode()).hexdigest()[:n]


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
    if typ == "aws:ec2/vpc:Vpc":
        return f"vpc-{_hex(name)}", out
    if typ == "aws:ec2/subnet:Subnet":
        return f"subnet-{_hex(name)}", out
    if typ == "aws:ec2/securityGroup:SecurityGroup":
        return f"sg-{_hex(name)}", out
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
    return f"{name}-{_hex(name, 8)}", out


def call(token: str, args: dict, region: str = "us-east-1") -> dict:
    if token == "aws:ecr/getAuthorizationToken:getAuthorizationToken":
        return {"userName": "AWS", "password": "mock-ecr-token", "authorizationToken": "QVdTOm1vY2s=",
                "proxyEndpoint": f"https://{ACCOUNT}.dkr.ecr.{region}.amazonaws.com", "expiresAt": "2099-01-01T00:00:00Z"}
    if token == "aws:index/getAvailabilityZones:getAvailabilityZones":
        return {"names": [f"{region}a", f"{region}b", f"{region}c"], "zoneIds": ["z1", "z2", "z3"], "id": region}
    if token == "aws:index/getCallerIdentity:getCallerIdentity":
        return {"accountId": ACCOUNT, "arn": f"arn:aws:iam::{ACCOUNT}:user/mock", "userId": "AIDAMOCK", "id": ACCOUNT}
    if token == "aws:index/getRegion:getRegion":
        return {"name": region, "region": region, "id": region}
    if token == "aws:index/getPartition:getPartition":
        return {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws"}
    if token == "aws:ec2/getAmi:getAmi":
        return {"id": "ami-0abcdef1234567890", "imageId": "ami-0abcdef1234567890",
                "name": "Deep Learning Base OSS Nvidia Driver GPU AMI (Ubuntu 22.04) 20261101", "architecture": "x86_64"}
    if token == "aws:iam/getPolicyDocument:getPolicyDocument":
        import json

        return {"json": json.dumps({"Version": "2012-10-17", "Statement": args.get("statements", [])}), "id": "doc"}
    return {}
