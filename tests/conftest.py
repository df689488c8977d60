import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _no_plan_cache(monkeypatch):
    """Tests plan the live code (often monkeypatched): no test reads a plan cached by another.
    tests/stacks/test_plan_cache.py switches it on, in a folder of its own."""
    monkeypatch.setenv("MLINFRA_PLAN_CACHE", "off")


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """A scratch project with the `pulumi` test double first on PATH (tests/fakes/)."""
    from tests.fakes.harness import install

    return install(tmp_path, monkeypatch)
