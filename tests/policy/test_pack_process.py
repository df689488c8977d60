"""The pack as the Pulumi CLI runs it: `python policy/__main__.py` serves the analyzer over gRPC.
These tests talk to it the way the engine does (GetAnalyzerInfo, Configure, Analyze, AnalyzeStack)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import grpc
import pytest
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

from policy.rules import RULES
from tests.policy.fixtures import UNKNOWN_BOOL, svc

ROOT = Path(__file__).resolve().parents[2]
SG = "aws:ec2/securityGroup:SecurityGroup"
SSH_OPEN = {"ingress": [{"protocol": "tcp", "fromPort": 22, "toPort": 22, "cidrBlocks": ["0.0.0.0/0"]}],
            "tags": {"service": "digits", "environment": "dev", "stack": "dev", "managed-by": "mlinfra"}}


def struct(doc: dict) -> struct_pb2.Struct:
    out = struct_pb2.Struct()
    out.update(doc)
    return out


@pytest.fixture(scope="module")
def analyzer():
    yield from _serve()


@pytest.fixture
def own_analyzer():
    """A pack process of the test's own: Configure changes a running pack for every later request."""
    yield from _serve()


def _serve():
    # Started from another folder on purpose: the pack must find the project by itself.
    # pulumi_policy writes the port with `sys.stdout.buffer.write` and no flush (pulumi_policy/policy.py,
    # PolicyPack.__init__), so the reader must run it unbuffered. Set here, not inherited: a machine
    # whose environment happened to carry PYTHONUNBUFFERED hid this, and under `env -i` the test hung.
    proc = subprocess.Popen([sys.executable, str(ROOT / "policy" / "__main__.py")], cwd="/", stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        port = proc.stdout.readline().strip()
        assert port.isdigit(), proc.stderr.read() if proc.poll() is not None else port
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        grpc.channel_ready_future(channel).result(timeout=30)
        yield analyzer_pb2_grpc.AnalyzerStub(channel)
        channel.close()
    finally:
        proc.kill()
        proc.wait(timeout=30)


def analyze(stub, type_: str, props: dict, name: str = "r0"):
    urn = f"urn:pulumi:dev::mlinfra::{type_}::{name}"
    return stub.Analyze(analyzer_pb2.AnalyzeRequest(type=type_, properties=struct(props), urn=urn, name=name),
                        timeout=30).diagnostics


def test_pack_announces_every_rule_with_the_default_config(analyzer):
    info = analyzer.GetAnalyzerInfo(empty_pb2.Empty(), timeout=30)
    assert info.name == "mlinfra"
    assert [p.name for p in info.policies] == [r.name for r in RULES]
    levels = {p.name: p.enforcementLevel for p in info.policies}
    assert levels["budget-required"] == analyzer_pb2.MANDATORY and levels["no-public-storage"] == analyzer_pb2.MANDATORY
    tags = json_format.MessageToDict(info.initialConfig["required-tags"].properties)
    assert tags == {"tags": ["service", "environment", "stack", "managed-by"]}


def test_pack_reports_a_mandatory_violation(analyzer):
    (diag,) = analyze(analyzer, SG, SSH_OPEN)
    assert diag.policyName == "no-admin-ports-open"
    assert diag.enforcementLevel == analyzer_pb2.MANDATORY
    assert "ingress[0] opens port 22 to 0.0.0.0/0" in diag.message


def test_pack_reports_unknown_values_as_advisory(analyzer):
    props = {"bucket": "b", "blockPublicAcls": UNKNOWN_BOOL, "blockPublicPolicy": True, "ignorePublicAcls": True,
             "restrictPublicBuckets": True}
    (diag,) = analyze(analyzer, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", props)
    assert diag.policyName == "no-public-storage"
    assert diag.enforcementLevel == analyzer_pb2.ADVISORY
    assert "can't be known during preview" in diag.message


def test_pack_stack_policy_reads_the_service_description(analyzer):
    service = analyzer_pb2.AnalyzerResource(type="mlinfra:service:MLService", name="digits-prod",
                                            urn="urn:pulumi:prod::mlinfra::mlinfra:service:MLService::digits-prod",
                                            properties=struct(svc("prod", cloud="aws")))
    diags = analyzer.AnalyzeStack(analyzer_pb2.AnalyzeStackRequest(resources=[service]), timeout=30).diagnostics
    assert [(d.policyName, d.enforcementLevel) for d in diags] == [("budget-required", analyzer_pb2.MANDATORY)]
    assert diags[0].urn == service.urn


def test_policy_pack_config_reaches_the_rules(own_analyzer):
    """What `--policy-pack-config` does: the engine sends Configure, the rule reads args.get_config()."""
    analyzer = own_analyzer
    config = {"no-admin-ports-open": analyzer_pb2.PolicyConfig(enforcementLevel=analyzer_pb2.MANDATORY,
                                                               properties=struct({"ports": [3389]}))}
    analyzer.Configure(analyzer_pb2.ConfigureAnalyzerRequest(policyConfig=config), timeout=30)
    assert [d for d in analyze(analyzer, SG, SSH_OPEN) if d.policyName == "no-admin-ports-open"] == []
