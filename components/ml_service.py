"""MLService: one ML service on one cloud, composed from its parts through the cloud's provider."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import pulumi

from components.image import ContainerImage
from components.parts import Alerts, Budget, ContainerRegistry, Part, Serving, StorageTiers, TrainingMachines
from components.providers.base import BuildContext, CloudProvider
from components.spec import EnvironmentSpec
from components.tags import base_tags


def protect_stateful(stateful_types) -> "pulumi.ResourceTransformation":
    """In a protected environment (prod, `mlinfra:protected: true`) the resources that hold data are
    `protect`ed (the engine refuses to delete or replace them) and `retain_on_delete` (a delete only
    drops them from the stack). Only those types: `protect` is inherited by children, so it is never
    set on a component. https://www.pulumi.com/docs/iac/concepts/options/protect/ and .../retainondelete/"""
    types = frozenset(stateful_types)

    def transform(args: pulumi.ResourceTransformationArgs):
        if args.type_ not in types:
            return None
        return pulumi.ResourceTransformationResult(
            args.props, pulumi.ResourceOptions.merge(args.opts, pulumi.ResourceOptions(protect=True,
                                                                                     retain_on_delete=True)))

    return transform


class MLService(pulumi.ComponentResource):
    TYPE = "mlinfra:service:MLService"

    def __init__(self, name: str, spec: EnvironmentSpec, provider: CloudProvider, project_dir: Path,
                 opts: Optional[pulumi.ResourceOptions] = None):
        # Every refusal (region, feature, name length) happens here, before any resource exists.
        provider.check(spec)
        # One explicit provider per service carries the region, so `pulumi up` needs no `aws:region`.
        sdk = provider.sdk_provider(name, spec)
        # The description travels with the plan as the component's inputs: policy and cost read it there.
        props = {"env": spec.env, "stack": spec.stack, "cloud": spec.cloud, "region": spec.region,
                 "preview": spec.preview is not None, "service": spec.service.model_dump(mode="json")}
        own = pulumi.ResourceOptions(providers=[sdk])
        if spec.protected:
            own.transformations = [protect_stateful(provider.STATEFUL_TYPES)]
        super().__init__(self.TYPE, name, props, pulumi.ResourceOptions.merge(opts, own))
        self.ctx = ctx = BuildContext(spec=spec, provider=provider, tags=provider.tags(base_tags(spec)))
        svc = spec.service

        ctx.base = provider.foundation(self, name, ctx)
        ctx.storage = self._part(StorageTiers, f"{name}-storage")
        ctx.registry = self._part(ContainerRegistry, f"{name}-registry")
        if svc.serving.image:
            ctx.image = svc.serving.image
            # A given image is run as given; its digest is known only when it is pinned by one.
            self.image_digest = svc.serving.image.partition("@")[2] or None
        else:
            self.image = ContainerImage(f"{name}-image", ctx, project_dir, pulumi.ResourceOptions(parent=self))
            ctx.image = self.image.ref  # repository@sha256:digest
            self.image_digest = self.image.digest
        ctx.serving = self._part(Serving, f"{name}-serving")
        if svc.training.enabled:
            ctx.training = self._part(TrainingMachines, f"{name}-training")
        if svc.alerts.enabled:
            ctx.monitoring = self._part(Alerts, f"{name}-alerts")
        if svc.budget.monthly_usd is not None:
            self._part(Budget, f"{name}-budget")
        # Registered outputs too: a CrossGuard stack policy sees a component's outputs, not its inputs.
        self.register_outputs({**self.exports(), "description": props})

    def _part(self, cls: type[Part], name: str):
        return cls(name, self.ctx, pulumi.ResourceOptions(parent=self)).outputs

    def exports(self) -> dict[str, object]:
        """Stack outputs: what a user or a workflow needs after deploying."""
        ctx = self.ctx
        out: dict[str, object] = {
            "cloud": ctx.spec.cloud,
            "region": ctx.spec.region,
            "bucket": ctx.storage.bucket,
            "bucket_url": ctx.storage.url,
            "registry": ctx.registry.url,
            "image": ctx.image,
            "image_digest": self.image_digest,
            "endpoint": ctx.serving.url,
            "serving_identity": ctx.serving.identity,
        }
        if ctx.serving.dns_records is not None:
            out["dns_records"] = ctx.serving.dns_records
        if ctx.training is not None:
            out["training_template"] = ctx.training.template
            out["training_machine_type"] = ctx.training.machine_type
        if ctx.spec.preview is not None:
            out["expires_at"] = ctx.spec.preview.expires_at
        return out
