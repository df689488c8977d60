"""The serving image's size, estimated without a Docker engine: prints figures, asserts nothing.

    python3 bench/image_size.py [--cloud aws] [--python python3.11]

What it measures: the runtime stage of app/Dockerfile is the base image plus /opt/venv plus
/srv/app. This installs exactly what the builder stage installs into /opt/venv (requirements.txt
and requirements-<cloud>.txt, --no-deps, wheels only, pip removed) into a temporary virtualenv
with this machine's Python, and measures it on disk, plus the files of app/ the image copies.
What it does not measure: the base image (python:3.11-slim-bookworm, pulled, not built, and the
same for every build, so shared by every layer cache), layer compression and filesystem
overhead. Wheels are those pip selects for this machine (linux x86-64 here, as the image's
linux/amd64 platform); another architecture's wheels differ by a few percent.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "app"
sys.path.insert(0, str(ROOT))


def du(path: Path) -> int:
    return sum(p.lstat().st_blocks * 512 for p in [path, *path.rglob("*")] if p.exists())


def copied_app_files() -> int:
    """Bytes of app/ that `COPY . /srv/app/` copies (what .dockerignore and the build tag keep)."""
    from components.image import _context_files

    excluded = {"Dockerfile", ".dockerignore"}
    return sum(path.stat().st_size for rel, path in _context_files(APP)
               if rel.as_posix() not in excluded and rel.suffix != ".md")


def venv_size(python: str, files: list[Path], scratch: Path) -> int:
    venv = scratch / "venv"
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([python, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin/python"), "-m", "pip", "--disable-pip-version-check", "-q"]
    env = {**os.environ, "PIP_CACHE_DIR": str(scratch / "pip-cache")}
    for requirements in files:
        subprocess.run([*pip, "install", "--no-deps", "--only-binary=:all:", "-r", str(requirements)],
                       check=True, env=env)
    subprocess.run([*pip, "uninstall", "--yes", "pip"], check=True, env=env, capture_output=True)
    return du(venv)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cloud", action="append", help="aws, gcp or azure (repeatable). Default: all.")
    parser.add_argument("--python", default=sys.executable, help="Interpreter of the image's Python version.")
    args = parser.parse_args()
    from components.providers.base import cloud_names

    clouds = args.cloud or list(cloud_names())
    app_bytes = copied_app_files()
    mib = lambda n: f"{n / 2**20:6.1f} MiB"  # noqa: E731
    print("estimated serving image size (no Docker engine; see the docstring for what is measured):")
    print(f"  /srv/app (service code + model)                {mib(app_bytes)}")
    with tempfile.TemporaryDirectory(prefix="mlinfra-image-size-") as tmp:
        scratch = Path(tmp)
        base = venv_size(args.python, [APP / "requirements.txt"], scratch)
        print(f"  /opt/venv, no storage client (CLOUD unset)     {mib(base)}   total beyond the base image {mib(base + app_bytes)}")
        for cloud in clouds:
            size = venv_size(args.python, [APP / "requirements.txt", APP / f"requirements-{cloud}.txt"], scratch)
            print(f"  /opt/venv, CLOUD={cloud:<6} (+{mib(size - base).strip()} client)  {mib(size)}"
                  f"   total beyond the base image {mib(size + app_bytes)}")
    print("  (the base image python:3.11-slim-bookworm is not included: it is pulled, not built)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
