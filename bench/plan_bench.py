"""Plan benchmarks: start-up, the offline plan of prod on every cloud, and per-resource cost at scale.

Prints figures and ratios measured in the same run, never asserts. The reference is the AWS CLI
(`aws --version`, what a user compares a cloud tool's start-up with); without it on PATH the
ratios to it are skipped and said so. Targets (issue 22):

    plan --env prod --cloud all, fresh process, imports included   <= 5x aws --version
    mlinfra --help                                                  <= 0.35x aws --version
    plan time per resource, 1 -> 50 services                        flat (<= 1.1x) and <= 3 ms

    .venv/bin/python bench/plan_bench.py [--repeat 5] [--scale 1,10,50] [--cloud aws]
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT))


def run(cmd: list[str], repeat: int, env: dict | None = None) -> tuple[float, float]:
    """Median wall seconds and median CPU seconds (user + sys of the process and its children)."""
    walls, cpus = [], []
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False,
                       env={**os.environ, **(env or {})})
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(walls), statistics.median(cpus)


def ratio(value: float, reference: float | None) -> str:
    return f"{value / reference:5.2f}x aws --version" if reference else "(no aws CLI: ratio skipped)"


def reference(repeat: int) -> float | None:
    aws = shutil.which("aws")
    base, _ = run([sys.executable, "-c", "pass"], repeat)
    print("== reference (wall, fresh process, median)")
    print(f"python -c pass                 {base * 1000:7.1f} ms")
    if aws is None:
        print("aws --version                  not on PATH (pip install awscli to get the ratios)")
        return None
    ref, _ = run([aws, "--version"], repeat)
    print(f"aws --version                  {ref * 1000:7.1f} ms")
    return ref


def startup(repeat: int, ref: float | None) -> None:
    took, _ = run([str(BIN / "mlinfra"), "--help"], repeat)
    print(f"mlinfra --help                 {took * 1000:7.1f} ms   {ratio(took, ref)}  (target <= 0.35x)")


def plans(repeat: int, ref: float | None) -> None:
    cmd = [str(BIN / "mlinfra"), "plan", "--env", "prod", "-o", "json", "--cloud"]
    print("== mlinfra plan --env prod (fresh process, imports included; wall / CPU, median)")
    for cloud in ("aws", "gcp", "azure"):
        wall, cpu = run([*cmd, cloud, "--no-cache"], repeat)
        print(f"--cloud {cloud:<6} cold             {wall:6.2f} s  cpu {cpu:5.2f} s   {ratio(wall, ref)}")
    seq, seq_cpu = run([*cmd, "all", "--no-cache"], repeat, env={"MLINFRA_JOBS": "1"})
    print(f"--cloud all cold, 1 process    {seq:6.2f} s  cpu {seq_cpu:5.2f} s   {ratio(seq, ref)}")
    par, par_cpu = run([*cmd, "all", "--no-cache"], repeat)
    print(f"--cloud all cold, 3 workers    {par:6.2f} s  cpu {par_cpu:5.2f} s   {ratio(par, ref)}"
          f"  ({seq / par:.2f}x faster than 1 process; {par_cpu / par:.2f} cores busy on {os.cpu_count()})")
    with tempfile.TemporaryDirectory() as cache:
        env = {"MLINFRA_CACHE_DIR": cache, "MLINFRA_PLAN_CACHE": "on"}
        run([*cmd, "all"], 1, env=env)  # fills the cache
        warm, warm_cpu = run([*cmd, "all"], repeat, env=env)
    print(f"--cloud all, warm plan cache   {warm:6.2f} s  cpu {warm_cpu:5.2f} s   {ratio(warm, ref)}  (target <= 5x)")


def breakdown() -> None:
    """Where a cold plan's time goes, per cloud, in a fresh process each: imports vs the mocked run."""
    code = (
        "import sys, time; t0 = time.perf_counter(); from pathlib import Path;"
        "import pulumi, stacks.offline as o; t1 = time.perf_counter();"
        "p = o.plan_environment(Path('.'), 'prod', sys.argv[1]); t2 = time.perf_counter();"
        "o.plan_environment(Path('.'), 'prod', sys.argv[1]); t3 = time.perf_counter();"
        "print(f'{t1-t0:.2f} {t2-t1-(t3-t2):.2f} {t3-t2:.2f} {len(p.resources)}')"
    )
    print("== cold plan breakdown per cloud (fresh process): pulumi+mlinfra import / SDK import / mocked run")
    for cloud in ("aws", "gcp", "azure"):
        out = subprocess.run([sys.executable, "-c", code, cloud], cwd=ROOT, capture_output=True, text=True).stdout.split()
        if len(out) == 4:
            print(f"{cloud:<6} {out[0]} s  /  {out[1]} s  /  {out[2]} s for {out[3]} resources")


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

    def plan(n: int):
        return run_program(program_of(n), config=config_pairs(raw, env="prod", cloud=cloud), project="mlinfra",
                           stack=stack, cloud=cloud, region=base.region)[0]

    plan(1)  # warm-up: the SDK's imports are start-up, not plan time
    print(f"== plan time per resource as services grow ({cloud}, prod, one program, in process; best of 3)")
    baseline = None
    for n in counts:
        best = float("inf")
        for _ in range(3 if n < 50 else 1):
            start = time.perf_counter()
            resources = plan(n)
            best = min(best, time.perf_counter() - start)
        per = best / len(resources) * 1000
        baseline = baseline or per
        print(f"{n:>3} services  {len(resources):>5} resources  {best:6.2f} s  {per:5.2f} ms/resource"
              f"  ({per / baseline:.2f}x the 1-service figure; target <= 1.1x and <= 3 ms)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--scale", default="1,10,50")
    parser.add_argument("--cloud", default="aws")
    args = parser.parse_args()
    ref = reference(args.repeat)
    startup(args.repeat, ref)
    plans(max(1, args.repeat // 2), ref)
    breakdown()
    scaling([int(n) for n in args.scale.split(",")], args.cloud)


if __name__ == "__main__":
    main()
