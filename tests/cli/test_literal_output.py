"""User text is printed literally everywhere (issue 20, issue 13): rich markup (`[/x]`, `[app]`,
`[bold]`), emoji codes (`:cloud:`) and highlighting are never applied to it (cli/output.py).

Rich documents that square brackets are read as markup tags and `:name:` as emoji codes unless
markup / emoji are off (https://rich.readthedocs.io/en/stable/markup.html,
https://rich.readthedocs.io/en/stable/console.html "emoji", "markup")."""
from __future__ import annotations

import json
import sys

import pytest
from typer.testing import CliRunner

from cli.main import app
from cli.output import emit_json

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, list(args))


def one_line_error(result, code: int) -> str:
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output and "internal error" not in result.output
    return result.stderr


@pytest.mark.parametrize("env", ["[/x]", "[bold]dev[/bold]", ":cloud:", "[red]", "a[b]c"])
def test_markup_in_an_env_name_is_printed_as_given(tmp_path, env):
    (tmp_path / "Pulumi.yaml").write_text("name: mlinfra\nruntime: python\n")
    err = one_line_error(run("validate", "--env", env, "--project-dir", str(tmp_path)), 3)
    assert env in err
    assert "\u2601" not in err  # :cloud: never becomes the emoji


def test_emoji_code_and_brackets_in_a_value_stay_literal(tmp_path):
    cfg = tmp_path / "Pulumi.dev.yaml"
    cfg.write_text("config:\n  mlinfra:cloud: ':cloud:[/]'\n")
    err = one_line_error(run("validate", "--config-file", str(cfg)), 3)
    assert "':cloud:[/]'" in err and "\u2601" not in err


def test_square_brackets_in_a_file_name_survive_in_the_success_line(tmp_path):
    cfg = tmp_path / "[bold]odd[-bold].yaml"
    cfg.write_text("config:\n  mlinfra:cloud: gcp\n  mlinfra:env: dev\n  mlinfra:service: {name: digits}\n")
    result = run("validate", "--config-file", str(cfg))
    assert result.exit_code == 0, result.output
    assert "[bold]odd[-bold].yaml" in result.stdout


def test_the_missing_extra_message_names_the_full_install_command(monkeypatch, tmp_path):
    # Issue 13: the message printed `pip install 'mlinfra-iac'` because `[app]` was read as markup.
    monkeypatch.setitem(sys.modules, "app.drift", None)  # importing it raises ImportError
    data = tmp_path / "x.csv"
    data.write_text("0\n")
    err = one_line_error(run("drift", "--data", str(data)), 4)
    assert "pip install 'mlinfra-iac[app]'" in " ".join(err.split())


def test_json_output_never_contains_infinity_or_nan(capsys):
    # RFC 8259 section 6: "Numeric values that cannot be represented ... (such as Infinity and NaN)
    # are not permitted."
    emit_json({"a": float("inf"), "b": [float("nan"), 1.5], "c": {"d": -float("inf")}})
    out = capsys.readouterr().out
    assert "Infinity" not in out and "NaN" not in out
    assert json.loads(out) == {"a": None, "b": [None, 1.5], "c": {"d": None}}
