"""Alerts and budget on AWS: encrypted SNS topic, CloudWatch alarms, AWS Budgets."""
from __future__ import annotations

import json

import pytest

from tests.helpers import inputs, one

from .util import by_sid, named, plan_aws

TOPIC = "arn:aws:sns:eu-west-1:123456789012:digits-prod-alerts"
SERVICE = {
    "serving": {"mode": "vm", "min_instances": 3, "max_instances": 10},
    "training": {"enabled": True, "machines": 0},
    "alerts": {"emails": ["oncall@example.com", "ml@example.com"], "error_rate_percent": 2.5,
               "p99_latency_ms": 750, "training_max_hours": 12},
    "budget": {"monthly_usd": 2000},
}


@pytest.fixture(scope="module")
def plan():
    return plan_aws(SERVICE, env="prod")


def test_topic_is_encrypted_with_a_key_alarms_and_budgets_may_use(plan):
    topic = inputs(plan, "aws:sns/topic:Topic")
    key = one(plan, "aws:kms/key:Key")
    assert topic["name"] == "digits-prod-alerts"
    assert topic["kmsMasterKeyId"].startswith("arn:aws:kms:eu-west-1:123456789012:key/")
    assert key.inputs["enableKeyRotation"] is True
    sids = by_sid(key)
    assert sids["AlarmsAndBudgetsPublish"]["Principal"] == {
        "Service": ["cloudwatch.amazonaws.com", "budgets.amazonaws.com"]}
    assert sids["AlarmsAndBudgetsPublish"]["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}
    publish = by_sid(one(plan, "aws:sns/topicPolicy:TopicPolicy"))["AlarmsAndBudgetsPublish"]
    assert publish["Action"] == "SNS:Publish" and publish["Resource"] == TOPIC


def test_each_address_is_subscribed_by_email(plan):
    subs = sorted((s.inputs["protocol"], s.inputs["endpoint"], s.inputs["topic"])
                  for s in plan.of_type("aws:sns/topicSubscription:TopicSubscription"))
    assert subs == [("email", "ml@example.com", TOPIC), ("email", "oncall@example.com", TOPIC)]


def test_5xx_rate_alarm_divides_target_errors_by_requests(plan):
    alarm = named(plan, "digits-prod-5xx-rate").inputs
    assert (alarm["comparisonOperator"], alarm["threshold"]) == ("GreaterThanThreshold", 2.5)
    queries = {q["id"]: q for q in alarm["metricQueries"]}
    assert queries["rate"]["expression"] == "IF(requests > 0, 100 * errors / requests, 0)"
    assert queries["rate"]["returnData"] is True
    assert queries["errors"]["metric"]["metricName"] == "HTTPCode_Target_5XX_Count"
    assert queries["requests"]["metric"]["metricName"] == "RequestCount"
    lb = queries["errors"]["metric"]["dimensions"]["LoadBalancer"]
    assert lb.startswith("app/digits-prod-alb/") and queries["requests"]["metric"]["dimensions"] == {"LoadBalancer": lb}
    assert alarm["alarmActions"] == alarm["okActions"] == [TOPIC]


def test_p99_latency_alarm_is_in_seconds(plan):
    alarm = named(plan, "digits-prod-p99-latency").inputs
    assert (alarm["metricName"], alarm["extendedStatistic"]) == ("TargetResponseTime", "p99")
    assert alarm["threshold"] == 0.75 and alarm["comparisonOperator"] == "GreaterThanThreshold"
    assert alarm["alarmActions"] == [TOPIC]


def test_no_healthy_host_alarm_watches_the_target_group(plan):
    alarm = named(plan, "digits-prod-no-healthy-host").inputs
    assert (alarm["metricName"], alarm["statistic"], alarm["comparisonOperator"], alarm["threshold"]) == (
        "HealthyHostCount", "Minimum", "LessThanThreshold", 1)
    assert alarm["dimensions"]["TargetGroup"].startswith("targetgroup/digits-prod-tg/")
    assert alarm["treatMissingData"] == "breaching"


def test_training_alarm_fires_after_the_configured_hours(plan):
    alarm = named(plan, "digits-prod-training-running").inputs
    assert (alarm["namespace"], alarm["metricName"]) == ("AWS/AutoScaling", "GroupInServiceInstances")
    assert (alarm["period"], alarm["evaluationPeriods"]) == (3600, 12)
    assert (alarm["comparisonOperator"], alarm["threshold"], alarm["statistic"]) == ("GreaterThanThreshold", 0,
                                                                                     "Minimum")
    asg = [r for r in plan.of_type("aws:autoscaling/group:Group") if r.name == "digits-prod-training-asg"]
    assert len(asg) == 1 and alarm["dimensions"]["AutoScalingGroupName"].startswith("digits-prod-training-asg")


def test_budget_is_monthly_cost_for_this_service_and_environment(plan):
    budget = inputs(plan, "aws:budgets/budget:Budget")
    assert (budget["budgetType"], budget["timeUnit"], budget["limitAmount"], budget["limitUnit"]) == (
        "COST", "MONTHLY", "2000.00", "USD")
    assert budget["name"] == "digits-prod-monthly"
    assert budget["filterExpression"] == {"ands": [{"tags": {"key": "service", "values": ["digits"]}},
                                                   {"tags": {"key": "environment", "values": ["prod"]}}]}
    notes = budget["notifications"]
    assert [n["threshold"] for n in notes] == [50, 90, 100]
    for n in notes:
        assert (n["comparisonOperator"], n["thresholdType"], n["notificationType"]) == (
            "GREATER_THAN", "PERCENTAGE", "ACTUAL")
        assert n["subscriberSnsTopicArns"] == [TOPIC] and "subscriberEmailAddresses" not in n


def test_without_alerts_the_budget_mails_the_addresses_directly():
    plan = plan_aws({"serving": {"min_instances": 1},
                     "alerts": {"enabled": False, "emails": ["finance@example.com"]},
                     "budget": {"monthly_usd": 99.5, "alert_thresholds_percent": [80, 120]}})
    assert not plan.of_type("aws:sns/topic:Topic") and not plan.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    budget = inputs(plan, "aws:budgets/budget:Budget")
    assert budget["limitAmount"] == "99.50"
    assert [(n["threshold"], n["subscriberEmailAddresses"]) for n in budget["notifications"]] == [
        (80, ["finance@example.com"]), (120, ["finance@example.com"])]


def test_serverless_alerts_watch_the_same_load_balancer():
    plan = plan_aws({"serving": {"min_instances": 1}, "alerts": {"emails": ["a@example.com"]}})
    alarms = {r.name for r in plan.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")}
    assert alarms == {"digits-dev-5xx-rate", "digits-dev-p99-latency", "digits-dev-no-healthy-host"}
    assert not plan.of_type("aws:budgets/budget:Budget")
    policy = json.loads(inputs(plan, "aws:kms/key:Key")["policy"])
    assert policy["Statement"][0]["Principal"] == {"AWS": "arn:aws:iam::123456789012:root"}
