"""GCP's own rules, as plain data and checks: regions, label rules, names, Cloud Run sizes.

Nothing here imports pulumi or pulumi_gcp, so `provider.check(spec)` stays cheap.
"""
from __future__ import annotations

import re
from typing import Mapping

from components.errors import ConfigError
from components.naming import checked, short_hash

# Public Google Cloud regions (https://cloud.google.com/about/locations).
REGIONS = frozenset({
    "africa-south1",
    "asia-east1", "asia-east2", "asia-northeast1", "asia-northeast2", "asia-northeast3",
    "asia-south1", "asia-south2", "asia-southeast1", "asia-southeast2", "asia-southeast3",
    "australia-southeast1", "australia-southeast2",
    "europe-central2", "europe-north1", "europe-north2", "europe-southwest1",
    "europe-west1", "europe-west2", "europe-west3", "europe-west4", "europe-west6", "europe-west8",
    "europe-west9", "europe-west10", "europe-west12",
    "me-central1", "me-central2", "me-west1",
    "northamerica-northeast1", "northamerica-northeast2", "northamerica-south1",
    "southamerica-east1", "southamerica-west1",
    "us-central1", "us-east1", "us-east4", "us-east5", "us-south1",
    "us-west1", "us-west2", "us-west3", "us-west4",
})

# -- labels ----------------------------------------------------------------------------------
# GCP labels: keys and values are lowercase letters, digits, '_' and '-', at most 63 characters;
# keys start with a letter, values may be empty. Anything else is rewritten, not refused, so an
# `expires-at` of `2026-11-25T10:00:00Z` becomes `2026-11-25t10-00-00z`.
LABEL_MAX = 63
_LABEL_BAD = re.compile(r"[^a-z0-9_-]")


def label_value(value: str) -> str:
    return _LABEL_BAD.sub("-", str(value).lower())[:LABEL_MAX]


def label_key(key: str) -> str:
    key = _LABEL_BAD.sub("-", str(key).lower())
    if not key[:1].isalpha():
        key = f"k{key}"  # a key must start with a letter; 'k' keeps the rest readable
    return key[:LABEL_MAX]


def labels(tags: Mapping[str, str]) -> dict[str, str]:
    # Keys that collide once rewritten keep the later value: base tags come last (components/tags.py).
    return {label_key(k): label_value(v) for k, v in tags.items()}


# -- names -----------------------------------------------------------------------------------
def fit(stem: str, role: str, max_len: int) -> str:
    """`<stem>-<role>`, or `<stem cut>-<hash>-<role>` when that is longer than `max_len`.

    The hash is of the full stem, so two long stems cut to the same text still differ."""
    full = f"{stem}-{role}" if role else stem
    if len(full) <= max_len:
        return full
    tail = f"-{short_hash(stem)}" + (f"-{role}" if role else "")
    return f"{stem[:max_len - len(tail)].rstrip('-')}{tail}"


def bucket_name(spec) -> str:
    # GCS: 3-63 of lowercase letters, digits, '-', '_', '.'; starts and ends with a letter or digit;
    # may not start with "goog" or contain "google". Global namespace, hence the hash of project,
    # stack and region (stable for one stack, distinct across stacks).
    name = f"{spec.service.name}-{spec.env}-data-{short_hash(spec.project, spec.stack, spec.region, length=8)}"
    if name.startswith("goog") or "google" in name:
        raise ConfigError(f"mlinfra:service.name: GCS bucket names may not start with 'goog' or contain 'google' "
                          f"(derived {name!r}); rename the service")
    return checked(name, what="GCS bucket", pattern=r"[a-z0-9][a-z0-9_.-]*[a-z0-9]", min_len=3, max_len=63,
                   limit="GCS bucket: 3-63 lowercase letters, digits, '-', '_', '.'")


def repository_id(spec) -> str:
    # Artifact Registry repository id: 1-63 lowercase letters, digits, '-'; starts with a letter.
    return checked(fit(f"{spec.service.name}-{spec.env}", "", 63), what="Artifact Registry repository",
                   pattern=r"[a-z]([a-z0-9-]*[a-z0-9])?", min_len=1, max_len=63,
                   limit="Artifact Registry repository: 1-63 lowercase letters, digits, '-', starting with a letter")


def account_id(spec, role: str) -> str:
    # Service account ids: 6-30 characters of [a-z]([-a-z0-9]*[a-z0-9]). `<service>-<env>-<role>`
    # reaches 51 characters, so long ones are cut and carry a hash of the full stem.
    name = fit(f"{spec.service.name}-{spec.env}", role, 30)
    return checked(name, what="service account", pattern=r"[a-z]([-a-z0-9]*[a-z0-9])", min_len=6, max_len=30,
                   limit="service account id: 6-30 characters, [a-z]([-a-z0-9]*[a-z0-9])")


SECRET_ID = re.compile(r"[A-Za-z0-9_-]{1,255}")


def secret_id(spec, name: str) -> str:
    # Secret Manager secret ids: 1-255 of letters, digits, '-' and '_'
    # (https://cloud.google.com/secret-manager/docs/reference/rest/v1/projects.secrets/create).
    # Prefixed with the service and environment so two environments in one project never share a
    # secret; `mlinfra secrets set` writes to this id (GcpProvider.secret_id).
    sid = f"{spec.service.name}-{spec.env}-{name}"
    if not SECRET_ID.fullmatch(sid):
        env = next((k for k, v in spec.service.serving.secrets.items() if v == name), name)
        raise ConfigError(f"mlinfra:service.serving.secrets.{env}: {name!r} gives the Secret Manager id {sid!r}; "
                          "allowed: letters, digits, '-', '_', at most 255 characters in all")
    return sid


def run_service_name(spec) -> str:
    # Cloud Run service names: at most 49 characters (a revision suffix brings them to 63).
    return checked(fit(f"{spec.service.name}-{spec.env}", "serve", 49), what="Cloud Run service",
                   pattern=r"[a-z]([-a-z0-9]*[a-z0-9])?", min_len=1, max_len=49,
                   limit="Cloud Run service: 1-49 lowercase letters, digits, '-'")


def gce_name(prefix: str, role: str, max_len: int = 63) -> str:
    # Compute Engine (RFC 1035) names: 1-63 characters of [a-z]([-a-z0-9]*[a-z0-9])?.
    return checked(fit(prefix, role, max_len), what="Compute Engine", pattern=r"[a-z]([-a-z0-9]*[a-z0-9])?",
                   min_len=1, max_len=max_len, limit=f"Compute Engine name: 1-{max_len} lowercase letters, digits, '-'")


# Instance templates get a generated suffix after `name_prefix`; beyond 37 characters the provider
# shortens that suffix and collisions become likelier.
TEMPLATE_PREFIX_MAX = 37


def template_prefix(prefix: str, role: str) -> str:
    return gce_name(prefix, role, TEMPLATE_PREFIX_MAX) + "-"


# Cloud Run injects these itself and refuses them in a revision ("The environment variables defined in
# the container runtime contract are reserved and cannot be set. In particular, the PORT environment
# variable is injected inside your container by Cloud Run":
# https://cloud.google.com/run/docs/configuring/services/environment-variables).
RUN_RESERVED = ("PORT", "K_SERVICE", "K_REVISION", "K_CONFIGURATION")


# -- Cloud Run sizes --------------------------------------------------------------------------
# Cloud Run (https://cloud.google.com/run/docs/configuring/services/cpu, .../memory-limits):
# whole CPUs 1, 2, 4, 6, 8 or a fraction 0.08-1 in steps of 0.01; memory 512 MiB to 32 GiB.
# Each CPU size allows a memory range; below 1 CPU, more than 512 MiB needs 0.5 CPU, more than
# 1 GiB needs 1 CPU, and concurrency must be 1.
RUN_CPUS = (1, 2, 4, 6, 8)
RUN_MEMORY_GIB = {1: (0.5, 4), 2: (0.5, 8), 4: (2, 16), 6: (4, 24), 8: (4, 32)}


def run_cpu(cpu: float) -> str:
    return str(int(cpu)) if cpu >= 1 else f"{round(cpu * 1000)}m"


def run_memory(memory_gib: float) -> str:
    return f"{round(memory_gib * 1024)}Mi"


def check_run_size(cpu: float, memory_gib: float, concurrency: int) -> None:
    key = "mlinfra:service.serving"
    if cpu >= 1:
        if cpu not in RUN_CPUS:
            raise ConfigError(f"{key}.cpu: {cpu:g} is not allowed on Cloud Run: whole CPUs must be one of "
                              f"{', '.join(map(str, RUN_CPUS))} (or a fraction 0.08-1)")
        low, high = RUN_MEMORY_GIB[int(cpu)]
        if not low <= memory_gib <= high:
            raise ConfigError(f"{key}.memory_gib: {memory_gib:g} is not allowed on Cloud Run with cpu {cpu:g}: "
                              f"allowed {low:g}-{high:g} GiB")
        return
    if cpu < 0.08 or abs(cpu * 100 - round(cpu * 100)) > 1e-9:
        raise ConfigError(f"{key}.cpu: {cpu:g} is not allowed on Cloud Run: a fraction must be 0.08-1 in steps of 0.01")
    top = 1.0 if cpu >= 0.5 else 0.5
    if not 0.5 <= memory_gib <= top:
        raise ConfigError(f"{key}.memory_gib: {memory_gib:g} is not allowed on Cloud Run with cpu {cpu:g}: "
                          f"allowed 0.5-{top:g} GiB (more needs cpu {'1' if top == 1.0 else '0.5'})")
    if concurrency != 1:
        raise ConfigError(f"{key}.concurrency: {concurrency} is not allowed on Cloud Run with cpu {cpu:g}: "
                          "below 1 CPU concurrency must be 1")


# -- VM machine types -------------------------------------------------------------------------
# E2 shapes (vCPUs, GiB), cheapest first per size: serving derives the smallest one that gives the
# asked CPU and memory; `serving.machine_type` overrides it with any Compute Engine type.
E2_SHAPES = (
    ("e2-small", 0.5, 2), ("e2-medium", 1, 4),
    ("e2-highcpu-2", 2, 2), ("e2-standard-2", 2, 8), ("e2-highmem-2", 2, 16),
    ("e2-highcpu-4", 4, 4), ("e2-standard-4", 4, 16), ("e2-highmem-4", 4, 32),
    ("e2-highcpu-8", 8, 8), ("e2-standard-8", 8, 32), ("e2-highmem-8", 8, 64),
    ("e2-highcpu-16", 16, 16), ("e2-standard-16", 16, 64), ("e2-highmem-16", 16, 128),
    ("e2-highcpu-32", 32, 32), ("e2-standard-32", 32, 128),
)


def vm_machine_type(serving) -> str:
    if serving.machine_type:
        return serving.machine_type
    for name, vcpus, gib in E2_SHAPES:
        if vcpus >= serving.cpu and gib >= serving.memory_gib:
            return name
    raise ConfigError(f"mlinfra:service.serving.cpu: {serving.cpu:g} CPU / {serving.memory_gib:g} GiB is larger than "
                      "any E2 machine (32 vCPU, 128 GiB); set mlinfra:service.serving.machine_type")

# Label on training machines, so alerts can find them among the project's instances.
TRAINING_ROLE = {"mlinfra-role": "training"}
