"""Deploy through the Pulumi Automation API: the repository's own project, not a copy.

`LocalWorkspace(work_dir=<project dir>)` runs the program `pulumi up` runs (Pulumi.yaml ->
__main__.py -> stacks/program.py). Before the engine starts, the environment is validated
offline (same errors and exit codes as `mlinfra plan`), then the Pulumi CLI, the state backend
(stacks/credentials.py) and the cloud's credentials are checked.

Stack config, and why the settings file is "parked":
- A stack named after a built-in environment on its home cloud (`dev`, `prod`) is configured by
  the repository's own Pulumi.<env>.yaml, exactly as with `pulumi up -s dev`: mlinfra writes no
  config into it, and the file is byte-for-byte the same after any operation: the secrets settings
  `pulumi stack init` adds (passphrase salt) live in the per-user store and are put in only while an
  operation runs (`tracked_file_untouched`). `set_config`/`set_all_config` of the Automation API
  write Pulumi.<stack>.yaml, so they are never called for such a stack.
- Every other stack (`dev-aws`, `pr-42`, `br-fix-lo-k3m2x7qa`) gets its config written with
  `set_all_config` (one JSON value per `mlinfra:` key, plus the other namespaces of the env file).
  The CLI keeps that in Pulumi.<stack>.yaml beside Pulumi.yaml, together with the stack's
  secrets salt. So that such files never pile up in the repository, the file lives in a per-user
  folder (credentials.state_dir()/settings/<project>) and is put beside Pulumi.yaml only while
  an operation runs, then moved back, also when the operation fails. Passing `--config-file`
  instead was rejected: `stack init` and `config set-all` would still write Pulumi.<stack>.yaml.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

from components.errors import ConfigError, OperationFailed, PrerequisiteMissing, StackLocked
from components.providers.base import get_provider
from components.spec import EnvironmentSpec
from stacks.config import (NAMESPACE, RawConfig, config_pairs, confine_build_context, env_file, environment_spec,
                           load_file)
from stacks.credentials import Backend, check_credentials, require_pulumi_cli, resolve_backend
from stacks.environments import stack_name
from stacks.settings_files import parked_stack_settings, settings_store
from stacks.protection import (Step, check_file_env, preview_refusal, protection_reason,
                               refuse_unless_allowed, step_of)

OnOutput = Callable[[str], Any]
POLICY_DIR = "policy"


@dataclass(frozen=True)
class StackTarget:
    """One stack to operate on, and the config it runs with."""

    project_dir: Path
    stack: str
    env: str
    cloud: str
    raw: RawConfig
    # True when the project's own Pulumi.<stack>.yaml configures the stack (dev, prod): mlinfra
    # then writes no config, and never moves or rewrites that file.
    from_file: bool = False

    def spec(self) -> EnvironmentSpec:
        return environment_spec(self.raw, env=self.env, stack=self.stack, cloud=self.cloud)

    def protection(self) -> Optional[str]:
        """Why this stack is protected (by name, or by the config mlinfra was given), or None."""
        return protection_reason(self.env, self.stack, self.raw.values, self.raw.source)

    def config(self) -> dict[str, str]:
        """What `set_all_config` writes: `namespace:key` -> string (structured values as JSON)."""
        return config_pairs(self.raw, env=self.env, cloud=self.cloud)


def target_for_env(project_dir: Path, env: str, cloud: Optional[str] = None) -> StackTarget:
    raw = load_file(env_file(project_dir, env))
    return make_target(project_dir, env, raw, cloud)


def make_target(project_dir: Path, env: str, raw: RawConfig, cloud: Optional[str] = None) -> StackTarget:
    cloud = cloud or raw.home_cloud
    if not cloud:
        raise ConfigError(f"{NAMESPACE}:cloud: required in {raw.source}")
    get_provider(cloud)  # an unknown --cloud is a ConfigError naming the allowed ones
    # A file naming another environment (`mlinfra:env: prod` in Pulumi.dev.yaml) must not move the
    # command to that environment's stack: refused (exit 5 when that stack is protected, else 3).
    check_file_env(env, raw.values.get("env"), raw.source, lambda e: stack_name(e, cloud, raw.home_cloud))
    env = str(raw.values.get("env") or env)
    stack = stack_name(env, cloud, raw.home_cloud)
    # A settings file of the stack's own name in the project (Pulumi.dev.yaml) is its config.
    from_file = (Path(project_dir) / f"Pulumi.{stack}.yaml").is_file()
    return StackTarget(project_dir=Path(project_dir), stack=stack, env=env, cloud=cloud, raw=raw, from_file=from_file)


def validate(target: StackTarget) -> EnvironmentSpec:
    """The offline checks `mlinfra plan` runs: a bad config fails here (exit 3), before the engine."""
    spec = target.spec()
    get_provider(spec.cloud).check(spec)
    if spec.service.serving.image is None:
        confine_build_context(target.project_dir, spec)
    return spec


# -- errors -----------------------------------------------------------------------------------------
def engine_error(exc: BaseException) -> str:
    """The engine's own error lines out of a CommandError (its text holds code, stdout and stderr)."""
    text = str(exc)
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.lower().startswith("error:") or " error: " in ln.lower()]
    picked = list(dict.fromkeys(errors))[-3:] or [ln for ln in lines if not ln.startswith(("code:", "stdout:"))][-2:]
    return " | ".join(ln.removeprefix("stderr: ") for ln in picked) or text.strip()


@contextmanager
def engine_errors(stack: str, action: str) -> Iterator[None]:
    """Automation API exceptions -> the documented user errors (locked 5, failed 1, missing CLI 4)."""
    from pulumi.automation import errors as auto_errors

    try:
        yield
    except auto_errors.ConcurrentUpdateError:
        raise StackLocked(f"stack {stack} is locked by another update; wait for it to finish, or if none is "
                          f"running, release the lock with: pulumi cancel --stack {stack}") from None
    except auto_errors.StackNotFoundError:
        raise OperationFailed(f"{action}: no stack named {stack} in this backend; create it with "
                              "mlinfra deploy (or mlinfra env up for a preview)") from None
    except auto_errors.InvalidVersionError as exc:
        raise PrerequisiteMissing(f"the installed Pulumi CLI does not fit this SDK: {exc}; "
                                  "see https://www.pulumi.com/docs/install/") from None
    except auto_errors.CommandError as exc:
        raise OperationFailed(f"{action} of stack {stack} failed: {engine_error(exc)}") from None
    except FileNotFoundError as exc:
        if "pulumi" in str(exc):
            from stacks.credentials import PULUMI_INSTALL

            raise PrerequisiteMissing(PULUMI_INSTALL) from None
        raise
    except (ValueError, KeyError, TypeError, AttributeError, IndexError, RuntimeError) as exc:
        # The SDK parses the CLI's JSON and event log: output it cannot read is the CLI's failure,
        # said in one line.
        raise OperationFailed(f"{action} of stack {stack}: the Pulumi CLI printed output mlinfra cannot read "
                              f"({type(exc).__name__}: {str(exc)[:160]}); check `pulumi version` and the "
                              "state backend") from exc  # chained: --debug shows where it came from


# -- settings file (stacks/settings_files.py) ------------------------------------------------------
@contextmanager
def parked_settings(target: StackTarget) -> Iterator[None]:
    """Pulumi.<stack>.yaml beside Pulumi.yaml only for the duration of one operation (see module doc)."""
    with parked_stack_settings(target.project_dir, target.stack, from_file=target.from_file):
        yield


def forget_settings(target: StackTarget) -> None:
    (settings_store(target.project_dir) / f"Pulumi.{target.stack}.yaml").unlink(missing_ok=True)


def _clear_our_config(target: StackTarget) -> None:
    """Drop stale `mlinfra:` values before set-all writes the current ones (keys removed from the
    env file must not linger); the secrets salt and other namespaces stay."""
    import yaml

    live = target.project_dir / f"Pulumi.{target.stack}.yaml"
    if not live.is_file():
        return
    doc = yaml.safe_load(live.read_text()) or {}
    config = doc.get("config") or {}
    kept = {k: v for k, v in config.items() if not str(k).startswith(f"{NAMESPACE}:")}
    if kept != config:
        doc["config"] = kept
        live.write_text(yaml.safe_dump(doc, sort_keys=False))


# -- the workspace ----------------------------------------------------------------------------------
@dataclass
class Session:
    """Prerequisites checked once, then one LocalWorkspace on the project for every stack opened."""

    project_dir: Path
    backend: Backend
    pulumi_command: Any = field(default=None, repr=False)
    _workspace: Any = field(default=None, repr=False)

    def workspace(self):
        if self._workspace is None:
            from pulumi import automation as auto

            # The CLI's version was checked once, with a time limit (stacks/pulumi_cli.py).
            self._workspace = auto.LocalWorkspace(work_dir=str(self.project_dir), env_vars=dict(self.backend.env_vars),
                                                  secrets_provider=self.backend.secrets_provider,
                                                  pulumi_command=self.pulumi_command)
        return self._workspace

    def stack(self, name: str, *, create: bool):
        from pulumi import automation as auto

        open_stack = auto.Stack.create_or_select if create else auto.Stack.select
        return open_stack(name, self.workspace())


def open_session(project_dir: Path) -> Session:
    from stacks.pulumi_cli import timed_command

    executable = require_pulumi_cli()
    backend = resolve_backend()
    return Session(project_dir=Path(project_dir), backend=backend, pulumi_command=timed_command(executable))


def policy_packs(project_dir: Path, pack: Optional[Path] = None) -> list[str]:
    """The CrossGuard pack every preview and update runs: `policy/` of the project unless given."""
    pack = Path(pack) if pack is not None else Path(project_dir) / POLICY_DIR
    if not (pack / "PulumiPolicy.yaml").is_file():
        raise PrerequisiteMissing(f"the policy pack is missing: {pack / 'PulumiPolicy.yaml'} not found; every "
                                  "deploy runs it (restore policy/ from the repository)")
    return [str(pack.resolve())]


@dataclass
class DeployResult:
    stack: str
    env: str
    cloud: str
    preview_only: bool
    changes: dict[str, int]
    outputs: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"stack": self.stack, "env": self.env, "cloud": self.cloud, "preview_only": self.preview_only,
                "changes": self.changes, "outputs": self.outputs}


def plain_outputs(outputs: dict) -> dict[str, Any]:
    return {k: ("[secret]" if getattr(v, "secret", False) else getattr(v, "value", v)) for k, v in outputs.items()}


def write_config(stack, target: StackTarget) -> None:
    if target.from_file:
        return
    from pulumi.automation import ConfigValue

    _clear_our_config(target)
    stack.set_all_config({k: ConfigValue(value=v) for k, v in target.config().items()})


def deploy(target: StackTarget, *, preview_only: bool = False, on_output: Optional[OnOutput] = None,
           policy_pack: Optional[Path] = None, session: Optional[Session] = None,
           allow_protected: bool = False) -> DeployResult:
    """Preview or update the stack. On a protected stack the update is previewed first, and refused
    (exit 5) when that preview deletes or replaces a stateful resource, unless `allow_protected`."""
    validate(target)
    check_credentials(target.cloud, config={k: str(v) for k, v in target.raw.passthrough.items()})
    session = session or open_session(target.project_dir)
    packs = policy_packs(target.project_dir, policy_pack)
    action = "preview" if preview_only else "update"
    reason = target.protection()
    with parked_settings(target), engine_errors(target.stack, action):
        stack = session.stack(target.stack, create=True)
        # Protected by the config its last update ran with, even if the local file no longer says so.
        reason = reason or recorded_protection(target, stack)
        write_config(stack, target)
        if preview_only or reason is not None:
            steps: list[Step] = []

            def collect(event) -> None:
                step = step_of(event)
                if step is not None:
                    steps.append(step)

            result = stack.preview(on_output=on_output, policy_packs=packs, color="never", on_event=collect)
            changes, outputs = dict(result.change_summary or {}), {}
            if not preview_only:  # a preview only shows; the update it would lead to is what is refused
                preview_refusal(target.stack, reason, steps, get_provider(target.cloud).STATEFUL_TYPES,
                                allow_protected)
        if not preview_only:
            result = stack.up(on_output=on_output, policy_packs=packs, color="never")
            changes = dict(result.summary.resource_changes or {})
            outputs = plain_outputs(result.outputs)
    return DeployResult(stack=target.stack, env=target.env, cloud=target.cloud, preview_only=preview_only,
                        changes=changes, outputs=outputs)


def our_values(config: Optional[dict]) -> dict[str, Any]:
    """The `mlinfra:` entries of a stack config as the Automation API returns it ({key: ConfigValue})."""
    from stacks.config import decode

    return {k: decode(v.value) for k, v in (config or {}).items() if k.startswith(f"{NAMESPACE}:")}


def recorded_protection(target: StackTarget, stack) -> Optional[str]:
    """Protection read from the stack itself: its settings, and the config its last update ran with
    (a stack marked protected elsewhere stays protected here, whatever the local file says)."""
    summary = stack.info(show_secrets=False)
    for where, config in ((f"stack {target.stack} settings", stack.get_all_config()),
                          (f"stack {target.stack} in the backend", summary.config if summary is not None else {})):
        values = {k.split(":", 1)[1]: v for k, v in our_values(config).items()}
        reason = protection_reason(target.env, target.stack, values, where)
        if reason:
            return reason
    return None


def destroy(target: StackTarget, *, on_output: Optional[OnOutput] = None, remove: bool = False,
            guard: Optional[Callable[[Any], None]] = None, missing_ok: bool = False,
            session: Optional[Session] = None, allow_protected: bool = False) -> Optional[dict[str, int]]:
    """Destroy every resource of the stack; `remove` also deletes the stack and its settings.

    Protection (stacks/protection.py) is checked here, for every caller: from the target's name and
    config before the backend is asked, then from the config the stack itself recorded. A protected
    stack is refused (exit 5) unless `allow_protected`; even then the destroy excludes protected
    resources, so the stateful ones stay, and the stack is not removed.
    `guard(stack)` runs once the stack is selected and before anything is destroyed (further rules,
    e.g. previews only). With `missing_ok`, a stack that does not exist is None, not an error.
    """
    from pulumi.automation import errors as auto_errors

    refuse_unless_allowed(target.stack, target.protection(), "destroy it", allow_protected)
    session = session or open_session(target.project_dir)
    with parked_settings(target), engine_errors(target.stack, "destroy"):
        try:
            stack = session.stack(target.stack, create=False)
        except auto_errors.StackNotFoundError:
            if missing_ok:
                return None
            raise
        reason = target.protection() or recorded_protection(target, stack)
        refuse_unless_allowed(target.stack, reason, "destroy it", allow_protected)
        if guard is not None:
            guard(stack)
        check_credentials(target.cloud, config={k: str(v) for k, v in target.raw.passthrough.items()})
        # Protected resources (the stateful ones of a protected environment) survive any destroy.
        result = stack.destroy(on_output=on_output, color="never", exclude_protected=reason is not None or None)
        if remove and reason is None:
            stack.workspace.remove_stack(target.stack)
    if remove and reason is None:
        forget_settings(target)
    return dict(result.summary.resource_changes or {})


def outputs(target: StackTarget, *, session: Optional[Session] = None) -> dict[str, Any]:
    session = session or open_session(target.project_dir)
    with parked_settings(target), engine_errors(target.stack, "outputs"):
        stack = session.stack(target.stack, create=False)
        return plain_outputs(stack.outputs())


def refresh(target: StackTarget, *, on_output: Optional[OnOutput] = None, session: Optional[Session] = None) -> None:
    session = session or open_session(target.project_dir)
    check_credentials(target.cloud, config={k: str(v) for k, v in target.raw.passthrough.items()})
    with parked_settings(target), engine_errors(target.stack, "refresh"):
        stack = session.stack(target.stack, create=False)
        stack.refresh(on_output=on_output, color="never")
