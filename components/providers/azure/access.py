"""How a person gets onto a machine: not over SSH from the internet.

An Azure Linux VM must be created with a password or an SSH key. We give it an SSH key nobody holds:
an Ed25519 public key hashed out of the stack's name, so no private key exists for it, and the plan
stays deterministic. A shell is had through Run Command (`az vmss run-command invoke`) or Bastion
with a key added at that time, both gated by Entra ID roles.
"""
from __future__ import annotations

import base64
import hashlib
import struct

ADMIN_USER = "mlinfra"
_P = 2**255 - 19
_D = (-121665 * pow(121666, _P - 2, _P)) % _P


def unheld_ssh_key(seed: str) -> str:
    """An `ssh-ed25519` public key derived from `seed`, whose private key nobody knows.

    A hash picks the point's y coordinate; it is kept once the curve has a point there (x^2 is a
    square mod p). Finding its private key would be solving the discrete logarithm.
    """
    counter = 0
    while True:
        digest = hashlib.sha256(f"{seed}/{counter}".encode()).digest()
        y = int.from_bytes(digest, "little") & ((1 << 255) - 1)
        counter += 1
        if y >= _P:
            continue
        x2 = (y * y - 1) * pow(_D * y * y + 1, _P - 2, _P) % _P
        if x2 == 0 or pow(x2, (_P - 1) // 2, _P) == 1:
            break
    point = y.to_bytes(32, "little")
    blob = b"".join(struct.pack(">I", len(part)) + part for part in (b"ssh-ed25519", point))
    return f"ssh-ed25519 {base64.b64encode(blob).decode()} mlinfra-no-private-key"


def linux_os_profile(ctx, computer_name_prefix: str, custom_data=None) -> dict:
    profile = {
        "computer_name_prefix": computer_name_prefix,
        "admin_username": ADMIN_USER,
        "linux_configuration": {
            "disable_password_authentication": True,
            "provision_vm_agent": True,
            "ssh": {"public_keys": [{"path": f"/home/{ADMIN_USER}/.ssh/authorized_keys",
                                     "key_data": unheld_ssh_key(f"{ctx.spec.project}/{ctx.spec.stack}")}]},
        },
    }
    if custom_data is not None:
        profile["custom_data"] = custom_data
    return profile


def computer_name_prefix(ctx, role: str) -> str:
    # Linux scale-set computer name prefix: 1-58 characters (letters, digits, '-'), not starting with '-'.
    return f"{ctx.prefix}-{role}"[:50].rstrip("-")
