"""The policy configuration: one JSON file for `pulumi preview --policy-pack-config` and the offline runner.

Its shape is Pulumi's policy-pack config, because the engine dictates it: every top-level key is
a rule name (or `all`), and its value is an enforcement level string or an object holding
`enforcementLevel` and the rule's own settings. Each CrossGuard policy is handed only its own
section, so a setting lives under the rule that reads it:

    {"all": "advisory",
     "required-tags": {"enforcementLevel": "mandatory", "tags": ["service", "environment"]},
     "allowed-gpu-types": {"environments": {"dev": ["nvidia-tesla-t4"], "preview": []}}}

`config.default.json` beside this file holds the defaults; a file given with `--config` (or
`--policy-pack-config`) is laid over them the way the engine does it: `all` first, then per rule,
settings key by key.
"""
from __future__ import annotations

import copy
import difflib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Optional

from pydantic import BaseModel, ValidationError

from components.errors import ConfigError
from policy.rules import BY_NAME

DEFAULT_PATH = Path(__file__).resolve().with_name("config.default.json")
# Pulumi's enforcement levels. `remediate` has no remediation here, so it counts as mandatory.
LEVELS = ("advisory", "mandatory", "remediate", "disabled")


@dataclass(frozen=True)
class PolicyConfig:
    levels: Mapping[str, str]  # rule name -> advisory | mandatory | disabled
    settings: Mapping[str, BaseModel]  # rule name -> its validated settings
    sources: tuple[str, ...] = ()

    def level(self, rule: str) -> str:
        level = self.levels.get(rule, BY_NAME[rule].level)
        return "mandatory" if level == "remediate" else level

    def settings_for(self, rule: str) -> BaseModel:
        return self.settings.get(rule) or BY_NAME[rule].settings()

    def pack_config(self) -> dict[str, dict[str, Any]]:
        """The merged configuration in Pulumi's shape (levels as strings)."""
        return {name: {"enforcementLevel": self.levels.get(name, rule.level),
                       **self.settings_for(name).model_dump(mode="json")}
                for name, rule in BY_NAME.items()}


MAX_BYTES = 1024 * 1024


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in JSON")


def _read(path: Path) -> dict[str, Any]:
    from components.files import read_limited, utf8

    where = f"policy config {path}"
    text = utf8(read_limited(path, MAX_BYTES, where, "not a policy config"), where, "not a policy config")
    try:
        doc = json.loads(text, parse_constant=_no_constants) if text.strip() else {}
    except json.JSONDecodeError as exc:
        raise ConfigError(f"policy config {path}: not JSON: {exc.msg} at line {exc.lineno}") from None
    except ValueError as exc:  # NaN / Infinity: JSON has no such numbers (RFC 8259 section 6)
        raise ConfigError(f"policy config {path}: not JSON: {exc}") from None
    except RecursionError:
        raise ConfigError(f"policy config {path}: nested too deeply") from None
    if not isinstance(doc, dict):
        raise ConfigError(f"policy config {path}: expected a JSON object keyed by rule name")
    return doc


def _level(value: Any, key: str, where: str) -> str:
    if not isinstance(value, str) or value not in LEVELS:
        shown = json.dumps(value, default=str)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        raise ConfigError(f"policy config {where}: {key}: {shown} is not an enforcement level; "
                          f"allowed: {', '.join(LEVELS)}")
    return value


def _merge(levels: dict[str, str], raw: dict[str, dict[str, Any]], doc: dict[str, Any], where: str) -> None:
    if "all" in doc:
        value = doc["all"]
        if isinstance(value, dict):
            value = value.get("enforcementLevel")
        level = _level(value, "all", where)
        for name in BY_NAME:
            levels[name] = level
    for key, value in doc.items():
        if key == "all":
            continue
        if key not in BY_NAME:
            close = difflib.get_close_matches(key, list(BY_NAME), n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"rules: {', '.join(BY_NAME)}"
            raise ConfigError(f"policy config {where}: {key}: unknown rule; {hint}")
        if isinstance(value, str):
            levels[key] = _level(value, f"{key}", where)
        elif isinstance(value, dict):
            props = dict(value)
            if "enforcementLevel" in props:
                levels[key] = _level(props.pop("enforcementLevel"), f"{key}.enforcementLevel", where)
            raw.setdefault(key, {}).update(copy.deepcopy(props))
        else:
            raise ConfigError(f"policy config {where}: {key}: must be an enforcement level string or an object")


def settings_of(rule_name: str, props: Mapping[str, Any], where: str) -> BaseModel:
    """Validate one rule's settings; a ConfigError names the first offending key."""
    model = BY_NAME[rule_name].settings
    try:
        return model.model_validate(dict(props))
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in (rule_name, *err["loc"]))
        if err["type"] == "extra_forbidden":
            allowed = ", ".join(model.model_fields) or "none"
            raise ConfigError(f"policy config {where}: {loc}: unknown setting; allowed: {allowed}") from None
        raise ConfigError(f"policy config {where}: {loc}: {err['msg']}") from None
    except (TypeError, ValueError) as exc:  # a settings value no validator expected
        raise ConfigError(f"policy config {where}: {rule_name}: invalid settings ({exc})") from None


def from_documents(*docs: tuple[dict[str, Any], str]) -> PolicyConfig:
    """Lay (document, where) pairs over each other, in order, and validate the result."""
    levels: dict[str, str] = {}
    raw: dict[str, dict[str, Any]] = {}
    for doc, where in docs:
        _merge(levels, raw, doc, where)
    where = docs[-1][1] if docs else "defaults"
    settings = {name: settings_of(name, raw.get(name, {}), where) for name in BY_NAME}
    return PolicyConfig(levels=levels, settings=settings, sources=tuple(w for _, w in docs))


def load(path: Optional[Path] = None) -> PolicyConfig:
    """The defaults (config.default.json), with `path` laid over them when given."""
    docs = [(_read(DEFAULT_PATH), str(DEFAULT_PATH))]
    if path is not None and Path(path).resolve() != DEFAULT_PATH:
        docs.append((_read(Path(path)), str(path)))
    return from_documents(*docs)
