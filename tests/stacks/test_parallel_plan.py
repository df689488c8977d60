"""Multi-cloud plans run one worker process per cloud and may come from the plan cache; the
document must equal the sequential, uncached one byte for byte."""
from __future__ import annotations

import os
import subprocess
import sys

from tests.helpers import PROJECT_DIR


def plan_json(tmp_path, jobs: str, *flags: str) -> str:
    env = {**os.environ, "MLINFRA_JOBS": jobs, "MLINFRA_PLAN_CACHE": "on", "MLINFRA_CACHE_DIR": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-m", "cli.main", "plan", "--env", "dev", "--cloud", "all", "-o", "json",
                           *flags], cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_parallel_cached_and_sequential_plans_are_identical(tmp_path):
    sequential = plan_json(tmp_path, "1", "--no-cache")
    assert not (tmp_path / "plan-cache").exists()
    parallel_cold = plan_json(tmp_path, "3")  # three workers, writes the cache
    assert len(list((tmp_path / "plan-cache").glob("*.json"))) == 3
    parallel_warm = plan_json(tmp_path, "3")  # read from the cache
    assert '"stack": "dev-aws"' in sequential
    assert sequential == parallel_cold == parallel_warm
