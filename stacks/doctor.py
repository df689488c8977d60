"""`mlinfra doctor`: what a deployment needs outside the program, known before `pulumi up`.

A requirement is derived from the plan itself (the resource types it registers, the machine
types, accelerator, region and features it uses), never from a fixed list: each cloud's
`components/providers/<cloud>/preflight.py` turns a Plan into its requirements and, with
credentials, checks each one with the cloud's own read-only APIs. This module is the
cloud-neutral part: the requirement model, the tools every deployment needs, running the
checks so that nothing can raise past them, and the exit code.

Statuses: `ok`, `missing` (with the fix: the exact command or console page) and `unknown`
(offline, or the check was throttled, denied or timed out; the reason is in `detail`).
Exit codes (README): 0 nothing missing, 1 something missing, 4 no credentials to check with.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import asdict, dataclass, field, replace
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Optional

from components.errors import OperationFailed, PrerequisiteMissing

if TYPE_CHECKING:
    from stacks.plan import Plan

KINDS = ("api", "provider", "feature", "quota", "permission", "tag", "tool")
# Every live call gets this many seconds (connect and read) unless the caller says otherwise.
DEFAULT_TIMEOUT_S = 10.0
# The fields `--output json` prints for each requirement (a stable shape).
FIELDS = ("cloud", "kind", "name", "why", "status", "fix", "detail", "stack")


class Status(str, Enum):
    ok = "ok"
    missing = "missing"
    unknown = "unknown"


@dataclass(frozen=True)
class Requirement:
    cloud: str
    kind: str  # one of KINDS
    name: str  # e.g. run.googleapis.com, Microsoft.App, L-DB2E81BA, ec2:CreateLaunchTemplate, pulumi
    why: str  # which resources of the plan need it
    fix: str  # the exact command or console page that provides it
    status: Status = Status.unknown
    detail: str = ""  # what the check saw (limit and need, or why it could not tell)
    stack: str = ""
    # What the live check needs (quota code, vCPUs, ...); not part of the printed shape.
    data: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"requirement kind {self.kind!r} is not one of {KINDS}")

    def settled(self, status: Status, detail: str = "") -> "Requirement":
        return replace(self, status=status, detail=detail)

    def to_dict(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["status"] = self.status.value
        return {k: doc[k] for k in FIELDS}


def why(resources: Iterable[Any], limit: int = 4) -> str:
    """'needed by <type> <name>, ...' for the plan resources that need a requirement."""
    names = sorted({f"{r.type} {r.name}" for r in resources})
    shown = ", ".join(names[:limit])
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return f"needed by {shown}{more}"


def merge(requirements: Iterable[Requirement]) -> list[Requirement]:
    """One requirement per (cloud, kind, name): the first one's fix, every resource's reason kept."""
    seen: dict[tuple[str, str, str], Requirement] = {}
    for req in requirements:
        key = (req.cloud, req.kind, req.name)
        if key in seen and req.why not in seen[key].why:
            seen[key] = replace(seen[key], why=f"{seen[key].why}; {req.why}")
        seen.setdefault(key, req)
    return list(seen.values())


# -- live checks: nothing raises past them ------------------------------------------------------
class Unknown(Exception):
    """A check that could not tell (throttled, denied, timed out, unexpected answer): the reason."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class Unreachable(Unknown, OperationFailed):
    """A cloud's sign-in service did not answer: `unknown` for the doctor, a failed operation (exit 1)
    for another command that shares the token code (e.g. `mlinfra secrets set`)."""

    def __init__(self, reason: str):
        Unknown.__init__(self, reason)
        self.message = reason


class CredentialsAbsent(PrerequisiteMissing):
    """No credentials to check with (exit 4): the message names which and how to provide them."""


def settle(req: Requirement, check: Callable[[Requirement], tuple[Status, str]]) -> Requirement:
    """Run one check; a failure of the check itself is `unknown` with its reason, never a traceback."""
    try:
        status, detail = check(req)
    except Unknown as exc:
        return req.settled(Status.unknown, exc.reason)
    except CredentialsAbsent:
        raise
    except Exception as exc:  # a check must never stop the others: say what it was
        return req.settled(Status.unknown, f"check failed: {type(exc).__name__}: {exc}"[:300])
    return req.settled(status, detail)


def once(memo: dict[str, Any], key: str, fetch: Callable[[], Any]) -> Any:
    """One call per kind of answer (e.g. one usages list per region): its value, or the same Unknown /
    LookupError for every requirement that needed it."""
    if key not in memo:
        try:
            memo[key] = ("ok", fetch())
        except (Unknown, LookupError) as exc:
            memo[key] = ("err", exc)
    state, value = memo[key]
    if state == "err":
        raise value
    return value


def rest_json(client: Any, method: str, url: str, what: str, **kwargs: Any) -> Any:
    """One HTTP call of a REST check (GCP and Azure use plain REST over httpx with an OAuth token).

    Throttling (429), denial (401/403), a timeout or a transport error raise Unknown with the
    reason; 404 raises LookupError (some checks read 'not found' as 'missing'); other answers
    are the parsed JSON body.
    """
    import httpx

    try:
        resp = client.request(method, url, **kwargs)
    except httpx.TimeoutException:
        raise Unknown(f"{what}: no answer within the timeout") from None
    except httpx.HTTPError as exc:
        raise Unknown(f"{what}: {type(exc).__name__}: {exc}") from None
    if resp.status_code < 400:
        try:
            return resp.json()
        except ValueError:
            raise Unknown(f"{what}: the answer was not JSON (HTTP {resp.status_code})") from None
    message = _error_message(resp)
    if resp.status_code == 429:
        raise Unknown(f"{what}: throttled (HTTP 429){message}; run the doctor again later")
    if resp.status_code in (401, 403):
        raise Unknown(f"{what}: denied (HTTP {resp.status_code}){message}")
    if resp.status_code == 404:
        raise LookupError(f"{what}: not found{message}")
    raise Unknown(f"{what}: HTTP {resp.status_code}{message}")


def _error_message(resp: Any) -> str:
    # Google and Azure REST errors both answer {"error": {"code": ..., "message": ...}}.
    try:
        error = resp.json().get("error") or {}
        text = error.get("message") if isinstance(error, dict) else str(error)
    except (ValueError, AttributeError):
        text = ""
    return f": {text.strip()[:200]}" if text else ""


# -- tools ---------------------------------------------------------------------------------------
PULUMI_FIX = "curl -fsSL https://get.pulumi.com | sh, or brew install pulumi (https://www.pulumi.com/docs/install/)"
DOCKER_FIX = ("install Docker Engine (https://docs.docker.com/engine/install/) or Docker Desktop and start it; "
              "`docker version` must show a Server")


def tool_requirements(plan: "Plan") -> list[Requirement]:
    """The Pulumi CLI deploys every plan; a plan that builds an image needs a Docker engine."""
    reqs = [Requirement(plan.cloud, "tool", "pulumi", "runs every deployment (mlinfra deploy, pulumi up)",
                        PULUMI_FIX, stack=plan.stack)]
    # pulumi-docker-build builds with buildx and BuildKit against a build daemon, the local Docker engine
    # unless DOCKER_HOST names another (https://www.pulumi.com/registry/packages/docker-build/installation-configuration/);
    # `docker version` asks the same daemon.
    images = [r for r in plan.resources if r.type.startswith("docker-build:")]
    if images:
        reqs.append(Requirement(plan.cloud, "tool", "docker", why(images), DOCKER_FIX, stack=plan.stack))
    return reqs


def _run(argv: list[str], env: Mapping[str, str], timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=dict(env), check=False)


def check_tool(req: Requirement, env: Mapping[str, str], timeout: float) -> tuple[Status, str]:
    found = shutil.which(req.name, path=env.get("PATH", ""))
    if not found:
        return Status.missing, f"no `{req.name}` on PATH"
    # `pulumi version` prints v3.x; `docker version` fails when the engine is not running.
    argv = [found, "version"] if req.name == "pulumi" else \
        [found, "version", "--format", "{{.Client.Version}} {{.Server.Version}}"]
    try:
        proc = _run(argv, env, timeout)
    except subprocess.TimeoutExpired:
        raise Unknown(f"`{req.name} version` gave no answer within {timeout:g}s") from None
    except OSError as exc:
        return Status.missing, f"{found} cannot run: {exc}"
    text = (proc.stdout or "").strip()
    if proc.returncode != 0:
        last = (proc.stderr or text).strip().splitlines()[-1:] or [""]
        what = "the Docker engine is not reachable" if req.name == "docker" else f"`{req.name} version` failed"
        return Status.missing, f"{what}: {last[0][:200]}"
    if req.name == "docker":
        client, _, server = text.partition(" ")
        return Status.ok, f"client {client}, engine {server}" if server else f"client {client}"
    return Status.ok, text.splitlines()[0] if text else found


# -- running the doctor --------------------------------------------------------------------------
@dataclass
class LiveContext:
    """What a live check may use: the environment and home to find credentials, the stack's config
    (`gcp:project`, `azure-native:subscriptionId`, ...) and the per-call timeout."""

    env: Mapping[str, str]
    home: Path
    config: Mapping[str, str]
    timeout: float = DEFAULT_TIMEOUT_S


def requirements(plan: "Plan") -> list[Requirement]:
    """Everything this plan needs outside the program, status unknown (no call is made)."""
    from components.providers.base import get_provider

    reqs = tool_requirements(plan) + list(get_provider(plan.cloud).preflight(plan))
    return merge(replace(r, stack=r.stack or plan.stack) for r in reqs)


def check(plan: "Plan", ctx: LiveContext) -> list[Requirement]:
    """The plan's requirements, each checked live. CredentialsAbsent (exit 4) when the cloud's
    credentials are not there; every other failure of a check is that requirement's `unknown`."""
    from components.providers.base import get_provider

    provider = get_provider(plan.cloud)
    problem = provider.missing_credentials(ctx.env, ctx.home, ctx.config)
    if problem:
        raise CredentialsAbsent(f"{problem} (needed to check what {plan.stack} on {plan.cloud} needs; "
                                "or run `mlinfra doctor --offline` to list it without checking)")
    reqs = requirements(plan)
    tools = [settle(r, lambda r: check_tool(r, ctx.env, ctx.timeout)) if r.kind == "tool" else r for r in reqs]
    cloud = [r for r in tools if r.kind != "tool"]
    checked = {(r.kind, r.name): r for r in provider.preflight(plan, cloud, ctx)}
    return [checked.get((r.kind, r.name), r) if r.kind != "tool" else r for r in tools]


def exit_code(reqs: Iterable[Requirement]) -> int:
    return 1 if any(r.status == Status.missing for r in reqs) else 0


def document(reqs: Iterable[Requirement]) -> dict[str, Any]:
    return {"requirements": [r.to_dict() for r in reqs]}


def context(config: Mapping[str, str], env: Optional[Mapping[str, str]] = None, home: Optional[Path] = None,
            timeout: float = DEFAULT_TIMEOUT_S) -> LiveContext:
    env = dict(os.environ if env is None else env)
    home = home or Path(env.get("HOME") or Path.home())
    return LiveContext(env=env, home=home, config=dict(config), timeout=timeout)


def missing_lines(reqs: Iterable[Requirement]) -> list[str]:
    """One line per missing requirement with its fix, for `deploy`'s refusal."""
    return [f"{r.cloud} {r.kind} {r.name}: {r.detail or 'missing'}; fix: {r.fix}"
            for r in reqs if r.status == Status.missing]


def run(project_dir: Path, env: str, cloud: Optional[str], *, offline: bool,
        environ: Optional[Mapping[str, str]] = None, home: Optional[Path] = None,
        timeout: float = DEFAULT_TIMEOUT_S) -> list[Requirement]:
    """Plan `env` on each chosen cloud offline, derive its requirements, and (unless offline) check
    them. Credentials for every chosen cloud are looked for first, so a missing login is one line
    (exit 4) before any call is made."""
    from components.providers.base import get_provider
    from stacks.config import config_pairs
    from stacks.planning import default_jobs, plan_in_parallel, targets

    chosen = targets(project_dir, [env], cloud)
    for target in chosen:
        target.spec()  # a bad config is exit 3 before anything runs
    plans = plan_in_parallel(project_dir, chosen, jobs=default_jobs())
    if offline:
        return [r for plan in plans for r in requirements(plan)]
    contexts = [context(config_pairs(t.raw, env=t.env, cloud=t.cloud), environ, home, timeout) for t in chosen]
    problems = [f"{p.cloud}: {msg}" for p, ctx in zip(plans, contexts)
                if (msg := get_provider(p.cloud).missing_credentials(ctx.env, ctx.home, ctx.config))]
    if problems:
        raise CredentialsAbsent("cannot check without credentials: " + "; ".join(problems)
                                + " (or run `mlinfra doctor --offline` to list the requirements unchecked)")
    return [r for plan, ctx in zip(plans, contexts) for r in check(plan, ctx)]


def gate(project_dir: Path, env: str, cloud: str, environ: Optional[Mapping[str, str]] = None,
         home: Optional[Path] = None) -> list[Requirement]:
    """What `mlinfra deploy` runs first: OperationFailed (exit 1) naming each missing prerequisite and
    its fix, before anything is created. Unknown ones do not block (they are printed by `doctor`)."""
    from components.errors import OperationFailed

    reqs = run(project_dir, env, cloud, offline=False, environ=environ, home=home)
    lines = missing_lines(reqs)
    if lines:
        raise OperationFailed(f"{len(lines)} prerequisite(s) missing, nothing was deployed "
                              "(`mlinfra doctor` shows all; --skip-checks deploys anyway):\n  " + "\n  ".join(lines))
    return reqs
