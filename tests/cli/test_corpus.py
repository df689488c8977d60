"""Every command against every hostile input in tests/corpus/ (issue 20): a documented exit code
(ARCHITECTURE.md "Exit codes": 0 done, 2 usage, 3 config, 4 prerequisite, 5 protected/locked),
never a traceback and never "internal error"."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from cli.main import app

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
ALLOWED = {0, 2, 3, 4, 5}
runner = CliRunner()


def files(kind: str) -> list[Path]:
    return sorted(p for p in (CORPUS / kind).iterdir() if p.is_file())


def verdict(result, args) -> bool:
    """Exit 1 is documented for a verdict on a valid input: a mandatory policy violated (plan, policy
    check) or "retrain" (drift); the output says which."""
    return (result.exit_code == 1 and args[0] in ("plan", "policy", "drift")
            and ("mandatory" in result.output or "retrain" in result.output))


def check(result, args) -> None:
    text = result.output
    assert result.exit_code in ALLOWED or verdict(result, args), (args, result.exit_code, text[-2000:])
    assert "Traceback" not in text and "internal error" not in text, (args, text[-2000:])
    # A user error (2-5) is said on stderr, briefly.
    if result.exit_code in (3, 4, 5):
        assert result.stderr.strip(), args
        assert len(result.stderr) < 4000, (args, result.stderr[:500])
    if result.exception is not None:
        assert isinstance(result.exception, SystemExit), (args, repr(result.exception))


def run(*args: str):
    result = runner.invoke(app, list(args))
    check(result, args)
    return result


# Commands reading the project's Pulumi.dev.yaml; the fake `pulumi` (tests/fakes) is on PATH.
PROJECT_COMMANDS = [
    ["validate", "--env", "dev"],
    ["validate", "--env", "dev", "--cloud", "aws"],
    ["plan", "--env", "dev"],
    ["plan", "--pr", "7"],
    ["cost", "--env", "dev"],
    ["policy", "check", "--env", "dev"],
    ["deploy", "--env", "dev", "--yes"],
    ["deploy", "--env", "dev", "--preview-only"],
    ["destroy", "--env", "dev", "--yes"],
    ["outputs", "--env", "dev"],
    ["env", "up", "--branch", "feature/[x]"],
]


@pytest.mark.parametrize("source", files("config"), ids=lambda p: p.name)
def test_every_command_on_every_hostile_config(fake, source):
    # A deployed stack to act on: a missing stack would be the operation failing (exit 1), not the input.
    fake.seed_stack("dev", config={"mlinfra:cloud": "gcp"})
    shutil.copyfile(source, fake.project / "Pulumi.dev.yaml")
    for command in PROJECT_COMMANDS:
        run(*command, "--project-dir", str(fake.project))
    for command in (["validate"], ["plan"], ["validate", "--cloud", "all"]):
        run(*command, "--config-file", str(source))


def test_an_oversized_config_is_refused(tmp_path):
    big = tmp_path / "Pulumi.dev.yaml"
    big.write_text("config:\n" + "#" * (1024 * 1024 + 10) + "\n")
    assert run("validate", "--config-file", str(big)).exit_code == 3


@pytest.mark.parametrize("source", files("plan"), ids=lambda p: p.name)
def test_plan_file_commands_on_every_hostile_plan(source):
    for command in (["policy", "check"], ["cost"], ["cost", "--summary"]):
        for output in ("text", "json"):
            result = run(*command, "--plan-file", str(source), "--output", output)
            if output == "json" and result.exit_code in (0, 1):
                assert "Infinity" not in result.stdout and "NaN" not in result.stdout


@pytest.mark.parametrize("source", files("policy"), ids=lambda p: p.name)
def test_policy_check_on_every_hostile_policy_config(source):
    run("policy", "check", "--config", str(source), "--plan-file", str(CORPUS / "plan" / "markup.json"))


@pytest.mark.parametrize("source", files("drift"), ids=lambda p: p.name)
def test_drift_on_every_hostile_data_file(source):
    run("drift", "--data", str(source))
    run("drift", "--data", str(source), "--output", "json")


# Hostile argument values, each given to the commands that take the option.
HOSTILE_VALUES = ["", " ", "-", "--", "[/x]", ":cloud:", "a" * 5000, "../../etc/passwd", "\x00", "é",
                  "prod", "dev\nprod", "$(rm -rf /)", "%s%n", "🙂", "PROD", "all", "nan", "inf", "-1", "1e400",
                  "1e400k,1M"]
OPTIONS = {
    "--env": [["validate"], ["plan"], ["cost"], ["policy", "check"], ["deploy", "--yes"], ["destroy", "--yes"],
              ["outputs"]],
    "--cloud": [["validate"], ["plan"], ["deploy", "--yes"], ["env", "up", "--pr", "1"], ["gpus"]],
    "--ttl": [["plan", "--pr", "1"], ["env", "up", "--pr", "1"]],
    "--branch": [["plan"], ["env", "up"], ["env", "down"]],
    "--stack": [["env", "down"]],
    "--pr": [["plan"], ["env", "up"]],
    "--output": [["validate"], ["gpus"]],
    "--region": [["gpus"]],
    "--max-price": [["gpus"]],
    "--requests": [["cost"]],
}


@pytest.mark.parametrize("option", sorted(OPTIONS))
def test_hostile_option_values(fake, option):
    for command in OPTIONS[option]:
        for value in HOSTILE_VALUES:
            if "\x00" in value and command[0] in ("deploy", "destroy", "env", "outputs"):
                continue  # argv cannot carry NUL to a real process either
            run(*command, option, value, "--project-dir", str(fake.project)) if command[0] != "gpus" else \
                run(*command, option, value)


@pytest.mark.parametrize("path", ["/nonexistent/x.yaml", "/", "/dev/null", "/proc/self/mem", "fifo"])
def test_hostile_paths(fake, path, tmp_path):
    if path == "fifo":  # reading a named pipe would block forever
        path = str(tmp_path / "Pulumi.fifo.yaml")
        os.mkfifo(path)
    for command in (["validate", "--config-file", path], ["plan", "--config-file", path],
                    ["policy", "check", "--plan-file", path], ["cost", "--plan-file", path],
                    ["policy", "check", "--config", path, "--plan-file", str(CORPUS / "plan" / "markup.json")],
                    ["drift", "--data", path], ["plan", "--project-dir", path]):
        run(*command)


# Hypothesis over whole config files: any structure, dumped as YAML, and any text at all.
_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=12))
_values = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=3)
                       | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=12)
_keys = st.sampled_from(["mlinfra:cloud", "mlinfra:env", "mlinfra:regions", "mlinfra:tags", "mlinfra:service",
                         "mlinfra:overrides", "mlinfra:preview", "mlinfra:protected", "mlinfra:region", "gcp:project"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(config=st.dictionaries(_keys, _values, max_size=5), noise=st.text(max_size=40))
def test_validate_answers_any_config_with_a_documented_code(tmp_path, config, noise):
    path = tmp_path / "Pulumi.dev.yaml"
    path.write_text(yaml.safe_dump({"config": config}, allow_unicode=True) + noise)
    run("validate", "--config-file", str(path))


def test_model_train_into_an_unwritable_folder_is_exit_3(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = run("model", "train", "--output-dir", str(blocker / "model"))
    assert result.exit_code == 3 and "cannot write the model there" in result.stderr


# A broken `pulumi` (tests/fakes/pulumi knobs): garbage or failure from each of its commands gives
# one clear line with exit 1 (the operation failed) or 4 (the CLI itself is unusable), no traceback.
ENGINE_COMMANDS = [["deploy", "--yes"], ["deploy", "--preview-only"], ["destroy", "--yes"], ["outputs"],
                   ["env", "up", "--pr", "1"], ["env", "down", "--pr", "1"], ["env", "list"], ["env", "gc"]]


@pytest.mark.parametrize("knob", ["FAKE_PULUMI_GARBAGE=version", "FAKE_PULUMI_GARBAGE=stack",
                                  "FAKE_PULUMI_GARBAGE=config", "FAKE_PULUMI_GARBAGE=up",
                                  "FAKE_PULUMI_GARBAGE=preview", "FAKE_PULUMI_GARBAGE=destroy",
                                  "FAKE_PULUMI_FAIL=up", "FAKE_PULUMI_FAIL=destroy", "FAKE_PULUMI_FAIL_VERSION=1"])
def test_a_broken_pulumi_gives_one_line(fake, monkeypatch, knob):
    fake.seed_stack("dev", config={"mlinfra:cloud": "gcp"})
    gone = {"source": "pr-1", "ttl_hours": 1, "expires_at": "2020-01-01T00:00:00Z"}
    fake.seed_stack("pr-1", config={"mlinfra:cloud": "gcp", "mlinfra:env": "pr-1", "mlinfra:preview": gone})
    name, _, value = knob.partition("=")
    monkeypatch.setenv(name, value)
    for command in ENGINE_COMMANDS:
        args = [*command, "--project-dir", str(fake.project)]
        result = runner.invoke(app, args)
        assert result.exit_code in {0, 1, 4}, (args, result.exit_code, result.output[-1500:])
        assert "Traceback" not in result.output and "internal error" not in result.output, (args, result.output)
        if result.exit_code:
            assert result.stderr.strip() and len(result.stderr.strip().splitlines()) <= 3, (args, result.stderr)
