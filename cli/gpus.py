"""`mlinfra gpus`: GPU machines per cloud and region, on-demand and spot per hour, and the cheapest region."""
from __future__ import annotations

from typing import Annotated, Optional

import typer

from cli.options import CloudOpt, OutputFormat, OutputOpt

RegionOpt = Annotated[Optional[str], typer.Option("--region", "-r", help="Only this region (e.g. eu-west-1).")]
def _price(value: Optional[float]) -> Optional[float]:
    import math

    if value is not None and not (math.isfinite(value) and value >= 0):
        raise typer.BadParameter(f"{value} is not a price; allowed: a number of USD per hour, 0 or more",
                                 param_hint="--max-price")
    return value


MaxPriceOpt = Annotated[Optional[float], typer.Option(
    "--max-price", callback=_price, help="Only machines at most this many USD per hour (spot with --spot).")]
SpotOpt = Annotated[bool, typer.Option("--spot", help="Compare and filter on the spot price, not on-demand.")]


def selected_clouds(cloud: str | None) -> list[str]:
    """`--cloud aws|gcp|azure|all` (default all) -> the clouds, or a ConfigError (exit 3)."""
    from components.errors import ConfigError
    from components.providers.base import cloud_names

    clouds = list(cloud_names())
    if cloud in (None, "all"):
        return clouds
    if cloud not in clouds:
        raise ConfigError(f"--cloud: {cloud!r} is not a supported cloud; allowed: {', '.join(clouds)}, all")
    return [cloud]


def _usd(value: Optional[float]) -> str:
    return "-" if value is None else f"{value:,.4g}"


def _pct(value: Optional[float]) -> str:
    return "-" if value is None else f"{value:g} %"


def _table(title: str, rows):
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for name, justify in (("Accelerator", "left"), ("GPUs", "right"), ("Cloud", "left"), ("Region", "left"),
                          ("Machine", "left"), ("On-demand USD/h", "right"), ("Spot USD/h", "right"),
                          ("Spot saving", "right")):
        # fold, never truncate: a machine type is what the user copies from here.
        table.add_column(name, justify=justify, overflow="fold")
    for p in rows:
        table.add_row(p.accelerator, str(p.gpus), p.cloud, p.region, p.machine_type, _usd(p.on_demand_usd_hour),
                      _usd(p.spot_usd_hour), _pct(p.saving_percent))
    return table


def gpus(
    cloud: CloudOpt = None,
    region: RegionOpt = None,
    max_price: MaxPriceOpt = None,
    spot: SpotOpt = False,
    output: OutputOpt = OutputFormat.text,
) -> None:
    """GPU machines: on-demand and spot USD per hour per region, the spot saving, the cheapest region per accelerator."""
    from cost.gpus import gpu_prices

    report = gpu_prices(selected_clouds(cloud), region=region, max_price=max_price, spot=spot)
    if output == OutputFormat.json:
        from cli.output import emit_json

        emit_json({"filters": {"region": region, "max_price": max_price, "spot": spot}, **report.to_dict()})
        return
    from cli.output import console

    basis = "spot" if spot else "on-demand"
    if region is not None:
        console.print(_table(f"GPU machines in {region}", report.prices))
    console.print(_table(f"Cheapest region per accelerator ({basis})", report.cheapest))
    if not report.cheapest:
        console.print("No GPU machine matches these filters.", markup=False)
    dates = ", ".join(f"{c} {d}" for c, d in report.snapshot_dates.items())
    console.print(f"List prices from the price snapshot ({dates}); spot as observed, it moves with demand. "
                  f"{len(report.unpriced)} machine-region pair(s) the snapshot lacks are unpriced: "
                  "mlinfra gpus --output json lists them with the reason.", soft_wrap=True, markup=False)
