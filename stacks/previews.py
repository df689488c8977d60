"""Preview environments through the Automation API: up, down, list, garbage-collect.

A stack counts as a preview only when its config carries `mlinfra:preview` (written by `env up`).
That is read through the Automation API: the stack's config, or, when this machine has no
settings file for it (a CI runner), the config recorded with its last update in the backend.
Names alone never make a stack destroyable; `dev`, `prod` and every built-in environment's
stacks are refused whatever their config says (stacks/environments.py).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Optional

from components.errors import MlinfraError, OperationFailed
from stacks.config import NAMESPACE, RawConfig, builtin_envs
from stacks.environments import (DEFAULT_TTL_HOURS, ensure_destroyable, is_expired, preview_raw_config,
                                 protected_reason, utcnow)
from stacks.workspace import (DeployResult, OnOutput, Session, StackTarget, deploy, destroy, engine_errors,
                              make_target, open_session, our_values, parked_stack_settings, plain_outputs)

PREVIEW_KEY = f"{NAMESPACE}:preview"


def preview_target(project_dir: Path, *, pr: Optional[int] = None, branch: Optional[str] = None,
                   cloud: Optional[str] = None, ttl_hours: int = DEFAULT_TTL_HOURS,
                   now: Optional[datetime] = None) -> StackTarget:
    name, raw = preview_raw_config(project_dir, pr=pr, branch=branch, ttl_hours=ttl_hours, now=now)
    return make_target(project_dir, name, raw, cloud)


def stack_config(stack) -> dict[str, Any]:
    """The stack's `mlinfra:` config: its settings, else what its last update ran with."""
    ours = our_values(stack.get_all_config())
    if not ours:
        summary = stack.info(show_secrets=False)
        ours = our_values(summary.config if summary is not None else {})
    return ours


def read_preview(stack) -> Optional[dict[str, Any]]:
    value = stack_config(stack).get(PREVIEW_KEY)
    return value if isinstance(value, dict) else None


def guard_preview(project_dir: Path, name: str) -> Callable[[Any], None]:
    builtin = builtin_envs(project_dir)  # now, before the preview's own settings file is put beside them

    def guard(stack) -> None:
        ensure_destroyable(name, read_preview(stack), builtin=builtin)

    return guard


# -- up / down -------------------------------------------------------------------------------------
def up(project_dir: Path, *, pr: Optional[int] = None, branch: Optional[str] = None, cloud: Optional[str] = None,
       ttl_hours: int = DEFAULT_TTL_HOURS, preview_only: bool = False, on_output: Optional[OnOutput] = None,
       policy_pack: Optional[Path] = None, now: Optional[datetime] = None) -> DeployResult:
    target = preview_target(project_dir, pr=pr, branch=branch, cloud=cloud, ttl_hours=ttl_hours, now=now)
    return deploy(target, preview_only=preview_only, on_output=on_output, policy_pack=policy_pack)


def _target_of_stack(session: Session, name: str) -> StackTarget:
    """A StackTarget for an existing stack known only by name (env down --stack, env gc)."""
    with parked_stack_settings(session.project_dir, name), engine_errors(name, "env down"):
        stack = session.stack(name, create=False)
        values = {k.split(":", 1)[1]: v for k, v in stack_config(stack).items()}
    raw = RawConfig(values=values, source=f"stack {name}")
    cloud = str(values.get("cloud") or "")
    env = str(values.get("env") or name)
    return StackTarget(project_dir=session.project_dir, stack=name, env=env, cloud=cloud, raw=raw)


def down(project_dir: Path, *, pr: Optional[int] = None, branch: Optional[str] = None,
         stack: Optional[str] = None, cloud: Optional[str] = None,
         on_output: Optional[OnOutput] = None) -> Optional[dict[str, int]]:
    """Destroy a preview and remove its stack. None when there was no such stack."""
    from pulumi.automation import errors as auto_errors

    from stacks.config import check_env_name

    project_dir = Path(project_dir)
    if stack is not None:
        check_env_name(stack, "--stack")
        if protected_reason(stack, builtin_envs(project_dir)):
            ensure_destroyable(stack, None, project_dir)  # refused before the backend is even asked
        session = open_session(project_dir)
        try:
            target = _target_of_stack(session, stack)
        except OperationFailed as err:
            if isinstance(err.__context__, auto_errors.StackNotFoundError) or "no stack named" in err.message:
                return None  # already gone: down is idempotent, as with --pr / --branch
            raise
    else:
        session = open_session(project_dir)
        target = preview_target(project_dir, pr=pr, branch=branch, cloud=cloud)
    return destroy(target, on_output=on_output, remove=True, guard=guard_preview(project_dir, target.stack),
                   missing_ok=stack is None, session=session)


# -- list / gc ---------------------------------------------------------------------------------------
@dataclass
class PreviewEntry:
    stack: str
    cloud: str
    source: str
    age_hours: Optional[float]
    expires_at: str
    expired: bool
    url: Optional[str]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _age_hours(last_update: Optional[datetime], now: datetime) -> Optional[float]:
    if last_update is None:
        return None
    moment = last_update if last_update.tzinfo else last_update.replace(tzinfo=timezone.utc)
    return round((now - moment).total_seconds() / 3600, 1)


def list_previews(project_dir: Path, *, now: Optional[datetime] = None,
                  session: Optional[Session] = None) -> list[PreviewEntry]:
    """Every preview stack of this project in the backend; stacks that are not previews are left out."""
    project_dir = Path(project_dir)
    now = now or utcnow()
    session = session or open_session(project_dir)
    builtin = builtin_envs(project_dir)
    with engine_errors("(all)", "env list"):
        summaries = session.workspace().list_stacks()
    entries: list[PreviewEntry] = []
    for summary in summaries:
        name = summary.name.split("/")[-1]
        if protected_reason(name, builtin):
            continue
        with parked_stack_settings(project_dir, name), engine_errors(name, "env list"):
            stack = session.stack(name, create=False)
            config = stack_config(stack)
            preview = config.get(PREVIEW_KEY)
            if not isinstance(preview, dict):
                continue
            url = plain_outputs(stack.outputs()).get("endpoint")
        expires = str(preview.get("expires_at", ""))
        entries.append(PreviewEntry(
            stack=name, cloud=str(config.get(f"{NAMESPACE}:cloud", "")), source=str(preview.get("source", "")),
            age_hours=_age_hours(summary.last_update, now), expires_at=expires,
            expired=is_expired(preview, now), url=url))
    return sorted(entries, key=lambda e: e.stack)


@dataclass
class GcOutcome:
    stack: str
    expires_at: str
    result: str  # destroyed | failed: <why> | would destroy

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def gc(project_dir: Path, *, now: Optional[datetime] = None, dry_run: bool = False,
       on_output: Optional[OnOutput] = None) -> list[GcOutcome]:
    """Destroy expired previews only. Every one is tried; failures are reported, then raised."""
    project_dir = Path(project_dir)
    now = now or utcnow()
    session = open_session(project_dir)
    outcomes: list[GcOutcome] = []
    for entry in list_previews(project_dir, now=now, session=session):
        if not entry.expired:
            continue
        if dry_run:
            outcomes.append(GcOutcome(entry.stack, entry.expires_at, "would destroy"))
            continue
        # The guard re-reads the stack's config right before destroying; the listing is only a hint.
        target = StackTarget(project_dir=project_dir, stack=entry.stack, env=entry.stack, cloud=entry.cloud,
                        raw=RawConfig(values={}, source=f"stack {entry.stack}"))
        try:
            destroy(target, on_output=on_output, remove=True, session=session,
                    guard=_guard_expired(project_dir, entry.stack, now))
            outcomes.append(GcOutcome(entry.stack, entry.expires_at, "destroyed"))
        except MlinfraError as err:
            outcomes.append(GcOutcome(entry.stack, entry.expires_at, f"failed: {err.message}"))
    return outcomes


def _guard_expired(project_dir: Path, name: str, now: datetime) -> Callable[[Any], None]:
    """Re-read right before destroying: a preview redeployed since it was listed has a new expiry."""
    builtin = builtin_envs(project_dir)

    def guard(stack) -> None:
        preview = read_preview(stack)
        ensure_destroyable(name, preview, builtin=builtin)
        if not is_expired(preview, now):
            raise OperationFailed(f"{name} was redeployed and no longer expired; left alone")

    return guard


def gc_failures(outcomes: list[GcOutcome]) -> list[GcOutcome]:
    return [o for o in outcomes if o.result.startswith("failed")]
