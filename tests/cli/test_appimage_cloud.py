"""`mlinfra app build --cloud C`: the local image gets the storage client its cloud's MODEL_URI needs
(the same CLOUD build argument the deployed image gets from components/image.py)."""
from __future__ import annotations

import pytest
from typer.testing import CliRunner

from cli.main import app
from tests.cli.test_app_cli import FakeDocker, fake_docker  # noqa: F401
from tests.helpers import CLOUDS

runner = CliRunner()


@pytest.mark.parametrize("cloud", CLOUDS)
def test_build_passes_the_cloud_build_arg(fake_docker, cloud):
    result = runner.invoke(app, ["app", "build", "--cloud", cloud])
    assert result.exit_code == 0, result.output
    (_, kwargs), = fake_docker.calls
    assert kwargs["buildargs"] == {"CLOUD": cloud}


def test_build_without_cloud_passes_no_build_arg(fake_docker):
    assert runner.invoke(app, ["app", "build"]).exit_code == 0
    (_, kwargs), = fake_docker.calls
    assert kwargs["buildargs"] is None


def test_unknown_cloud_is_refused_with_exit_3(fake_docker):
    result = runner.invoke(app, ["app", "build", "--cloud", "ibm"])
    assert result.exit_code == 3
    assert "--cloud 'ibm': expected one of aws, azure, gcp" in result.output
    assert fake_docker.calls == []
