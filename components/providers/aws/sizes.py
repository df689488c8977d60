"""AWS sizing rules as data: Fargate task sizes, VM instance types, CloudWatch alarm windows.

Pure Python (no SDK), so `provider.check(spec)` can refuse a size before anything is registered
and the builders derive exactly what the check accepted.
"""
from __future__ import annotations

import re
from typing import Optional

from components.errors import ConfigError

# Fargate accepts only these task sizes: CPU units (1024 = 1 vCPU) -> allowed memory in MiB.
# https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-tasks-services.html#fargate-tasks-size
FARGATE_SIZES: dict[int, tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: tuple(range(1024, 4096 + 1, 1024)),
    1024: tuple(range(2048, 8192 + 1, 1024)),
    2048: tuple(range(4096, 16384 + 1, 1024)),
    4096: tuple(range(8192, 30720 + 1, 1024)),
    8192: tuple(range(16384, 61440 + 1, 4096)),
    16384: tuple(range(32768, 122880 + 1, 8192)),
}


def _gib(mib: int) -> str:
    return f"{mib / 1024:g}"


def fargate_size(cpu: float, memory_gib: float) -> tuple[int, int]:
    """(cpu units, memory MiB) of a valid Fargate task, or a ConfigError saying what is allowed."""
    units = cpu * 1024
    if units not in FARGATE_SIZES:
        allowed = ", ".join(f"{u / 1024:g}" for u in FARGATE_SIZES)
        raise ConfigError(f"mlinfra:service.serving.cpu: {cpu:g} vCPU is not a Fargate task size; allowed: {allowed}")
    units = int(units)
    mib = memory_gib * 1024
    allowed_mib = FARGATE_SIZES[units]
    if mib not in allowed_mib:
        if len(allowed_mib) <= 4:
            allowed = ", ".join(_gib(m) for m in allowed_mib)
        else:
            step = _gib(allowed_mib[1] - allowed_mib[0])
            allowed = f"{_gib(allowed_mib[0])} to {_gib(allowed_mib[-1])} in steps of {step}"
        raise ConfigError(f"mlinfra:service.serving.memory_gib: {memory_gib:g} GiB is not allowed with {cpu:g} vCPU "
                          f"on Fargate; allowed: {allowed} GiB")
    return units, int(mib)


# VM serving: current general-purpose x86 families, by GiB per vCPU (compute 2, general 4, memory 8).
# Ordered by size then family, which for these families is also the price order, so the first
# type that fits is the cheapest one that does.
_FAMILIES = (("c7i", 2), ("m7i", 4), ("r7i", 8))
_SIZES = (("large", 2), ("xlarge", 4), ("2xlarge", 8), ("4xlarge", 16), ("8xlarge", 32), ("12xlarge", 48),
          ("16xlarge", 64))
INSTANCE_TYPES: tuple[tuple[str, int, int], ...] = tuple(
    (f"{family}.{size}", vcpus, vcpus * per_cpu) for size, vcpus in _SIZES for family, per_cpu in _FAMILIES)
# EC2 instance type names: family (with generation and options) "." size, e.g. g4dn.xlarge, m7i-flex.large.
INSTANCE_TYPE = r"[a-z][a-z0-9-]*\.[a-z0-9-]+"


def vm_instance_type(cpu: float, memory_gib: float, override: Optional[str] = None) -> str:
    """The instance type VM serving runs on: the override, else the smallest that fits cpu and memory."""
    if override is not None:
        if not re.fullmatch(INSTANCE_TYPE, override):
            raise ConfigError(f"mlinfra:service.serving.machine_type: {override!r} is not an EC2 instance type "
                              "(family.size, e.g. m7i.large)")
        return override
    for name, vcpus, mem in INSTANCE_TYPES:
        if vcpus >= cpu and mem >= memory_gib:
            return name
    biggest = INSTANCE_TYPES[-1]
    raise ConfigError(f"mlinfra:service.serving.memory_gib: no EC2 type serves {cpu:g} vCPU with {memory_gib:g} GiB; "
                      f"the largest is {biggest[0]} ({biggest[1]} vCPU, {biggest[2]} GiB) or set serving.machine_type")


# CloudWatch alarms: a period of an hour or more may span up to 7 days in total (period x
# evaluation periods <= 604,800 s); shorter periods only 1 day (PutMetricAlarm, EvaluationPeriods).
# The training alarm counts whole hours, so it uses 1-hour periods and tops out at 168 hours.
ALARM_HOUR = 3600
ALARM_MAX_WINDOW_S = 7 * 24 * ALARM_HOUR


def training_alarm_window(hours: int) -> tuple[int, int]:
    """(period seconds, evaluation periods) for "a training machine ran longer than `hours`"."""
    if hours * ALARM_HOUR > ALARM_MAX_WINDOW_S:
        raise ConfigError(f"mlinfra:service.alerts.training_max_hours: {hours} is more than AWS CloudWatch can watch "
                          f"in one alarm; allowed: 1 to {ALARM_MAX_WINDOW_S // ALARM_HOUR} hours")
    return ALARM_HOUR, hours


# AWS Budgets: at most 5 notifications per budget, 10 e-mail subscribers per notification.
BUDGET_MAX_NOTIFICATIONS = 5
BUDGET_MAX_EMAILS = 10
