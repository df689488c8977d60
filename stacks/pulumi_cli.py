"""The `pulumi` CLI as the Automation API runs it, with time limits and readable failures.

The SDK's PulumiCommand runs `pulumi version` with no time limit when a workspace is created, and
every other command without one either: a CLI that hangs (a backend that never answers, a broken
install) hung mlinfra. Here:
- `pulumi version` runs once, with VERSION_TIMEOUT seconds, and its answer must be a version the SDK
  accepts; otherwise PrerequisiteMissing (exit 4) says what the CLI did.
- Short commands (stack select/init/ls/rm, config, stack output/history...) get COMMAND_TIMEOUT
  seconds (MLINFRA_PULUMI_TIMEOUT overrides it); engine runs (up, preview, destroy, refresh) stream
  their output and have no limit, as an update legitimately takes long.
"""
from __future__ import annotations

import os
import subprocess
from typing import Mapping, Optional

from components.errors import OperationFailed, PrerequisiteMissing

VERSION_TIMEOUT = 30.0
COMMAND_TIMEOUT = 120.0
ENGINE_COMMANDS = frozenset({"up", "preview", "destroy", "refresh", "import", "watch"})


def command_timeout(env: Optional[Mapping[str, str]] = None) -> float:
    env = os.environ if env is None else env
    try:
        value = float(env.get("MLINFRA_PULUMI_TIMEOUT", ""))
    except ValueError:
        return COMMAND_TIMEOUT
    return value if value > 0 else COMMAND_TIMEOUT


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in (text or "").splitlines() if ln.strip()]
    line = lines[-1] if lines else "(no output)"
    return line if len(line) <= 160 else line[:157] + "..."


def checked_version(executable: str):
    """The CLI's version, checked against the SDK's minimum, or PrerequisiteMissing (exit 4)."""
    from pulumi.automation._cmd import _MINIMUM_VERSION, _parse_and_validate_pulumi_version
    from pulumi.automation.errors import InvalidVersionError
    from semver import VersionInfo

    limit = min(VERSION_TIMEOUT, command_timeout())
    env = {**os.environ, "PULUMI_SKIP_UPDATE_CHECK": "true"}
    try:
        proc = subprocess.run([executable, "version"], capture_output=True, env=env, timeout=limit)
    except subprocess.TimeoutExpired:
        raise PrerequisiteMissing(f"`{executable} version` did not answer within {limit:g} s; the Pulumi CLI looks "
                                  "broken: reinstall it (https://www.pulumi.com/docs/install/)") from None
    except OSError as exc:
        raise PrerequisiteMissing(f"cannot run {executable}: {exc.strerror or exc}; reinstall the Pulumi CLI "
                                  "(https://www.pulumi.com/docs/install/)") from None
    out = proc.stdout.decode("utf-8", "replace").strip()
    if proc.returncode != 0:
        raise PrerequisiteMissing(f"`{executable} version` failed (exit {proc.returncode}): "
                                  f"{_last_line(proc.stderr.decode('utf-8', 'replace') or out)}; reinstall the "
                                  "Pulumi CLI (https://www.pulumi.com/docs/install/)")
    text = out.removeprefix("v")
    try:
        VersionInfo.parse(text)
    except (ValueError, TypeError):
        raise PrerequisiteMissing(f"`{executable} version` printed {_last_line(out)!r}, not a version; "
                                  "reinstall the Pulumi CLI (https://www.pulumi.com/docs/install/)") from None
    opt_out = os.getenv("PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK") is not None
    try:
        return _parse_and_validate_pulumi_version(_MINIMUM_VERSION, text, opt_out)
    except InvalidVersionError as exc:
        raise PrerequisiteMissing(f"the installed Pulumi CLI does not fit this SDK: {exc}; "
                                  "see https://www.pulumi.com/docs/install/") from None


def timed_command(executable: str):
    """A PulumiCommand for the Automation API that runs `executable`, version already checked."""
    from pulumi.automation._cmd import CommandResult, PulumiCommand, create_command_error

    version = checked_version(executable)

    class TimedPulumiCommand(PulumiCommand):
        def __init__(self) -> None:  # no second, untimed `pulumi version`
            self.command = executable
            self.version = version

        def run(self, args, cwd, additional_env, on_output=None, on_error=None):
            verb = next((a for a in args if not a.startswith("-")), "")
            if verb in ENGINE_COMMANDS:
                return super().run(args, cwd, additional_env, on_output, on_error)
            if "--non-interactive" not in args:
                args = ["--non-interactive", *args]
            env = {**os.environ, **additional_env, "PULUMI_AUTOMATION_API": "true"}
            if os.path.isabs(self.command):  # as the SDK does: plugins bundled beside the CLI come first
                env["PATH"] = os.pathsep.join([os.path.dirname(self.command), env.get("PATH", "")])
            limit = command_timeout()
            try:
                proc = subprocess.run([self.command, *args], cwd=cwd, env=env, capture_output=True, timeout=limit)
            except subprocess.TimeoutExpired:
                shown = " ".join(a for a in args if a != "--non-interactive")[:80]
                raise OperationFailed(f"`pulumi {shown}` did not answer within {limit:g} s (set "
                                      "MLINFRA_PULUMI_TIMEOUT to wait longer); is the state backend reachable?") \
                    from None
            result = CommandResult(stdout=proc.stdout.decode("utf-8", "replace").rstrip("\n"),
                                   stderr=proc.stderr.decode("utf-8", "replace").rstrip("\n"), code=proc.returncode)
            for text, callback in ((result.stdout, on_output), (result.stderr, on_error)):
                if callback and text:
                    for line in text.splitlines():
                        callback(line)
            if proc.returncode != 0:
                raise create_command_error(result)
            return result

    return TimedPulumiCommand()
