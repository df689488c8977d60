"""`mlinfra drift`: compare new inputs with the model card's training statistics (app/drift.py)."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from cli.options import OutputFormat, OutputOpt
from components.errors import ConfigError, PrerequisiteMissing


def drift(
    data: Annotated[Path, typer.Option("--data", help="CSV (64 columns, optional header), .npy or .npz of inputs.",
                                       dir_okay=False)],
    model_dir: Annotated[Optional[Path], typer.Option("--model-dir", help="Model folder. Default: app/model.",
                                                      file_okay=False)] = None,
    output: OutputOpt = OutputFormat.text,
) -> None:
    """Exit 1 with "retrain" when more than 25 % of the pixel features drifted from training; else 0."""
    try:
        from app import MODEL_DIR
        from app.drift import DriftDataError, drift_report, load_data
        from app.model import DigitsModel, ModelError
    except ImportError as exc:
        raise PrerequisiteMissing(f"drift needs the app extra ({exc.name} is missing): "
                                  "pip install 'mlinfra-iac[app]'") from None
    from components.files import require_regular

    require_regular(data, f"--data {data}")
    try:
        model = DigitsModel.load(model_dir or MODEL_DIR)
        report = drift_report(load_data(data), model)
    except DriftDataError as exc:
        raise ConfigError(f"--data: {exc}") from None
    except ModelError as exc:
        raise ConfigError(f"--model-dir: {exc}") from None
    if output == OutputFormat.json:
        from cli.output import emit_json

        emit_json(report)
    else:
        _print(report)
    if report["decision"] == "retrain":
        raise typer.Exit(1)


def _print(report: dict) -> None:
    from rich.table import Table

    from cli.output import console

    drifted = [f for f in report["per_feature"] if f["drifted"]]
    if drifted:
        table = Table("pixel", "train mean", "new mean", "shift (std)", "PSI", title="drifted features")
        for f in sorted(drifted, key=lambda f: -f["psi"])[:16]:
            table.add_row(str(f["feature"]), f"{f['train_mean']:.2f}", f"{f['new_mean']:.2f}",
                          f"{f['mean_shift_std']:.2f}", f"{f['psi']:.3f}")
        console.print(table)
        if len(drifted) > 16:
            console.print(f"... and {len(drifted) - 16} more (--output json lists every feature)")
    console.print(f"{report['rows']} rows, model {report['model_version']}: {report['drifted_features']} of "
                  f"{report['features']} features drifted ({report['drifted_fraction']:.0%}; retrain above "
                  f"{report['retrain_above_fraction']:.0%}); prediction class-mix PSI {report['predictions']['psi']:.3f}")
    console.print("retrain" if report["decision"] == "retrain" else "ok: no retraining needed")
