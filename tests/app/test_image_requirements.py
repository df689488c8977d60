"""The serving image installs exactly the storage client its cloud's MODEL_URI needs, fully pinned.

The Dockerfile installs requirements.txt, then requirements-<CLOUD>.txt, both with --no-deps
(pip: "--no-deps: Don't install package dependencies"), so every transitive dependency must be
pinned in one of the two files, once.
"""
from __future__ import annotations

import re

import pytest

from app import MODEL_DIR
from app.storage import SDK_PACKAGES, parse_model_uri
from components.image import build_args
from tests.helpers import CLOUDS, plan_spec

APP = MODEL_DIR.parent
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==[0-9][^\s]*$")


def pins(path) -> dict[str, str]:
    found = {}
    for line in path.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        match = PIN.match(line.strip())
        assert match, f"{path.name}: {line!r} is not an exact pin"
        found[re.sub(r"[-_.]+", "-", match.group(1).lower())] = line
    return found


@pytest.mark.parametrize("cloud", CLOUDS)
def test_each_cloud_image_pins_the_client_of_its_bucket_scheme(cloud):
    plan = plan_spec(cloud, {"serving": {"min_instances": 1}})
    scheme = parse_model_uri(plan.outputs["bucket_url"] + "/models/x/").scheme
    extra = APP / f"requirements-{build_args_cloud(cloud)}.txt"
    assert extra.is_file(), f"the Dockerfile installs {extra.name} for CLOUD={cloud}"
    cloud_pins, base_pins = pins(extra), pins(APP / "requirements.txt")
    assert set(SDK_PACKAGES[scheme]) <= set(cloud_pins)
    assert not set(cloud_pins) & set(base_pins), "a package pinned twice could be installed at two versions"
    assert "scikit-learn" not in cloud_pins and "scikit-learn" not in base_pins  # training stays out of the image


def build_args_cloud(cloud: str) -> str:
    from types import SimpleNamespace

    return build_args(SimpleNamespace(spec=SimpleNamespace(cloud=cloud)))["CLOUD"]


def test_the_dockerfile_installs_the_cloud_file_without_resolving_or_compiling():
    dockerfile = (APP / "Dockerfile").read_text()
    assert 'requirements-${CLOUD}.txt' in dockerfile and "ARG CLOUD" in dockerfile
    installs = re.findall(r"pip install ([^\n\\]*)", dockerfile)
    assert installs and all("--no-deps" in i and "--only-binary=:all:" in i for i in installs)
    assert dockerfile.count("FROM ") == 2 and "COPY --from=builder /opt/venv /opt/venv" in dockerfile
