"""Serverless vs VM serving per traffic level, the break-even, and idle vs loaded cost per environment.

Both modes are priced from plans of the same environment (stacks/offline.py), one with
`serving.mode: serverless` and one with `serving.mode: vm`, so every resource a mode brings
(load balancer, NAT, alarms...) is in its figure. Storage and registry lines are left out of
the comparison: they are the same usage whichever mode serves.

Traffic moves two things: serverless bills the requests' active time and count (cost/rules.py
`serverless`, `lambda_function`, `per_request`); VM groups grow past their minimum when the busy
vCPU-seconds need more machines at the scale-out target (`vm_group`). The break-even is found by
bisection on the request count, both estimates re-priced from the same two plans.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from components.spec import UsageSpec
from cost.estimate import USAGE_CATEGORIES, CostReport, estimate, usage_of

# Left out of the serverless-vs-VM comparison: usage that is the same whichever mode serves, and
# alarms (monitoring), which both modes carry and which do not scale with traffic.
COMPARE_ASIDE = (*USAGE_CATEGORIES, "monitoring")
from stacks.plan import Plan

MODES = ("serverless", "vm")
# Bisection bounds for the break-even: up to 100 billion requests a month, to within 0.1 %.
MAX_REQUESTS = 1e11
TOLERANCE = 1e-3

# Zero-traffic usage: what an environment costs while nobody calls it and no data is kept.
IDLE_USAGE = UsageSpec(storage_hot_gb=0, storage_warm_gb=0, storage_cold_gb=0, storage_archive_gb=0,
                       requests_per_month=0, training_hours_per_month=0, registry_gb=0)


def serving_usd(report: CostReport) -> float:
    """The monthly cost of serving: storage, registry, logs and alarms aside (the same in both modes)."""
    return sum(line.monthly_usd for line in report.lines if line.category not in COMPARE_ASIDE)


def at_requests(plan: Plan, requests: float) -> CostReport:
    usage = usage_of(plan).model_copy(update={"requests_per_month": float(requests)})
    return estimate(plan, usage=usage)


@dataclass
class ModeCosts:
    cloud: str
    region: str
    levels: list[float]
    usd: dict[str, list[float]]  # mode -> monthly USD per level
    unpriced: dict[str, list[dict[str, str]]]  # mode -> what could not be priced (same at every level)
    break_even: Optional[float]  # requests/month from which VMs cost no more than serverless; None if never
    note: str = ""
    comparable: bool = True  # False when a mode's serving resources are unpriced

    def to_dict(self) -> dict[str, Any]:
        return {"cloud": self.cloud, "region": self.region,
                "levels": [{"requests_per_month": n, **{m: round(self.usd[m][i], 2) for m in MODES}}
                           for i, n in enumerate(self.levels)],
                "break_even_requests_per_month": None if self.break_even is None else round(self.break_even),
                "comparable": self.comparable, "unpriced": self.unpriced, "note": self.note}


def _difference(plans: dict[str, Plan], requests: float) -> float:
    return serving_usd(at_requests(plans["serverless"], requests)) - serving_usd(at_requests(plans["vm"], requests))


def break_even(plans: dict[str, Plan]) -> Optional[float]:
    """The smallest monthly request count at which VM serving costs no more than serverless."""
    if _difference(plans, 0) >= 0:
        return 0.0
    if _difference(plans, MAX_REQUESTS) < 0:
        return None
    low, high = 0.0, MAX_REQUESTS
    while high - low > TOLERANCE * high:
        mid = (low + high) / 2
        if _difference(plans, mid) >= 0:
            high = mid
        else:
            low = mid
    return high


def compare(plans: dict[str, Plan], levels: list[float]) -> ModeCosts:
    """`plans` maps "serverless" and "vm" to plans of the same environment on one cloud."""
    reports = {m: [at_requests(plans[m], n) for n in levels] for m in MODES}
    usd = {m: [serving_usd(r) for r in reports[m]] for m in MODES}
    unpriced = {m: (reports[m][0].unpriced if reports[m] else []) for m in MODES}
    note, even = "", None
    gaps = [m for m in MODES if any(u.get("category") not in COMPARE_ASIDE for u in unpriced[m])]
    if gaps:
        # a mode whose serving resources are unpriced would look free: no comparison, say why
        note = (f"{' and '.join(gaps)} serving has unpriced resources in {plans['serverless'].region} "
                "(see unpriced): the figures leave them out and no break-even is computed")
    else:
        even = break_even(plans)
    first = plans["serverless"]
    return ModeCosts(cloud=first.cloud, region=first.region, levels=list(levels), usd=usd, unpriced=unpriced,
                     break_even=even, note=note, comparable=not gaps)


@dataclass
class EnvCost:
    """Idle and loaded monthly cost of one stack (the README table)."""

    stack: str
    env: str
    cloud: str
    region: str
    idle_usd: float  # no traffic, no training; storage and registry (usage) aside
    loaded_usd: float  # the usage section's assumptions, everything included
    unpriced: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"stack": self.stack, "env": self.env, "cloud": self.cloud, "region": self.region,
                "idle_usd": round(self.idle_usd, 2), "loaded_usd": round(self.loaded_usd, 2),
                "unpriced": self.unpriced}


def env_cost(plan: Plan) -> EnvCost:
    idle = estimate(plan, usage=IDLE_USAGE)
    loaded = estimate(plan)
    seen = {(u["urn"], u["reason"]) for u in loaded.unpriced}
    unpriced = loaded.unpriced + [u for u in idle.unpriced if (u["urn"], u["reason"]) not in seen]
    return EnvCost(stack=plan.stack, env=plan.env, cloud=plan.cloud, region=plan.region,
                   idle_usd=idle.idle_usd, loaded_usd=loaded.monthly_usd, unpriced=unpriced)


def markdown_table(costs: list[EnvCost], snapshot_dates: dict[str, str]) -> str:
    """The README's table: one row per environment, idle and loaded per cloud."""
    clouds = list(dict.fromkeys(c.cloud for c in costs))
    head = "| environment | " + " | ".join(f"{c} idle | {c} loaded" for c in clouds) + " |"
    rule = "|---|" + "---:|---:|" * len(clouds)
    rows = []
    for env in dict.fromkeys(c.env for c in costs):
        cells = []
        for cloud in clouds:
            hit = next((c for c in costs if c.env == env and c.cloud == cloud), None)
            if hit is None:
                cells += ["-", "-"]
                continue
            # idle is incomplete only if something that counts while idle is unpriced
            idle_gap = any(u.get("category") not in USAGE_CATEGORIES for u in hit.unpriced)
            cells += [f"{hit.idle_usd:,.2f}{' +unpriced' if idle_gap else ''}",
                      f"{hit.loaded_usd:,.2f}{' +unpriced' if hit.unpriced else ''}"]
        rows.append(f"| {env} | " + " | ".join(cells) + " |")
    dates = ", ".join(f"{c} {d}" for c, d in snapshot_dates.items())
    return "\n".join([head, rule, *rows, "", f"USD per month at list price, price snapshot {dates}. "
                       "+unpriced: some resources have no price in the snapshot for the region "
                       "(`mlinfra cost --summary` lists them with the reason)."])


def _with_mode(values: dict[str, Any], mode: str) -> dict[str, Any]:
    """Config values with `serving.mode` set to `mode` (also in per-cloud overrides that name a mode)."""
    import copy

    out = copy.deepcopy(dict(values))
    service = dict(out.get("service") or {})
    serving = dict(service.get("serving") or {})
    serving["mode"] = mode
    if mode == "vm":  # a VM group at zero machines serves nothing: at least one machine stays up
        serving["min_instances"] = max(1, int(serving.get("min_instances") or 0))
        serving.pop("backend", None)  # a serverless backend choice (AWS lambda / fargate) means nothing for VMs
    service["serving"] = serving
    out["service"] = service
    for over in dict(out.get("overrides") or {}).values():
        if isinstance(over, dict) and isinstance(over.get("serving"), dict):
            cloud_serving = dict(over["serving"])
            if "mode" in cloud_serving:
                cloud_serving["mode"] = mode
            if mode == "vm":
                cloud_serving.pop("backend", None)
                if "min_instances" in cloud_serving:
                    cloud_serving["min_instances"] = max(1, int(cloud_serving["min_instances"] or 0))
            over["serving"] = cloud_serving
    return out


def mode_plans(project_dir, envs: Optional[list[str]], cloud: Optional[str]) -> list[dict[str, Any]]:
    """For each environment x cloud: {"serverless": plan, "vm": plan}, or {"env", "cloud", "error"} when
    the environment's description cannot be served in the other mode (e.g. a setting only VMs take)."""
    from dataclasses import replace

    from components.errors import ConfigError
    from stacks.planning import Target, default_jobs, plan_in_parallel, targets

    chosen: list[Target] = []
    slots: list[dict[str, Any]] = []
    for target in targets(project_dir, envs, cloud):
        variants = [Target(env=target.env, cloud=target.cloud,
                           raw=replace(target.raw, values=_with_mode(target.raw.values, mode))) for mode in MODES]
        try:
            for variant in variants:
                variant.spec()  # validate both variants before any program runs
        except ConfigError as err:
            slots.append({"env": target.env, "cloud": target.cloud, "error": err.message})
            continue
        slots.append({"index": len(chosen)})
        chosen.extend(variants)
    plans = plan_in_parallel(project_dir, chosen, jobs=default_jobs())
    out: list[dict[str, Any]] = []
    for slot in slots:
        if "index" in slot:
            i = slot["index"]
            out.append({"serverless": plans[i], "vm": plans[i + 1]})
        else:
            out.append(slot)
    return out


README_BEGIN = "<!-- cost-table: generated by `mlinfra cost --summary --readme README.md`; do not edit by hand -->"
README_END = "<!-- /cost-table -->"


def replace_readme_block(text: str, table: str) -> str:
    """`text` with the block between the cost-table markers replaced by `table`; a ConfigError if absent."""
    from components.errors import ConfigError

    start, end = text.find(README_BEGIN), text.find(README_END)
    if start < 0 or end < start:
        raise ConfigError(f"--readme: no cost-table markers in the file; add the lines {README_BEGIN!r} and {README_END!r}")
    return text[:start + len(README_BEGIN)] + "\n\n" + table + "\n\n" + text[end:]
