"""The plan cache returns exactly what a fresh plan would, and misses whenever an input changes."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from stacks import plan_cache
from stacks.plan import plans_document
from stacks.planning import plan_targets, targets
from tests.helpers import PROJECT_DIR


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    """A copy of the project's stack files and build context; the cache under its own folder."""
    root = tmp_path / "project"
    root.mkdir()
    for name in ("Pulumi.yaml", "Pulumi.dev.yaml", "Pulumi.prod.yaml"):
        shutil.copy(PROJECT_DIR / name, root / name)
    shutil.copytree(PROJECT_DIR / "app", root / "app", ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setenv("MLINFRA_PLAN_CACHE", "on")
    monkeypatch.setenv("MLINFRA_CACHE_DIR", str(tmp_path / "cache"))
    return root


def document(root: Path, cache: bool, **kw) -> str:
    return json.dumps(plans_document(plan_targets(root, cache=cache, **kw)))


def entries(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "cache" / "plan-cache").glob("*.json"))


def test_a_cached_plan_is_byte_identical_to_a_fresh_one(project, tmp_path, monkeypatch):
    fresh = document(project, cache=False, envs=["prod"], cloud="all")
    assert entries(tmp_path) == []
    cold = document(project, cache=True, envs=["prod"], cloud="all")
    assert len(entries(tmp_path)) == 3  # one per cloud

    def no_planning(*args, **kwargs):
        raise AssertionError("a warm cache must not run the program")

    monkeypatch.setattr("stacks.planning._plan_fresh", no_planning)
    warm = document(project, cache=True, envs=["prod"], cloud="all")
    assert fresh == cold == warm


def key_of(root: Path, env: str = "dev", cloud: str = "aws") -> str:
    (target,) = targets(root, [env], cloud)
    return plan_cache.key(root, target)


def test_every_input_of_a_plan_is_in_its_key(project):
    base = key_of(project)
    assert key_of(project) == base  # stable
    assert key_of(project, cloud="gcp") != base
    assert key_of(project, env="prod") != base
    config = project / "Pulumi.dev.yaml"
    config.write_text(config.read_text().replace("max_instances: 3", "max_instances: 4"))
    assert key_of(project) != base, "a config change must miss"
    changed = key_of(project)
    (project / "app" / "extra.txt").write_text("a new file in the image's build context")
    assert key_of(project) != changed, "a build-context change (a new image tag) must miss"


def test_program_code_and_sdk_versions_are_in_the_key(project, monkeypatch, tmp_path):
    base = key_of(project)
    monkeypatch.setattr(plan_cache, "_versions", lambda: {"pulumi-aws": "0.0.0"})
    assert key_of(project) != base
    monkeypatch.undo()
    monkeypatch.setenv("MLINFRA_PLAN_CACHE", "on")
    fake_code = tmp_path / "code"
    fake_code.mkdir()
    (fake_code / "module.py").write_text("X = 1\n")
    monkeypatch.setattr(plan_cache, "_code_roots", lambda: [fake_code])
    one = key_of(project)
    (fake_code / "module.py").write_text("X = 2\n")
    assert key_of(project) != one, "a change in the program's code must miss"


def test_previews_are_never_cached_their_expiry_comes_from_the_clock(project, tmp_path):
    plan_targets(project, pr=7, cloud="aws", cache=True)
    assert entries(tmp_path) == []


def test_a_corrupt_entry_is_a_miss_and_is_replaced(project, tmp_path):
    fresh = document(project, cache=True, envs=["dev"], cloud="aws")
    (entry,) = entries(tmp_path)
    entry.write_text('{"truncated": ')
    assert document(project, cache=True, envs=["dev"], cloud="aws") == fresh
    assert json.loads(entry.read_text())["stack"] == "dev-aws"


def test_switched_off_by_environment(project, tmp_path, monkeypatch):
    monkeypatch.setenv("MLINFRA_PLAN_CACHE", "off")
    document(project, cache=True, envs=["dev"], cloud="aws")
    assert entries(tmp_path) == []
