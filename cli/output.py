"""Terminal output: rich for people, one JSON document on stdout for tools."""
from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console

# Piped output (CI logs, files) gets room for type tokens instead of rich's 80-column default.
console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
err_console = Console(stderr=True, highlight=False)


def emit_json(document: Any) -> None:
    sys.stdout.write(json.dumps(document, indent=2, sort_keys=False, default=str) + "\n")
