import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pytest  # noqa: E402


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """A scratch project with the `pulumi` test double first on PATH (tests/fakes/)."""
    from tests.fakes.harness import install

    return install(tmp_path, monkeypatch)
