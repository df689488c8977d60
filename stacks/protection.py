"""Protection: the one place every destructive path asks before data can go.

A stack is protected when
- it belongs to the `prod` environment, on any cloud (`prod`, `prod-aws`), whatever its config says, or
- its config sets `mlinfra:protected: true` (the env file, or the config its last update recorded).

Every path that can delete something goes through `refuse_unless_allowed`:
- `mlinfra destroy` (stacks/workspace.destroy, before the backend is asked and again on the stack's
  recorded config),
- `mlinfra deploy` when its preview replaces or deletes a stateful resource (`preview_refusal`),
- `mlinfra env down` / `env gc` (through workspace.destroy; they also destroy previews only, see
  stacks/environments.ensure_destroyable),
- a config file that resolves to another environment's stack (`check_file_env`).

The override is the documented flag `--allow-protected` (OVERRIDE_FLAG). Even with it, the stateful
resources of a protected environment stay: MLService marks them `protect` and `retainOnDelete`
(components/ml_service.py, the provider's STATEFUL_TYPES) and destroy runs with
`--exclude-protected`, so Pulumi deletes everything else and leaves them, in the stack and in the
cloud. Deleting that data is a deliberate act outside mlinfra (the message says how).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Optional

from components.errors import ConfigError, ProtectedStack
from components.providers.base import cloud_names

# Environments protected by name, on every cloud.
ALWAYS_PROTECTED = frozenset({"prod"})
PROTECTED_KEY = "protected"  # mlinfra:protected: true
OVERRIDE_FLAG = "--allow-protected"

# Engine step operations that delete a resource or replace it with a new one (the old one is deleted):
# https://www.pulumi.com/docs/iac/concepts/how-pulumi-works/ and pulumi.automation.events.OpType.
DESTRUCTIVE_OPS = frozenset({"delete", "replace", "create-replacement", "delete-replaced", "discard",
                             "discard-replaced"})


def env_of_stack(stack: str) -> str:
    """`prod-aws` -> `prod`: a built-in environment deployed to a cloud other than its home cloud."""
    for cloud in cloud_names():
        if stack.endswith(f"-{cloud}"):
            return stack[: -len(cloud) - 1]
    return stack


def protected_flag(values: Mapping[str, Any], source: str = "config") -> bool:
    value = values.get(PROTECTED_KEY)
    if value is None:
        return False
    if not isinstance(value, bool):
        # A stack's recorded config hands booleans back as strings.
        if isinstance(value, str) and value in ("true", "false"):
            return value == "true"
        raise ConfigError(f"mlinfra:{PROTECTED_KEY}: {value!r} in {source} is not allowed: use true or false")
    return value


def protection_reason(env: str, stack: str, values: Optional[Mapping[str, Any]] = None,
                      source: str = "config") -> Optional[str]:
    """Why this stack is protected, or None."""
    for name in {env, stack, env_of_stack(stack)}:
        if name in ALWAYS_PROTECTED:
            return f"{name} is a protected environment"
    if values and protected_flag(values, source):
        return f"its config sets mlinfra:{PROTECTED_KEY}: true ({source})"
    return None


def refuse_unless_allowed(stack: str, reason: Optional[str], action: str, allow: bool) -> None:
    if reason is None or allow:
        return
    raise ProtectedStack(f"stack {stack} is protected ({reason}); refusing to {action}. Pass {OVERRIDE_FLAG} "
                         "to do it anyway (stateful resources such as buckets and registries are kept even then)")


@dataclass(frozen=True)
class Step:
    op: str
    type: str
    urn: str


def step_of(event: Any) -> Optional[Step]:
    """The (op, type, urn) of a resourcePreEvent of the engine's event stream, else None."""
    pre = getattr(event, "resource_pre_event", None)
    meta = getattr(pre, "metadata", None)
    if meta is None:
        return None
    op = getattr(meta.op, "value", meta.op)
    return Step(op=str(op), type=str(meta.type), urn=str(meta.urn))


def destructive_stateful(steps: Iterable[Step], stateful_types: Iterable[str]) -> list[Step]:
    stateful = frozenset(stateful_types)
    return [s for s in steps if s.op in DESTRUCTIVE_OPS and s.type in stateful]


def preview_refusal(stack: str, reason: Optional[str], steps: Iterable[Step], stateful_types: Iterable[str],
                    allow: bool) -> None:
    """A deploy whose preview deletes or replaces a stateful resource of a protected stack is refused."""
    risky = destructive_stateful(steps, stateful_types)
    if not risky or reason is None:
        return
    shown = ", ".join(f"{s.op} {s.urn.rsplit('::', 1)[-1]} ({s.type})" for s in risky[:5])
    more = f" and {len(risky) - 5} more" if len(risky) > 5 else ""
    refuse_unless_allowed(stack, reason, f"deploy: the preview would {shown}{more}", allow)


def check_file_env(requested: str, file_env: Any, source: str, stack_of: Any) -> None:
    """A config file must not redirect a command to another environment's stack.

    `requested`: the environment the command was asked for (--env, or the file's own name).
    `file_env`: the file's `mlinfra:env`, if any. `stack_of(env)` -> the stack that env would be.
    """
    if file_env is None or str(file_env) == requested:
        return
    target = stack_of(str(file_env))
    if target == requested:  # Pulumi.dev-aws.yaml naming env dev: it configures the stack dev-aws itself
        return
    reason = protection_reason(str(file_env), target)
    message = (f"mlinfra:env: {str(file_env)!r} in {source} does not match the environment asked for "
               f"({requested}); a config file cannot redirect a command to another environment's stack "
               f"({target}). Remove mlinfra:env or use --env {file_env}")
    if reason:
        raise ProtectedStack(message)
    raise ConfigError(message)
