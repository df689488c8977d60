"""A cache of offline plans, keyed by everything a plan is a function of.

A plan is deterministic: the same program code, SDK versions, configuration and image build
context give the same resources and inputs (tests/stacks/test_plan_cache.py compares a cached
plan with a fresh one byte for byte). Most of a cold plan is importing the provider SDKs
(about 1.3 s of pure-Python class building per cloud), so a repeated `mlinfra plan` on an
unchanged tree reads the plan from here instead, like `terraform plan` on a warm cache.

The key covers: the program's code (every file under components/ and stacks/, plus the
project's Pulumi.yaml), the installed versions of Python and of every package the program
imports, the target (env, cloud, stack) with its decoded configuration, and the serving image's
build context (the image tag is a hash of it). Preview plans carry an expiry computed from the
clock, so they are never cached. Any error reading or writing the cache is a cache miss.

Location: `<project>/.mlinfra/plan-cache/` (git-ignored), or `$MLINFRA_CACHE_DIR`;
`MLINFRA_PLAN_CACHE=off` or `mlinfra plan --no-cache` bypasses it.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Optional

if TYPE_CHECKING:
    from stacks.plan import Plan
    from stacks.planning import Target

FORMAT = 1
KEEP_ENTRIES = 64
# Distributions whose code shapes a plan: the SDKs' defaults and the way inputs serialise.
DISTRIBUTIONS = ("pulumi", "pulumi-aws", "pulumi-gcp", "pulumi-azure-native", "pulumi-docker-build", "pydantic")
_SKIP_DIRS = {"__pycache__", ".pytest_cache", ".mypy_cache", ".venv", ".git", "node_modules"}


def enabled() -> bool:
    return os.environ.get("MLINFRA_PLAN_CACHE", "on").lower() not in ("off", "0", "false", "no")


def cache_dir(project_dir: Path) -> Path:
    override = os.environ.get("MLINFRA_CACHE_DIR")
    return Path(override) / "plan-cache" if override else project_dir / ".mlinfra" / "plan-cache"


def _files(root: Path) -> Iterable[Path]:
    if root.is_file():
        yield root
        return
    if not root.is_dir():
        return
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS)
        for name in sorted(filenames):
            if not name.endswith((".pyc", ".pyo")):
                yield Path(dirpath) / name


def _hash_tree(digest: "hashlib._Hash", root: Path) -> None:
    for path in _files(root):
        digest.update(str(path.relative_to(root) if root.is_dir() else path.name).encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())


def _versions() -> dict[str, str]:
    from importlib import metadata

    out = {"python": ".".join(map(str, sys.version_info[:3]))}
    for name in DISTRIBUTIONS:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "absent"
    return out


def _code_roots() -> list[Path]:
    import components
    import stacks

    return [Path(components.__file__).resolve().parent, Path(stacks.__file__).resolve().parent]


def program_digest(project_dir: Path) -> bytes:
    """What every target of one project shares: package versions, the program's code, Pulumi.yaml.
    Compute it once for a batch of targets (planning.plan_in_parallel) and pass it to `key`."""
    digest = hashlib.sha256(f"mlinfra-plan-cache/{FORMAT}\0".encode())
    digest.update(json.dumps(_versions(), sort_keys=True).encode())
    for root in _code_roots():
        _hash_tree(digest, root)
    _hash_tree(digest, project_dir / "Pulumi.yaml")
    return digest.digest()


def key(project_dir: Path, target: "Target", program: Optional[bytes] = None) -> Optional[str]:
    """The cache key of a target's plan, or None when the plan must not be cached (previews)."""
    if "preview" in target.raw.values:
        return None
    digest = hashlib.sha256(program if program is not None else program_digest(project_dir))
    spec = target.spec()
    digest.update(json.dumps({"env": target.env, "cloud": target.cloud, "stack": target.stack,
                              "home": target.raw.home_cloud, "values": target.raw.values,
                              "spec": spec.model_dump(mode="json")}, sort_keys=True, default=str).encode())
    if spec.service.serving.image is None:
        digest.update(b"build-context\0")
        _hash_tree(digest, project_dir / spec.service.serving.build_context)
    return digest.hexdigest()


def load(project_dir: Path, cache_key: str) -> Optional["Plan"]:
    from stacks.plan import Plan

    try:
        doc = json.loads((cache_dir(project_dir) / f"{cache_key}.json").read_text())
        return Plan.from_dict(doc)
    except Exception:  # a missing, partial or foreign file is a miss, never an error
        return None


def store(project_dir: Path, cache_key: str, plan: "Plan") -> None:
    folder = cache_dir(project_dir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{cache_key}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(plan.to_dict()))
        os.replace(tmp, folder / f"{cache_key}.json")  # atomic: readers see all or nothing
        entries = sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime)
        for old in entries[:-KEEP_ENTRIES]:
            old.unlink(missing_ok=True)
    except OSError:
        pass
