"""Run the real program under Pulumi's mock runtime and return a Plan. No CLI, no credentials.

The mocks answer as each cloud would (ids, ARNs, URLs), via the providers' own `mocks` modules;
a recording monitor keeps every registration with its urn, parent and inputs (the engine's
camelCase wire names), and the stack's outputs.
"""
from __future__ import annotations

import gc
import threading
from pathlib import Path
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Optional

from components.providers.base import get_provider
from stacks.config import RawConfig, config_pairs, env_file, load_file
from stacks.plan import Plan, PlanResource

SECRET_MASK = "[secret]"
_SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"


def _clean(value: Any) -> Any:
    """Plain JSON: secrets masked, resource references as their urn."""
    if isinstance(value, dict):
        if value.get("4dabf18193072939515e22adb298388d") == _SECRET_SIG:
            return SECRET_MASK
        if value.get("4dabf18193072939515e22adb298388d") == "5cf8f73096256a8f31e491e813e4eb8e":
            return value.get("urn")
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _make_mocks(cloud_name: str, region: str):
    import pulumi

    provider = get_provider(cloud_name)
    clouds = {pkg: provider for pkg in provider.packages}

    def owner(token: str):
        return clouds.get(token.split(":", 1)[0].removeprefix("pulumi:providers:"))

    class CloudMocks(pulumi.runtime.Mocks):
        # The monitor reads the deserialized inputs from here instead of decoding them twice.
        seen = threading.local()

        def new_resource(self, args: pulumi.runtime.MockResourceArgs):
            self.seen.inputs = args.inputs
            if args.typ.startswith("pulumi:providers:"):
                return f"{args.name}-provider", dict(args.inputs)
            cloud = owner(args.typ)
            if cloud is not None:
                return cloud.mock_resource(args.typ, args.name, dict(args.inputs), region)
            if args.typ == "docker-build:index:Image":
                tag = (args.inputs.get("tags") or [f"{args.name}:latest"])[0]
                digest = "sha256:" + __import__("hashlib").sha256(tag.encode()).hexdigest()
                return f"{args.name}-image", {**args.inputs, "digest": digest, "ref": f"{tag}@{digest}"}
            return f"{args.name}-id", dict(args.inputs)

        def call(self, args: pulumi.runtime.MockCallArgs):
            cloud = owner(args.token)
            return cloud.mock_call(args.token, dict(args.args), region) if cloud is not None else {}

    return CloudMocks()


def _explicit_dependencies(request) -> list[str]:
    """`dependencies` is the union of explicit `depends_on` and the inputs' own dependencies."""
    implied = {urn for deps in request.propertyDependencies.values() for urn in deps.urns}
    return sorted(set(request.dependencies) - implied)


def _options(request) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if request.HasField("protect") and request.protect:
        options["protect"] = True
    if request.HasField("retainOnDelete") and request.retainOnDelete:
        options["retainOnDelete"] = True
    if request.deleteBeforeReplace:
        options["deleteBeforeReplace"] = True
    if request.ignoreChanges:
        options["ignoreChanges"] = sorted(request.ignoreChanges)
    if request.replaceOnChanges:
        options["replaceOnChanges"] = sorted(request.replaceOnChanges)
    return options


def _recording_monitor(mocks):
    from pulumi.runtime import rpc
    from pulumi.runtime.mocks import MockMonitor

    class RecordingMonitor(MockMonitor):
        def __init__(self, mocks):
            super().__init__(mocks)
            self.records: list[PlanResource] = []
            self.stack_outputs: dict[str, Any] = {}
            self.stack_urn = ""

        def RegisterResource(self, request):
            response = super().RegisterResource(request)
            if request.type == "pulumi:pulumi:Stack":
                self.stack_urn = response.urn
            else:
                self.records.append(PlanResource(
                    urn=response.urn, type=request.type, name=request.name, parent=request.parent or None,
                    custom=bool(request.custom), inputs=_clean(self.mocks.seen.inputs),
                    dependsOn=_explicit_dependencies(request), options=_options(request)))
            return response

        def RegisterResourceOutputs(self, request):
            if request.urn == self.stack_urn:
                self.stack_outputs = _clean(rpc.deserialize_properties(request.outputs))
            return super().RegisterResourceOutputs(request)

    return RecordingMonitor(mocks)


def _drop_aliases(args):
    """Aliases only match resources in existing state, and a mocked run has none: dropping them
    changes nothing in the plan, and saves azure-native's long per-type alias lists (about 60 %
    of an Azure plan's time). Real deployments (program.py under the engine) keep them."""
    import pulumi

    if not args.opts.aliases:
        return None
    args.opts.aliases = None
    return pulumi.ResourceTransformationResult(args.props, args.opts)


def _ensure_event_loop() -> None:
    """Pulumi's runtime drives the current loop; an embedding app (asyncio.run) may have closed it."""
    import asyncio
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            loop = asyncio.get_event_loop()
        except RuntimeError:
            loop = None
    if loop is None or loop.is_closed():
        asyncio.set_event_loop(asyncio.new_event_loop())


async def _drain() -> None:
    """Wait until the program is quiescent: no RPC in flight and no output pending.

    Same contract as `pulumi.runtime.stack.wait_for_rpcs`, in linear time: the SDK's loop calls
    `asyncio.wait(all pending, FIRST_COMPLETED)` once per completed output, re-registering a
    callback on every pending one each time, so a plan's cost per resource grew with the number of
    resources (1.7x from 1 to 50 services). Awaiting the pending outputs one after another visits
    each once. The first failure is raised, as the SDK does.
    """
    import asyncio

    from pulumi.runtime.settings import SETTINGS, _get_rpc_manager

    rpc_manager = _get_rpc_manager()
    while True:
        while rpc_manager.rpcs:
            await asyncio.sleep(0)
            await rpc_manager.rpcs.pop()
        if rpc_manager.unhandled_exception is not None:
            raise rpc_manager.unhandled_exception.with_traceback(rpc_manager.exception_traceback)
        with SETTINGS.lock:
            pending = list(SETTINGS.outputs)
            SETTINGS.outputs.clear()
        if not pending:
            if not rpc_manager.rpcs:
                return
            continue
        for task in pending:
            await task


# Allocations between young-generation collections, and young collections between older ones,
# while a plan runs (CPython's defaults: 700, 10, 10).
PLAN_GC_THRESHOLDS = (200_000, 50, 1000)


@contextmanager
def few_gc_passes() -> Iterator[None]:
    """The cyclic garbage collector runs rarely for the scope (nesting-safe), then as before.

    A plan allocates millions of short-lived objects and few cycles, and every older-generation
    collection walks every live object, all the SDK classes too: at CPython's default thresholds
    the cost per resource grew with the plan's size (2.4x per resource from 1 to 50 services) and
    importing the SDKs took 10-15 % longer. With collections this rare the growth is about 1.1x
    (bench/plan_bench.py). Unlike turning the collector off, cycles are still collected, so a
    process that plans many times (the test suite) does not grow; peak memory of a 50-service plan
    went from 434 to 506 MB.
    """
    previous = gc.get_threshold()
    gc.set_threshold(*PLAN_GC_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*previous)


def _no_stack_trace():
    """Source positions of resources (the SDK walks and formats the Python stack for each one) are
    not part of a plan: skipping them saves about 15 % of a warm plan."""
    from pulumi.runtime.proto import source_pb2

    return source_pb2.StackTrace()


def run_program(fn: Callable[[], Any], *, config: dict[str, str], project: str, stack: str, cloud: str,
                region: str) -> tuple[list[PlanResource], dict[str, Any]]:
    """Run `fn` as a Pulumi program under mocks; return what it registered and exported."""
    import pulumi
    import pulumi.runtime.resource as runtime_resource
    from pulumi.runtime import settings
    from pulumi.runtime.stack import Stack
    from pulumi.runtime.sync_await import _sync_await

    _ensure_event_loop()
    mocks = _make_mocks(cloud, region)
    monitor = _recording_monitor(mocks)
    pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=False, monitor=monitor)
    pulumi.runtime.set_all_config(config)
    # set_mocks installed a root stack of its own; the program gets a fresh one so its exports land.
    settings.set_root_resource(None)

    def program() -> Any:
        pulumi.runtime.register_stack_transformation(_drop_aliases)
        return fn()

    stack_trace = runtime_resource._get_stack_trace
    runtime_resource._get_stack_trace = _no_stack_trace
    try:
        with few_gc_passes():
            Stack(program)
            _sync_await(_drain())
    finally:
        runtime_resource._get_stack_trace = stack_trace
        settings.reset_options()
        pulumi.runtime.set_all_config({})
    # The engine registers resources from a thread pool: sort so the same program gives the same document.
    return sorted(monitor.records, key=lambda r: r.urn), monitor.stack_outputs


def plan_environment(project_dir: Path, env: str, cloud: Optional[str] = None,
                     raw: Optional[RawConfig] = None) -> Plan:
    from stacks.program import program

    from stacks.planning import Target

    raw = raw if raw is not None else load_file(env_file(project_dir, env))
    env = str(raw.values.get("env") or env)
    target = Target(env=env, cloud=cloud or raw.home_cloud, raw=raw)
    stack = target.stack
    # Validate and check capabilities before anything is registered: errors leave nothing half-done.
    spec = target.spec()
    resources, outputs = run_program(lambda: program(project_dir), config=config_pairs(raw, env=env, cloud=spec.cloud),
                                     project=spec.project, stack=stack, cloud=spec.cloud,
                                     region=spec.region)
    return Plan(stack=stack, env=spec.env, cloud=spec.cloud, region=spec.region, resources=resources, outputs=outputs)

