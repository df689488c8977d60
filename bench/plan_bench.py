"""Plan benchmarks: CLI start-up, offline plan wall time per cloud, and per-resource cost at scale.

Prints figures, never asserts. Baselines are measured in the same run: bare `python -c pass`
for start-up, and the 1-service program for per-resource scaling.

    .venv/bin/python bench/plan_bench.py [--repeat 5] [--scale 1,10,50]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT))


def wall(cmd: list[str], repeat: int, env: dict | None = None) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False,
                       env={**os.environ, **(env or {})})
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times)


def startup(repeat: int) -> None:
    base_min, base_med = wall([sys.executable, "-c", "pass"], repeat)
    help_min, help_med = wall([str(BIN / "mlinfra"), "--help"], repeat)
    print("== CLI start-up (wall, fresh process)")
    print(f"python -c pass          min {base_min * 1000:7.1f} ms  median {base_med * 1000:7.1f} ms")
    print(f"mlinfra --help          min {help_min * 1000:7.1f} ms  median {help_med * 1000:7.1f} ms"
          f"  ({help_med / base_med:.1f}x bare python; target < 150 ms)")


def plans(repeat: int) -> None:
    print("== mlinfra plan --env prod (wall, fresh process, imports included)")
    cmd = [str(BIN / "mlinfra"), "plan", "--env", "prod", "-o", "json", "--cloud"]
    for cloud in ("aws", "gcp", "azure"):
        best, med = wall([*cmd, cloud], repeat)
        print(f"--cloud {cloud:<6}          min {best:6.2f} s  median {med:6.2f} s")
    seq_best, seq_med = wall([*cmd, "all"], repeat, env={"MLINFRA_JOBS": "1"})
    print(f"--cloud all, 1 process  min {seq_best:6.2f} s  median {seq_med:6.2f} s  (baseline)")
    best, med = wall([*cmd, "all"], repeat)
    print(f"--cloud all, 1 worker per cloud  min {best:6.2f} s  median {med:6.2f} s"
          f"  ({seq_med / med:.2f}x faster than the baseline; target < 3 s)")


def scaling(counts: list[int], cloud: str) -> None:
    from components.ml_service import MLService
    from components.providers.base import get_provider
    from stacks.config import config_pairs, environment_spec, load_file
    from stacks.offline import run_program

    raw = load_file(ROOT / "Pulumi.prod.yaml")
    provider = get_provider(cloud)
    stack = "prod" if cloud == raw.home_cloud else f"prod-{cloud}"
    base = environment_spec(raw, env="prod", stack=stack, cloud=cloud)

    def program_of(n: int):
        specs = [base.model_copy(update={"service": base.service.model_copy(update={"name": f"svc{i:03d}"})})
                 for i in range(n)]

        def program():
            for spec in specs:
                MLService(f"{spec.service.name}-prod", spec, provider, ROOT)
        return program

    # Warm-up: first use of a provider SDK costs 0.3-1.5 s of imports, not plan time.
    run_program(program_of(1), config=config_pairs(raw, env="prod", cloud=cloud), project="mlinfra", stack=stack,
                cloud=cloud, region=base.region)
    print(f"== plan time per resource as services grow ({cloud}, prod, one program, in process)")
    baseline = None
    for n in counts:
        start = time.perf_counter()
        resources, _ = run_program(program_of(n), config=config_pairs(raw, env="prod", cloud=cloud),
                                   project="mlinfra", stack=stack, cloud=cloud, region=base.region)
        took = time.perf_counter() - start
        per = took / len(resources) * 1000
        baseline = baseline or per
        print(f"{n:>3} services  {len(resources):>5} resources  {took:6.2f} s  {per:5.2f} ms/resource"
              f"  ({per / baseline:.2f}x the 1-service figure; target < 5 ms at 50)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--scale", default="1,10,50")
    parser.add_argument("--cloud", default="aws")
    args = parser.parse_args()
    startup(args.repeat)
    plans(max(1, args.repeat // 2))
    scaling([int(n) for n in args.scale.split(",")], args.cloud)


if __name__ == "__main__":
    main()
