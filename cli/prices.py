"""`mlinfra prices refresh`: regenerate the dated price snapshot from the clouds' price APIs (maintainers)."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from cli.options import CloudOpt

app = typer.Typer(help="The dated price snapshot `mlinfra cost` and `mlinfra gpus` read.", no_args_is_help=True)

RegionsOpt = Annotated[Optional[list[str]], typer.Option(
    "--region", "-r", help="Also price this region (repeat the flag). Default: the regions the snapshot holds.")]
OutDirOpt = Annotated[Optional[Path], typer.Option(
    "--out-dir", file_okay=False, help="Write the snapshot files here. Default: the package's cost/prices/.")]
DateOpt = Annotated[Optional[str], typer.Option("--date", help="Date to stamp (YYYY-MM-DD). Default: today, UTC.")]


@app.command("refresh")
def refresh(
    cloud: CloudOpt = None,
    region: RegionsOpt = None,
    out_dir: OutDirOpt = None,
    date: DateOpt = None,
) -> None:
    """Fetch list prices (network needed; GCP also needs MLINFRA_GCP_API_KEY) and write a new dated snapshot."""
    import datetime as dt

    import httpx

    from cli.gpus import selected_clouds
    from cli.output import console
    from components.errors import ConfigError
    from cost.refresh import gcp_api_key, refresh as run, write
    from cost.snapshot import PRICES_DIR

    today = date or dt.datetime.now(dt.timezone.utc).date().isoformat()
    try:
        dt.date.fromisoformat(today)
    except ValueError:
        raise ConfigError(f"--date: {today!r} is not a date; allowed: YYYY-MM-DD") from None
    target = out_dir or PRICES_DIR
    target.mkdir(parents=True, exist_ok=True)
    with httpx.Client(timeout=120, follow_redirects=True) as client:
        for name in selected_clouds(cloud):
            result = run(name, client, today=today, extra_regions=region, api_key=gcp_api_key())
            path = write(result, target)
            console.print(f"{name}: {result.updated} regional prices dated {today} -> {path}", markup=False)
            for line in result.dropped:
                console.print(f"  not listed, now unpriced: {line}", markup=False, soft_wrap=True)
