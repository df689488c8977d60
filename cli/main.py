"""The `mlinfra` command. Thin: each command or group lives in its own module over a library call.

`mlinfra --help` must import neither pulumi nor a cloud SDK: command modules import heavy
libraries inside their functions, never at module level.
"""
from __future__ import annotations

import functools
import importlib
import sys
from typing import Annotated, Callable

import typer

from components.errors import MlinfraError

app = typer.Typer(
    name="mlinfra",
    help="Describe an ML service once; plan, check and deploy it on AWS, GCP or Azure.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain help: typer's rich help pulls in rich.markdown and markdown-it (~150 ms) for every --help.
    rich_markup_mode=None,
)

# Single commands: (module, function, command name).
COMMANDS: list[tuple[str, str, str]] = [
    ("cli.plan", "plan", "plan"),
    ("cli.validate", "validate", "validate"),
    ("cli.serve", "serve", "serve"),
    ("cli.drift", "drift", "drift"),
    ("cli.gpus", "gpus", "gpus"),
    ("cli.cost", "cost", "cost"),
    ("cli.deploy", "deploy", "deploy"),
    ("cli.deploy", "destroy", "destroy"),
    ("cli.deploy", "outputs", "outputs"),
    ("cli.doctor", "doctor", "doctor"),
]
# Command groups: (module holding `app = typer.Typer()`, group name).
GROUPS: list[tuple[str, str]] = [
    ("cli.model", "model"),
    ("cli.appimage", "app"),
    ("cli.env", "env"),
    ("cli.policy", "policy"),
    ("cli.prices", "prices"),
    ("cli.secrets", "secrets"),
]

_state = {"debug": False}


def _guarded(fn: Callable) -> Callable:
    """Turn a user-caused error into its one-line message and documented exit code."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except MlinfraError as err:
            if _state["debug"]:
                raise
            from cli.output import print_error

            # The message is user text (e.g. "pip install 'mlinfra-iac[app]'"): printed literally (cli/output.py).
            print_error(err.message)
            raise typer.Exit(err.exit_code) from None

    return wrapper


def _import(module: str):
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:  # a command module that has not landed must not break the rest
        if exc.name == module:
            return None
        raise


def _register() -> None:
    for module, attr, name in COMMANDS:
        mod = _import(module)
        if mod is not None:
            app.command(name=name)(_guarded(getattr(mod, attr)))
    for module, name in GROUPS:
        mod = _import(module)
        if mod is None:
            continue
        mod.app.rich_markup_mode = None
        for info in mod.app.registered_commands:
            info.callback = _guarded(info.callback)
        app.add_typer(mod.app, name=name)


@app.callback()
def _root(debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False) -> None:
    _state["debug"] = debug


_register()


def main() -> None:
    try:
        app()
    except Exception as exc:  # a bug, not a user error: say so in one line unless --debug
        if "--debug" in sys.argv[1:]:
            raise
        from cli.output import err_console

        err_console.print(
            f"internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)",
            markup=False, soft_wrap=True,
        )
        sys.exit(1)


if __name__ == "__main__":
    main()
