"""The Application Load Balancer in front of either serving mode, and the security groups that make
the service reachable only through it."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_aws as aws

from components.providers.base import BuildContext

from . import identity, ingress
from .network import ANYWHERE, HTTP, HTTPS, VPC_CIDR, Network, https_out, security_group

@dataclass
class Frontend:
    alb: aws.lb.LoadBalancer
    target_group: aws.lb.TargetGroup
    listener: aws.lb.Listener  # the one that forwards (HTTPS when the service has a domain)
    app_sg: aws.ec2.SecurityGroup  # for the tasks / instances: the app port from the ALB only
    url: pulumi.Output[str]
    dns_records: Optional[pulumi.Output] = None  # records the user must create (no managed zone)


def frontend(provider, ctx: BuildContext, parent: pulumi.Resource, net: Network, target_type: str) -> Frontend:
    """ALB + target group + listeners (+ certificate, WAF, access logs). target_type: "ip" for
    Fargate tasks, "instance" for EC2."""
    p = ctx.prefix
    sv = ctx.spec.service.serving
    opts = pulumi.ResourceOptions(parent=parent)
    tls = sv.domain is not None
    internal = sv.ingress == "internal"
    # Internal ingress: only clients inside the VPC (or peered into it) reach the load balancer.
    clients = [VPC_CIDR] if internal else [ANYWHERE]
    ports = (HTTP, HTTPS) if tls else (HTTP,)
    alb_sg = security_group(
        ctx, net, "alb", f"{p} load balancer: HTTP(S) from {'the VPC' if internal else 'the internet'}",
        ingress=[{"protocol": "tcp", "from_port": port, "to_port": port, "cidr_blocks": clients,
                  "description": f"clients on {port}"} for port in ports],
        egress=[{"protocol": "tcp", "from_port": sv.port, "to_port": sv.port, "cidr_blocks": [VPC_CIDR],
                 "description": "to the service port of targets in the VPC"}])
    app_sg = security_group(
        ctx, net, "app", f"{p} serving: the service port from the load balancer only",
        ingress=[{"protocol": "tcp", "from_port": sv.port, "to_port": sv.port, "security_groups": [alb_sg.id],
                  "description": "service port from the load balancer"}],
        egress=[https_out("image pulls, AWS APIs")])

    account = identity.account_id(parent)
    logs, log_policy = ingress.access_log_bucket(provider, ctx, parent, account)
    alb = aws.lb.LoadBalancer(
        f"{p}-alb", load_balancer_type="application", internal=internal, security_groups=[alb_sg.id],
        subnets=net.private_ids if internal else net.public_ids, drop_invalid_header_fields=True,
        idle_timeout=60, enable_deletion_protection=False,
        access_logs={"bucket": logs.bucket, "prefix": ingress.LOG_PREFIX, "enabled": True},
        tags=ctx.tags,
        # ELB checks it may write to the bucket when logging is enabled: the policy comes first.
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[log_policy]))
    tg = aws.lb.TargetGroup(
        f"{p}-tg", port=sv.port, protocol="HTTP", target_type=target_type, vpc_id=net.vpc.id,
        deregistration_delay=30,
        health_check={"enabled": True, "path": sv.health_path, "port": "traffic-port", "protocol": "HTTP",
                      "matcher": "200", "interval": 15, "timeout": 5, "healthy_threshold": 2,
                      "unhealthy_threshold": 3},
        tags=ctx.tags, opts=opts)
    forward = [{"type": "forward", "target_group_arn": tg.arn}]
    lopts = pulumi.ResourceOptions(parent=alb)
    dns_records = None
    if tls:
        cert = ingress.certificate(ctx, parent, alb)
        dns_records = cert.dns_records
        listener = aws.lb.Listener(f"{p}-https", load_balancer_arn=alb.arn, port=HTTPS, protocol="HTTPS",
                                   ssl_policy=ingress.TLS_POLICY, certificate_arn=cert.certificate_arn,
                                   default_actions=forward, tags=ctx.tags, opts=lopts)
        # Port 80 only redirects: nothing is served in plain text.
        aws.lb.Listener(f"{p}-http", load_balancer_arn=alb.arn, port=HTTP, protocol="HTTP",
                        default_actions=[{"type": "redirect", "redirect": {
                            "port": str(HTTPS), "protocol": "HTTPS", "status_code": "HTTP_301"}}],
                        tags=ctx.tags, opts=lopts)
        url = pulumi.Output.from_input(f"https://{sv.domain}")
    else:
        listener = aws.lb.Listener(f"{p}-http", load_balancer_arn=alb.arn, port=HTTP, protocol="HTTP",
                                   default_actions=forward, tags=ctx.tags, opts=lopts)
        url = alb.dns_name.apply(lambda dns: f"http://{dns}")
    if sv.firewall:
        ingress.firewall(ctx, parent, alb)
    return Frontend(alb=alb, target_group=tg, listener=listener, app_sg=app_sg, url=url, dns_records=dns_records)
