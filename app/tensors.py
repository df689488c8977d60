"""Tensor data of the Open Inference Protocol: datatypes, the JSON and binary forms, safe conversion.

Sources:
- KServe Open Inference Protocol, REST (kserve/open-inference-protocol,
  specification/protocol/inference_rest.md): "Tensor Data Types" (name -> size in bytes),
  data in row-major order, nested or flat.
- Triton binary tensor data extension (triton-inference-server/server,
  docs/protocol/extension_binary_data.md): binary tensor data is little-endian, row major,
  without stride or padding, each element in the native size of its datatype.

The model evaluates in float64. Every numeric OIP datatype converts to float64 exactly for
the values a pixel may take ([0, 16]), so a request in FP64, FP16, BF16 or any INT/UINT type is
accepted and converted (as the KServe model servers accept the client's numeric types); values
out of range, non-finite values, fractional values declared as integers and the non-numeric
types (BOOL, BYTES) are refused with a message that says what is allowed.
"""
from __future__ import annotations

import numpy as np

from app.model import N_FEATURES, PIXEL_MAX, PIXEL_MIN, InputError, flatten_numbers

# datatype -> NumPy dtype of its binary form. BF16 has no NumPy dtype: its bits are the upper
# half of an FP32, carried here as uint16 and widened in _bf16_to_float32.
NUMERIC = {"UINT8": "<u1", "UINT16": "<u2", "UINT32": "<u4", "UINT64": "<u8",
           "INT8": "<i1", "INT16": "<i2", "INT32": "<i4", "INT64": "<i8",
           "FP16": "<f2", "BF16": "<u2", "FP32": "<f4", "FP64": "<f8"}
INTEGER = frozenset(name for name in NUMERIC if "INT" in name)
# In the OIP table but without a lossless meaning as a pixel intensity.
NOT_NUMERIC = frozenset({"BOOL", "BYTES"})
ALLOWED = ", ".join(NUMERIC)


def datatype(value) -> str:
    if value in NUMERIC:
        return value
    if value in NOT_NUMERIC:
        raise InputError(f"datatype {value} cannot be converted to pixel values; use one of {ALLOWED}")
    raise InputError(f"unknown datatype {value!r}; use one of {ALLOWED}")


def itemsize(name: str) -> int:
    return np.dtype(NUMERIC[name]).itemsize


def _bf16_to_float32(bits: np.ndarray) -> np.ndarray:
    return (bits.astype(np.uint32) << 16).view(np.float32)


def _round_to(name: str, values: np.ndarray) -> np.ndarray:
    """JSON numbers declared FP32/FP16/BF16 mean the nearest value of that type."""
    if name == "FP32":
        return values.astype(np.float32).astype(np.float64)
    if name == "FP16":
        return values.astype(np.float16).astype(np.float64)
    if name == "BF16":  # round to nearest even on the upper 16 bits of the FP32
        bits = values.astype(np.float32).view(np.uint32)
        bits = (bits + np.uint32(0x7FFF) + ((bits >> 16) & np.uint32(1))) & np.uint32(0xFFFF0000)
        return bits.view(np.float32).astype(np.float64)
    return values


def check_pixels(batch: np.ndarray) -> np.ndarray:
    # min/max propagate NaN, and NaN fails both comparisons, so one test catches all three cases.
    if not (batch.min() >= PIXEL_MIN and batch.max() <= PIXEL_MAX):
        if not np.isfinite(batch).all():
            raise InputError("pixels must be finite numbers")
        raise InputError(f"pixels must lie in [{PIXEL_MIN:g}, {PIXEL_MAX:g}]")
    return batch


def from_json(name: str, data, rows: int) -> np.ndarray:
    """`data` (nested or flat JSON numbers) declared as `name` -> a checked float64 [rows, 64] batch."""
    flat = flatten_numbers(data)
    if len(flat) != rows * N_FEATURES:
        raise InputError(f"expected {rows * N_FEATURES} pixel values ({rows}x{N_FEATURES}), got {len(flat)}")
    if name in INTEGER and float in set(map(type, flat)):
        raise InputError(f"{name} data must be integers")
    try:
        values = np.array(flat, dtype=np.float64)
    except (OverflowError, ValueError) as exc:  # an integer beyond float range
        raise InputError(f"pixels must be finite numbers: {exc}") from None
    # Range first: it also bounds what the narrowing casts below can see.
    return _round_to(name, check_pixels(values)).reshape(rows, N_FEATURES)


def from_binary(name: str, raw: memoryview, rows: int) -> np.ndarray:
    """Little-endian binary tensor data declared as `name` -> a checked float64 [rows, 64] batch."""
    values = np.frombuffer(raw, dtype=NUMERIC[name], count=rows * N_FEATURES)
    if name == "BF16":
        values = _bf16_to_float32(values)
    return check_pixels(values.astype(np.float64)).reshape(rows, N_FEATURES)


def to_binary(values: np.ndarray, name: str) -> bytes:
    return np.ascontiguousarray(values, dtype=NUMERIC[name]).tobytes()
