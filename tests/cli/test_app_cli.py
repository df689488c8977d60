"""`mlinfra model train`, `drift`, `serve`, `app build|run`: exit codes, output and library calls."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from cli.main import app

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


def invoke(*args: str, env: dict | None = None):
    return runner.invoke(app, list(args), env=env)


def test_command_modules_import_no_heavy_library():
    code = ("import sys, cli.model, cli.serve, cli.drift, cli.appimage; "
            "print(sorted(m for m in ('numpy', 'fastapi', 'uvicorn', 'docker', 'sklearn', 'pulumi') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                            env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert result.stdout.strip() == "[]"


def test_model_train_writes_the_artefact(tmp_path):
    result = invoke("model", "train", "--output-dir", str(tmp_path), "--output", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    from app.model import DigitsModel

    assert DigitsModel.load(tmp_path).version == report["version"]
    assert report["test_accuracy"] >= 0.95
    assert sorted(p.name for p in tmp_path.iterdir()) == ["digits.npz", "model_card.json", "selftest.json"]


@pytest.fixture(scope="module")
def held_out():
    from app.train import load_split

    return load_split()[1]


def test_drift_on_shifted_data_says_retrain_and_exits_1(tmp_path, held_out):
    path = tmp_path / "shifted.csv"
    np.savetxt(path, np.clip(held_out + 3, 0, 16), delimiter=",", fmt="%g")
    result = invoke("drift", "--data", str(path))
    assert result.exit_code == 1, result.output
    assert result.output.strip().endswith("retrain")


def test_drift_on_held_out_data_passes_with_json(tmp_path, held_out):
    path = tmp_path / "new.npy"
    np.save(path, held_out)
    result = invoke("drift", "--data", str(path), "--output", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["decision"] == "ok" and report["rows"] == 360 and len(report["per_feature"]) == 64


def test_drift_on_an_unreadable_file_is_a_config_error(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("1,2,3\n")
    result = invoke("drift", "--data", str(path))
    assert result.exit_code == 3
    assert "--data:" in result.output and "expected rows of 64 pixel values" in result.output


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again when the block ends: nothing listens there


@pytest.mark.parametrize("command", [["app", "build"], ["app", "run", "--detach"]])
def test_no_docker_engine_exits_4(command):
    host = f"tcp://127.0.0.1:{_closed_port()}"
    result = invoke(*command, env={"DOCKER_HOST": host})
    assert result.exit_code == 4, result.output
    assert f"no Docker engine reachable at {host}; start Docker or set DOCKER_HOST" in " ".join(result.output.split())


class FakeDocker:
    """Just enough of the Docker SDK to see what the commands ask of it."""

    def __init__(self):
        self.calls: list = []
        errors = types.ModuleType("docker.errors")
        errors.DockerException = type("DockerException", (Exception,), {})
        errors.ImageNotFound = type("ImageNotFound", (errors.DockerException,), {})
        self.errors = errors
        self.module = types.ModuleType("docker")
        self.module.errors = errors
        self.module.from_env = lambda: self.client
        self.missing_image = False
        fake = self

        class Api:
            def build(self, **kwargs):
                fake.calls.append(("build", kwargs))
                return iter([{"stream": "Step 1/9 : FROM python\n"}, {"stream": "Successfully built\n"}])

        class Containers:
            def run(self, image, **kwargs):
                fake.calls.append(("run", image, kwargs))
                if fake.missing_image:
                    raise errors.ImageNotFound(image)
                return types.SimpleNamespace(id="c0ffee" * 4, name="svc")

        self.client = types.SimpleNamespace(
            ping=lambda: True, api=Api(), containers=Containers(),
            images=types.SimpleNamespace(get=lambda tag: types.SimpleNamespace(id="sha256:" + "ab" * 32,
                                                                               attrs={"Size": 123})))


@pytest.fixture
def fake_docker(monkeypatch):
    fake = FakeDocker()
    monkeypatch.setitem(sys.modules, "docker", fake.module)
    monkeypatch.setitem(sys.modules, "docker.errors", fake.errors)
    return fake


def test_app_build_builds_the_app_context(fake_docker):
    result = invoke("app", "build", "--tag", "digits:t1", "--output", "json")
    assert result.exit_code == 0, result.output
    (_, kwargs), = fake_docker.calls
    assert kwargs["path"] == str(ROOT / "app") and kwargs["dockerfile"] == "Dockerfile"
    assert kwargs["tag"] == "digits:t1"
    assert (ROOT / "app" / "Dockerfile").is_file()
    assert json.loads(result.output) == {"tag": "digits:t1", "id": "sha256:" + "ab" * 32, "size_bytes": 123,
                                         "context": str(ROOT / "app")}


def test_app_run_publishes_on_loopback(fake_docker):
    result = invoke("app", "run", "--port", "9090", "--model-uri", "gs://b/models/x/", "--detach")
    assert result.exit_code == 0, result.output
    (_, image, kwargs), = fake_docker.calls
    assert image == "mlinfra-digits:latest"
    assert kwargs["ports"] == {"8080/tcp": ("127.0.0.1", 9090)}
    assert kwargs["environment"] == {"PORT": "8080", "MODEL_URI": "gs://b/models/x/"}
    assert "http://127.0.0.1:9090" in result.output


def test_app_run_without_the_image_says_how_to_build_it(fake_docker):
    fake_docker.missing_image = True
    result = invoke("app", "run", "--tag", "nope:1", "--detach")
    assert result.exit_code == 1
    assert "image nope:1 not found" in result.output and "mlinfra app build" in result.output


def test_serve_runs_uvicorn_with_the_factory(monkeypatch):
    import uvicorn

    seen: list = []
    monkeypatch.setattr(uvicorn, "run", lambda target, **kwargs: seen.append((target, kwargs)))
    monkeypatch.delenv("MODEL_URI", raising=False)
    monkeypatch.setenv("PORT", "8181")
    monkeypatch.setenv("WEB_CONCURRENCY", "3")  # the worker count's documented override (app/server.py)
    result = invoke("serve", "--model-uri", "/srv/model")
    assert result.exit_code == 0, result.output
    (target, kwargs), = seen
    assert target == "app.service:create_app" and kwargs["factory"] is True
    assert kwargs["host"] == "127.0.0.1" and kwargs["port"] == 8181 and kwargs["workers"] == 3
    assert os.environ["MODEL_URI"] == "/srv/model"  # set for the worker processes; monkeypatch restores it


@pytest.mark.parametrize("name, value", [("PORT", "abc"), ("PORT", "70000"), ("WEB_CONCURRENCY", "many")])
def test_serve_rejects_bad_environment_values_with_exit_3(monkeypatch, name, value):
    # Issue 20: `PORT=abc mlinfra serve` gave a traceback; a bad value is a config error (exit 3).
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: pytest.fail("must not start"))
    monkeypatch.setenv(name, value)
    result = invoke("serve")
    assert result.exit_code == 3, result.output
    assert f"{name}={value!r}" in result.output and "Traceback" not in result.output
