"""`mlinfra model train`: train the digits classifier the service serves (app/train.py)."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from cli.options import OutputFormat, OutputOpt
from components.errors import PrerequisiteMissing

app = typer.Typer(help="The served model: train it and write its model card.", no_args_is_help=True)


@app.command()
def train(
    output_dir: Annotated[Optional[Path], typer.Option("--output-dir", help="Default: app/model (what the image bakes in).",
                                                       file_okay=False)] = None,
    output: OutputOpt = OutputFormat.text,
) -> None:
    """Train deterministically on scikit-learn's digits; write weights, model card and self-test sample."""
    try:
        from app import MODEL_DIR
        from app.train import train as run_training
    except ImportError as exc:
        raise PrerequisiteMissing(f"training needs the app extra ({exc.name} is missing): "
                                  "pip install 'mlinfra-iac[app]'") from None
    folder = output_dir or MODEL_DIR
    card = run_training(folder)
    if output == OutputFormat.json:
        from cli.output import emit_json

        emit_json({"output_dir": str(folder), "version": card["version"],
                   "test_accuracy": card["metrics"]["test_accuracy"], "libraries": card["libraries"]})
        return
    from cli.output import console

    console.print(f"trained {card['name']} {card['version']}: held-out accuracy "
                  f"{card['metrics']['test_accuracy']:.2%} -> {folder}")
