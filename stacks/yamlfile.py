"""Read a stack settings file (Pulumi.<env>.yaml) the way Pulumi reads it, safely and with limits.

Pulumi parses stack files with go-yaml v2 (sdk/go/common/encoding/marshal.go imports
"gopkg.in/yaml.v2"), so mlinfra resolves plain scalars with the same table (go-yaml v2
resolve.go): `y Y yes Yes YES on On ON true True TRUE` are true and `n N no No NO off Off OFF
false False FALSE` are false (YAML 1.1), `~ null Null NULL` and empty are null, and timestamps stay
strings (go-yaml v2 keeps timestamp-looking values as strings when decoding into interface{}).
What the program reads at `pulumi up` is then what `mlinfra plan` validated.

Beyond Pulumi, a config is plain JSON data, and is refused (ConfigError, exit 3, one line with the
line number) when it is:
- larger than MAX_BYTES, not UTF-8, or holds characters YAML forbids;
- nested deeper than MAX_DEPTH, or expands through aliases to more than MAX_NODES values (an
  "alias bomb": a 1 KB file can expand to gigabytes);
- a mapping with a key given twice (go-yaml v3 and the YAML 1.2 spec reject it; v2 silently keeps
  the last one, which hides mistakes);
- tagged with a type JSON does not have (`!!binary`, `!!set`, `!!omap`, `!!pairs`, `!!timestamp`,
  language tags), or a non-finite number (`.inf`, `.nan`), or a key that is not text.
"""
from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from components.errors import ConfigError

MAX_BYTES = 1024 * 1024
MAX_DEPTH = 64
MAX_NODES = 100_000

_JSON_TAGS = {"tag:yaml.org,2002:" + t for t in ("str", "int", "float", "bool", "null", "map", "seq", "merge")}


class _ConfigLoader(yaml.SafeLoader):
    """SafeLoader with go-yaml v2's implicit types and no constructors for non-JSON types."""

    yaml_implicit_resolvers: dict = {}


def _resolver(tag: str, pattern: str, first: str) -> None:
    _ConfigLoader.add_implicit_resolver("tag:yaml.org,2002:" + tag, re.compile(pattern, re.X), list(first))


_ConfigLoader.yaml_implicit_resolvers = {}
_resolver("bool", r"^(?:y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$",
          "yYnNtTfFoO")
_resolver("null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""])
# Integers as Go's strconv.ParseInt(s, 0, 64) reads them (go-yaml v2: 0b, 0o, 0x, leading-0 octal,
# underscores); floats as go-yaml v2's yamlStyleFloat plus .inf / .nan. No base-60 numbers.
_resolver("int", r"""^(?:[-+]?0b[0-1_]+|[-+]?0o?[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$""",
          "-+0123456789")
_resolver("float", r"""^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?
                       |[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$""", "-+0123456789.")
_ConfigLoader.add_implicit_resolver("tag:yaml.org,2002:merge", re.compile(r"^(?:<<)$"), ["<"])


def _where(node: Node) -> str:
    mark = node.start_mark
    return f"line {mark.line + 1}, column {mark.column + 1}"


def _check_tags(node: Node, source: str) -> None:
    if node.tag not in _JSON_TAGS:
        kind = node.tag.removeprefix("tag:yaml.org,2002:")
        raise ConfigError(f"{source}: {kind!r} values at {_where(node)} are not allowed: a config holds text, "
                          "numbers, true/false, lists and mappings only")


def _walk(root: Node, source: str) -> None:
    """Count values as they would be after alias expansion (shared nodes counted per use, memoised),
    refuse self-referencing anchors and check tags, without recursion (the event pass bounds depth)."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        children: list[Node] = []
        if isinstance(node, SequenceNode):
            children = list(node.value)
        elif isinstance(node, MappingNode):
            children = [part for pair in node.value for part in pair]
        if not done:
            if id(node) in sizes:
                continue
            if id(node) in open_nodes:
                raise ConfigError(f"{source}: the anchor at {_where(node)} refers to itself; a config cannot be "
                                  "recursive")
            _check_tags(node, source)
            open_nodes.add(id(node))
            stack.append((node, True))
            stack.extend((c, False) for c in children if id(c) not in sizes)
            continue
        open_nodes.discard(id(node))
        sizes[id(node)] = 1 + sum(sizes.get(id(c), 1) for c in children)
        if sizes[id(node)] > MAX_NODES:
            raise ConfigError(f"{source}: expands to more than {MAX_NODES} values through aliases (at "
                              f"{_where(node)}); write the values out instead of repeating anchors")


def _check_depth(text: str, source: str) -> None:
    depth = 0
    for event in yaml.parse(text, Loader=_ConfigLoader):
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > MAX_DEPTH:
                mark = event.start_mark
                raise ConfigError(f"{source}: nested more than {MAX_DEPTH} levels deep at line {mark.line + 1}")
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1


class _Constructor:
    """Mapping construction that rejects duplicate and non-text keys and non-finite numbers."""

    @staticmethod
    def mapping(loader: _ConfigLoader, node: MappingNode) -> dict:
        seen: dict[Any, Node] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                raise ConfigError(f"{loader.source}: the key {key_node.value!r} at {_where(key_node)} is read as "
                                  f"{type(key).__name__}, not text; quote it")
            if key in seen:
                raise ConfigError(f"{loader.source}: duplicate key {key!r} at {_where(key_node)} (first at "
                                  f"{_where(seen[key])}); give each key once")
            seen[key] = key_node
        loader.flatten_mapping(node)
        return {loader.construct_object(k, deep=True): loader.construct_object(v, deep=True) for k, v in node.value}

    @staticmethod
    def floating(loader: _ConfigLoader, node: ScalarNode) -> float:
        value = yaml.SafeLoader.construct_yaml_float(loader, node)
        if not math.isfinite(value):
            raise ConfigError(f"{loader.source}: {node.value!r} at {_where(node)} is not allowed: numbers must be "
                              "finite (JSON has no infinity or NaN)")
        return value


_TRUE = frozenset({"y", "yes", "true", "on"})
_ConfigLoader.add_constructor("tag:yaml.org,2002:bool",
                              lambda loader, node: loader.construct_scalar(node).lower() in _TRUE)
_ConfigLoader.add_constructor("tag:yaml.org,2002:map", _Constructor.mapping)
_ConfigLoader.add_constructor("tag:yaml.org,2002:float", _Constructor.floating)


def _yaml_error(exc: yaml.YAMLError, source: str) -> ConfigError:
    mark = getattr(exc, "problem_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return ConfigError(f"{source}: not valid YAML{where}: {problem}")


def parse(text: str, source: str) -> Any:
    """The document in `text` as plain JSON-like data, or ConfigError."""
    loader = None
    try:
        loader = _ConfigLoader(text)
        loader.source = source
        _check_depth(text, source)
        node = loader.get_single_node()
        if node is None:
            return None
        _walk(node, source)
        return loader.construct_document(node)
    except ConstructorError as exc:
        raise _yaml_error(exc, source) from None
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, source) from None
    except RecursionError:  # belt and braces: the depth pass bounds nesting first
        raise ConfigError(f"{source}: nested too deeply") from None
    finally:
        if loader is not None:
            loader.dispose()


def read(path: Path) -> Any:
    """Read and parse a YAML file with the limits above."""
    from components.files import read_limited, utf8

    source = Path(path).name
    data = read_limited(path, MAX_BYTES, str(path), "a stack settings file is a few KiB")
    text = utf8(data, source, "is this a binary file?")
    return parse(text, source)
