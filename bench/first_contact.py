"""First contact, measured: a fresh clone -> `make plan` (install included), then the offline plan
alone, `make test`'s extra installs, and the disk each part takes. Prints figures, asserts nothing.

    python3 bench/first_contact.py [--python python3] [--keep] [--skip-test-deps]

It clones the committed HEAD of this repository into a temporary folder (uncommitted edits are
not measured), so the figures are those of a new user on this machine with this network. The
pip and npm caches are pointed into the temporary folder too, so nothing is served from a warm
cache. Also reports whether installing the project printed a deprecation warning from its
own metadata (issue 13).
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROVIDER_SDKS = ("pulumi_aws", "pulumi_gcp", "pulumi_azure_native")


def du(path: Path) -> int:
    """Bytes on disk under path (what `du -s` counts, in 512-byte blocks), 0 if absent."""
    if not path.exists():
        return 0
    total = 0
    for entry in [path, *path.rglob("*")]:
        try:
            stat = entry.lstat()
        except OSError:
            continue
        total += stat.st_blocks * 512
    return total


def mib(n: int) -> str:
    return f"{n / 2**20:,.0f} MiB"


def timed(cmd: list[str], cwd: Path, env: dict) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return elapsed, done.stdout + done.stderr


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default="python3", help="The interpreter a new user has (>= 3.11).")
    parser.add_argument("--keep", action="store_true", help="Keep the temporary clone.")
    parser.add_argument("--skip-test-deps", action="store_true", help="Do not measure the Azurite install.")
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="mlinfra-first-contact-"))
    clone = scratch / "mlinfra"
    env = {**os.environ, "PIP_CACHE_DIR": str(scratch / "pip-cache"), "npm_config_cache": str(scratch / "npm-cache"),
           "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    env.pop("VIRTUAL_ENV", None)
    try:
        subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(ROOT), str(clone)], check=True)
        python = subprocess.run([args.python, "-c", "import sys; print(sys.version.split()[0])"],
                                capture_output=True, text=True, check=True).stdout.strip()
        print(f"fresh clone of {subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], cwd=ROOT, capture_output=True, text=True).stdout.strip()}"
              f" with Python {python}, {os.cpu_count()} CPUs, cold pip/npm caches")

        install_s, _ = timed(["make", "install", f"PYTHON={args.python}"], clone, env)
        plan_s, plan_out = timed(["make", "plan"], clone, env)
        # The plan alone, warm (bytecode compiled by the first run) and without the plan cache
        # (stacks/plan_cache.py would answer an unchanged plan from disk).
        again_s, _ = timed([str(clone / ".venv/bin/mlinfra"), "plan", "--cloud", "all", "--no-cache"], clone, env)
        cached_s, _ = timed([str(clone / ".venv/bin/mlinfra"), "plan", "--cloud", "all"], clone, env)
        print(f"make install (venv + pip install -e '.[app,dev]')   {install_s:7.1f} s")
        print(f"make plan, fresh clone, install included            {install_s + plan_s:7.1f} s")
        print(f"  of which the first plan (bytecode compiled)       {plan_s:7.1f} s")
        print(f"offline plan alone (plan --cloud all --no-cache)    {again_s:7.1f} s")
        print(f"offline plan, unchanged inputs (plan cache)         {cached_s:7.1f} s")

        # Metadata warnings: re-run the project's own build verbosely (no dependency work).
        _, build_log = timed([str(clone / ".venv/bin/python"), "-m", "pip", "install", "-v", "--no-deps", "-e", "."],
                             clone, env)
        warnings = sorted({line.strip() for line in build_log.splitlines() if "Deprecat" in line})
        print(f"deprecation warnings while building the project     {len(warnings)}")
        for line in warnings[:5]:
            print(f"    {line[:160]}")

        venv = clone / ".venv"
        site = next(venv.glob("lib/python3*/site-packages"))
        sdk_bytes = {name: du(site / name) for name in PROVIDER_SDKS}
        print(f"disk: .venv                                          {mib(du(venv)):>9}")
        for name, size in sdk_bytes.items():
            print(f"disk:   {name:<44} {mib(size):>9}")
        print(f"disk:   the three provider SDKs together             {mib(sum(sdk_bytes.values())):>9}")

        if not args.skip_test_deps:
            if shutil.which("npm"):
                test_deps_s, _ = timed(["make", "test-deps"], clone, env)
                print(f"make test-deps (Azurite via npm ci)                 {test_deps_s:7.1f} s")
                print(f"disk: tests/azurite/node_modules                     {mib(du(clone / 'tests/azurite/node_modules')):>9}")
            else:
                print("make test-deps: npm not on PATH, Azurite not measured")
        print(f"disk: the whole clone after install                  {mib(du(clone)):>9}")
        return 0
    finally:
        if args.keep:
            print(f"kept {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
