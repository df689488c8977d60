"""Azure sizes: Container Apps CPU/memory pairs and the VM size for serving. Plain data, no SDK."""
from __future__ import annotations

import re
from typing import Optional

from components.errors import ConfigError

# Container Apps (Consumption profile): vCPU from 0.25 to 4 in steps of 0.25, memory exactly 2 GiB per
# vCPU (0.25 -> 0.5Gi ... 4 -> 8Gi). Any other pair is refused by the API at deploy time.
CONTAINER_APP_CPUS = tuple(q / 4 for q in range(1, 17))


def container_app_resources_error(cpu: float, memory_gib: float) -> Optional[str]:
    if cpu not in CONTAINER_APP_CPUS:
        return (f"mlinfra:service.serving.cpu: {cpu:g} is not allowed on Azure Container Apps: "
                "0.25 to 4 vCPU in steps of 0.25")
    if memory_gib != cpu * 2:
        return (f"mlinfra:service.serving.memory_gib: {memory_gib:g} is not allowed with cpu {cpu:g} on Azure "
                f"Container Apps: memory must be 2 GiB per vCPU (set memory_gib: {cpu * 2:g})")
    return None


def memory_string(memory_gib: float) -> str:
    """`2Gi`, `0.5Gi`: the form the Container Apps API expects."""
    return f"{memory_gib:g}Gi"


# General-purpose (Dsv5), memory-optimised (Esv5) and compute-optimised (Fsv2) sizes: (name, vCPU, GiB).
# All three support encryption at host and premium SSD; the smallest that fits is chosen.
VM_SIZES: tuple[tuple[str, int, int], ...] = (
    ("Standard_F2s_v2", 2, 4), ("Standard_D2s_v5", 2, 8), ("Standard_E2s_v5", 2, 16),
    ("Standard_F4s_v2", 4, 8), ("Standard_D4s_v5", 4, 16), ("Standard_E4s_v5", 4, 32),
    ("Standard_F8s_v2", 8, 16), ("Standard_D8s_v5", 8, 32), ("Standard_E8s_v5", 8, 64),
    ("Standard_F16s_v2", 16, 32), ("Standard_D16s_v5", 16, 64), ("Standard_E16s_v5", 16, 128),
    ("Standard_D32s_v5", 32, 128), ("Standard_E32s_v5", 32, 256),
    ("Standard_D64s_v5", 64, 256), ("Standard_E64s_v5", 64, 512),
)
_VM_SIZE_NAME = re.compile(r"Standard_[A-Za-z0-9_]+")


def serving_vm_size(serving) -> str:
    """The VM size for `serving` (its machine_type, or the smallest size with enough vCPU and memory)."""
    if serving.machine_type:
        if not _VM_SIZE_NAME.fullmatch(serving.machine_type):
            raise ConfigError(f"mlinfra:service.serving.machine_type: {serving.machine_type!r} is not an Azure VM "
                              "size; use a name such as Standard_D2s_v5")
        return serving.machine_type
    for name, vcpus, memory in VM_SIZES:
        if vcpus >= serving.cpu and memory >= serving.memory_gib:
            return name
    raise ConfigError(f"mlinfra:service.serving.memory_gib: no Azure VM size has {serving.cpu:g} vCPU and "
                      f"{serving.memory_gib:g} GiB (largest: 64 vCPU / 512 GiB); lower cpu / memory_gib or set "
                      "serving.machine_type")


# Accelerators whose Azure sizes need a driver the default image lacks. NVadsA10 v5 (A10) takes the NVIDIA
# GRID / GPU-P driver ("NVadsA10 v5-series": install the NVIDIA GPU-P (GRID) driver), while the HPC image
# carries the CUDA data-center driver (T4, A100 and H100 sizes: "Azure N-series NVIDIA GPU driver setup for
# Linux", CUDA drivers for NC/ND sizes).
NEEDS_OWN_IMAGE = {"A10": "the NVIDIA GRID (GPU-P) driver that NVadsA10 v5 sizes require"}

