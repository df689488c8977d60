"""Alerts: an encrypted SNS topic with e-mail subscriptions, CloudWatch alarms on the serving
load balancer (5xx rate, p99 latency, no healthy target) and on forgotten training machines.

The topic is encrypted with a customer-managed KMS key rather than alias/aws/sns: the AWS-managed
key's policy cannot be changed, and CloudWatch alarms and AWS Budgets can only publish to an
encrypted topic whose key lets their service principals use it.
"""
from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

from components.providers.base import BuildContext, MonitoringOutputs

from .sizes import training_alarm_window

PUBLISHERS = ["cloudwatch.amazonaws.com", "budgets.amazonaws.com"]
PERIOD_S = 60
# Minutes a serving condition must hold before anyone is woken up.
SERVING_EVAL_PERIODS = 5


def key_policy(account: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [
        # A key policy must let the account administer the key, or the key becomes unmanageable;
        # "Resource": "*" in a key policy means this key only.
        {"Sid": "AccountAdministers", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
         "Action": "kms:*", "Resource": "*"},
        {"Sid": "AlarmsAndBudgetsPublish", "Effect": "Allow", "Principal": {"Service": PUBLISHERS},
         "Action": ["kms:Decrypt", "kms:GenerateDataKey*"], "Resource": "*",
         "Condition": {"StringEquals": {"aws:SourceAccount": account}}},
    ]})


def topic_policy(topic_arn: str, account: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "AccountManages", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
         "Action": ["SNS:GetTopicAttributes", "SNS:SetTopicAttributes", "SNS:Subscribe", "SNS:Publish",
                    "SNS:ListSubscriptionsByTopic", "SNS:DeleteTopic"], "Resource": topic_arn},
        {"Sid": "AlarmsAndBudgetsPublish", "Effect": "Allow", "Principal": {"Service": PUBLISHERS},
         "Action": "SNS:Publish", "Resource": topic_arn,
         "Condition": {"StringEquals": {"aws:SourceAccount": account}}},
    ]})


def build_monitoring(provider, parent: pulumi.Resource, ctx: BuildContext) -> MonitoringOutputs:
    p = ctx.prefix
    opts = pulumi.ResourceOptions(parent=parent)
    account = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=parent)).account_id
    key = aws.kms.Key(f"{p}-alerts-key", description=f"mlinfra {p}: alert topic encryption",
                      enable_key_rotation=True, deletion_window_in_days=7, policy=account.apply(key_policy),
                      tags=ctx.tags, opts=opts)
    aws.kms.Alias(f"{p}-alerts-key-alias", name=f"alias/mlinfra/{p}-alerts", target_key_id=key.key_id,
                  opts=pulumi.ResourceOptions(parent=key))
    topic = aws.sns.Topic(f"{p}-alerts", name=f"{p}-alerts", display_name=f"mlinfra {p} alerts",
                          kms_master_key_id=key.arn, tags=ctx.tags, opts=opts)
    aws.sns.TopicPolicy(f"{p}-alerts-policy", arn=topic.arn,
                        policy=pulumi.Output.all(topic.arn, account).apply(lambda a: topic_policy(a[0], a[1])),
                        opts=pulumi.ResourceOptions(parent=topic))
    for i, email in enumerate(ctx.spec.service.alerts.emails):
        # Each address receives a confirmation mail; alerts flow once it is confirmed.
        aws.sns.TopicSubscription(f"{p}-alerts-email-{i}", topic=topic.arn, protocol="email", endpoint=email,
                                  opts=pulumi.ResourceOptions(parent=topic))
    front = ctx.shared.get("aws:frontend")
    if front is not None:
        _serving_alarms(ctx, parent, topic, front)
    group = ctx.shared.get("aws:training_group")
    if group is not None:
        _training_alarm(ctx, parent, topic, group)
    return MonitoringOutputs(notification_target=topic.arn)


def _alarm(ctx: BuildContext, parent, role: str, topic, **kwargs) -> aws.cloudwatch.MetricAlarm:
    return aws.cloudwatch.MetricAlarm(f"{ctx.prefix}-{role}", alarm_actions=[topic.arn], ok_actions=[topic.arn],
                                      tags=ctx.tags, opts=pulumi.ResourceOptions(parent=parent), **kwargs)


def _serving_alarms(ctx: BuildContext, parent, topic, front) -> None:
    al = ctx.spec.service.alerts
    p = ctx.prefix
    lb = {"LoadBalancer": front.alb.arn_suffix}

    def metric(qid: str, name: str) -> dict:
        return {"id": qid, "return_data": False, "metric": {
            "namespace": "AWS/ApplicationELB", "metric_name": name, "dimensions": lb, "period": PERIOD_S,
            "stat": "Sum"}}

    _alarm(ctx, parent, "5xx-rate", topic,
           alarm_description=f"{p}: more than {al.error_rate_percent:g}% of requests answered 5xx by the service",
           comparison_operator="GreaterThanThreshold", threshold=float(al.error_rate_percent),
           evaluation_periods=SERVING_EVAL_PERIODS, treat_missing_data="notBreaching",
           metric_queries=[
               metric("errors", "HTTPCode_Target_5XX_Count"),
               metric("requests", "RequestCount"),
               # No requests is no error rate, not a division by zero.
               {"id": "rate", "label": "5xx rate (%)", "return_data": True,
                "expression": "IF(requests > 0, 100 * errors / requests, 0)"},
           ])
    _alarm(ctx, parent, "p99-latency", topic,
           alarm_description=f"{p}: p99 response time above {al.p99_latency_ms} ms",
           namespace="AWS/ApplicationELB", metric_name="TargetResponseTime", dimensions=lb,
           extended_statistic="p99", period=PERIOD_S, evaluation_periods=SERVING_EVAL_PERIODS,
           comparison_operator="GreaterThanThreshold", threshold=al.p99_latency_ms / 1000,
           treat_missing_data="notBreaching")
    _alarm(ctx, parent, "no-healthy-host", topic,
           alarm_description=f"{p}: no healthy serving target behind the load balancer",
           namespace="AWS/ApplicationELB", metric_name="HealthyHostCount",
           dimensions={**lb, "TargetGroup": front.target_group.arn_suffix}, statistic="Minimum", period=PERIOD_S,
           evaluation_periods=2, comparison_operator="LessThanThreshold", threshold=1.0,
           # No data means no target reports healthy: that is the outage this alarm is for.
           treat_missing_data="breaching")


def _training_alarm(ctx: BuildContext, parent, topic, group) -> None:
    hours = ctx.spec.service.alerts.training_max_hours
    period, periods = training_alarm_window(hours)
    _alarm(ctx, parent, "training-running", topic,
           alarm_description=f"{ctx.prefix}: training machines in service for more than {hours} h; forgotten?",
           namespace="AWS/AutoScaling", metric_name="GroupInServiceInstances",
           dimensions={"AutoScalingGroupName": group.name}, statistic="Minimum", period=period,
           evaluation_periods=periods, comparison_operator="GreaterThanThreshold", threshold=0.0,
           treat_missing_data="notBreaching")
