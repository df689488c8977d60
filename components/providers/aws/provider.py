"""AWS: which regions, what it cannot do, its tag rules and names. Builders live beside this file
and are imported on first use, so checking a spec never loads pulumi_aws."""
from __future__ import annotations

import re
from typing import Mapping

from components.errors import ConfigError, UnsupportedFeature
from components.naming import checked, short_hash
from components.providers.base import FEATURE_KEYS, BaseProvider, Feature, required_features

from . import backends

REGIONS = frozenset({
    "us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1", "ca-west-1", "mx-central-1",
    "sa-east-1", "eu-west-1", "eu-west-2", "eu-west-3", "eu-central-1", "eu-central-2", "eu-north-1",
    "eu-south-1", "eu-south-2", "il-central-1", "me-south-1", "me-central-1", "af-south-1",
    "ap-south-1", "ap-south-2", "ap-east-1", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3",
    "ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ap-southeast-4", "ap-southeast-5", "ap-southeast-7",
})


ACM_ARN = r"arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[A-Za-z0-9-]+"


class AwsProvider(BaseProvider):
    name = "aws"
    display_name = "AWS"
    packages = ("aws",)
    # Resources that hold data: protected (and retained on delete) in protected environments.
    # AWS "Tagging your AWS resources": "Maximum number of tags per resource – 50".
    MAX_TAGS = 50
    STATEFUL_TYPES = frozenset({"aws:s3/bucket:Bucket", "aws:ecr/repository:Repository", "aws:efs/fileSystem:FileSystem",
                                "aws:kms/key:Key",
                                # deleting a secret deletes every value set with `mlinfra secrets set`
                                "aws:secretsmanager/secret:Secret"})
    default_region = "us-east-1"
    regions = REGIONS
    UNSUPPORTED: Mapping[Feature, str] = {
        Feature.SERVERLESS_SCALE_TO_ZERO: (
            "an ECS Fargate service cannot scale to zero on demand: with no task running nothing answers the "
            "request that should wake one; set serving.min_instances to 1 or more, or serving.backend: lambda"),
        Feature.VM_SCALE_TO_ZERO: (
            "an Auto Scaling group scaled on CPU cannot start from zero instances: with none running there is "
            "no CPU metric to scale out on; set serving.min_instances to 1 or more"),
    }

    def unsupported_for(self, spec) -> Mapping[Feature, str]:
        """What this spec cannot have: the Lambda backend does scale to zero (backends.py)."""
        if backends.serverless_backend(spec) == "lambda":
            return {f: why for f, why in self.UNSUPPORTED.items() if f is not Feature.SERVERLESS_SCALE_TO_ZERO}
        return self.UNSUPPORTED

    def check(self, spec) -> None:
        # BaseProvider.check with the refusals of this spec's backend (the table alone cannot say it).
        self.check_region(spec.region, f"mlinfra:regions.{self.name}")
        refused = self.unsupported_for(spec)
        for feature in sorted(required_features(spec), key=lambda f: f.name):
            if feature in refused:
                raise UnsupportedFeature(
                    f"{FEATURE_KEYS[feature]}: {self.display_name} cannot provide {feature.value}: {refused[feature]}")
        self.check_tag_count(spec)
        self.check_names(spec)
        self.check_cloud_specific(spec)

    def serving(self, parent, name, ctx):
        if backends.serverless_backend(ctx.spec) == "lambda":
            return self._own("serving_lambda:build_lambda")(self, parent, ctx)
        return super().serving(parent, name, ctx)

    # -- names -------------------------------------------------------------------------------
    def bucket_name(self, ctx_or_spec, role: str = "data") -> str:
        """`role`: data (the service's bucket) or logs (load balancer access logs, SSE-S3 only)."""
        spec = getattr(ctx_or_spec, "spec", ctx_or_spec)
        # S3: 3-63 chars of lowercase letters, digits, hyphens; globally unique, hence the hash.
        name = f"{spec.service.name}-{spec.env}-{role}-{short_hash(spec.project, spec.stack, spec.region, length=8)}"
        return checked(name, what="S3 bucket", pattern=r"[a-z0-9][a-z0-9-]*[a-z0-9]", min_len=3, max_len=63,
                       limit="S3 bucket: 3-63 lowercase letters, digits and hyphens")

    def repository_name(self, spec) -> str:
        # ECR: 2-256 chars, lowercase, may contain / . _ -
        return checked(f"{spec.service.name}-{spec.env}", what="ECR repository", pattern=r"[a-z0-9][a-z0-9._/-]*",
                       min_len=2, max_len=256, limit="ECR repository: 2-256 lowercase characters")

    def check_names(self, spec) -> None:
        self.bucket_name(spec)
        self.bucket_name(spec, "logs")
        self.repository_name(spec)

    def check_cloud_specific(self, spec) -> None:
        """Everything AWS would refuse at deploy time, refused at plan time instead."""
        from . import images, secrets, sizes

        svc = spec.service
        secrets.check(spec)
        st = svc.storage
        # S3 refuses lifecycle transitions to STANDARD_IA before day 30, and the next transition
        # must come at least 30 days after it.
        if st.warm_after_days < 30:
            raise ConfigError(f"mlinfra:service.storage.warm_after_days: {st.warm_after_days} is not allowed on AWS: "
                              "S3 moves objects to STANDARD_IA no earlier than 30 days")
        if st.cold_after_days - st.warm_after_days < 30:
            raise ConfigError(f"mlinfra:service.storage.cold_after_days: {st.cold_after_days} is not allowed on AWS: "
                              "S3 needs 30 days in STANDARD_IA before the next transition "
                              f"(at least {st.warm_after_days + 30})")
        sv = svc.serving
        backend = backends.serverless_backend(spec)
        if backend == "lambda":
            backends.check_lambda(spec)
        elif sv.mode == "serverless":
            sizes.fargate_size(sv.cpu, sv.memory_gib)
        else:
            sizes.vm_instance_type(sv.cpu, sv.memory_gib, sv.machine_type)
            images.checked(sv.machine_image, images.AL2023, "serving.machine_image")
        if sv.certificate and not re.fullmatch(ACM_ARN, sv.certificate):
            raise ConfigError(f"mlinfra:service.serving.certificate: {sv.certificate!r} is not an ACM certificate ARN "
                              f"(arn:aws:acm:{spec.region}:<account>:certificate/<id>)")
        if sv.certificate and sv.certificate.split(":")[3] != spec.region:
            raise ConfigError(f"mlinfra:service.serving.certificate: the certificate is in "
                              f"{sv.certificate.split(':')[3]}; a load balancer in {spec.region} needs one "
                              f"from {spec.region}")
        tr = svc.training
        if tr.enabled:
            from components import catalog

            catalog.lookup(self.name, tr.accelerator, tr.gpus_per_machine, spec.region)
            images.checked(tr.image, images.DLAMI, "training.image")
            if svc.alerts.enabled:
                sizes.training_alarm_window(svc.alerts.training_max_hours)
        self._check_budget(spec)

    def _check_budget(self, spec) -> None:
        from .sizes import BUDGET_MAX_EMAILS as MAX_EMAILS, BUDGET_MAX_NOTIFICATIONS as MAX_NOTIFICATIONS

        bud = spec.service.budget
        if bud.monthly_usd is None:
            return
        # One notification per threshold plus the forecast one (budget.py) must fit the budget's limit.
        if len(bud.alert_thresholds_percent) + 1 > MAX_NOTIFICATIONS:
            raise ConfigError(f"mlinfra:service.budget.alert_thresholds_percent: AWS Budgets allows at most "
                              f"{MAX_NOTIFICATIONS} notifications per budget, one of them the forecast alert: at most "
                              f"{MAX_NOTIFICATIONS - 1} thresholds, got {len(bud.alert_thresholds_percent)}")
        emails = spec.service.alerts.emails
        if not spec.service.alerts.enabled and len(emails) > MAX_EMAILS:
            raise ConfigError(f"mlinfra:service.alerts.emails: AWS Budgets mails at most {MAX_EMAILS} addresses "
                              "directly; enable alerts to reach more through the alert topic")

    # -- tags --------------------------------------------------------------------------------
    def tags(self, tags: Mapping[str, str]) -> dict[str, str]:
        # AWS tags keep case; keys up to 128, values up to 256 characters.
        return {k[:128]: v[:256] for k, v in tags.items()}

    # -- builders ----------------------------------------------------------------------------
    def sdk_provider(self, name: str, spec):
        import pulumi_aws as aws

        return aws.Provider(f"{name}-aws", region=spec.region)
