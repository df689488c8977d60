"""Stack settings files are read as Pulumi reads them, safely and with limits (stacks/yamlfile.py).

Pulumi parses stack files with go-yaml v2 (pulumi/pulumi sdk/go/common/encoding/marshal.go imports
"gopkg.in/yaml.v2"); go-yaml v2's resolve.go maps y/Y/yes/on/... to true and n/N/no/off/... to false,
and keeps timestamp-looking plain scalars as strings when decoding into interface{}. JSON (RFC 8259
section 6) has no Infinity or NaN. The YAML 1.2 spec (section 3.2.1.1) requires mapping keys to be
unique."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from components.errors import ConfigError
from stacks.config import environment_spec, load_file
from stacks.yamlfile import MAX_BYTES, MAX_DEPTH, MAX_NODES, parse, read


@pytest.mark.parametrize("word, value", [
    ("yes", True), ("Yes", True), ("on", True), ("ON", True), ("y", True), ("true", True),
    ("no", False), ("No", False), ("off", False), ("n", False), ("N", False), ("false", False),
    ("'no'", "no"), ('"on"', "on"), ("nope", "nope"),
])
def test_booleans_follow_go_yaml_v2_like_pulumi(word, value):
    assert parse(f"a: {word}\n", "f.yaml") == {"a": value}


def test_timestamps_stay_strings_as_go_yaml_v2_decodes_them():
    assert parse("a: 2024-01-01\nb: 2024-01-01T10:00:00Z\n", "f.yaml") == {"a": "2024-01-01",
                                                                          "b": "2024-01-01T10:00:00Z"}


def test_numbers_as_go_reads_them():
    doc = parse("a: 010\nb: 0x1f\nc: 1_000\nd: 1e3\ne: 1:30\nf: 0o17\n", "f.yaml")
    assert doc == {"a": 8, "b": 31, "c": 1000, "d": 1000.0, "e": "1:30", "f": 15}  # no base-60 numbers


def test_a_name_read_as_a_boolean_says_to_quote_it(tmp_path):
    path = tmp_path / "Pulumi.dev.yaml"
    path.write_text("config:\n  mlinfra:cloud: aws\n  mlinfra:service:\n    name: no\n")
    with pytest.raises(ConfigError) as err:
        environment_spec(load_file(path), env="dev", stack="dev")
    assert err.value.message.startswith("mlinfra:service.name: false is not allowed")
    assert "quote the value" in err.value.message


@pytest.mark.parametrize("text, needle", [
    ("a: 1\nb: 2\na: 3\n", "duplicate key 'a' at line 3, column 1 (first at line 1, column 1)"),
    ("a:\n  b: 1\n  b: 2\n", "duplicate key 'b' at line 3"),
    ("a: .inf\n", "'.inf' at line 1, column 4 is not allowed: numbers must be finite"),
    ("a: [-.inf]\n", "numbers must be finite"),
    ("a: .NaN\n", "numbers must be finite"),
    ("a: !!binary aGVsbG8=\n", "'binary' values at line 1"),
    ("a: !!set {x, y}\n", "'set' values"),
    ("a: !!omap [x: 1]\n", "'omap' values"),
    ("a: !!timestamp 2024-01-01\n", "'timestamp' values"),
    ("a: !!python/object/apply:os.system [echo]\n", "python/object/apply:os.system"),
    ("a: &a [*a]\n", "refers to itself"),
    ("1: x\n", "the key '1' at line 1, column 1 is read as int, not text; quote it"),
    ("on: x\n", "read as bool"),
    ("a: [\n", "not valid YAML"),
    ("a: \x07\n", "not valid YAML"),
    ("a: 1\n---\nb: 2\n", "not valid YAML"),
])
def test_hostile_yaml_is_one_config_error(text, needle):
    with pytest.raises(ConfigError) as err:
        parse(text, "f.yaml")
    assert needle in err.value.message and "\n" not in err.value.message
    assert err.value.exit_code == 3


def test_an_alias_bomb_is_refused_before_it_expands():
    # A billion-laughs document: 9 levels of 10 aliases each would expand to 10^9 values.
    lines = ["l0: &l0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]" for i in range(1, 9)]
    text = "\n".join(lines) + "\n"
    assert len(text) < 1024
    with pytest.raises(ConfigError, match=f"expands to more than {MAX_NODES} values through aliases"):
        parse(text, "bomb.yaml")


def test_anchors_within_limits_and_merge_keys_work():
    doc = parse("base: &b {x: 1, z: 2}\nd:\n  <<: *b\n  z: 3\n", "f.yaml")
    assert doc["d"] == {"x": 1, "z": 3}


@pytest.mark.parametrize("text", ["a: " + "[" * 5000 + "]" * 5000 + "\n",
                                  "".join("  " * i + f"k{i}:\n" for i in range(MAX_DEPTH + 5))])
def test_deep_nesting_is_refused_without_recursion(text):
    with pytest.raises(ConfigError, match=f"nested more than {MAX_DEPTH} levels"):
        parse(text, "deep.yaml")


def test_binary_non_utf8_and_oversized_files(tmp_path):
    binary = tmp_path / "Pulumi.bin.yaml"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe")
    with pytest.raises(ConfigError, match=r"not UTF-8 text \(byte 0x89 at offset 0\)"):
        read(binary)
    latin1 = tmp_path / "Pulumi.latin.yaml"
    latin1.write_bytes("config:\n  mlinfra:cloud: caf\xe9\n".encode("latin-1"))
    with pytest.raises(ConfigError, match="not UTF-8"):
        read(latin1)
    big = tmp_path / "Pulumi.big.yaml"
    big.write_bytes(b"#" * (MAX_BYTES + 1))
    with pytest.raises(ConfigError, match="larger than"):
        read(big)


# Any text at all: a value, or one ConfigError; never another exception.
@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_any_text_parses_or_is_a_config_error(text):
    try:
        parse(text, "fuzz.yaml")
    except ConfigError as err:
        assert err.exit_code == 3


yaml_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20))
yaml_values = st.recursive(yaml_scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=10), inner, max_size=4), max_leaves=20)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["cloud", "env", "regions", "tags", "service", "overrides", "preview",
                                        "protected", "region", "servce"]), yaml_values, max_size=6))
def test_any_config_values_give_a_spec_or_config_errors(values):
    """Hypothesis over configs: whatever the values, environment_spec answers with a spec or a
    ConfigError (exit 3), never an internal error."""
    from stacks.config import from_pairs

    raw = from_pairs({f"mlinfra:{k}": v for k, v in values.items()}, source="fuzz")
    try:
        environment_spec(raw, env="dev", stack="dev")
    except ConfigError as err:
        assert err.exit_code == 3 and err.message
