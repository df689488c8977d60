"""`mlinfra --help` (and every command's --help) must not pay for pulumi, a cloud SDK or the app stack."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("pulumi", "pulumi_aws", "pulumi_gcp", "pulumi_azure_native", "pulumi_docker_build", "pulumi_policy",
         "numpy", "fastapi", "docker", "grpc")

PROBE = """
import json, sys
from typer.testing import CliRunner
from cli.main import app
result = CliRunner().invoke(app, sys.argv[1:])
heavy = sorted({m.split('.')[0] for m in sys.modules} & set(json.loads(%r)))
print(json.dumps({"code": result.exit_code, "heavy": heavy, "out": result.output[:2000]}))
""" % json.dumps(HEAVY)


def run_help(*args: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_root_help_imports_no_heavy_module():
    got = run_help("--help")
    assert got["code"] == 0
    assert "plan" in got["out"] and "validate" in got["out"]
    assert got["heavy"] == []


@pytest.mark.parametrize("command", ["plan", "validate"])
def test_command_help_imports_no_heavy_module(command):
    got = run_help(command, "--help")
    assert got["code"] == 0
    assert got["heavy"] == []
