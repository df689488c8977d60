"""The one description of an ML service: plain data, validated once, shared by every cloud.

Specs are frozen pydantic models with `extra="forbid"`; units live in field names. Nothing here
knows a cloud: per-cloud limits (names, regions, sizes) are checked by the providers, and the
list of clouds is the provider registry's (components/providers/base.py).
"""
from __future__ import annotations

import re
from typing import Annotated, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# A service name becomes part of every cloud resource name (`digits-dev-data`). Short, DNS-like,
# so that `<service>-<env>-<role>` fits even the tightest limits (Azure storage account: 24).
SERVICE_NAME = r"^[a-z][a-z0-9-]{0,18}[a-z0-9]$"
# Environment names double as stack names and label values: `dev`, `prod`, `pr-42`, `br-fix-lo-k3m2x7qa`.
ENV_NAME = r"^[a-z][a-z0-9-]{0,22}[a-z0-9]$"
# Tag keys: the intersection that every cloud accepts once lowercased (GCP labels are the tightest).
TAG_KEY = r"^[a-z][a-z0-9_-]{0,62}$"

# OCI image references, as the distribution reference grammar defines them
# (https://github.com/distribution/reference/blob/main/reference.go):
#   reference := name [":" tag] ["@" digest]; name := [domain "/"] path-component ["/" path-component]*
#   domain-component := [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]; port := [0-9]+
#   path-component := [a-z0-9]+ ([_.] | __ | -* ) [a-z0-9]+ ...; tag := [\w][\w.-]{0,127}
#   digest := algorithm ":" [0-9a-fA-F]{32,}; the name is at most 255 characters.
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?"
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[_.]|__|-+)[a-z0-9]+)*"
IMAGE_REFERENCE = re.compile(
    rf"(?P<name>(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*)"
    r"(?::(?P<tag>[\w][\w.-]{0,127}))?"
    r"(?:@(?P<digest>[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}))?")


def valid_image_reference(value: str) -> bool:
    match = IMAGE_REFERENCE.fullmatch(value)
    return bool(match) and len(match.group("name")) <= 255


Days = Annotated[int, Field(ge=1, le=36500)]
Percent = Annotated[int, Field(ge=1, le=100)]


class Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class StorageSpec(Spec):
    """One bucket whose data prefixes move hot -> warm -> cold -> archive with age."""

    warm_after_days: Days = 30
    cold_after_days: Days = 90
    archive_after_days: Days = 365
    # Old object versions (overwritten or deleted) are removed after this many days.
    noncurrent_expire_days: Days = 90
    # Prefixes that age through the tiers. `models/` is deliberately absent: serving reads it hot.
    tiered_prefixes: tuple[str, ...] = ("data/", "runs/")
    hot_prefixes: tuple[str, ...] = ("models/",)
    # Previews set this so `destroy` can delete a bucket that still holds objects.
    force_destroy: bool = False

    @field_validator("tiered_prefixes", "hot_prefixes")
    @classmethod
    def _prefixes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for prefix in value:
            if not re.fullmatch(r"[a-z0-9][a-z0-9_.-]{0,62}/", prefix):
                raise ValueError(f"prefix {prefix!r} must be lowercase letters, digits, '_', '.', '-' ending in '/'")
        return value

    @model_validator(mode="after")
    def _ordered(self) -> "StorageSpec":
        # Errors name the field they blame first ("field: ..."), so the config loader can point at it.
        if self.cold_after_days <= self.warm_after_days:
            raise ValueError(f"cold_after_days: must be greater than warm_after_days ({self.warm_after_days}); "
                             "tiers age hot -> warm -> cold -> archive")
        if self.archive_after_days <= self.cold_after_days:
            raise ValueError(f"archive_after_days: must be greater than cold_after_days ({self.cold_after_days}); "
                             "tiers age hot -> warm -> cold -> archive")
        overlap = set(self.tiered_prefixes) & set(self.hot_prefixes)
        if overlap:
            raise ValueError(f"hot_prefixes: {sorted(overlap)} cannot be both tiered and hot")
        return self


class RegistrySpec(Spec):
    keep_last_images: Annotated[int, Field(ge=1, le=1000)] = 20
    # Untagged images (superseded builds) are deleted after this many days.
    untagged_expire_days: Days = 7


class ServingSpec(Spec):
    """How the inference container runs: a serverless container or autoscaled VMs."""

    mode: Literal["serverless", "vm"] = "serverless"
    # A prebuilt image reference; None builds `build_context` and pushes it to the registry.
    image: Optional[str] = None
    build_context: str = "app"
    port: Annotated[int, Field(ge=1, le=65535)] = 8080
    cpu: Annotated[float, Field(gt=0, le=64)] = 1.0
    memory_gib: Annotated[float, Field(gt=0, le=512)] = 2.0
    min_instances: Annotated[int, Field(ge=0, le=1000)] = 0
    max_instances: Annotated[int, Field(ge=1, le=1000)] = 3
    concurrency: Annotated[int, Field(ge=1, le=1000)] = 80
    scale_out_cpu_percent: Percent = 75
    scale_in_cpu_percent: Percent = 25
    health_path: str = "/v2/health/ready"
    liveness_path: str = "/v2/health/live"
    env: dict[str, str] = Field(default_factory=dict)
    ingress: Literal["public", "internal"] = "public"
    # A public endpoint with a domain serves HTTPS with a certificate the cloud manages (ACM,
    # Google-managed, Container Apps managed); port 80 only redirects.
    domain: Optional[str] = None
    certificate: Optional[str] = None
    # The DNS zone the program may write records into (Route 53 zone name, Cloud DNS managed zone
    # name, Azure DNS zone name). Without it, deploy prints the records the user must create.
    dns_zone: Optional[str] = None
    # Web application firewall with the cloud's managed rule sets, and a per-client-IP rate limit.
    firewall: bool = False
    rate_limit_per_minute: Annotated[int, Field(ge=10, le=2_000_000_000)] = 600
    # Load-balancer access logs: kept this many days; the fraction of requests logged (where the
    # cloud samples, e.g. GCP backend-service logging).
    access_log_days: Days = 30
    access_log_sample_rate: Annotated[float, Field(ge=0, le=1)] = 1.0
    # Environment variable name -> secret name in the cloud's secret store (Secrets Manager,
    # Secret Manager, Key Vault). Values are set with `mlinfra secrets set`, never in config.
    secrets: dict[str, str] = Field(default_factory=dict)
    # A cloud-specific serverless backend (AWS: `fargate` | `lambda`); None is the cloud's default.
    backend: Optional[str] = None
    # VM mode only: a cloud machine type overriding the one derived from cpu / memory_gib.
    machine_type: Optional[str] = None
    # VM mode only: the machine image instances boot (AWS: an AMI id or exact AMI name). Pinned per
    # environment so an unrelated deploy never swaps it; changing it is a reviewed, previewable edit.
    machine_image: Optional[str] = None

    @field_validator("health_path", "liveness_path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not re.fullmatch(r"/[A-Za-z0-9/_.-]*", value):
            raise ValueError("must be an absolute URL path such as /v2/health/ready")
        return value

    @field_validator("env", "secrets")
    @classmethod
    def _env_names(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            if not re.fullmatch(r"[A-Z_][A-Z0-9_]*", key):
                raise ValueError(f"environment variable name {key!r} must match [A-Z_][A-Z0-9_]*")
        return value

    @field_validator("image")
    @classmethod
    def _image(cls, value: Optional[str]) -> Optional[str]:
        # How many tags / which registries a cloud accepts is the provider's concern (providers/<cloud>);
        # here only the reference grammar every registry shares.
        if value is not None and not valid_image_reference(value):
            raise ValueError("must be an image reference such as registry.example.com/team/app:1.2 or "
                             "repo/app@sha256:<64 hex> (the OCI distribution reference grammar)")
        return value

    @field_validator("build_context")
    @classmethod
    def _build_context(cls, value: str) -> str:
        # Lexical part of the confinement; symlinks leaving the project are refused where the project
        # folder is known (stacks/config.confine_build_context).
        parts = value.replace("\\", "/").split("/")
        if (not value.strip() or value.startswith(("/", "~")) or re.match(r"^[A-Za-z]:", value) or ".." in parts
                or "\x00" in value):
            raise ValueError("must be a folder inside the project, given relative to it (e.g. app); "
                             "absolute paths, ~ and .. are not allowed")
        return value

    @field_validator("domain")
    @classmethod
    def _domain(cls, value: Optional[str]) -> Optional[str]:
        if value is not None and not re.fullmatch(r"(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}", value):
            raise ValueError("must be a lowercase DNS name such as api.example.com")
        return value

    @model_validator(mode="after")
    def _ranges(self) -> "ServingSpec":
        if self.min_instances > self.max_instances:
            raise ValueError(f"min_instances: must not exceed max_instances ({self.max_instances})")
        if self.scale_in_cpu_percent >= self.scale_out_cpu_percent:
            raise ValueError(f"scale_in_cpu_percent: must be below scale_out_cpu_percent ({self.scale_out_cpu_percent})")
        if self.certificate and not self.domain:
            raise ValueError("certificate: needs serving.domain to be set")
        if self.dns_zone and not self.domain:
            raise ValueError("dns_zone: needs serving.domain to be set")
        clash = set(self.env) & set(self.secrets)
        if clash:
            raise ValueError(f"secrets: {sorted(clash)} also set in serving.env; a variable comes from one place")
        return self


class TrainingSpec(Spec):
    """GPU training machines. `machines: 0` keeps the template and runs nothing (costs nothing)."""

    enabled: bool = False
    # A name from the accelerator catalog (components/data/accelerators.json): T4, L4, A10G, A100, H100.
    accelerator: str = "T4"
    gpus_per_machine: Annotated[int, Field(ge=1, le=16)] = 1
    machines: Annotated[int, Field(ge=0, le=64)] = 0
    spot: bool = True
    boot_disk_gib: Annotated[int, Field(ge=50, le=16384)] = 200
    # A machine image overriding the cloud's deep-learning image.
    image: Optional[str] = None
    shared_filesystem: bool = False
    shared_filesystem_gib: Annotated[int, Field(ge=100, le=102400)] = 1024

    @field_validator("accelerator")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.upper()


class AlertsSpec(Spec):
    enabled: bool = True
    emails: tuple[str, ...] = ()
    error_rate_percent: Annotated[float, Field(gt=0, le=100)] = 5.0
    p99_latency_ms: Annotated[int, Field(ge=1, le=600000)] = 1000
    # A GPU machine running longer than this is probably a forgotten one.
    training_max_hours: Annotated[int, Field(ge=1, le=8760)] = 24

    @field_validator("emails")
    @classmethod
    def _emails(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for email in value:
            if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[a-zA-Z]{2,}", email):
                raise ValueError(f"{email!r} is not an e-mail address")
        return value


class BudgetSpec(Spec):
    # None: no budget. Set in prod by default.
    monthly_usd: Optional[Annotated[float, Field(gt=0, le=10_000_000)]] = None
    alert_thresholds_percent: tuple[Annotated[int, Field(ge=1, le=1000)], ...] = (50, 90, 100)
    # GCP budgets belong to a billing account ("XXXXXX-XXXXXX-XXXXXX").
    gcp_billing_account: Optional[str] = None


class UsageSpec(Spec):
    """Expected usage; feeds the monthly cost estimate (`mlinfra cost`). Defaults are documented assumptions.

    storage_<tier>_gb: data held in each storage tier (hot: models and fresh data; warm / cold /
    archive: what the lifecycle rules have aged), priced per GB-month. Defaults 50 / 100 / 200 / 500.
    requests_per_month (1,000,000) x request_seconds (0.05 s each): serverless active time and the
    load balancer's capacity units; requests are assumed not to overlap (an upper bound).
    training_hours_per_month (0): GPU machine-hours launched from the training template.
    registry_gb (5): container images kept in the registry.
    """

    storage_hot_gb: Annotated[float, Field(ge=0)] = 50.0
    storage_warm_gb: Annotated[float, Field(ge=0)] = 100.0
    storage_cold_gb: Annotated[float, Field(ge=0)] = 200.0
    storage_archive_gb: Annotated[float, Field(ge=0)] = 500.0
    requests_per_month: Annotated[float, Field(ge=0)] = 1_000_000
    request_seconds: Annotated[float, Field(gt=0, le=3600)] = 0.05
    training_hours_per_month: Annotated[float, Field(ge=0, le=744)] = 0.0
    registry_gb: Annotated[float, Field(ge=0)] = 5.0


class ServiceSpec(Spec):
    name: Annotated[str, Field(pattern=SERVICE_NAME)] = "digits"
    storage: StorageSpec = StorageSpec()
    registry: RegistrySpec = RegistrySpec()
    serving: ServingSpec = ServingSpec()
    training: TrainingSpec = TrainingSpec()
    alerts: AlertsSpec = AlertsSpec()
    budget: BudgetSpec = BudgetSpec()
    usage: UsageSpec = UsageSpec()


class PreviewSpec(Spec):
    """Set on short-lived pull-request / branch environments."""

    source: str  # "pr-42" or the branch name as given
    ttl_hours: Annotated[int, Field(ge=1, le=24 * 30)] = 72
    expires_at: str  # ISO 8601 UTC, also carried as the `expires-at` tag


class EnvironmentSpec(Spec):
    """One environment of one service on one cloud: what a stack deploys."""

    env: Annotated[str, Field(pattern=ENV_NAME)]
    stack: Annotated[str, Field(pattern=ENV_NAME)]
    project: str = "mlinfra"
    cloud: str
    region: str
    tags: dict[str, str] = Field(default_factory=dict)
    service: ServiceSpec = ServiceSpec()
    preview: Optional[PreviewSpec] = None
    # prod, or `mlinfra:protected: true`: stateful resources get protect + retainOnDelete
    # (components/ml_service.py), destroy is refused without --allow-protected (stacks/protection.py).
    protected: bool = False

    # How many tags a resource may carry is per cloud (AWS 50, GCP 64 labels, Azure 50): each
    # provider's MAX_TAGS, checked with mlinfra's own tags counted (BaseProvider.check_tag_count).
    @field_validator("tags")
    @classmethod
    def _tags(cls, value: dict[str, str]) -> dict[str, str]:
        for key, val in value.items():
            if not re.fullmatch(TAG_KEY, key):
                raise ValueError(f"{key}: tag keys must match {TAG_KEY} (the rule every cloud accepts)")
            if len(val) > 63 or not re.fullmatch(r"[A-Za-z0-9_.:@/+=-]*", val):
                raise ValueError(f"{key}: tag values are at most 63 of [A-Za-z0-9_.:@/+=-]")
        return value
