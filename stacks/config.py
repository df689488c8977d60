"""Pulumi.<env>.yaml -> EnvironmentSpec, with errors a person can act on.

The `mlinfra:` namespace of a stack's config holds:

    mlinfra:cloud      the environment's own cloud (aws | gcp | azure)
    mlinfra:regions    {cloud: region}; a cloud without one uses its provider's default region
    mlinfra:tags       extra tags for every resource
    mlinfra:service    the ServiceSpec (components/spec.py)
    mlinfra:overrides  {cloud: partial ServiceSpec} merged over `service` on that cloud only
    mlinfra:env        the environment name when the stack is not named after it (dev-aws, pr-42)
    mlinfra:preview    set on preview stacks: {source, ttl_hours, expires_at}
    mlinfra:protected  true: destroy and data-deleting deploys are refused without --allow-protected,
                       stateful resources are protected and retained on delete (prod always is)

Other namespaces (`aws:`, `gcp:`, `azure-native:`) belong to the cloud providers and pass through.
Every error names the key path as `pulumi config` spells it (`mlinfra:service.storage.warm_after_days`).
"""
from __future__ import annotations

import copy
import difflib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional

from pydantic import BaseModel, ValidationError

from components.errors import ConfigError
from components.providers.base import cloud_names, get_provider
from components.spec import ENV_NAME, EnvironmentSpec, PreviewSpec, ServiceSpec
from stacks import yamlfile

NAMESPACE = "mlinfra"
KNOWN_KEYS = ("cloud", "env", "regions", "tags", "service", "overrides", "preview", "protected")


@dataclass(frozen=True)
class RawConfig:
    """The `mlinfra:` values of one config source, keyed without the namespace."""

    values: Mapping[str, Any]
    source: str = "config"
    passthrough: Mapping[str, Any] = field(default_factory=dict)  # other namespaces, untouched
    # Errors found while reading (unknown keys): reported with every other error of the file, in one run.
    problems: tuple[str, ...] = ()

    @property
    def home_cloud(self) -> str:
        return str(self.values.get("cloud", ""))


def find_project_dir(start: Optional[Path] = None) -> Path:
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "Pulumi.yaml").is_file():
            return folder
    raise ConfigError(f"no Pulumi.yaml in {here} or any folder above it; run from an mlinfra project or pass --project-dir")


def shown(text: str, limit: int = 60) -> str:
    """User text in a message: as given, cut when very long (an over-long --env must not flood the line)."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check_env_name(env: str, flag: str = "--env") -> str:
    if not isinstance(env, str) or not re.fullmatch(ENV_NAME, env):
        raise ConfigError(f"{flag} {shown(str(env))}: not an environment name; use 2-24 lowercase letters, digits "
                          "and hyphens, starting with a letter (it names Pulumi.<env>.yaml and the stack)")
    return env


def env_file(project_dir: Path, env: str) -> Path:
    check_env_name(env)
    path = project_dir / f"Pulumi.{env}.yaml"
    if not path.is_file():
        known = sorted(p.name[len("Pulumi."):-len(".yaml")] for p in project_dir.glob("Pulumi.*.yaml"))
        raise ConfigError(f"--env {env}: no {path.name} in {project_dir}; environments here: {', '.join(known) or 'none'}")
    return path


def builtin_envs(project_dir: Path) -> list[str]:
    return sorted(p.name[len("Pulumi."):-len(".yaml")] for p in project_dir.glob("Pulumi.*.yaml"))


def load_file(path: Path) -> RawConfig:
    """A stack settings file, parsed as Pulumi parses it, safely and with limits (stacks/yamlfile.py)."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{path}: is a folder; expected a Pulumi.<env>.yaml file")
    doc = yamlfile.read(path)
    doc = {} if doc is None else doc
    if not isinstance(doc, dict) or not isinstance(doc.get("config", {}) or {}, dict):
        raise ConfigError(f"{path.name}: expected a mapping with a 'config:' section")
    return from_pairs(doc.get("config") or {}, source=path.name)


def unknown_key(key: str, name: str) -> str:
    close = difflib.get_close_matches(name, KNOWN_KEYS, n=1, cutoff=0.6)
    hint = f"; did you mean {NAMESPACE}:{close[0]}?" if close else f"; known keys: {', '.join(KNOWN_KEYS)}"
    return f"{shown(key)}: unknown key{hint}"


def from_pairs(pairs: Mapping[str, Any], source: str = "config") -> RawConfig:
    """Split `namespace:key` pairs (as in a stack file or pulumi.Config) into ours and the rest.
    Unknown `mlinfra:` keys are kept as problems, reported with the file's other errors."""
    ours: dict[str, Any] = {}
    rest: dict[str, Any] = {}
    problems: list[str] = []
    for key, value in pairs.items():
        namespace, _, name = str(key).partition(":")
        if namespace != NAMESPACE:
            rest[key] = value
            continue
        if name not in KNOWN_KEYS:
            problems.append(unknown_key(str(key), name))
            continue
        ours[name] = decode(value)
    return RawConfig(values=ours, source=source, passthrough=rest, problems=tuple(problems))


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def decode(value: Any) -> Any:
    # pulumi.Config hands structured values over as JSON strings; stack files as YAML objects.
    # Strict JSON (no NaN / Infinity); anything unreadable stays the string it was, and fails validation.
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value, parse_constant=_no_constants)
        except (ValueError, RecursionError):
            return value
    return value


def merge(base: Any, over: Any) -> Any:
    """Deep-merge `over` into `base` (mappings merge key by key; anything else is replaced)."""
    if isinstance(base, Mapping) and isinstance(over, Mapping):
        out = dict(base)
        for key, value in over.items():
            out[key] = merge(base.get(key), value) if key in base else copy.deepcopy(value)
        return out
    return copy.deepcopy(over)


def _has_path(tree: Any, path: tuple) -> bool:
    for part in path:
        if not isinstance(tree, dict) or part not in tree:
            return False
        tree = tree[part]
    return True


def _model_at(model: type[BaseModel], loc: tuple) -> Optional[type[BaseModel]]:
    for part in loc:
        info = model.model_fields.get(str(part))
        ann = getattr(info, "annotation", None) if info else None
        if not (isinstance(ann, type) and issubclass(ann, BaseModel)):
            return None
        model = ann
    return model


def _describe(err: dict, model: type[BaseModel], key_of) -> str:
    loc = tuple(err["loc"])
    path = key_of(loc)
    if err["type"] == "extra_forbidden":
        parent = _model_at(model, loc[:-1])
        fields = list(parent.model_fields) if parent else []
        close = difflib.get_close_matches(str(loc[-1]), fields, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"allowed keys: {', '.join(fields)}"
        return f"{path}: unknown key; {hint}"
    msg = err["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    if err["type"] in {"missing"}:
        return f"{path}: required"
    value = err.get("input")
    # Cross-field validators name the field they blame as "field: message" (components/spec.py).
    blamed = re.match(r"^([A-Za-z_][\w-]*): (.*)$", msg)
    if blamed and isinstance(value, dict) and blamed.group(1) in value:
        path, msg, value = f"{path}.{blamed.group(1)}", blamed.group(2), value[blamed.group(1)]
    elif blamed and isinstance(value, dict):
        # The blamed field kept its default: show the value in force.
        owner = _model_at(model, loc)
        info = owner.model_fields.get(blamed.group(1)) if owner else None
        path, msg = f"{path}.{blamed.group(1)}", blamed.group(2)
        value = info.default if info is not None else None
    if isinstance(value, bool) and err["type"] in {"string_type", "literal_error", "string_pattern_mismatch"}:
        # go-yaml v2 (Pulumi) reads unquoted yes/no/on/off/y/n as booleans (stacks/yamlfile.py).
        msg += "; YAML reads unquoted yes/no/on/off/y/n as true/false, as Pulumi does: quote the value"
    text = json.dumps(value, default=str) if not isinstance(value, dict) else "{...}"
    return f"{path}: {shown(text)} is not allowed: {msg}"


def _validation_lines(exc: ValidationError, model: type[BaseModel], key_of) -> list[str]:
    return list(dict.fromkeys(_describe(err, model, key_of) for err in exc.errors()))


def _as_mapping(value: Any, key: str, errors: list[str]) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        errors.append(f"{key}: expected a mapping, got {shown(json.dumps(value, default=str))}")
        return {}
    return value


def _check_clouds(mapping: dict, key: str, clouds: tuple[str, ...], errors: list[str]) -> None:
    for name in mapping:
        if name not in clouds:
            close = difflib.get_close_matches(str(name), clouds, n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            errors.append(f"{key}.{shown(str(name))}: unknown cloud; allowed: {', '.join(clouds)}{hint}")


def _fail(errors: list[str]) -> None:
    if errors:
        raise ConfigError("\n".join(dict.fromkeys(errors)))


def environment_spec(
    raw: RawConfig,
    *,
    env: str,
    stack: str,
    cloud: Optional[str] = None,
    project: str = "mlinfra",
) -> EnvironmentSpec:
    """Build and validate the spec of `env` on `cloud` (default: the file's own cloud).

    Every error of the file is reported at once, one line each (unknown keys, bad regions or
    overrides, each invalid service value), so a user fixes a file in one pass."""
    values = raw.values
    errors: list[str] = list(raw.problems)
    env = str(values.get("env") or env)
    clouds = cloud_names()
    cloud = cloud or raw.home_cloud
    if not cloud:
        errors.append(f"{NAMESPACE}:cloud: required in {raw.source}; allowed: {', '.join(clouds)}")
    elif cloud not in clouds:
        close = difflib.get_close_matches(cloud, clouds, n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        errors.append(f"{NAMESPACE}:cloud: {shown(cloud)!r} is not a supported cloud; allowed: "
                      f"{', '.join(clouds)}{hint}")

    regions = _as_mapping(values.get("regions"), f"{NAMESPACE}:regions", errors)
    _check_clouds(regions, f"{NAMESPACE}:regions", clouds, errors)
    service = _as_mapping(values.get("service"), f"{NAMESPACE}:service", errors)
    overrides = _as_mapping(values.get("overrides"), f"{NAMESPACE}:overrides", errors)
    _check_clouds(overrides, f"{NAMESPACE}:overrides", clouds, errors)
    if errors and (not cloud or cloud not in clouds):
        _fail(errors)
    provider = get_provider(cloud)
    region = regions.get(cloud)
    if region is not None and not isinstance(region, str):
        errors.append(f"{NAMESPACE}:regions.{cloud}: {shown(json.dumps(region, default=str))} is not a region name")
        region = None
    region = region or provider.default_region

    cloud_over = _as_mapping(overrides.get(cloud), f"{NAMESPACE}:overrides.{cloud}", errors)
    merged = merge(service, cloud_over)

    def service_key(loc: tuple) -> str:
        dotted = ".".join(str(p) for p in loc)
        where = f"overrides.{cloud}" if _has_path(cloud_over, loc) else "service"
        return f"{NAMESPACE}:{where}{'.' + dotted if dotted else ''}"

    service_spec = None
    try:
        service_spec = ServiceSpec.model_validate(merged)
    except ValidationError as exc:
        errors.extend(_validation_lines(exc, ServiceSpec, service_key))

    preview = None
    if values.get("preview") is not None:
        try:
            preview = PreviewSpec.model_validate(_as_mapping(values["preview"], f"{NAMESPACE}:preview", errors))
        except ValidationError as exc:
            errors.extend(_validation_lines(exc, PreviewSpec,
                                            lambda loc: f"{NAMESPACE}:preview." + ".".join(map(str, loc))))

    from stacks.protection import protection_reason

    try:
        protected = protection_reason(env, stack, values, raw.source) is not None
    except ConfigError as err:
        errors.append(err.message)
        protected = False
    top = {
        "env": env, "stack": stack, "project": project, "cloud": cloud, "region": region,
        "tags": _as_mapping(values.get("tags"), f"{NAMESPACE}:tags", errors),
        "protected": protected,
    }
    top_keys = {"env": "--env / mlinfra:env", "stack": "stack name", "tags": f"{NAMESPACE}:tags"}

    def top_key(loc: tuple) -> str:
        head = str(loc[0]) if loc else ""
        return top_keys.get(head, f"{NAMESPACE}:{head}")

    try:
        provider.check_region(region, f"{NAMESPACE}:regions.{cloud}")
    except ConfigError as err:
        errors.append(err.message)
    spec = None
    try:  # with the default service when the file's failed, so that top-level errors are listed too
        spec = EnvironmentSpec.model_validate({**top, "service": service_spec or ServiceSpec(), "preview": preview})
    except ValidationError as exc:
        errors.extend(_validation_lines(exc, EnvironmentSpec, top_key))
    _fail(errors)
    return spec


def check_every_cloud(raw: RawConfig, *, env: str, stack_of) -> None:
    """`validate`: the file as a whole, not only the cloud asked for: its own cloud must be named,
    and every cloud it has overrides for must give a valid spec. All errors at once."""
    errors: list[str] = []
    clouds = [raw.home_cloud] if raw.home_cloud in cloud_names() else []
    overrides = raw.values.get("overrides")
    if isinstance(overrides, dict):
        clouds += [c for c in overrides if c in cloud_names() and c not in clouds]
    if not raw.home_cloud:
        errors.append(f"{NAMESPACE}:cloud: required in {raw.source}; allowed: {', '.join(cloud_names())}")
    for cloud in clouds or [raw.home_cloud or None]:
        try:
            environment_spec(raw, env=env, stack=stack_of(cloud), cloud=cloud)
        except ConfigError as err:
            errors.extend(err.message.splitlines())
    _fail(errors)


def confine_build_context(project_dir: Path, spec: EnvironmentSpec) -> Path:
    """The serving image's build context, resolved (symlinks too) and inside the project folder;
    a ConfigError otherwise: the image build reads and hashes every file of it."""
    serving = spec.service.serving
    root = Path(project_dir).resolve()
    context = (root / serving.build_context).resolve()
    if not context.is_relative_to(root):
        raise ConfigError(f"{NAMESPACE}:service.serving.build_context: {shown(serving.build_context)!r} is not allowed: "
                          f"it resolves to {shown(str(context))}, outside the project {root}")
    return context


def config_pairs(raw: RawConfig, *, env: str, cloud: str) -> dict[str, str]:
    """The config as the engine hands it to a program (and as `config set-all` writes it):
    `namespace:key` -> string, structured values as JSON, other namespaces passed through."""
    pairs: dict[str, Any] = dict(raw.passthrough)
    pairs.update({f"{NAMESPACE}:{k}": v for k, v in raw.values.items() if v is not None})
    pairs[f"{NAMESPACE}:env"] = env
    pairs[f"{NAMESPACE}:cloud"] = cloud
    return {k: v if isinstance(v, str) else json.dumps(v, separators=(",", ":")) for k, v in sorted(pairs.items())}
