"""Rich rendering of plans: a resource tree per stack and a summary table."""
from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

from rich.table import Table
from rich.tree import Tree

from cli.output import styled

if TYPE_CHECKING:
    from stacks.plan import Plan


def plan_tree(plan: "Plan") -> Tree:
    root = Tree(styled((plan.stack, "bold"), "  env ", (plan.env, "cyan"), " on ", (plan.cloud, "cyan"),
                       f" ({plan.region})"))
    children: dict[Any, list] = defaultdict(list)
    urns = {r.urn for r in plan.resources}
    for res in plan.resources:
        children[res.parent if res.parent in urns else None].append(res)

    def add(node: Tree, parent) -> None:
        for res in sorted(children.get(parent, []), key=lambda r: (r.custom, r.name)):
            style = "" if res.custom else "bold"
            branch = node.add(styled((res.name, style), " ", (res.type, "dim")))
            add(branch, res.urn)

    add(root, None)
    return root


def preview_note(plan: "Plan"):
    info = plan.extra.get("preview")
    if not info:
        return None
    flat: list[str] = []

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, sub in value.items():
                walk(f"{prefix}.{key}" if prefix else key, sub)
        else:
            flat.append(f"{prefix}={value}")

    walk("", info.get("overrides", {}))
    return styled((plan.stack, "bold"), " previews ", (str(info.get("source")), "cyan"),
                  f" from env {info.get('base_env')}; expires {info.get('expires_at')} ({info.get('ttl_hours')} h); "
                  f"overrides: {', '.join(flat)}")


def summary_table(plans: list["Plan"]) -> Table:
    table = Table(title="Plan summary", show_lines=False)
    for col in ("stack", "env", "cloud", "region", "resources", "endpoint", "policy", "monthly USD"):
        table.add_column(col, justify="right" if col in {"resources", "monthly USD"} else "left")
    for plan in plans:
        policy = plan.extra.get("policy")
        verdict = "-"
        if policy is not None:
            failed = policy.get("mandatory_failed", 0)
            verdict = styled(("pass", "green") if not failed else (f"{failed} mandatory", "red"))
            if policy.get("advisory"):
                verdict.append(f" +{policy['advisory']} advisory", "yellow")
        cost = plan.extra.get("cost")
        table.add_row(plan.stack, plan.env, plan.cloud, plan.region, str(sum(1 for _ in plan.custom())),
                      str(plan.outputs.get("endpoint", "-")), verdict,
                      f"{cost['monthly_usd']:,.2f}{' +unpriced' if cost.get('unpriced') else ''}" if cost else "-")
    return table


def violations_table(plan: "Plan") -> Table | None:
    policy = plan.extra.get("policy") or {}
    rows = policy.get("violations") or []
    if not rows:
        return None
    table = Table(title=f"Policy findings: {plan.stack}")
    for col in ("level", "rule", "resource", "message"):
        table.add_column(col)
    for v in rows:
        colour = "red" if v.get("level") == "mandatory" else "yellow"
        table.add_row(styled((str(v.get("level")), colour)), str(v.get("rule")), str(v.get("urn", "")).split("::")[-1],
                      str(v.get("message")))
    return table
