"""The policy config: one file for --policy-pack-config and the offline runner; bad ones fail on one line."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from components.errors import ConfigError
from policy.__main__ import _schema, initial_config
from policy.config import DEFAULT_PATH, LEVELS, load
from policy.rules import BY_NAME, RULES
from policy.runner import evaluate
from tests.policy.fixtures import CASES


def write(tmp_path: Path, doc) -> Path:
    path = tmp_path / "policy.json"
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return path


def case(case_id: str):
    return next(c for c in CASES if c.id == case_id)


def test_defaults_follow_the_rules():
    config = load(None)
    assert config.level("no-public-storage") == "mandatory"
    assert config.level("budget-required") == "mandatory"
    assert config.settings_for("required-tags").tags == ["service", "environment", "stack", "managed-by"]
    assert config.settings_for("allowed-gpu-types").environments["preview"] == []


def test_default_file_has_pulumis_shape():
    """Top-level keys are rule names; values a level or an object: what `--policy-pack-config` parses."""
    doc = json.loads(DEFAULT_PATH.read_text())
    for key, value in doc.items():
        assert key in BY_NAME
        assert isinstance(value, (str, dict))
        level = value if isinstance(value, str) else value.get("enforcementLevel")
        assert level is None or level in LEVELS


def test_settings_match_the_policy_schemas():
    """What the engine would validate the config against: each setting's JSON type."""
    pack = load(None).pack_config()
    py_types = {"array": list, "object": dict, "string": str, "integer": int, "boolean": bool}
    for rule in RULES:
        schema = _schema(rule)
        settings = {k: v for k, v in pack[rule.name].items() if k != "enforcementLevel"}
        if schema is None:
            assert settings == {}
            continue
        assert set(settings) == set(schema.properties)
        for name, prop in schema.properties.items():
            if "type" in prop:
                assert isinstance(settings[name], py_types[prop["type"]]), (rule.name, name)


def test_initial_config_carries_levels_as_enums():
    from pulumi_policy import EnforcementLevel

    init = initial_config(load(None))
    assert init["budget-required"]["enforcementLevel"] is EnforcementLevel.MANDATORY
    assert init["required-tags"]["tags"] == ["service", "environment", "stack", "managed-by"]


def test_all_then_per_rule_levels(tmp_path: Path):
    config = load(write(tmp_path, {"all": "advisory", "no-public-storage": {"enforcementLevel": "mandatory"}}))
    assert config.level("s3-bucket-controls") == "advisory"
    assert config.level("no-public-storage") == "mandatory"


def test_override_keeps_other_settings_and_changes_verdicts(tmp_path: Path):
    config = load(write(tmp_path, {"required-tags": {"tags": ["service", "owner"]}}))
    assert config.level("required-tags") == "mandatory"
    found = [v for v in evaluate(case("bucket-tagged").plan(), config).violations if v.rule == "required-tags"]
    assert [v.message for v in found] == ["tags lack owner"]


def test_disabled_rule_reports_nothing(tmp_path: Path):
    config = load(write(tmp_path, {"no-admin-ports-open": "disabled"}))
    assert evaluate(case("sg-ssh-world").plan(), config).violations == []


def test_advisory_level_does_not_fail(tmp_path: Path):
    config = load(write(tmp_path, {"no-admin-ports-open": "advisory"}))
    report = evaluate(case("sg-ssh-world").plan(), config)
    assert report.mandatory_failed == 0 and report.advisory == 1


@pytest.mark.parametrize("doc, expected", [
    ("{not json", "not JSON: Expecting property name enclosed in double quotes at line 1"),
    ("[1, 2]", "expected a JSON object keyed by rule name"),
    ({"no-public-storge": "mandatory"}, "no-public-storge: unknown rule; did you mean 'no-public-storage'?"),
    ({"all": "strict"}, 'all: "strict" is not an enforcement level; allowed: advisory, mandatory, remediate, disabled'),
    ({"required-tags": {"enforcementLevel": "loud"}}, "required-tags.enforcementLevel: \"loud\" is not an enforcement"),
    ({"required-tags": 3}, "required-tags: must be an enforcement level string or an object"),
    ({"allowed-gpu-types": {"environments": {"dev": "g4dn.xlarge"}}},
     "allowed-gpu-types.environments.dev: Input should be a valid list"),
    ({"required-tags": {"keys": ["a"]}}, "required-tags.keys: unknown setting; allowed: tags"),
    ({"no-admin-ports-open": {"ports": ["ssh"]}}, "no-admin-ports-open.ports.0: Input should be a valid integer"),
])
def test_bad_config_names_the_key(tmp_path: Path, doc, expected: str):
    path = write(tmp_path, doc)
    with pytest.raises(ConfigError) as err:
        load(path)
    assert err.value.exit_code == 3
    assert err.value.message.startswith(f"policy config {path}: ")
    assert expected in err.value.message
    assert "\n" not in err.value.message


def test_unreadable_config(tmp_path: Path):
    with pytest.raises(ConfigError, match=r"policy config .*missing\.json: cannot read: No such file"):
        load(tmp_path / "missing.json")
