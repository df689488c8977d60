"""How each kind of resource is priced. A price file's `rules` name a kind and its parameters.

Every rule returns a list of (monthly_usd, basis, assumption) for one resource - empty when the
resource costs nothing as configured (e.g. a gateway VPC endpoint, a serving VM template whose
machines are priced on their group) - or raises Unpriced with the reason.
"""
from __future__ import annotations

import math
import re
from typing import Any, Callable, Optional

from components import catalog
from cost import snapshot
from cost.estimate import Context, Unpriced, get
from stacks.plan import PlanResource

Found = list[tuple[float, str, bool]]
SECONDS_PER_HOUR = 3600
HOURS_PER_DAY = 24


def _cpu(value: Any) -> Optional[float]:
    """`1`, `"1"`, `"0.5"`, `"500m"` -> vCPUs."""
    if value is None:
        return None
    text = str(value).strip()
    return float(text[:-1]) / 1000 if text.endswith("m") else float(text)


_MEMORY_UNITS = {"Gi": 1.0, "Mi": 1 / 1024, "Ki": 1 / 1024**2, "G": 1e9 / 2**30, "M": 1e6 / 2**30, "": 1.0}


def _gib(value: Any) -> Optional[float]:
    """`"2Gi"`, `"512Mi"`, `"2G"`, `2.0` -> GiB (a bare number is taken as GiB, as Container Apps' `2.0Gi` is)."""
    if value is None:
        return None
    match = re.fullmatch(r"([0-9.]+)\s*([A-Za-z]*)", str(value).strip())
    if not match or match.group(2) not in _MEMORY_UNITS:
        raise Unpriced(f"cannot read memory {value!r}")
    return float(match.group(1)) * _MEMORY_UNITS[match.group(2)]


def _count(inputs: dict, paths: list[str]) -> Optional[float]:
    for path in paths:
        value = get(inputs, path)
        if isinstance(value, list):
            return float(len(value))
        if value is not None:
            return float(value)
    return None


def _spot(inputs: dict, spec: Optional[dict]) -> bool:
    if not spec:
        return False
    value = get(inputs, spec["path"])
    return value is not None and str(value).lower() == str(spec["equals"]).lower()


def _money(x: float) -> str:
    return f"{x:,.2f} USD"


def machine_hourly(ctx: Context, inputs: dict, rule: dict) -> tuple[float, str, bool]:
    """(usd per hour, what, is_gpu) of the machine a template / VM / group describes, in the plan's region."""
    machine = get(inputs, rule["machine_type"])
    if not machine:
        raise Unpriced(f"no machine type at {rule['machine_type']}")
    machine = str(machine).rsplit("/", 1)[-1]  # GCP may give a machine type URL
    accels = get(inputs, rule["accelerators"]) if rule.get("accelerators") else None
    gpus = int(sum(float(a.get("count", 1)) for a in accels)) if accels else 0
    offer = catalog.find(ctx.plan.cloud, machine, gpus or None)
    spot = _spot(inputs, rule.get("spot"))
    kind = "spot" if spot else "on-demand"
    if accels and (offer is None or not offer.attach):
        raise Unpriced(f"{machine} with {gpus} x {accels[0].get('type')} is not in the accelerator catalog")
    if offer is not None:
        gpu_type = str(accels[0].get("type", "")).rsplit("/", 1)[-1] if accels else offer.gpu_type
        found = snapshot.machine(ctx.plan.cloud, machine, ctx.plan.region, gpus=offer.gpus, gpu_type=gpu_type)
        usd = found.usd_hour(spot)
        return usd, f"{usd:g} USD/h {kind} ({offer.label}, {found.region}, snapshot {found.date})", True
    found = snapshot.machine(ctx.plan.cloud, machine, ctx.plan.region)
    usd = found.usd_hour(spot)
    return usd, f"{usd:g} USD/h {kind} ({machine}, {found.region})", False


def _training(ctx: Context, hourly: float, what: str) -> Found:
    hours = ctx.usage.training_hours_per_month
    return [(hours * hourly, f"{hours:g} h/month of training (usage.training_hours_per_month) x {what}", True)]


def storage_tiers(ctx: Context, res: PlanResource, rule: dict) -> Found:
    prices = rule["prices"]
    if rule.get("variant"):
        prices = rule["variants"].get(str(get(res.inputs, rule["variant"])), prices)
    total, parts = 0.0, []
    for tier in ("hot", "warm", "cold", "archive"):
        gb = getattr(ctx.usage, f"storage_{tier}_gb")
        usd, what = ctx.price(prices[tier])
        total += gb * usd
        parts.append(f"{tier} {gb:g} GB x {what}")
    return [(total, "; ".join(parts), True)]


def per_gb_month(ctx: Context, res: PlanResource, rule: dict) -> Found:
    gb = getattr(ctx.usage, rule["usage"])
    usd, what = ctx.price(rule["price"])
    return [(gb * usd, f"{gb:g} GB (usage.{rule['usage']}) x {what}", True)]


def _quantity(res: PlanResource, rule: dict) -> tuple[float, str, bool]:
    """(how many, how that is described, whether it is an assumption)."""
    if "assumed_quantity" in rule:
        q = float(rule["assumed_quantity"])
        return q, f"{q:g} {rule['assumed_what']} (assumed)", True
    q = _count(res.inputs, rule.get("count", []))
    q = 1.0 if q is None else q
    return q, f"{q:g}", False


def _applies(res: PlanResource, rule: dict) -> bool:
    return all(str(get(res.inputs, k)).lower() == str(v).lower() for k, v in rule.get("when", {}).items())


def hourly(ctx: Context, res: PlanResource, rule: dict) -> Found:
    if not _applies(res, rule):
        return []
    q, desc, assumed = _quantity(res, rule)
    usd, what = ctx.price(rule["price"])
    return [(q * ctx.hours * usd, f"{desc} x {ctx.hours:g} h x {what}", assumed)]


def monthly(ctx: Context, res: PlanResource, rule: dict) -> Found:
    if not _applies(res, rule):
        return []
    q, desc, assumed = _quantity(res, rule)
    usd, what = ctx.price(rule["price"])
    return [(q * usd, f"{desc} x {what}", assumed)]


def daily_by_variant(ctx: Context, res: PlanResource, rule: dict) -> Found:
    variant = str(get(res.inputs, rule["variant"]))
    if variant not in rule["variants"]:
        raise Unpriced(f"no price for {rule['variant']} {variant!r}")
    usd, what = ctx.price(rule["variants"][variant])
    days = ctx.hours / HOURS_PER_DAY
    return [(days * usd, f"{days:g} days x {what}", False)]


def monthly_by_variant(ctx: Context, res: PlanResource, rule: dict) -> Found:
    """A monthly fee chosen by a SKU input; a variant mapped to null is included elsewhere (no line)."""
    variant = str(get(res.inputs, rule["variant"]))
    if variant not in rule["variants"]:
        raise Unpriced(f"no price for {rule['variant']} {variant!r}")
    if rule["variants"][variant] is None:
        return []
    usd, what = ctx.price(rule["variants"][variant])
    return [(usd, f"1 x {what}", False)]


def load_balancer(ctx: Context, res: PlanResource, rule: dict) -> Found:
    usd, what = ctx.price(rule["price"])
    lcu_usd, lcu_what = ctx.price(rule["lcu_price"])
    # One capacity unit covers this many new connections a second; one request per connection assumed.
    rps = ctx.usage.requests_per_month / (ctx.hours * SECONDS_PER_HOUR)
    lcus = rps / rule["requests_per_lcu_second"]
    return [(ctx.hours * usd, f"{ctx.hours:g} h x {what}", False),
            (ctx.hours * lcus * lcu_usd, f"{lcus:.4g} LCU from {rps:.3g} requests/s (usage.requests_per_month) x "
             f"{ctx.hours:g} h x {lcu_what}", True)]


def fargate(ctx: Context, res: PlanResource, rule: dict) -> Found:
    task = ctx.related(res, rule["task_definition"], res.inputs.get("taskDefinition"))
    if task is None:
        raise Unpriced("its task definition is not in the plan")
    vcpu = int(task.inputs["cpu"]) / 1024  # CPU units: 1024 = 1 vCPU
    gib = int(task.inputs["memory"]) / 1024  # MiB
    tasks = res.inputs.get("desiredCount")
    if tasks is None:
        target = ctx.related(res, rule["scaling_target"], res.inputs.get("name"))
        tasks = (target.inputs.get("minCapacity") if target else None) or 1
    v_usd, v_what = ctx.price(rule["prices"]["vcpu_hour"])
    m_usd, m_what = ctx.price(rule["prices"]["gib_hour"])
    usd = tasks * ctx.hours * (vcpu * v_usd + gib * m_usd)
    return [(usd, f"{tasks:g} task(s) x {ctx.hours:g} h x ({vcpu:g} vCPU x {v_what} + {gib:g} GiB x {m_what})", False)]


def serverless(ctx: Context, res: PlanResource, rule: dict) -> Found:
    serving = ctx.service.get("serving") or {}
    cpu = _cpu(get(res.inputs, rule["cpu"])) or float(serving.get("cpu", 1))
    gib = _gib(get(res.inputs, rule["memory"])) or float(serving.get("memory_gib", 2))
    idle_instances = float(get(res.inputs, rule["min_instances"]) or 0)
    p = {k: ctx.price(v) for k, v in rule["prices"].items()}
    requests, seconds = ctx.usage.requests_per_month, ctx.usage.request_seconds
    # Upper bound: requests are assumed not to overlap, so each is billed its full duration.
    active = requests * seconds
    usd = (active * (cpu * p["vcpu_second"][0] + gib * p["gib_second"][0])
           + requests / 1e6 * p["request_million"][0])
    found: Found = [(usd, f"{requests:,.0f} requests x {seconds:g} s (usage) x ({cpu:g} vCPU x {p['vcpu_second'][1]} + "
                     f"{gib:g} GiB x {p['gib_second'][1]}) + {requests / 1e6:g} M x {p['request_million'][1]}", True)]
    if idle_instances:
        idle = max(0.0, idle_instances * ctx.hours * SECONDS_PER_HOUR - active)
        found.append((idle * (cpu * p["idle_vcpu_second"][0] + gib * p["idle_gib_second"][0]),
                      f"{idle_instances:g} minimum instance(s) idle {idle:g} s x ({cpu:g} vCPU x "
                      f"{p['idle_vcpu_second'][1]} + {gib:g} GiB x {p['idle_gib_second'][1]})", False))
    return found


def _machines_for_traffic(ctx: Context, machine: str) -> tuple[float, str]:
    """Machines a serving group needs for the usage's traffic, and why.

    The same assumption as the serverless rule: each request keeps one vCPU busy for
    usage.request_seconds. The group scales out at serving.scale_out_cpu_percent (default 75 %),
    so a machine of v vCPUs serves v x hours x 3600 x target busy vCPU-seconds a month.
    """
    vcpus = snapshot.machine_vcpus(ctx.plan.cloud, machine)
    if not vcpus:
        return 0.0, ""
    target = float((ctx.service.get("serving") or {}).get("scale_out_cpu_percent", 75)) / 100
    busy = ctx.usage.requests_per_month * ctx.usage.request_seconds
    capacity = vcpus * ctx.hours * SECONDS_PER_HOUR * target
    return float(math.ceil(busy / capacity)) if busy else 0.0, (
        f"; {busy:,.0f} busy vCPU-s a month / ({vcpus:g} vCPU x {ctx.hours:g} h x {target:.0%})")


def vm_group(ctx: Context, res: PlanResource, rule: dict) -> Found:
    source, machine_rule = res, rule
    if "template" in rule:
        tpl = rule["template"]
        source = ctx.related(res, tpl["type"], get(res.inputs, tpl["ref"]))
        if source is None:
            raise Unpriced("its machine template is not in the plan")
        machine_rule = tpl
    usd, what, gpu = machine_hourly(ctx, source.inputs, machine_rule)
    count = _count(res.inputs, rule.get("count", []))
    scaler_rule = rule.get("autoscaler")
    if scaler_rule:
        scalers = [s for s in ctx.plan.of_type(scaler_rule["type"])
                   if res.name in str(get(s.inputs, scaler_rule["ref"]) or "") or s.parent == res.parent]
        if len(scalers) == 1 and get(scalers[0].inputs, scaler_rule["count"]) is not None:
            count = float(get(scalers[0].inputs, scaler_rule["count"]))
    count = 0.0 if count is None else count
    basis = f"{count:g} machine(s) x {ctx.hours:g} h x {what}"
    assumed = False
    if not gpu:  # a serving group: at least as many machines as the traffic needs
        machine = str(get(source.inputs, machine_rule["machine_type"])).rsplit("/", 1)[-1]
        needed, why = _machines_for_traffic(ctx, machine)
        if needed > count:
            count, assumed = needed, True
            basis = f"{count:g} machine(s) for the traffic{why} x {ctx.hours:g} h x {what}"
    found: Found = [(count * ctx.hours * usd, basis, assumed)]
    if gpu and "template" not in rule:
        # No separate template (e.g. an Azure scale set): ad-hoc training hours are priced here.
        found += _training(ctx, usd, what)
    return found


def machine_template(ctx: Context, res: PlanResource, rule: dict) -> Found:
    # A serving template costs nothing itself: its machines are priced on the group that runs them.
    # Only a GPU (training) template is priced, for the usage's ad-hoc training hours.
    machine = str(get(res.inputs, rule["machine_type"]) or "").rsplit("/", 1)[-1]
    accels = get(res.inputs, rule["accelerators"]) if rule.get("accelerators") else None
    if not accels and catalog.find(ctx.plan.cloud, machine) is None:
        return []
    usd, what, gpu = machine_hourly(ctx, res.inputs, rule)
    return _training(ctx, usd, what) if gpu else []


def vm(ctx: Context, res: PlanResource, rule: dict) -> Found:
    usd, what, gpu = machine_hourly(ctx, res.inputs, rule)
    return _training(ctx, usd, what) if gpu else [(ctx.hours * usd, f"{ctx.hours:g} h x {what}", False)]


def per_request(ctx: Context, res: PlanResource, rule: dict) -> Found:
    """A request-priced front door (API Gateway HTTP API): usage.requests_per_month x the per-million price."""
    usd, what = ctx.price(rule["price"])
    millions = ctx.usage.requests_per_month / 1e6
    return [(millions * usd, f"{millions:g} M requests (usage.requests_per_month) x {what}", True)]


def lambda_function(ctx: Context, res: PlanResource, rule: dict) -> Found:
    """Requests x the request price + GB-seconds x the duration price (memory in MB / 1024, x86 or arm64)."""
    arch = "arm64" if "arm64" in (res.inputs.get("architectures") or []) else "x86_64"
    prices = rule["prices"][arch]
    gb = float(res.inputs.get("memorySize") or rule.get("default_memory_mb", 128)) / 1024
    req_usd, req_what = ctx.price(prices["request_million"])
    gbs_usd, gbs_what = ctx.price(prices["gb_second"])
    requests, seconds = ctx.usage.requests_per_month, ctx.usage.request_seconds
    usd = requests / 1e6 * req_usd + requests * seconds * gb * gbs_usd
    return [(usd, f"{requests / 1e6:g} M requests x {req_what} + {requests:,.0f} x {seconds:g} s x {gb:g} GB "
                  f"({arch}) x {gbs_what}", True)]


def web_acl(ctx: Context, res: PlanResource, rule: dict) -> Found:
    """A WAF policy: a monthly fee, a fee per rule, and a price per million requests inspected."""
    acl_usd, acl_what = ctx.price(rule["prices"]["acl_month"])
    rules = float(len(get(res.inputs, rule["rules"]) or []))
    found: Found = [(acl_usd, f"1 x {acl_what}", False)]
    if "rule_month" in rule["prices"]:
        rule_usd, rule_what = ctx.price(rule["prices"]["rule_month"])
        found.append((rules * rule_usd, f"{rules:g} rule(s) x {rule_what}", False))
    if "request_million" in rule["prices"]:
        req_usd, req_what = ctx.price(rule["prices"]["request_million"])
        millions = ctx.usage.requests_per_month / 1e6
        found.append((millions * req_usd, f"{millions:g} M requests (usage.requests_per_month) x {req_what}", True))
    return found


RULES: dict[str, Callable[[Context, PlanResource, dict], Found]] = {
    "storage_tiers": storage_tiers, "per_gb_month": per_gb_month, "hourly": hourly, "monthly": monthly,
    "daily_by_variant": daily_by_variant, "load_balancer": load_balancer, "fargate": fargate,
    "serverless": serverless, "vm_group": vm_group, "machine_template": machine_template, "vm": vm,
    "per_request": per_request, "monthly_by_variant": monthly_by_variant, "lambda_function": lambda_function, "web_acl": web_acl,
}
