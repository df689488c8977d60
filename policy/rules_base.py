"""What a rule is, and the helpers rules share. No pulumi, no cloud SDK: plain data in, messages out.

A resource rule is `check(type_token, inputs, settings) -> Iterable[str]`: one message per
violation of one resource. A stack rule is `check(stack, settings) -> Iterable[Finding]`: it
sees every resource at once, for checks that join resources or read the service description.
Inputs are the engine's camelCase wire names, as in a Plan or CrossGuard's `args.props`.

A value the engine does not know yet (an output of a resource still to be created) is one of
Pulumi's unknown sentinels. A rule never guesses past one: `get()` raises `Undecided`, which both
runners report as advisory ("cannot decide"), never as a pass.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Literal, Mapping, Optional, Sequence

from pydantic import BaseModel, ConfigDict

Level = Literal["mandatory", "advisory", "disabled"]
Severity = Literal["low", "medium", "high", "critical"]

# The engine's placeholders for values unknown during preview (pulumi/sdk properties.go; the same
# strings pulumi_policy.proxy checks, and what `pulumi preview --json` writes).
UNKNOWN_SENTINELS = frozenset({
    "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7",  # bool
    "3eeb2bf0-c639-47a8-9e75-3b44932eb421",  # number
    "04da6b54-80e4-46f7-96ec-b56ff0331ba9",  # string
    "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2",  # array
    "030794c1-ac77-496b-92df-f27374a8bd58",  # asset
    "e48ece36-62e2-4504-bad9-02848725956a",  # archive
    "dd056dcd-154b-4c76-9bd3-c8f88648b5ff",  # object
})

SERVICE_TYPE = "mlinfra:service:MLService"
STORAGE_PART = "mlinfra:storage:StorageTiers"
OPEN_IPV4 = "0.0.0.0/0"
OPEN_IPV6 = "::/0"


class Undecided(Exception):
    """A value the rule needs is unknown until the update runs."""

    def __init__(self, path: str):
        super().__init__(path)
        self.path = path


def is_unknown(value: Any) -> bool:
    return isinstance(value, str) and value in UNKNOWN_SENTINELS


def get(inputs: Any, path: str, default: Any = None) -> Any:
    """`inputs["a"]["b"]` for path "a.b"; `default` when absent; Undecided when unknown on the way."""
    value = inputs
    for part in path.split("."):
        if is_unknown(value):
            raise Undecided(path)
        if not isinstance(value, Mapping) or part not in value or value[part] is None:
            return default
        value = value[part]
    if is_unknown(value):
        raise Undecided(path)
    return value


def items(inputs: Any, path: str) -> list:
    """A list input (absent -> []); Undecided when the list or any element is unknown."""
    value = get(inputs, path, [])
    if not isinstance(value, Sequence) or isinstance(value, str):
        return [value]
    for element in value:
        if is_unknown(element):
            raise Undecided(path)
    return list(value)


def truthy(value: Any) -> bool:
    """Booleans arrive as bools, or as "true"/"false" strings where the schema says string (AWS launch templates)."""
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def json_doc(value: Any, path: str) -> Any:
    """A JSON-document input (IAM policies): parsed; Undecided when unknown or partly unknown."""
    if value is None:
        return None
    if is_unknown(value) or (isinstance(value, str) and any(s in value for s in UNKNOWN_SENTINELS)):
        raise Undecided(path)
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            raise Undecided(path) from None
    return value


def as_list(value: Any) -> list:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


class Settings(BaseModel):
    """Base of a rule's settings: the properties of its section in the policy config JSON."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class NoSettings(Settings):
    """A rule that reads no settings: its config section may hold only `enforcementLevel`."""


@dataclass(frozen=True)
class Resource:
    """One resource as a stack rule sees it."""

    urn: str
    type: str
    name: str
    inputs: Mapping[str, Any]
    parent: Optional[str] = None
    # property -> urns it was computed from (CrossGuard knows these; a Plan does not).
    deps: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Finding:
    """A stack rule's verdict on one resource (urn None: on the stack as a whole)."""

    message: str
    urn: Optional[str] = None
    undecided: bool = False
    path: Optional[str] = None  # for undecided findings: the input that was unknown


class Stack:
    """Every resource of one stack, with the joins stack rules need."""

    def __init__(self, resources: Iterable[Resource]):
        self.resources = list(resources)

    def of_type(self, *types: str) -> list[Resource]:
        return [r for r in self.resources if r.type in types]

    @property
    def service(self) -> Optional[Resource]:
        """The MLService component: its inputs are the service description (env, preview, service)."""
        found = self.of_type(SERVICE_TYPE)
        return found[0] if found else None

    def description(self, path: str, default: Any = None) -> Any:
        svc = self.service
        if svc is None:
            return default
        # Offline the description is the component's inputs; under CrossGuard a component shows its
        # registered outputs, where MLService repeats it as `description`.
        source = svc.inputs
        if "service" not in source and isinstance(source.get("description"), Mapping):
            source = source["description"]
        return get(source, path, default)

    def _tag_values(self, key: str) -> set[str]:
        values: set[str] = set()
        for r in self.resources:
            for prop in ("tags", "labels"):
                tags = r.inputs.get(prop)
                if isinstance(tags, Mapping) and isinstance(tags.get(key), str) and not is_unknown(tags[key]):
                    values.add(tags[key])
        return values

    @property
    def env(self) -> Optional[str]:
        """The environment: from the description, else from the `environment` tag every resource carries
        (a CrossGuard stack policy may see a component's registered outputs rather than its inputs)."""
        env = self.description("env")
        if env is None:
            found = self._tag_values("environment")
            env = found.pop() if len(found) == 1 else None
        return env

    @property
    def preview(self) -> bool:
        """A preview environment: said by the description, else by the expiry tag previews carry."""
        flag = self.description("preview")
        if flag is None:
            return bool(self._tag_values("expires-at"))
        return flag is True

    def refers(self, child: Resource, prop: str, target: Resource, *target_keys: str) -> Optional[bool]:
        """Does `child.<prop>` point at `target`? By dependency (CrossGuard), else by value: the
        target's name inputs (`target_keys`), which is what its id is on these clouds. None when the
        reference is unknown and no dependency says."""
        if target.urn in child.deps.get(prop, ()):
            return True
        value = child.inputs.get(prop)
        if value is None:
            return False
        if is_unknown(value):
            return None
        candidates = {target.inputs.get(k) for k in target_keys} - {None}
        return value in candidates


ResourceCheck = Callable[[str, Mapping[str, Any], Any], Iterable[str]]
StackCheck = Callable[[Stack, Any], Iterable[Finding]]


@dataclass(frozen=True)
class Rule:
    name: str
    description: str
    severity: Severity
    level: Level  # the default; the policy config may change it
    kind: Literal["resource", "stack"]
    check: Callable[..., Iterable[Any]]
    # The type tokens the rule reads (documentation, and checked against the installed SDKs by tests).
    types: frozenset[str] = frozenset()
    settings: type[BaseModel] = NoSettings


def resource_rule(name: str, description: str, *, severity: Severity, level: Level = "mandatory",
                  types: Iterable[str] = (), settings: type[BaseModel] = NoSettings):
    def wrap(fn: ResourceCheck) -> Rule:
        return Rule(name, description, severity, level, "resource", fn, frozenset(types), settings)
    return wrap


def stack_rule(name: str, description: str, *, severity: Severity, level: Level = "mandatory",
               types: Iterable[str] = (), settings: type[BaseModel] = NoSettings):
    def wrap(fn: StackCheck) -> Rule:
        return Rule(name, description, severity, level, "stack", fn, frozenset(types), settings)
    return wrap


def ports_cover(spec: Any, port: int) -> bool:
    """Does a port spec ("22", "20-30", "*", 22, None meaning all) include `port`?"""
    if spec is None or spec == "*" or spec == "":
        return True
    text = str(spec)
    if "-" in text:
        low, _, high = text.partition("-")
        try:
            return int(low) <= port <= int(high)
        except ValueError:
            return False
    try:
        return int(text) == port
    except ValueError:
        return False
