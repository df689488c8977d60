"""Multi-cloud plans run one worker process per cloud; the document must equal the sequential one."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.helpers import PROJECT_DIR


def plan_json(jobs: str) -> dict:
    env = {**os.environ, "MLINFRA_JOBS": jobs}
    proc = subprocess.run([sys.executable, "-m", "cli.main", "plan", "--env", "dev", "--cloud", "all", "-o", "json"],
                          cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_parallel_and_sequential_plans_are_identical():
    parallel, sequential = plan_json("3"), plan_json("1")
    assert [p["stack"] for p in parallel["plans"]] == ["dev-aws", "dev", "dev-azure"]
    assert parallel == sequential
