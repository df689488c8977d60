"""The serving image: tags that an immutable-tag registry never sees twice, and serving by digest.

ECR with imageTagMutability IMMUTABLE and Artifact Registry with immutable tags refuse to push
an existing tag again ("ImageTagAlreadyExistsException", https://docs.aws.amazon.com/AmazonECR/latest/userguide/image-tag-mutability.html),
so every input that can change the image must change the tag. Serving runs
`repository@sha256:<digest>` (ECS ContainerDefinition `image`: "repository-url/image@digest").
"""
from __future__ import annotations

import os
import re
import shutil

import pytest

from components.image import PLATFORM, TAG_LENGTH, build_tag
from tests.helpers import CLOUDS, PROJECT_DIR, one, plan_spec

APP = PROJECT_DIR / "app"


@pytest.fixture
def context(tmp_path):
    target = tmp_path / "ctx"
    shutil.copytree(APP, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return target


def test_the_tag_is_a_pure_function_of_the_build_inputs(context, tmp_path):
    tag = build_tag(context, {"CLOUD": "aws"})
    assert re.fullmatch(rf"[0-9a-f]{{{TAG_LENGTH}}}", tag)
    # Another folder, another machine: the same inputs give the same tag (relative paths, no mtimes).
    elsewhere = tmp_path / "other" / "place"
    shutil.copytree(context, elsewhere)
    assert build_tag(elsewhere, {"CLOUD": "aws"}) == tag
    # Local caches are not part of the image (.dockerignore) and not part of the tag.
    (context / "__pycache__").mkdir(exist_ok=True)
    (context / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"\0")
    assert build_tag(context, {"CLOUD": "aws"}) == tag


@pytest.mark.parametrize("change", [".dockerignore", "Dockerfile", "source", "new file", "executable bit",
                                    "build arg", "platform"])
def test_every_build_input_changes_the_tag(context, change):
    args, platform = {"CLOUD": "aws"}, PLATFORM
    before = build_tag(context, args, platform)
    if change == ".dockerignore":
        (context / ".dockerignore").write_text((context / ".dockerignore").read_text() + "model/\n")
    elif change == "Dockerfile":
        (context / "Dockerfile").write_text((context / "Dockerfile").read_text() + "\nLABEL x=y\n")
    elif change == "source":
        (context / "model.py").write_text((context / "model.py").read_text() + "\n# changed\n")
    elif change == "new file":
        (context / "extra.txt").write_text("x")
    elif change == "executable bit":
        os.chmod(context / "__main__.py", 0o755)
    elif change == "build arg":
        args = {"CLOUD": "gcp"}
    else:
        platform = "linux/arm64"
    assert build_tag(context, args, platform) != before


@pytest.mark.parametrize("cloud", CLOUDS)
def test_the_build_is_tagged_by_its_inputs_and_serving_runs_the_digest(cloud):
    plan = plan_spec(cloud, {"serving": {"min_instances": 1}})
    build = one(plan, "docker-build:index:Image").inputs
    assert build["buildArgs"] == {"CLOUD": cloud}  # the storage client of this cloud's MODEL_URI
    assert build["platforms"] == [PLATFORM]
    repository, _, tag = build["tags"][0].rpartition(":")
    assert tag == build_tag(APP, {"CLOUD": cloud}, PLATFORM)
    digest = plan.outputs["image_digest"]
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest)
    assert plan.outputs["image"] == f"{repository}@{digest}"
    # The serving resource gets exactly that reference, so a new digest is a new revision.
    holders = [r for r in plan.resources if r.type != "docker-build:index:Image" and plan.outputs["image"] in str(r.inputs)]
    assert holders, "no serving resource runs the image by digest"


def test_a_given_image_exports_its_digest_only_when_pinned():
    pinned = "ghcr.io/acme/digits@sha256:" + "a" * 64
    plan = plan_spec(CLOUDS[0], {"serving": {"min_instances": 1, "image": pinned}})
    assert plan.outputs["image"] == pinned and plan.outputs["image_digest"] == "sha256:" + "a" * 64
    plan = plan_spec(CLOUDS[0], {"serving": {"min_instances": 1, "image": "ghcr.io/acme/digits:1.2.3"}})
    assert plan.outputs.get("image_digest") is None
