"""Terminal output: rich for people, one JSON document on stdout for tools.

User text is printed literally, everywhere: both consoles have markup, emoji codes and the
highlighter off, so a name like `[/x]`, a value containing `:cloud:` or an install hint like
`pip install 'mlinfra-iac[app]'` prints as written. Styling is applied explicitly with `styled()`
(rich Text spans), never by interpreting strings; Tables and Trees given plain strings render them
through these consoles, so they are literal too.
"""
from __future__ import annotations

import json
import math
import re
import sys
from typing import Any, Union

from rich.console import Console
from rich.text import Text

_LITERAL = {"markup": False, "emoji": False, "highlight": False}
# Piped output (CI logs, files) gets room for type tokens instead of rich's 80-column default.
console = Console(width=None if sys.stdout.isatty() else 160, **_LITERAL)
err_console = Console(stderr=True, **_LITERAL)

Part = Union[str, tuple[str, str]]


def styled(*parts: Part) -> Text:
    """Text from plain strings and (text, style) pairs; no string is parsed for markup."""
    return Text.assemble(*parts)


# A run of more than this many characters without a space (an over-long --env, a pasted blob) is
# shortened in an error message, so that a message stays a line or two.
LONGEST_WORD = 200


def print_error(message: str) -> None:
    """The user error: `error: <message>`, the message as given (no markup), very long words shortened."""
    message = re.sub(rf"\S{{{LONGEST_WORD + 1},}}", lambda m: m.group()[: LONGEST_WORD - 3] + "...", message)
    err_console.print(styled(("error:", "bold red"), " ", message), soft_wrap=True)


def finite(value: Any) -> Any:
    """JSON has no Infinity / NaN (RFC 8259 section 6): non-finite floats become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


def emit_json(document: Any) -> None:
    try:
        text = json.dumps(document, indent=2, sort_keys=False, default=str, allow_nan=False)
    except ValueError:  # a non-finite number somewhere: strict JSON, never `Infinity` / `NaN`
        text = json.dumps(finite(document), indent=2, sort_keys=False, default=str, allow_nan=False)
    sys.stdout.write(text + "\n")
