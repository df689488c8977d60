"""The contract every cloud fulfils, the capability vocabulary, and the provider registry.

A provider turns the cloud-neutral spec into one cloud's resources. It is looked up by name
through `get_provider("gcp")`, which imports the cloud's module on first use, so commands
that never touch a cloud never pay for its SDK. The list of clouds is `PROVIDERS`' keys.
"""
from __future__ import annotations

import difflib
import importlib
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any, Mapping, Optional, Protocol

from components.errors import ConfigError, UnsupportedFeature

if TYPE_CHECKING:  # pulumi is only needed when resources are built
    from pathlib import Path

    import pulumi

    from components.spec import EnvironmentSpec

# cloud name -> "module:Class". Adding a cloud is one line here plus its folder.
PROVIDERS: dict[str, str] = {
    "aws": "components.providers.aws.provider:AwsProvider",
    "gcp": "components.providers.gcp.provider:GcpProvider",
    "azure": "components.providers.azure.provider:AzureProvider",
}


def cloud_names() -> tuple[str, ...]:
    return tuple(PROVIDERS)


_instances: dict[str, "CloudProvider"] = {}


def get_provider(cloud: str) -> "CloudProvider":
    if cloud not in PROVIDERS:
        raise ConfigError(f"mlinfra:cloud: {cloud!r} is not a supported cloud; allowed: {', '.join(PROVIDERS)}")
    if cloud not in _instances:
        module, cls = PROVIDERS[cloud].split(":")
        _instances[cloud] = getattr(importlib.import_module(module), cls)()
    return _instances[cloud]


class Feature(str, Enum):
    """What a spec can ask of a cloud. Providers declare the ones they cannot do, with the reason."""

    SERVERLESS = "serverless serving"
    VM_SERVING = "VM serving"
    SERVERLESS_SCALE_TO_ZERO = "serverless scale to zero (serving.min_instances: 0)"
    VM_SCALE_TO_ZERO = "VM scale to zero (serving.min_instances: 0 with serving.mode: vm)"
    INTERNAL_INGRESS = "internal ingress (serving.ingress: internal)"
    CUSTOM_DOMAIN = "custom domain (serving.domain)"
    GPU_TRAINING = "GPU training (training.enabled)"
    SPOT_TRAINING = "spot training machines (training.spot)"
    SHARED_FILESYSTEM = "shared training filesystem (training.shared_filesystem)"
    ALERTS = "alerts (alerts.enabled)"
    BUDGET = "budget (budget.monthly_usd)"


def required_features(spec: "EnvironmentSpec") -> set[Feature]:
    """What this spec asks for, independent of any cloud."""
    svc = spec.service
    need: set[Feature] = set()
    vm = svc.serving.mode == "vm"
    need.add(Feature.VM_SERVING if vm else Feature.SERVERLESS)
    if svc.serving.min_instances == 0:
        need.add(Feature.VM_SCALE_TO_ZERO if vm else Feature.SERVERLESS_SCALE_TO_ZERO)
    if svc.serving.ingress == "internal":
        need.add(Feature.INTERNAL_INGRESS)
    if svc.serving.domain:
        need.add(Feature.CUSTOM_DOMAIN)
    if svc.training.enabled:
        need.add(Feature.GPU_TRAINING)
        if svc.training.spot:
            need.add(Feature.SPOT_TRAINING)
        if svc.training.shared_filesystem:
            need.add(Feature.SHARED_FILESYSTEM)
    if svc.alerts.enabled:
        need.add(Feature.ALERTS)
    if svc.budget.monthly_usd is not None:
        need.add(Feature.BUDGET)
    return need


# The config key that asks for each feature, so a refusal names what to change.
FEATURE_KEYS: dict[Feature, str] = {
    Feature.SERVERLESS: "mlinfra:service.serving.mode",
    Feature.VM_SERVING: "mlinfra:service.serving.mode",
    Feature.SERVERLESS_SCALE_TO_ZERO: "mlinfra:service.serving.min_instances",
    Feature.VM_SCALE_TO_ZERO: "mlinfra:service.serving.min_instances",
    Feature.INTERNAL_INGRESS: "mlinfra:service.serving.ingress",
    Feature.CUSTOM_DOMAIN: "mlinfra:service.serving.domain",
    Feature.GPU_TRAINING: "mlinfra:service.training.enabled",
    Feature.SPOT_TRAINING: "mlinfra:service.training.spot",
    Feature.SHARED_FILESYSTEM: "mlinfra:service.training.shared_filesystem",
    Feature.ALERTS: "mlinfra:service.alerts.enabled",
    Feature.BUDGET: "mlinfra:service.budget.monthly_usd",
}


@dataclass
class BuildContext:
    """What the parts of one service share while they are built, in build order."""

    spec: "EnvironmentSpec"
    provider: "CloudProvider"
    tags: dict[str, str]  # already in the cloud's own tag / label rules
    base: Any = None  # provider.foundation(): e.g. Azure's resource group
    storage: Optional["StorageOutputs"] = None
    registry: Optional["RegistryOutputs"] = None
    image: Any = None  # str | pulumi.Output[str]: the image reference serving runs
    serving: Optional["ServingOutputs"] = None
    training: Optional["TrainingOutputs"] = None
    monitoring: Optional["MonitoringOutputs"] = None
    # Cloud-private shared resources created on first need (e.g. one VPC for serving and training).
    shared: dict[str, Any] = field(default_factory=dict)

    @property
    def prefix(self) -> str:
        """`<service>-<env>`: the stem of every resource name."""
        return f"{self.spec.service.name}-{self.spec.env}"


@dataclass
class StorageOutputs:
    bucket: Any  # Output[str]: the bucket / container name
    url: Any  # Output[str]: s3://…, gs://…, az://account/container
    resource_id: Any  # Output[str]: ARN / bucket name / storage account id, for IAM scoping


@dataclass
class RegistryOutputs:
    url: Any  # Output[str]: repository to push to, e.g. 1234.dkr.ecr.eu-west-1.amazonaws.com/digits-dev
    server: Any  # Output[str]: registry host for docker login
    resource_id: Any  # Output[str]: ARN / repository id / registry id, for IAM scoping
    username: Any = None  # Output[str]: push credentials (secrets), used only by the image build
    password: Any = None


@dataclass
class ServingOutputs:
    url: Any  # Output[str]: the endpoint URL
    identity: Any  # Output[str]: the identity the service runs as (role ARN / SA e-mail / principal id)
    # Output[list[{"type", "name", "value"}]]: DNS records the user must create for serving.domain
    # (None when there is no domain, or the program writes them into serving.dns_zone).
    dns_records: Any = None


@dataclass
class TrainingOutputs:
    template: Any  # Output[str]: launch template id / instance template / scale set id
    machine_type: str
    identity: Any


@dataclass
class MonitoringOutputs:
    notification_target: Any  # Output[str]: SNS topic ARN / notification channel / action group id


@dataclass
class BudgetOutputs:
    budget: Any  # Output[str]


class CloudProvider(Protocol):
    """One cloud. Builders create resources with `ResourceOptions(parent=parent)` and return outputs."""

    name: str
    display_name: str
    default_region: str
    regions: frozenset[str]

    def unsupported(self) -> Mapping[Feature, str]:
        """Features this cloud cannot provide, each with the reason a user will read."""

    def check(self, spec: "EnvironmentSpec") -> None:
        """Raise ConfigError / UnsupportedFeature for anything this cloud cannot build, before any resource."""

    def tags(self, tags: Mapping[str, str]) -> dict[str, str]:
        """The tags rewritten to this cloud's tag / label rules."""

    def foundation(self, parent: "pulumi.Resource", name: str, ctx: BuildContext) -> Any: ...
    def storage(self, parent: "pulumi.Resource", name: str, ctx: BuildContext) -> StorageOutputs: ...
    def registry(self, parent: "pulumi.Resource", name: str, ctx: BuildContext) -> RegistryOutputs: ...
    def serving(self, parent: "pulumi.Resource", name: str, ctx: BuildContext) -> ServingOutputs: ...
    def training(self, parent: "pulumi.Resource", name: str, ctx: BuildContext) -> TrainingOutputs: ...
    def monitoring(self, parent: "pulumi.Resource", name: str, ctx: BuildContext) -> MonitoringOutputs: ...
    def budget(self, parent: "pulumi.Resource", name: str, ctx: BuildContext) -> BudgetOutputs: ...


class BaseProvider:
    """Shared behaviour: region and capability checks, and builders looked up as data.

    Subclasses set the class attributes. Each part is built by `"module:function"` in the cloud's
    own package (`BUILDERS`), imported on first use so that `check()` never loads a cloud SDK;
    a builder is called as `function(provider, parent, ctx)`. Serving is keyed by mode.
    """

    name: str = ""
    display_name: str = ""
    default_region: str = ""
    regions: frozenset[str] = frozenset()
    packages: tuple[str, ...] = ()
    # Type tokens of resources that hold data (buckets, registries, file systems): components/ml_service.py
    # marks them protect + retain_on_delete in protected environments.
    STATEFUL_TYPES: frozenset[str] = frozenset()
    # Tags (labels) one resource may carry, user tags and mlinfra's together; 0 = not limited.
    MAX_TAGS: int = 0
    UNSUPPORTED: Mapping[Feature, str] = {}
    BUILDERS: Mapping[str, str] = {
        "storage": "storage:build_storage",
        "registry": "registry:build_registry",
        "serving.serverless": "serving_serverless:build_serverless",
        "serving.vm": "serving_vm:build_vm",
        "training": "training:build_training",
        "monitoring": "monitoring:build_monitoring",
        "budget": "budget:build_budget",
    }

    def _own(self, target: str):
        module, _, attr = target.partition(":")
        package = type(self).__module__.rpartition(".")[0]
        return getattr(importlib.import_module(f"{package}.{module}"), attr)

    def _build(self, part: str, parent: "pulumi.Resource", ctx: BuildContext):
        return self._own(self.BUILDERS[part])(self, parent, ctx)

    def foundation(self, parent: "pulumi.Resource", name: str, ctx: BuildContext) -> Any:
        return None

    def storage(self, parent, name, ctx) -> StorageOutputs:
        return self._build("storage", parent, ctx)

    def registry(self, parent, name, ctx) -> RegistryOutputs:
        return self._build("registry", parent, ctx)

    def serving(self, parent, name, ctx) -> ServingOutputs:
        return self._build(f"serving.{ctx.spec.service.serving.mode}", parent, ctx)

    def training(self, parent, name, ctx) -> TrainingOutputs:
        return self._build("training", parent, ctx)

    def monitoring(self, parent, name, ctx) -> MonitoringOutputs:
        return self._build("monitoring", parent, ctx)

    def budget(self, parent, name, ctx) -> BudgetOutputs:
        return self._build("budget", parent, ctx)

    def missing_credentials(self, env: Mapping[str, str], home: "Path", config: Mapping[str, str]) -> Optional[str]:
        """None when this cloud's credentials are there (env, files, stack config), else what to set or run."""
        return self._own("credentials:missing")(env, home, config)

    def preflight(self, plan: Any, requirements: Optional[list] = None, live: Any = None) -> list:
        """`mlinfra doctor` (the cloud's `preflight.py`): without `live`, the prerequisites this plan
        needs on this cloud (stacks/doctor.Requirement, status unknown); with `live`
        (stacks/doctor.LiveContext), those `requirements` checked with read-only calls, each with a timeout."""
        if live is None:
            return self._own("preflight:requirements")(plan)
        return self._own("preflight:check")(plan, requirements or [], live)

    def put_secret(self, spec: "EnvironmentSpec", name: str, value: str, live: Any) -> str:
        """Write `value` as the new version of the service's secret `name` (a serving.secrets value) in
        the cloud's secret store; returns where it went. The cloud's `secret_values.py`."""
        return self._own("secret_values:put")(spec, name, value, live)

    def mock_resource(self, typ: str, name: str, inputs: dict, region: str) -> tuple[str, dict]:
        """What the cloud would answer for a resource, for the offline plan (the cloud's `mocks.py`)."""
        return self._own("mocks:new_resource")(typ, name, inputs, region)

    def mock_call(self, token: str, args: dict, region: str) -> dict:
        return self._own("mocks:call")(token, args, region)

    def unsupported(self) -> Mapping[Feature, str]:
        return self.UNSUPPORTED

    def check_region(self, region: str, key: str) -> None:
        if region not in self.regions:
            close = difflib.get_close_matches(region, sorted(self.regions), n=3, cutoff=0.6)
            hint = f"; did you mean {', '.join(close)}?" if close else f"; e.g. {self.default_region}"
            raise ConfigError(f"{key}: {region!r} is not a region of {self.display_name}{hint}")

    def check(self, spec: "EnvironmentSpec") -> None:
        self.check_region(spec.region, f"mlinfra:regions.{self.name}")
        refused = self.unsupported()
        for feature in sorted(required_features(spec), key=lambda f: f.name):
            if feature in refused:
                raise UnsupportedFeature(
                    f"{FEATURE_KEYS[feature]}: {self.display_name} cannot provide {feature.value}: {refused[feature]}"
                )
        self.check_tag_count(spec)
        self.check_names(spec)
        self.check_cloud_specific(spec)

    def check_tag_count(self, spec: "EnvironmentSpec") -> None:
        from components.tags import base_tags

        count = len(self.tags(base_tags(spec)))
        if self.MAX_TAGS and count > self.MAX_TAGS:
            ours = count - len(spec.tags)
            raise ConfigError(f"mlinfra:tags: {len(spec.tags)} tags plus mlinfra's {ours} make {count}; "
                              f"{self.display_name} allows at most {self.MAX_TAGS} per resource, so at most "
                              f"{self.MAX_TAGS - ours} in mlinfra:tags")

    def check_names(self, spec: "EnvironmentSpec") -> None:
        """Raise ConfigError when a derived resource name cannot fit this cloud's limits."""

    def check_cloud_specific(self, spec: "EnvironmentSpec") -> None:
        """Other per-cloud validation (sizes, accelerators in region...)."""
