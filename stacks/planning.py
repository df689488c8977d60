"""Which stacks a command means: environments x clouds, resolved once for plan, validate, policy, cost."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from components.errors import ConfigError
from components.providers.base import cloud_names, get_provider
from components.spec import EnvironmentSpec
from stacks.config import RawConfig, builtin_envs, env_file, environment_spec, load_file
from stacks.environments import stack_name
from stacks.plan import Plan


@dataclass(frozen=True)
class Target:
    """One stack to plan: an environment's config on one cloud."""

    env: str
    cloud: str
    raw: RawConfig

    @property
    def stack(self) -> str:
        return stack_name(self.env, self.cloud, self.raw.home_cloud)

    def spec(self) -> EnvironmentSpec:
        spec = environment_spec(self.raw, env=self.env, stack=self.stack, cloud=self.cloud)
        get_provider(spec.cloud).check(spec)
        return spec


def clouds_for(cloud: Optional[str], home: str) -> list[str]:
    if cloud is None:
        return [home] if home else []
    if cloud == "all":
        return list(cloud_names())
    if cloud not in cloud_names():
        raise ConfigError(f"--cloud: {cloud!r} is not a supported cloud; allowed: {', '.join(cloud_names())}, all")
    return [cloud]


def targets(project_dir: Path, envs: Optional[list[str]] = None, cloud: Optional[str] = None,
            config_file: Optional[Path] = None) -> list[Target]:
    """Resolve --env / --config-file / --cloud into targets. Raises ConfigError on anything unknown."""
    if cloud is not None:
        clouds_for(cloud, "")  # validate the flag before reading any file
    if config_file is not None:
        raw = load_file(config_file)
        name = config_file.name
        named = name.startswith("Pulumi.") and name.endswith(".yaml")
        env = name[len("Pulumi."):-len(".yaml")] if named else str(raw.values.get("env") or "dev")
        sources = [(env, raw)]
    else:
        names = envs or builtin_envs(project_dir)
        if not names:
            raise ConfigError(f"no Pulumi.<env>.yaml in {project_dir}; pass --env or --config-file")
        sources = [(env, load_file(env_file(project_dir, env))) for env in names]
    out: list[Target] = []
    from stacks.protection import check_file_env

    for env, raw in sources:
        # A file must not name another environment's stack (`mlinfra:env: prod` in Pulumi.dev.yaml): issue 20.
        check_file_env(env, raw.values.get("env"), raw.source, lambda e: e)
        for c in clouds_for(cloud, raw.home_cloud) or [""]:
            out.append(Target(env=str(raw.values.get("env") or env), cloud=c, raw=raw))
    return out


def _plan_group(project_dir: Path, group: list[Target]) -> list[Plan]:
    from stacks.offline import few_gc_passes, plan_environment

    with few_gc_passes():  # most of a cold plan is importing the SDK: see few_gc_passes
        return [plan_environment(project_dir, t.env, t.cloud, raw=t.raw) for t in group]


def default_jobs() -> int:
    """Worker processes for multi-cloud plans: MLINFRA_JOBS, else one per cloud (see plan_in_parallel)."""
    import os

    value = os.environ.get("MLINFRA_JOBS", "")
    return int(value) if value.isdigit() and int(value) > 0 else len(cloud_names())


def plan_in_parallel(project_dir: Path, chosen: list[Target], jobs: int = 1, cache: bool = False) -> list[Plan]:
    """Plan targets, one worker process per cloud when `jobs` > 1, results in the targets' order.

    With `cache`, a target whose inputs are unchanged is read from the plan cache
    (stacks/plan_cache.py) and only the others are planned.
    """
    from stacks import plan_cache

    results: list[Optional[Plan]] = [None] * len(chosen)
    keys: list[Optional[str]] = [None] * len(chosen)
    if cache and plan_cache.enabled():
        program = plan_cache.program_digest(project_dir)  # hashed once, not once per target
        for i, target in enumerate(chosen):
            keys[i] = plan_cache.key(project_dir, target, program)
            results[i] = plan_cache.load(project_dir, keys[i]) if keys[i] else None
    todo = [i for i, plan in enumerate(results) if plan is None]
    fresh = _plan_fresh(project_dir, [chosen[i] for i in todo], jobs) if todo else []
    for i, plan in zip(todo, fresh):
        results[i] = plan
        if keys[i]:
            plan_cache.store(project_dir, keys[i], plan)
    return [p for p in results if p is not None]


def _plan_fresh(project_dir: Path, chosen: list[Target], jobs: int) -> list[Plan]:
    """Most of a cold plan is importing the cloud's SDK (about 1.3 s each of pure-Python class
    building), so clouds are planned side by side, one forked worker per cloud, each importing
    one SDK only. Pulumi itself is imported once, before the fork, and shared copy-on-write.
    A process that had already imported Pulumi (a test, an embedding program) plans in-process:
    it may hold the runtime's state and threads, which a fork would copy.
    """
    import sys

    groups: dict[str, list[int]] = {}
    for index, target in enumerate(chosen):
        groups.setdefault(target.cloud, []).append(index)
    if jobs <= 1 or len(groups) <= 1 or "pulumi" in sys.modules:
        return _plan_group(project_dir, chosen)
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    import pulumi  # noqa: F401  imported once here, inherited by every worker

    results: list[Optional[Plan]] = [None] * len(chosen)
    with ProcessPoolExecutor(max_workers=min(jobs, len(groups)),
                             mp_context=multiprocessing.get_context("fork")) as pool:
        futures = {cloud: pool.submit(_plan_group, project_dir, [chosen[i] for i in idx])
                   for cloud, idx in groups.items()}
        for cloud, future in futures.items():
            for i, plan in zip(groups[cloud], future.result()):
                results[i] = plan
    return [p for p in results if p is not None]


def attach_verdicts(plan: Plan) -> Plan:
    """Add the policy verdicts and the cost estimate to a plan (the `"policy"` / `"cost"` keys)."""
    from cost.estimate import estimate
    from policy.runner import evaluate

    plan.extra["policy"] = evaluate(plan).to_dict()
    plan.extra["cost"] = estimate(plan).to_dict()
    return plan


def plan_targets(project_dir: Path, *, envs: Optional[list[str]] = None, cloud: Optional[str] = None,
                 config_file: Optional[Path] = None, pr: Optional[int] = None, branch: Optional[str] = None,
                 ttl_hours: Optional[int] = None, verdicts: bool = True, jobs: int = 1,
                 cache: bool = False) -> list[Plan]:
    """Plan every target a command names. All configs are validated before the first program runs."""
    if pr is not None or branch is not None:
        from components.errors import ConfigError
        from stacks.environments import preview_raw_config

        if envs or config_file:
            raise ConfigError("--pr/--branch plan the preview of dev; they cannot be combined with --env or --config-file")
        from stacks.environments import PREVIEW_BASE_ENV, PREVIEW_SERVICE_OVERRIDES
        stack, raw = preview_raw_config(project_dir, pr=pr, branch=branch, ttl_hours=ttl_hours or 72)
        chosen = [Target(env=stack, cloud=c, raw=raw) for c in clouds_for(cloud, raw.home_cloud)]
        preview = {"base_env": PREVIEW_BASE_ENV, **raw.values["preview"], "overrides": PREVIEW_SERVICE_OVERRIDES}
    else:
        preview = None
    if preview is None:
        chosen = targets(project_dir, envs, cloud, config_file)
    from stacks.config import confine_build_context

    for target in chosen:
        spec = target.spec()
        if spec.service.serving.image is None:  # the build reads every file of the context
            confine_build_context(project_dir, spec)
    plans = plan_in_parallel(project_dir, chosen, jobs=jobs, cache=cache)
    if preview is not None:
        for p in plans:
            p.extra["preview"] = preview
    return [attach_verdicts(p) for p in plans] if verdicts else plans


def load_plans(project_dir: Optional[Path], envs: Optional[list[str]] = None, cloud: Optional[str] = None,
               plan_file: Optional[Path] = None) -> list[Plan]:
    """Plans to report on: read from a saved plan document (filtered by --env / --cloud), or planned now."""
    if plan_file is not None:
        from stacks.plan import read_plans

        plans = read_plans(plan_file)
        if cloud is not None:
            wanted = clouds_for(cloud, "")
            plans = [p for p in plans if p.cloud in wanted]
        if envs:
            plans = [p for p in plans if p.env in envs or p.stack in envs]
        return plans
    from stacks.config import find_project_dir

    return plan_targets(find_project_dir(project_dir), envs=envs, cloud=cloud, verdicts=False, jobs=default_jobs(),
                        cache=True)
