"""The settings files of stacks mlinfra configures, kept out of the repository (see stacks/workspace.py).

- Stacks mlinfra writes config for (`dev-aws`, `pr-42`): Pulumi.<stack>.yaml lives in a per-user folder
  and is put beside Pulumi.yaml only while an operation runs (`parked_stack_settings`).
- Stacks configured by the project's own, usually tracked, Pulumi.<env>.yaml (`dev`, `prod`): that file
  is byte-for-byte the same after any operation (`tracked_file_untouched`).
"""
from __future__ import annotations

import hashlib
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from stacks.credentials import state_dir


def settings_store(project_dir: Path) -> Path:
    key = hashlib.sha256(str(Path(project_dir).resolve()).encode()).hexdigest()[:10]
    return state_dir() / "settings" / f"{Path(project_dir).resolve().name}-{key}"


SECRETS_KEYS = ("secretsprovider", "encryptedkey", "encryptionsalt")


@contextmanager
def tracked_file_untouched(live: Path, store: Path) -> Iterator[None]:
    """The project's own Pulumi.<stack>.yaml (dev, prod: usually tracked in git) is byte-for-byte the
    same after any operation. `pulumi stack init` writes the stack's secrets settings (passphrase salt)
    into it: those are kept in the per-user store and put back only for the operation's duration."""
    import yaml

    original = live.read_bytes()
    saved = store / f"{live.stem}.secrets.yaml"
    try:
        doc = yaml.safe_load(original) or {}
    except yaml.YAMLError:
        doc = {}
    secrets = yaml.safe_load(saved.read_text()) if saved.is_file() else None
    if isinstance(doc, dict) and isinstance(secrets, dict) and not any(k in doc for k in SECRETS_KEYS):
        text = original.decode("utf-8")
        extra = yaml.safe_dump(secrets, sort_keys=False)
        combined = text + ("" if text.endswith("\n") or not text else "\n") + extra
        try:
            ok = yaml.safe_load(combined) == {**doc, **secrets}
        except yaml.YAMLError:
            ok = False
        live.write_text(combined if ok else yaml.safe_dump({**doc, **secrets}, sort_keys=False))
    try:
        yield
    finally:
        now = live.read_bytes() if live.is_file() else b""
        if now != original:
            try:
                changed = yaml.safe_load(now) or {}
            except yaml.YAMLError:
                changed = {}
            kept = {k: changed[k] for k in SECRETS_KEYS if isinstance(changed, dict) and k in changed}
            if kept:
                store.mkdir(parents=True, exist_ok=True)
                saved.write_text(yaml.safe_dump(kept, sort_keys=False))
            live.write_bytes(original)


@contextmanager
def parked_stack_settings(project_dir: Path, stack: str, *, from_file: bool = False) -> Iterator[None]:
    if from_file:
        with tracked_file_untouched(Path(project_dir) / f"Pulumi.{stack}.yaml", settings_store(project_dir)):
            yield
        return
    live = Path(project_dir) / f"Pulumi.{stack}.yaml"
    parked = settings_store(project_dir) / live.name
    # A settings file already in the project is the user's (Pulumi.dev.yaml): used as-is, never moved.
    existed = live.exists()
    if not existed and parked.is_file():
        shutil.copy2(parked, live)
    try:
        yield
    finally:
        if not existed and live.is_file():
            parked.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(live), str(parked))
