"""serving.build_context stays inside the project (one config hashed all of /usr, issue 20), and
serving.image follows the OCI reference grammar
(https://github.com/distribution/reference/blob/main/reference.go: lowercase path components, tag
`[\\w][\\w.-]{0,127}`, digest `algorithm:hex{32,}`, name at most 255 characters)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from components.errors import ConfigError
from stacks.config import confine_build_context, environment_spec, from_pairs

runner = CliRunner()


def spec_with(serving: dict):
    raw = from_pairs({"mlinfra:cloud": "gcp", "mlinfra:service": {"name": "digits", "serving": serving}})
    return environment_spec(raw, env="dev", stack="dev")


@pytest.mark.parametrize("context", ["/usr", "../..", "app/../../etc", "~", "~/x", "C:\\\\x", "", "  "])
def test_a_build_context_outside_the_project_is_refused(context):
    with pytest.raises(ConfigError, match=r"mlinfra:service\.serving\.build_context: .* is not allowed: must be a "
                                          r"folder inside the project"):
        spec_with({"build_context": context})


def test_a_symlink_leaving_the_project_is_refused(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    os.symlink("/usr", project / "app")
    with pytest.raises(ConfigError, match="outside the project"):
        confine_build_context(project, spec_with({}))
    (project / "inside").mkdir()
    assert confine_build_context(project, spec_with({"build_context": "inside"})) == (project / "inside").resolve()


def test_plan_refuses_it_with_exit_3_before_reading_anything(tmp_path):
    (tmp_path / "Pulumi.yaml").write_text("name: mlinfra\nruntime: python\n")
    os.symlink("/usr", tmp_path / "app")
    (tmp_path / "Pulumi.dev.yaml").write_text("config:\n  mlinfra:cloud: gcp\n  mlinfra:service: {name: digits}\n")
    result = runner.invoke(app, ["plan", "--env", "dev", "--project-dir", str(tmp_path)])
    assert result.exit_code == 3, result.output
    assert "outside the project" in " ".join(result.stderr.split())


@pytest.mark.parametrize("image", [
    "nginx", "nginx:1.27", "docker.io/library/nginx:latest", "localhost:5000/team/app",
    "123456789012.dkr.ecr.eu-west-1.amazonaws.com/digits:v1", "europe-west1-docker.pkg.dev/p/repo/img:tag",
    "mlinfra.azurecr.io/digits@sha256:" + "a" * 64, "ghcr.io/o/r:v1@sha256:" + "0" * 64,
])
def test_valid_image_references(image):
    assert spec_with({"image": image}).service.serving.image == image


@pytest.mark.parametrize("image", ["NGINX", "a//b", "app:", "app:-x", ":tag", "a b", "https://x/y", "x" * 256,
                                   "repo@sha256:abc", "repo:" + "t" * 129, "repo/[bad]", ""])
def test_invalid_image_references(image):
    with pytest.raises(ConfigError, match=r"mlinfra:service\.serving\.image: .* is not allowed: must be an image "
                                          "reference"):
        spec_with({"image": image})
