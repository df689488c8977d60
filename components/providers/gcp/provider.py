"""GCP: which regions, what it cannot do, its label rules and names. Builders live beside this file
and are imported on first use, so checking a spec never loads pulumi_gcp."""
from __future__ import annotations

import re
from typing import Mapping

from components.errors import ConfigError, UnsupportedFeature
from components.providers.base import BaseProvider, BuildContext, Feature

from . import limits

# Billing account ids look like 012345-6789AB-CDEF01.
BILLING_ACCOUNT = r"[0-9A-F]{6}-[0-9A-F]{6}-[0-9A-F]{6}"
# Cloud Armor throttle rules count 1-1,000,000 requests per interval
# (https://cloud.google.com/armor/docs/rate-limiting-overview).
THROTTLE_MAX = 1_000_000
# Filestore BASIC_HDD instances hold 1 TiB to 63.9 TiB.
FILESTORE_MIN_GIB, FILESTORE_MAX_GIB = 1024, 65434


class GcpProvider(BaseProvider):
    name = "gcp"
    display_name = "GCP"
    packages = ("gcp",)
    # Resources that hold data: protected (and retained on delete) in protected environments.
    # Google "Requirements for labels": "Each resource can have multiple labels, up to a maximum of 64".
    MAX_TAGS = 64
    STATEFUL_TYPES = frozenset({"gcp:storage/bucket:Bucket", "gcp:artifactregistry/repository:Repository",
                                "gcp:filestore/instance:Instance",
                                # deleting a secret deletes every value set with `mlinfra secrets set`
                                "gcp:secretmanager/secret:Secret"})
    default_region = "us-central1"
    regions = limits.REGIONS
    UNSUPPORTED: Mapping[Feature, str] = {
        Feature.VM_SCALE_TO_ZERO: (
            "a regional autoscaler scaling on CPU keeps at least one VM (there is no CPU to measure at zero); "
            "set min_instances >= 1 or use serving.mode: serverless (Cloud Run scales to zero)"),
    }

    # -- names -------------------------------------------------------------------------------
    def bucket_name(self, ctx_or_spec) -> str:
        return limits.bucket_name(getattr(ctx_or_spec, "spec", ctx_or_spec))

    def repository_id(self, spec) -> str:
        return limits.repository_id(spec)

    def account_id(self, spec, role: str) -> str:
        return limits.account_id(spec, role)

    def secret_id(self, spec, name: str) -> str:
        """The Secret Manager id holding `serving.secrets` entry `name` (for `mlinfra secrets set`)."""
        return limits.secret_id(spec, name)

    def check_names(self, spec) -> None:
        for name in spec.service.serving.secrets.values():
            self.secret_id(spec, name)
        self.bucket_name(spec)
        self.repository_id(spec)
        for role in ("serve", "train"):
            self.account_id(spec, role)
        limits.run_service_name(spec)

    # -- sizes, regions and accounts -----------------------------------------------------------
    def check_cloud_specific(self, spec) -> None:
        svc = spec.service
        serving = svc.serving
        if serving.mode == "serverless":
            limits.check_run_size(serving.cpu, serving.memory_gib, serving.concurrency)
            for name in (*serving.env, *serving.secrets):
                if name in limits.RUN_RESERVED:
                    raise ConfigError(f"mlinfra:service.serving.env.{name}: reserved on Cloud Run, which sets it "
                                      f"itself; reserved: {', '.join(limits.RUN_RESERVED)}")
            if serving.firewall and not serving.domain:
                raise ConfigError(
                    "mlinfra:service.serving.firewall: on GCP serverless, Cloud Armor attaches to the load balancer "
                    "that serving.domain puts in front of Cloud Run; set serving.domain or firewall: false")
            if serving.domain and serving.ingress == "internal":
                raise UnsupportedFeature(
                    "mlinfra:service.serving.domain: GCP serves a custom domain through a public load balancer; "
                    "it cannot front a service with serving.ingress: internal")
        else:
            limits.vm_machine_type(serving)
            if serving.ingress == "internal":
                raise UnsupportedFeature(
                    "mlinfra:service.serving.ingress: GCP VM mode serves through a global external load balancer; "
                    "internal ingress is available with serving.mode: serverless")
        if serving.firewall and serving.rate_limit_per_minute > THROTTLE_MAX:
            raise ConfigError(f"mlinfra:service.serving.rate_limit_per_minute: {serving.rate_limit_per_minute} is above "
                              f"Cloud Armor's throttle threshold maximum ({THROTTLE_MAX:,} requests)")
        if svc.training.enabled:
            self.training_offer(spec)
            if svc.training.shared_filesystem and not (
                    FILESTORE_MIN_GIB <= svc.training.shared_filesystem_gib <= FILESTORE_MAX_GIB):
                raise ConfigError(
                    f"mlinfra:service.training.shared_filesystem_gib: {svc.training.shared_filesystem_gib} is not "
                    f"allowed on GCP: a Filestore BASIC_HDD share holds {FILESTORE_MIN_GIB}-{FILESTORE_MAX_GIB} GiB")
        if svc.budget.monthly_usd is not None:
            account = svc.budget.gcp_billing_account
            if not account:
                raise ConfigError("mlinfra:service.budget.gcp_billing_account: required on GCP when budget.monthly_usd "
                                  "is set (a budget belongs to a billing account, e.g. 012345-6789AB-CDEF01)")
            if not re.fullmatch(BILLING_ACCOUNT, account):
                raise ConfigError(f"mlinfra:service.budget.gcp_billing_account: {account!r} is not a billing account "
                                  "id; expected XXXXXX-XXXXXX-XXXXXX (hex digits, uppercase)")

    def training_offer(self, spec):
        """The catalog's offer for this spec's accelerator in its region (ConfigError when there is none)."""
        from components import catalog

        t = spec.service.training
        return catalog.lookup("gcp", t.accelerator, t.gpus_per_machine, spec.region)

    # -- tags --------------------------------------------------------------------------------
    def tags(self, tags: Mapping[str, str]) -> dict[str, str]:
        return limits.labels(tags)

    # -- builders ----------------------------------------------------------------------------
    def sdk_provider(self, name: str, spec):
        import pulumi
        import pulumi_gcp as gcp

        project = pulumi.Config("gcp").get("project")
        # Labels are passed explicitly on every resource, so the plan shows them; no default_labels.
        # user_project_override: quota, billing and API-enablement checks use the resource's project,
        # not the credentials' own; with gcloud user credentials that project is Google's and APIs
        # such as the Budget API refuse the call. billing_project names the quota project for
        # resources that have no project of their own (budgets live on a billing account); the caller
        # needs serviceusage.services.use on it. Without gcp:project the provider reads
        # GOOGLE_BILLING_PROJECT (terraform-provider-google provider reference: user_project_override,
        # billing_project).
        return gcp.Provider(f"{name}-gcp", region=spec.region, project=project, user_project_override=True,
                            billing_project=project)

    def foundation(self, parent, name: str, ctx: BuildContext):
        from .foundation import build_foundation

        return build_foundation(parent, ctx)
