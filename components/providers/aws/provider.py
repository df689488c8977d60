"""AWS: which regions, what it cannot do, its tag rules and names. Builders live beside this file
and are imported on first use, so checking a spec never loads pulumi_aws."""
from __future__ import annotations

from typing import Mapping

from components.naming import checked, short_hash
from components.providers.base import BaseProvider, BuildContext, Feature
from components.errors import ConfigError

REGIONS = frozenset({
    "us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1", "ca-west-1", "mx-central-1",
    "sa-east-1", "eu-west-1", "eu-west-2", "eu-west-3", "eu-central-1", "eu-central-2", "eu-north-1",
    "eu-south-1", "eu-south-2", "il-central-1", "me-south-1", "me-central-1", "af-south-1",
    "ap-south-1", "ap-south-2", "ap-east-1", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3",
    "ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ap-southeast-4", "ap-southeast-5", "ap-southeast-7",
})


class AwsProvider(BaseProvider):
    name = "aws"
    display_name = "AWS"
    packages = ("aws",)
    default_region = "us-east-1"
    regions = REGIONS
    UNSUPPORTED: Mapping[Feature, str] = {}

    # -- names -------------------------------------------------------------------------------
    def bucket_name(self, ctx_or_spec) -> str:
        spec = getattr(ctx_or_spec, "spec", ctx_or_spec)
        # S3: 3-63 chars of lowercase letters, digits, hyphens; globally unique, hence the hash.
        name = f"{spec.service.name}-{spec.env}-data-{short_hash(spec.project, spec.stack, spec.region, length=8)}"
        return checked(name, what="S3 bucket", pattern=r"[a-z0-9][a-z0-9-]*[a-z0-9]", min_len=3, max_len=63,
                       limit="S3 bucket: 3-63 lowercase letters, digits and hyphens")

    def repository_name(self, spec) -> str:
        # ECR: 2-256 chars, lowercase, may contain / . _ -
        return checked(f"{spec.service.name}-{spec.env}", what="ECR repository", pattern=r"[a-z0-9][a-z0-9._/-]*",
                       min_len=2, max_len=256, limit="ECR repository: 2-256 lowercase characters")

    def check_names(self, spec) -> None:
        self.bucket_name(spec)
        self.repository_name(spec)

    def check_cloud_specific(self, spec) -> None:
        st = spec.service.storage
        # S3 refuses lifecycle transitions to STANDARD_IA before day 30, and the next transition
        # must come at least 30 days after it.
        if st.warm_after_days < 30:
            raise ConfigError(f"mlinfra:service.storage.warm_after_days: {st.warm_after_days} is not allowed on AWS: "
                              "S3 moves objects to STANDARD_IA no earlier than 30 days")
        if st.cold_after_days - st.warm_after_days < 30:
            raise ConfigError(f"mlinfra:service.storage.cold_after_days: {st.cold_after_days} is not allowed on AWS: "
                              "S3 needs 30 days in STANDARD_IA before the next transition "
                              f"(at least {st.warm_after_days + 30})")

    # -- tags --------------------------------------------------------------------------------
    def tags(self, tags: Mapping[str, str]) -> dict[str, str]:
        # AWS tags keep case; keys up to 128, values up to 256 characters.
        return {k[:128]: v[:256] for k, v in tags.items()}

    # -- builders ----------------------------------------------------------------------------
    def sdk_provider(self, name: str, spec):
        import pulumi_aws as aws

        return aws.Provider(f"{name}-aws", region=spec.region)

    def foundation(self, parent, name: str, ctx: BuildContext):
        return None

    def storage(self, parent, name, ctx):
        from .storage import build_storage

        return build_storage(self, parent, ctx)

    def registry(self, parent, name, ctx):
        from .registry import build_registry

        return build_registry(self, parent, ctx)

    def mock_resource(self, typ: str, name: str, inputs: dict, region: str) -> tuple[str, dict]:
        from .mocks import new_resource

        return new_resource(typ, name, inputs, region)

    def mock_call(self, token: str, args: dict, region: str) -> dict:
        from .mocks import call

        return call(token, args, region)
