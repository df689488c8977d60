"""Cloud-neutral component resources: each part of a service, built by the cloud's provider.

The component's type token (`mlinfra:storage:StorageTiers`) is the same on every cloud, so a
plan reads alike everywhere; the resources under it are the provider's.
"""
from __future__ import annotations

from dataclasses import fields
from typing import Any, ClassVar, Optional

import pulumi

from components.providers.base import BuildContext


class Part(pulumi.ComponentResource):
    TYPE: ClassVar[str]
    BUILDER: ClassVar[str]  # the CloudProvider method that builds this part

    def __init__(self, name: str, ctx: BuildContext, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(self.TYPE, name, None, opts)
        self.outputs: Any = getattr(ctx.provider, self.BUILDER)(self, name, ctx)
        exported = {f.name: getattr(self.outputs, f.name) for f in fields(self.outputs)}
        # Registry push credentials stay out of the component's outputs.
        exported.pop("password", None)
        self.register_outputs({k: v for k, v in exported.items() if v is not None})


class StorageTiers(Part):
    TYPE = "mlinfra:storage:StorageTiers"
    BUILDER = "storage"


class ContainerRegistry(Part):
    TYPE = "mlinfra:registry:ContainerRegistry"
    BUILDER = "registry"


class Serving(Part):
    TYPE = "mlinfra:serving:Serving"
    BUILDER = "serving"


class TrainingMachines(Part):
    TYPE = "mlinfra:training:TrainingMachines"
    BUILDER = "training"


class Alerts(Part):
    TYPE = "mlinfra:monitoring:Alerts"
    BUILDER = "monitoring"


class Budget(Part):
    TYPE = "mlinfra:budget:Budget"
    BUILDER = "budget"
