"""Preview stack names, preview overrides, protection rules (stacks/environments.py)."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from components.errors import ConfigError, ProtectedStack
from components.providers.base import cloud_names, get_provider
from components.spec import ENV_NAME
from stacks.config import environment_spec
from stacks.environments import (PREVIEW_NAME_MAX, PREVIEW_SERVICE_OVERRIDES, branch_stack_name,
                                 ensure_destroyable, is_expired, parse_ttl, preview_raw_config,
                                 preview_stack_name, stack_name)
from stacks.offline import plan_environment

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)

DEV = """\
config:
  mlinfra:cloud: gcp
  mlinfra:regions: {aws: eu-west-1, gcp: europe-west1, azure: westeurope}
  mlinfra:tags: {team: ml-platform}
  mlinfra:service:
    name: digits
    registry: {keep_last_images: 10}
    serving: {min_instances: 0, max_instances: 3, cpu: 2, memory_gib: 4, concurrency: 40}
    training: {enabled: true, machines: 2}
    budget: {monthly_usd: 200}
  mlinfra:overrides:
    aws:
      serving: {min_instances: 1}
  gcp:project: demo-project
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "Pulumi.yaml").write_text("name: mlinfra\nruntime: python\n")
    (tmp_path / "Pulumi.dev.yaml").write_text(DEV)
    (tmp_path / "Pulumi.prod.yaml").write_text("config:\n  mlinfra:cloud: gcp\n")
    (tmp_path / "Pulumi.staging.yaml").write_text("config:\n  mlinfra:cloud: aws\n")
    return tmp_path


# -- names ------------------------------------------------------------------------------------------
def test_pr_names():
    assert preview_stack_name(pr=42) == "pr-42"
    assert preview_stack_name(pr=1) == "pr-1"
    for bad in (0, -3):
        with pytest.raises(ConfigError, match="--pr"):
            preview_stack_name(pr=bad)


def test_exactly_one_of_pr_or_branch():
    with pytest.raises(ConfigError, match="exactly one"):
        preview_stack_name(pr=1, branch="x")
    with pytest.raises(ConfigError, match="exactly one"):
        preview_stack_name()


def test_plain_branch_names_stay_readable():
    assert branch_stack_name("fix-login") == "br-fix-login"
    assert branch_stack_name("a") == "br-a"


@pytest.mark.parametrize("branch, stem", [
    ("feature/Login", "br-featur-"),
    ("fix/ab", "br-fix-ab-"),
    ("dependabot/pip/pydantic-2.9", "br-depend-"),
    ("Ünïcødé-ßranch", "br-unicde-"),  # accents folded, letters without an ASCII form dropped
    ("日本語のブランチ", "br-"),
    ("--__--", "br-"),
    ("fix_bug#12", "br-fix-bu-"),
    ("fix-abcdefgh", "br-fix-ab-"),  # slug-exact but shaped like a hashed name: hashed as well
])
def test_odd_branch_names_are_slugged_with_a_hash(branch, stem):
    name = branch_stack_name(branch)
    assert re.fullmatch(re.escape(stem) + r"[a-z2-7]{8}", name), name
    assert re.fullmatch(ENV_NAME, name) and len(name) <= PREVIEW_NAME_MAX


def test_very_long_branch_names_are_truncated_with_a_hash():
    long = "feature/" + "very-long-branch-name-" * 20
    name = branch_stack_name(long)
    assert len(name) == PREVIEW_NAME_MAX
    assert name.startswith("br-featur-") and re.fullmatch(r".*-[a-z2-7]{8}", name)
    # The same prefix, a different tail: a different stack.
    assert branch_stack_name(long + "x") != name


def test_branches_that_slug_alike_get_distinct_stacks():
    names = {branch_stack_name(b) for b in ("feature/x", "feature-x", "feature_x", "Feature-X", "feature--x")}
    assert len(names) == 5
    assert branch_stack_name("feature/x") == branch_stack_name("feature/x")  # stable across runs


def test_a_branch_named_like_another_branchs_stack_gets_its_own():
    # Issue 20: `feature/x` and a branch literally named like its stack must not share a stack.
    taken = branch_stack_name("feature/x")
    assert branch_stack_name(taken.removeprefix("br-")) != taken


# Realistic branch names: a kind, a ticket or a topic, words; what people and bots push.
_word = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=12)
realistic_branches = st.builds(
    lambda kind, words, sep, ticket: f"{kind}/{ticket}{sep.join(words)}",
    st.sampled_from(["feature", "fix", "bugfix", "hotfix", "chore", "release", "dependabot/pip", "renovate", "user"]),
    st.lists(_word, min_size=1, max_size=6),
    st.sampled_from(["-", "_", ".", "/"]),
    st.sampled_from(["", "JIRA-1234-", "gh-42-", "v1.2.3-"]),
) | st.text(alphabet="abcdefghijklmnopqrstuvwxyzABC0123456789-_./", min_size=1, max_size=60).filter(str.strip)


@settings(max_examples=300, deadline=None)
@given(st.lists(realistic_branches, min_size=2, max_size=60, unique=True))
def test_distinct_branches_get_distinct_stacks(branches):
    """Injective on realistic names (the issue counted ~15 collisions in 1,200 with a 4-hex hash)."""
    names = [branch_stack_name(b) for b in branches]
    assert len(set(names)) == len(names), sorted(zip(names, branches))


def test_twelve_hundred_generated_branch_names_do_not_collide():
    branches = {f"{kind}/{topic}-{n}" for kind in ("feature", "fix", "chore", "Feature", "fix_")
                for topic in ("login", "Login", "log-in", "log_in", "payments") for n in range(48)}
    assert len(branches) == 1200
    assert len({branch_stack_name(b) for b in branches}) == 1200


def test_empty_branch_is_refused():
    with pytest.raises(ConfigError, match="--branch"):
        branch_stack_name("  ")


@settings(max_examples=300, deadline=None)
@given(st.text(min_size=1, max_size=300).filter(lambda s: s.strip()))
def test_any_branch_gives_a_valid_stack_on_every_cloud(branch):
    name = branch_stack_name(branch)
    assert len(name) <= PREVIEW_NAME_MAX
    for cloud in cloud_names():
        assert re.fullmatch(ENV_NAME, stack_name(name, cloud, "gcp")), (branch, name, cloud)


@pytest.mark.parametrize("cloud", cloud_names())
def test_longest_preview_names_fit_every_clouds_resource_names(project, cloud):
    """Derived names (buckets, registries, accounts...) of the longest preview stacks pass each cloud's rules."""
    for kwargs in ({"branch": "feature/" + "x" * 200}, {"branch": "release-2026-03-01-hotfix"},
                   {"pr": 999999999}):
        stack, raw = preview_raw_config(project, now=NOW, **kwargs)
        spec = environment_spec(raw, env=stack, stack=stack_name(stack, cloud, "gcp"), cloud=cloud)
        get_provider(cloud).check_names(spec)


# -- ttl ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text, hours", [("72h", 72), ("3d", 72), ("1", 1), (" 12H ", 12), ("30d", 720)])
def test_ttl(text, hours):
    assert parse_ttl(text) == hours


@pytest.mark.parametrize("text", ["0h", "31d", "soon", "-1h", "1w"])
def test_bad_ttl(text):
    with pytest.raises(ConfigError, match="--ttl"):
        parse_ttl(text)


# -- overrides ------------------------------------------------------------------------------------------
def test_preview_config_is_dev_with_preview_overrides(project):
    stack, raw = preview_raw_config(project, pr=42, ttl_hours=48, now=NOW)
    assert stack == "pr-42"
    values = raw.values
    assert values["env"] == "pr-42"
    assert values["preview"] == {"source": "pr-42", "ttl_hours": 48, "expires_at": "2026-03-03T12:00:00Z"}
    service = values["service"]
    assert service["serving"] == {"min_instances": 0, "max_instances": 2, "cpu": 1.0, "memory_gib": 2.0,
                                  "concurrency": 40}  # dev's concurrency kept
    assert service["training"] == {"enabled": False, "machines": 0}
    assert service["storage"] == {"force_destroy": True}
    assert service["budget"] == {"monthly_usd": None}
    assert service["registry"] == {"keep_last_images": 10}
    assert values["tags"] == {"team": "ml-platform"}
    assert values["overrides"] == {"aws": {"serving": {"min_instances": 1}}}
    assert raw.passthrough == {"gcp:project": "demo-project"}
    # The data in one place was not mutated by the merge.
    assert PREVIEW_SERVICE_OVERRIDES["serving"]["max_instances"] == 2


def test_preview_spec_on_each_cloud_keeps_devs_cloud_overrides(project):
    stack, raw = preview_raw_config(project, branch="feature/Login", now=NOW)
    gcp = environment_spec(raw, env=stack, stack=stack, cloud="gcp")
    aws = environment_spec(raw, env=stack, stack=f"{stack}-aws", cloud="aws")
    assert gcp.service.serving.min_instances == 0
    assert aws.service.serving.min_instances == 1  # overrides.aws from dev still applies
    assert gcp.service.training.enabled is False and gcp.service.storage.force_destroy is True
    assert gcp.service.budget.monthly_usd is None
    assert gcp.preview is not None and gcp.preview.source == "feature/Login"
    assert gcp.preview.expires_at == (NOW + timedelta(hours=72)).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_unicode_branch_source_is_a_valid_tag_value(project):
    stack, raw = preview_raw_config(project, branch="fix/ümlaut bug", now=NOW)
    spec = environment_spec(raw, env=stack, stack=stack, cloud="gcp")
    assert spec.preview.source == "fix/-mlaut-bug"
    environment_spec(raw.__class__(values={**raw.values, "tags": {"preview-of": spec.preview.source}}),
                     env=stack, stack=stack, cloud="gcp")  # passes the tag value rule


def test_preview_plans_offline_with_stack_name_and_expiry_on_aws():
    """What `mlinfra plan --pr 42 --cloud aws` runs: the lead's plan command calls exactly this."""
    stack, raw = preview_raw_config(ROOT, pr=42, now=NOW)
    plan = plan_environment(ROOT, env=stack, cloud="aws", raw=raw)
    assert (plan.stack, plan.env, plan.cloud) == ("pr-42-aws", "pr-42", "aws")
    assert plan.outputs["expires_at"] == "2026-03-04T12:00:00Z"
    bucket = plan.of_type("aws:s3/bucket:Bucket")[0]
    assert bucket.inputs["forceDestroy"] is True
    assert bucket.inputs["tags"]["expires-at"] == "2026-03-04T12:00:00Z"
    assert bucket.inputs["tags"]["preview-of"] == "pr-42"
    assert bucket.inputs["tags"]["stack"] == "pr-42-aws"


@pytest.mark.parametrize("cloud", cloud_names())
def test_preview_plans_offline_on_every_cloud(cloud):
    stack, raw = preview_raw_config(ROOT, branch="feature/" + "long-name-" * 10, now=NOW)
    plan = plan_environment(ROOT, env=stack, cloud=cloud, raw=raw)
    assert plan.env == stack and plan.outputs["expires_at"] == "2026-03-04T12:00:00Z"
    assert plan.stack == stack_name(stack, cloud, "gcp")
    # No training machines and no budget in a preview (prod plans both on every cloud).
    assert [r.name for r in plan.resources if "train" in r.name] == []
    assert [r.type for r in plan.resources if r.type.lower().endswith(":budget")] == []
    assert "training_template" not in plan.outputs


# -- protection ---------------------------------------------------------------------------------------
PREVIEW = {"source": "pr-42", "ttl_hours": 72, "expires_at": "2026-03-04T12:00:00Z"}


@pytest.mark.parametrize("stack", ["dev", "prod", "dev-aws", "prod-azure", "staging", "staging-gcp"])
def test_builtin_environments_are_protected_even_with_preview_config(project, stack):
    with pytest.raises(ProtectedStack, match=f"stack {stack} is protected") as info:
        ensure_destroyable(stack, PREVIEW, project)
    assert info.value.exit_code == 5


def test_dev_and_prod_are_protected_without_a_project_dir():
    for stack in ("dev", "prod", "prod-gcp"):
        with pytest.raises(ProtectedStack):
            ensure_destroyable(stack, PREVIEW)


def test_a_stack_not_created_as_a_preview_is_protected(project):
    with pytest.raises(ProtectedStack, match="not created as a preview"):
        ensure_destroyable("pr-42", None, project)
    with pytest.raises(ProtectedStack, match="not created as a preview"):
        ensure_destroyable("scratch", {}, project)


def test_a_preview_is_destroyable(project):
    ensure_destroyable("pr-42", PREVIEW, project)
    ensure_destroyable("br-fix-login-aws", PREVIEW, project)


def test_expiry():
    assert is_expired(PREVIEW, NOW + timedelta(days=4))
    assert not is_expired(PREVIEW, NOW)
    assert not is_expired({"expires_at": "whenever"}, NOW)  # unreadable: never collected
    assert not is_expired(None, NOW)
