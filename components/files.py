"""Reading a file a user names, with limits: one regular file, bounded in size, as UTF-8 text.

Every reader of user files goes through here (stack settings, policy configs, plan documents,
drift data), so each refuses the same things the same way: a FIFO or device (reading would block
or never end), a file past its size limit (read at most limit + 1 bytes, never the whole), and
bytes that are not UTF-8. Each refusal is a ConfigError (exit 3) starting with `where`.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path

from components.errors import ConfigError


def require_regular(path: Path, where: str) -> None:
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read: {exc.strerror or exc}") from None
    if not stat.S_ISREG(mode):  # a FIFO or device would block or never end
        raise ConfigError(f"{where}: not a regular file")


def read_limited(path: Path, limit: int, where: str, too_large: str) -> bytes:
    """At most `limit` bytes of a regular file; `too_large` says what the file should have been."""
    require_regular(path, where)
    try:
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read: {exc.strerror or exc}") from None
    if len(data) > limit:
        size = f"{limit >> 20} MiB" if limit >= 1 << 20 and limit % (1 << 20) == 0 else f"{limit >> 10} KiB"
        raise ConfigError(f"{where}: larger than {size}; {too_large}")
    return data


def utf8(data: bytes, where: str, what: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{where}: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); {what}") from None
