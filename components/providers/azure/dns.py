"""DNS records a custom domain needs: created in Azure DNS when `serving.dns_zone` names a zone, otherwise
listed in the `dns_records` stack output for the user to create wherever the domain is hosted."""
from __future__ import annotations

import pulumi

from components.errors import ConfigError
from components.providers.base import BuildContext

TTL = 300


def zone_of(ctx: BuildContext) -> tuple[object, str] | None:
    """(resource group, zone name) of `serving.dns_zone`: `zone` (in the environment's resource group) or
    `resource-group/zone`. None without a zone."""
    serving = ctx.spec.service.serving
    if not serving.dns_zone:
        return None
    group, _, zone = serving.dns_zone.rpartition("/")
    if not (serving.domain == zone or serving.domain.endswith(f".{zone}")):
        raise ConfigError(f"mlinfra:service.serving.dns_zone: {zone!r} does not contain serving.domain "
                          f"{serving.domain!r}; give the Azure DNS zone the domain belongs to")
    return (group or ctx.base.name), zone


def relative(name: str, zone: str) -> str:
    """A record name relative to its zone (`@` for the apex)."""
    return "@" if name == zone else name[: -len(zone) - 1]


def records(ctx: BuildContext, parent, wanted: list[dict], after=None) -> tuple[pulumi.Output | None, list]:
    """`wanted`: [{"type": "TXT"|"CNAME"|"A", "name": fqdn, "value": Output[str], "purpose": str}].

    Returns (the records the user must create, as a stack output: None when the program creates them in
    the Azure DNS zone `serving.dns_zone`; the record resources it created).
    """
    created = []
    found = zone_of(ctx)
    if found is not None:
        import pulumi_azure_native as azure_native

        group, zone = found
        for rec in wanted:
            kind, name = rec["type"], rec["name"]
            value = {"TXT": {"txt_records": [{"value": [rec["value"]]}]},
                     "CNAME": {"cname_record": {"cname": rec["value"]}},
                     "A": {"a_records": [{"ipv4_address": rec["value"]}]}}[kind]
            created.append(azure_native.dns.RecordSet(
                f"{ctx.prefix}-dns-{kind.lower()}-{name.replace('.', '-')}"[:200], zone_name=zone,
                resource_group_name=group, relative_record_set_name=relative(name, zone), record_type=kind,
                ttl=TTL, opts=pulumi.ResourceOptions(parent=parent, depends_on=after or []), **value))
    if found is not None:
        return None, created
    listed = pulumi.Output.all(*[rec["value"] for rec in wanted]).apply(
        lambda values: [{"name": rec["name"], "type": rec["type"], "value": v, "purpose": rec["purpose"]}
                        for rec, v in zip(wanted, values)])
    return listed, created
