"""Machine image pins, as data (no SDK import, so `provider.check` can validate them).

Machine images are pinned, never "most recent": a lookup that follows the newest image would
replace a launch template (and roll every instance) on an unrelated deploy weeks later. A pin is
an exact AMI name (Amazon publishes the same name in every region) or an AMI id, taken from
`serving.machine_image` / `training.image` of the environment, else the defaults below. Moving to
a newer image is an edit of the pin in Pulumi.<env>.yaml (overrides.aws) or of a default here:
`mlinfra plan` / `pulumi preview` shows the launch template's new imageId, and the group's
instance refresh rolls it out only when that change is applied.
"""
from __future__ import annotations

import re
from typing import Optional

from components.errors import ConfigError

# Amazon Linux 2023 release names: al2023-ami-<release>-kernel-<version>-x86_64
# ("Amazon Linux 2023 on Amazon EC2", https://docs.aws.amazon.com/linux/al2023/ug/ec2.html).
# Can't be checked offline that this release is still published in every region: a live preview
# (or `mlinfra doctor`) resolves it.
AL2023 = "al2023-ami-2023.12.20261012.0-kernel-6.1-x86_64"
# AWS Deep Learning Base OSS Nvidia Driver GPU AMI (Ubuntu 22.04): NVIDIA driver, CUDA, Docker and
# the NVIDIA container toolkit preinstalled; dated release names
# (https://docs.aws.amazon.com/dlami/latest/devguide/appendix-ami-release-notes.html). The date is
# the 2026-10-06 release seen in the release notes (found for the ARM64 twin of this image); that
# the x86_64 image carries the same date could not be confirmed offline: `mlinfra doctor` must
# resolve the name (ec2:DescribeImages) before the first deploy, and a wrong pin fails the lookup
# loudly instead of picking another image.
DLAMI = "Deep Learning Base OSS Nvidia Driver GPU AMI (Ubuntu 22.04) 20261006"

AMI_ID = r"ami-[0-9a-f]{8}([0-9a-f]{9})?"
# EC2 image names: 3-128 characters of letters, digits, ( ) [ ] space . / - ' @ _
# (RegisterImage, Name: https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_RegisterImage.html).
AMI_NAME = r"[A-Za-z0-9()\[\] ./'@_-]{3,128}"


def is_id(pin: str) -> bool:
    return re.fullmatch(AMI_ID, pin) is not None


def checked(pin: Optional[str], default: str, key: str) -> str:
    """The pin to use, or a ConfigError naming `key` when it is neither an AMI id nor an AMI name."""
    if pin is None:
        return default
    if is_id(pin) or (re.fullmatch(AMI_NAME, pin) and "*" not in pin and "?" not in pin):
        return pin
    raise ConfigError(f"mlinfra:service.{key}: {pin!r} is not an AMI id (ami-0123456789abcdef0) or an exact AMI name "
                      "(3-128 of letters, digits, ( ) [ ] space . / - ' @ _; no wildcards: the image is pinned)")
