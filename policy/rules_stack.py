"""Rules that read the service description (the MLService component's inputs) beside the resources:
public ingress only when asked for, machine types per environment, a budget where one is required."""
from __future__ import annotations

import fnmatch
import re
from typing import Any, Iterator, Optional

from pydantic import Field

from policy.rules_base import Finding, Resource, Settings, Stack, Undecided, get, items, stack_rule

CLOUD_RUN = "gcp:cloudrunv2/service:Service"
CLOUD_RUN_IAM = ("gcp:cloudrunv2/serviceIamMember:ServiceIamMember",
                 "gcp:cloudrunv2/serviceIamBinding:ServiceIamBinding")
GCP_FORWARDING = ("gcp:compute/forwardingRule:ForwardingRule", "gcp:compute/globalForwardingRule:GlobalForwardingRule")
CONTAINER_APP = "azure-native:app:ContainerApp"
AWS_LB = "aws:lb/loadBalancer:LoadBalancer"
AZ_LB = "azure-native:network:LoadBalancer"
BUDGETS = ("aws:budgets/budget:Budget", "gcp:billing/budget:Budget", "azure-native:consumption:Budget")

# Where each VM-like resource names its machine size.
MACHINE_FIELDS: dict[str, str] = {
    "aws:ec2/launchTemplate:LaunchTemplate": "instanceType",
    "aws:ec2/instance:Instance": "instanceType",
    "aws:ec2/spotInstanceRequest:SpotInstanceRequest": "instanceType",
    "gcp:compute/instance:Instance": "machineType",
    "gcp:compute/instanceTemplate:InstanceTemplate": "machineType",
    "gcp:compute/regionInstanceTemplate:RegionInstanceTemplate": "machineType",
    "azure-native:compute:VirtualMachineScaleSet": "sku.name",
    "azure-native:compute:VirtualMachine": "hardwareProfile.vmSize",
}
# Machine types that carry GPUs or ML accelerators by family: AWS p/g/gr/dl/inf/trn, GCP
# accelerator-optimized a2/a3/a4/g2/g4, Azure N-series.
GPU_MACHINE = re.compile(r"^((p|g|gr|dl|inf|trn)\d+[a-z0-9-]*\.|(a2|a3|a4|g2|g4)-|standard_n)", re.IGNORECASE)


def _public_member(m: Any) -> bool:
    return m in ("allUsers", "allAuthenticatedUsers")


def public_endpoints(stack: Stack) -> Iterator[tuple[Resource, str]]:
    """Every resource that exposes serving to the internet, with what makes it public."""
    for svc in stack.of_type(CLOUD_RUN):
        ingress = get(svc.inputs, "ingress") or "INGRESS_TRAFFIC_ALL"
        if ingress == "INGRESS_TRAFFIC_ALL":
            yield svc, f"Cloud Run ingress is {ingress}"
    for iam in stack.of_type(*CLOUD_RUN_IAM):
        members = [get(iam.inputs, "member")] + items(iam.inputs, "members")
        if any(_public_member(m) for m in members):
            yield iam, f"grants {get(iam.inputs, 'role')} to {', '.join(m for m in members if _public_member(m))}"
    for rule in stack.of_type(*GCP_FORWARDING):
        scheme = get(rule.inputs, "loadBalancingScheme") or "EXTERNAL"
        if str(scheme).startswith("EXTERNAL"):
            yield rule, f"forwarding rule scheme is {scheme}"
    for app in stack.of_type(CONTAINER_APP):
        if get(app.inputs, "configuration.ingress.external") is True:
            yield app, "container app ingress is external"
    for lb in stack.of_type(AWS_LB):
        if get(lb.inputs, "internal") is not True:
            yield lb, "load balancer is internet-facing (internal is not true)"
    for lb in stack.of_type(AZ_LB):
        for i, front in enumerate(items(lb.inputs, "frontendIPConfigurations")):
            if get(front, "publicIPAddress") is not None:
                yield lb, f"frontendIPConfigurations[{i}] has a public IP address"


@stack_rule("ingress-matches-spec", "Serving is reachable from the internet only when the service description "
            "says serving.ingress: public.", severity="high",
            types=(CLOUD_RUN, *CLOUD_RUN_IAM, *GCP_FORWARDING, CONTAINER_APP, AWS_LB, AZ_LB))
def ingress_matches_spec(stack: Stack, _settings) -> Iterator[Finding]:
    try:
        wanted = stack.description("service.serving.ingress")
        endpoints = list(public_endpoints(stack))
    except Undecided as und:
        yield Finding(f"cannot decide ingress: {und.path} is unknown", getattr(stack.service, "urn", None),
                      undecided=True, path=und.path)
        return
    if wanted == "public":
        return
    for resource, why in endpoints:
        if wanted is None:
            yield Finding(f"cannot decide: {why}, and no service description says whether serving.ingress is "
                          "public", resource.urn, undecided=True, path="service.serving.ingress")
        else:
            yield Finding(f"{why}, but the service asks for serving.ingress: {wanted}", resource.urn)


class MachineSettings(Settings):
    environments: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Allowed types (fnmatch globs such as t3.* or Standard_D*s_v5) by environment name; `preview` "
                    "applies to every preview environment, `default` to environments not listed; none listed: "
                    "not restricted.")


def allowed_for(stack: Stack, settings: MachineSettings) -> tuple[str, Optional[list[str]]]:
    env = stack.env
    key = "preview" if stack.preview else env
    for name in (key, "default"):
        if name in settings.environments:
            return name, settings.environments[name]
    return str(key), None


def machines(stack: Stack) -> Iterator[tuple[Resource, str, bool]]:
    """(resource, machine or accelerator type, is GPU) for every VM-like resource."""
    for resource in stack.resources:
        path = MACHINE_FIELDS.get(resource.type)
        if path is None:
            continue
        machine = get(resource.inputs, path)
        if machine is not None:
            machine = str(machine).rsplit("/", 1)[-1]  # GCP may send a full machineType URL
            yield resource, machine, bool(GPU_MACHINE.match(machine))
        for accel in items(resource.inputs, "guestAccelerators"):
            kind = get(accel, "type")
            if kind:
                yield resource, str(kind).rsplit("/", 1)[-1], True


def _allowed(value: str, globs: list[str]) -> bool:
    return any(fnmatch.fnmatchcase(value.lower(), g.lower()) for g in globs)


def _check_machines(stack: Stack, settings: MachineSettings, gpu: bool) -> Iterator[Finding]:
    scope, globs = allowed_for(stack, settings)
    if globs is None:
        return
    seen: set[tuple[str, str]] = set()
    for resource in stack.resources:
        if resource.type not in MACHINE_FIELDS:
            continue
        try:
            found = [(m, g) for r, m, g in machines(Stack([resource]))]
        except Undecided as und:
            yield Finding(f"cannot decide the machine type: {und.path} is unknown", resource.urn, undecided=True,
                          path=und.path)
            continue
        for machine, is_gpu in found:
            if is_gpu != gpu or (resource.urn, machine) in seen:
                continue
            seen.add((resource.urn, machine))
            if not _allowed(machine, globs):
                what = "GPU type" if gpu else "instance type"
                allowed_text = ", ".join(globs) if globs else "none"
                yield Finding(f"{what} {machine} is not allowed in {scope}; allowed: {allowed_text}", resource.urn)


@stack_rule("allowed-instance-types", "VM instance types are within the environment's allow-list.",
            severity="medium", types=tuple(MACHINE_FIELDS), settings=MachineSettings)
def allowed_instance_types(stack: Stack, settings: MachineSettings) -> Iterator[Finding]:
    yield from _check_machines(stack, settings, gpu=False)


@stack_rule("allowed-gpu-types", "GPU machine and accelerator types are within the environment's allow-list "
            "(previews: none).", severity="high", types=tuple(MACHINE_FIELDS), settings=MachineSettings)
def allowed_gpu_types(stack: Stack, settings: MachineSettings) -> Iterator[Finding]:
    yield from _check_machines(stack, settings, gpu=True)


class BudgetSettings(Settings):
    environments: list[str] = Field(default=["prod"], description="Environments that must have a budget.")


# Mandatory now that every provider builds a budget (issue 8); advisory while budgets did not exist.
@stack_rule("budget-required", "A budget exists in the environments that need one (prod).", severity="medium",
            level="mandatory", types=BUDGETS, settings=BudgetSettings)
def budget_required(stack: Stack, settings: BudgetSettings) -> Iterator[Finding]:
    env = stack.env
    if env in settings.environments and not stack.preview and not stack.of_type(*BUDGETS):
        yield Finding(f"environment {env} has no budget; set mlinfra:service.budget.monthly_usd",
                      getattr(stack.service, "urn", None))
