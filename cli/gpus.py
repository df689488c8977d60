"""`mlinfra gpus`: the accelerator catalog, each cloud's machine and prices side by side."""
from __future__ import annotations

from cli.options import CloudOpt, OutputFormat, OutputOpt


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


def gpus(cloud: CloudOpt = None, output: OutputOpt = OutputFormat.text) -> None:
    """List the accelerator catalog: machine type per cloud, on-demand and spot list prices per hour."""
    from components import catalog

    clouds = selected_clouds(cloud)
    rows = [o for c in clouds for o in catalog.offers(c)]
    if output == OutputFormat.json:
        from cli.output import emit_json

        emit_json({"about": catalog.about(), "clouds": clouds, "accelerators": catalog.accelerators(),
                   "offers": [o.to_dict() for o in rows]})
        return

    from rich.table import Table

    from cli.output import console

    table = Table(title="Accelerator catalog: machine type, USD per hour on-demand / spot")
    table.add_column("Accelerator")
    table.add_column("GPUs", justify="right")
    for c in clouds:
        # fold, never truncate: a machine type is what the user copies from here.
        table.add_column(f"{catalog.display_name(c)} ({catalog.price_region(c)})", overflow="fold")
    keys = sorted({(o.accelerator, o.gpus) for o in rows}, key=lambda k: (catalog.accelerators().index(k[0]), k[1]))
    for accel, count in keys:
        cells = []
        for c in clouds:
            hit = next((o for o in rows if o.cloud == c and o.accelerator == accel and o.gpus == count), None)
            cells.append("-" if hit is None else
                         f"{hit.machine_type}\n{hit.on_demand_usd_hour:,.2f} / {hit.spot_usd_hour:,.2f}")
        table.add_row(accel, str(count), *cells)
    console.print(table)
    dates = sorted({o.date for o in rows})
    console.print(f"List prices for estimates, valid as of {', '.join(dates)}; sources and regions: "
                  "mlinfra gpus --output json", soft_wrap=True)
