"""stacks/doctor.py: the requirement model for every cloud x built-in environment, the tool checks
(with stand-in executables, never the machine's own), a check that cannot raise, and the exit code."""
from __future__ import annotations

import stat
import sys
from pathlib import Path

import pytest

from stacks import doctor
from stacks.doctor import KINDS, Requirement, Status, Unknown
from stacks.offline import plan_environment
from tests.helpers import CLOUDS, PROJECT_DIR

ENVS = ("dev", "prod")


@pytest.fixture(scope="module")
def plans():
    return {(env, cloud): plan_environment(PROJECT_DIR, env, cloud) for env in ENVS for cloud in CLOUDS}


@pytest.mark.parametrize("cloud", CLOUDS)
@pytest.mark.parametrize("env", ENVS)
def test_every_requirement_is_complete_and_traced_to_the_plan(plans, env, cloud):
    plan = plans[(env, cloud)]
    reqs = doctor.requirements(plan)
    assert reqs, "every plan needs something outside the program"
    types = {r.type for r in plan.resources}
    for r in reqs:
        doc = r.to_dict()
        assert list(doc) == list(doctor.FIELDS)
        assert r.cloud == cloud and r.kind in KINDS and r.name and r.fix and r.stack == plan.stack
        assert r.status == Status.unknown  # derived only: nothing was asked
        if r.why.startswith("needed by "):
            # every resource named in `why` is one of the plan's own types
            named = {part.split(" ")[0] for part in r.why.removeprefix("needed by ").split(", ")}
            assert {n for n in named if ":" in n} <= types, (r.name, named - types)
    keys = [(r.cloud, r.kind, r.name) for r in reqs]
    assert len(keys) == len(set(keys)), "one requirement per (cloud, kind, name)"


@pytest.mark.parametrize("cloud", CLOUDS)
def test_tools_pulumi_always_docker_when_an_image_is_built(plans, cloud):
    plan = plans[("dev", cloud)]
    tools = {r.name for r in doctor.requirements(plan) if r.kind == "tool"}
    builds_image = any(r.type.startswith("docker-build:") for r in plan.resources)
    assert tools == ({"pulumi", "docker"} if builds_image else {"pulumi"})


@pytest.mark.parametrize("cloud", CLOUDS)
def test_prod_gpu_training_needs_a_quota_dev_does_not(plans, cloud):
    # prod trains on 1 x T4 (Pulumi.prod.yaml, the catalog's machine for it); dev has training disabled.
    from components import catalog

    prod = plans[("prod", cloud)]
    offer = catalog.lookup(cloud, "T4", 1, prod.region)
    names = (offer.machine_type, offer.gpu_type)
    assert any(n in r.why for r in doctor.requirements(prod) if r.kind == "quota" for n in names)
    assert not any(n in r.why for r in doctor.requirements(plans[("dev", cloud)]) if r.kind == "quota" for n in names)


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError):
        Requirement("aws", "vibe", "x", "y", "z")


def test_merge_keeps_every_reason():
    a = Requirement("gcp", "api", "run.googleapis.com", "needed by A", "fix")
    b = Requirement("gcp", "api", "run.googleapis.com", "needed by B", "fix")
    [merged] = doctor.merge([a, b])
    assert merged.why == "needed by A; needed by B"


def test_exit_code_counts_only_missing():
    base = Requirement("aws", "tool", "pulumi", "why", "fix")
    assert doctor.exit_code([base.settled(Status.ok), base.settled(Status.unknown, "throttled")]) == 0
    assert doctor.exit_code([base.settled(Status.ok), base.settled(Status.missing, "no")]) == 1


def test_a_check_never_raises():
    req = Requirement("gcp", "api", "run.googleapis.com", "why", "fix")

    def unknown(r):
        raise Unknown("throttled (HTTP 429)")

    def bug(r):
        raise KeyError("limit")

    assert doctor.settle(req, unknown).status == Status.unknown
    broken = doctor.settle(req, bug)
    assert broken.status == Status.unknown and "KeyError" in broken.detail


# -- tools: stand-in executables on a PATH of our own --------------------------------------------
def executable(folder: Path, name: str, script: str) -> None:
    path = folder / name
    path.write_text(f"#!/bin/sh\n{script}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


@pytest.fixture
def bin_dir(tmp_path):
    folder = tmp_path / "bin"
    folder.mkdir()
    return folder


def tool(name):
    return Requirement("aws", "tool", name, "why", "fix")


def test_tool_missing_from_path(bin_dir):
    status, detail = doctor.check_tool(tool("pulumi"), {"PATH": str(bin_dir)}, 5)
    assert status == Status.missing and "no `pulumi` on PATH" in detail


def test_tool_versions(bin_dir):
    executable(bin_dir, "pulumi", "echo v3.200.0")
    executable(bin_dir, "docker", 'echo "27.3.1 27.3.1"')
    env = {"PATH": str(bin_dir)}
    assert doctor.check_tool(tool("pulumi"), env, 5) == (Status.ok, "v3.200.0")
    assert doctor.check_tool(tool("docker"), env, 5) == (Status.ok, "client 27.3.1, engine 27.3.1")


def test_docker_without_an_engine_is_missing(bin_dir):
    # `docker version` exits non-zero when it cannot reach the daemon; a build needs the engine.
    executable(bin_dir, "docker", 'echo "27.3.1 "; echo "Cannot connect to the Docker daemon at '
                                  'unix:///var/run/docker.sock. Is the docker daemon running?" >&2; exit 1')
    status, detail = doctor.check_tool(tool("docker"), {"PATH": str(bin_dir)}, 5)
    assert status == Status.missing and "Docker engine is not reachable" in detail and "daemon" in detail


def test_tool_that_hangs_is_unknown(bin_dir):
    executable(bin_dir, "pulumi", f'exec "{sys.executable}" -c "import time; time.sleep(30)"')
    req = doctor.settle(tool("pulumi"), lambda r: doctor.check_tool(r, {"PATH": str(bin_dir)}, 0.5))
    assert req.status == Status.unknown and "no answer within" in req.detail
