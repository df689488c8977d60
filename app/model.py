"""The served model: a multinomial logistic regression evaluated with NumPy alone.

Serving needs no scikit-learn: app/train.py folds the feature scaling into the weights and
writes them as float32 arrays, so a prediction is one matrix product and a softmax.

Two identities, on purpose. The model *version* names what went in (data, hyper-parameters,
training code and library versions; app/train.py): training on another CPU gives the same
version, because BLAS kernels (OpenBLAS picks one per CPU) move the last bits of the weights
but not the inputs. The *weights digest* names the exact bytes of one artefact and guards
it against corruption or tampering. "Same version" is checked on the outputs with a tolerance
(`outputs_match`), never by comparing floating-point bytes.
"""
from __future__ import annotations

import hashlib
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

WEIGHTS_FILE = "digits.npz"
CARD_FILE = "model_card.json"
SAMPLE_FILE = "selftest.json"

N_FEATURES = 64  # 8x8 images, row-major
N_CLASSES = 10
# scikit-learn's digits are 4-bit intensity counts: 0 (white) to 16 (black).
PIXEL_MIN, PIXEL_MAX = 0.0, 16.0
# A bound on one request's work, and so on its latency; larger jobs split into several requests.
MAX_BATCH = 64
# A model of another version may miss 1 in 8 sample images (the digits are not all legible).
SELF_TEST_TOLERANCE = 8
_NUMBER_TYPES = frozenset((int, float))
# Part of both hashes so that a change of model family can never collide with old artefacts.
_HASH_DOMAIN = b"mlinfra-digits-logreg-v1\0"
# "Same inputs, same outputs" tolerance for weights trained on different CPUs. Measured with the
# pinned libraries (app/requirements-train.txt) under OPENBLAS_CORETYPE=Prescott, Sandybridge,
# Haswell and SkylakeX: the largest difference was 3e-8 on weights of magnitude up to 4.6
# (float32 rounding). The bounds leave a 300x margin and are still far below what changes a
# prediction (the self-test and held-out accuracy check that separately).
WEIGHTS_RTOL = 1e-4
WEIGHTS_ATOL = 1e-5


class ModelError(Exception):
    """The artefact is missing, corrupt, or fails its self-test."""


class InputError(ValueError):
    """A request's pixels are not a valid batch of images (answered with 422)."""


def weights_digest(weights: np.ndarray, bias: np.ndarray) -> str:
    """The artefact's integrity digest: a hash of the float32 weights, stable across file formats.

    Machine-dependent by nature (see the module docstring): it proves these bytes are the ones
    the card describes, not that a retrain reproduces them."""
    digest = hashlib.sha256(_HASH_DOMAIN)
    digest.update(np.ascontiguousarray(weights, dtype="<f4").tobytes())
    digest.update(np.ascontiguousarray(bias, dtype="<f4").tobytes())
    return "sha256-" + digest.hexdigest()[:16]


def input_version(inputs: dict) -> str:
    """The model version: a hash of the training inputs (a JSON-able dict), independent of the CPU."""
    canonical = json.dumps(inputs, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return "v-" + hashlib.sha256(_HASH_DOMAIN + canonical.encode()).hexdigest()[:16]


def weights_deviation(weights: np.ndarray, bias: np.ndarray, ref_weights: np.ndarray, ref_bias: np.ndarray) -> float:
    """Largest |a - b| / (WEIGHTS_ATOL + WEIGHTS_RTOL * |b|) over all parameters; <= 1 means a match."""
    a = np.concatenate([np.ravel(weights), np.ravel(bias)]).astype(np.float64)
    b = np.concatenate([np.ravel(ref_weights), np.ravel(ref_bias)]).astype(np.float64)
    if a.shape != b.shape:
        return float("inf")
    return float((np.abs(a - b) / (WEIGHTS_ATOL + WEIGHTS_RTOL * np.abs(b))).max())


def outputs_match(weights: np.ndarray, bias: np.ndarray, ref_weights: np.ndarray, ref_bias: np.ndarray) -> bool:
    """Whether two trainings of one version produced the same model, up to floating-point kernels."""
    return weights_deviation(weights, bias, ref_weights, ref_bias) <= 1.0


def flatten_numbers(data: Any) -> list:
    """Flatten `[..numbers..]` or `[[..numbers..], ..]` into one list, rejecting anything else.

    The type check matters: NumPy would silently turn "3" or true into a pixel value.
    """
    if type(data) is not list or not data:
        raise InputError("pixels must be a non-empty array of numbers")
    if type(data[0]) is list:
        flat: list = []
        for row in data:
            if type(row) is not list:
                raise InputError("pixels must be all numbers or all rows of numbers")
            flat.extend(row)
    else:
        flat = data
    if not set(map(type, flat)) <= _NUMBER_TYPES:
        raise InputError("pixels must be numbers")
    return flat


def to_batch(flat: list, rows: int) -> np.ndarray:
    """Numbers -> a [rows, 64] batch, checked for shape, size, finiteness and range."""
    if not 1 <= rows <= MAX_BATCH:
        raise InputError(f"a batch holds 1 to {MAX_BATCH} images, got {rows}")
    if len(flat) != rows * N_FEATURES:
        raise InputError(f"expected {rows * N_FEATURES} pixel values ({rows}x{N_FEATURES}), got {len(flat)}")
    try:
        batch = np.array(flat, dtype=np.float64).reshape(rows, N_FEATURES)
    except (OverflowError, ValueError) as exc:  # an integer beyond float range
        raise InputError(f"pixels must be finite numbers: {exc}") from None
    # min/max propagate NaN, and NaN fails both comparisons, so one test catches all three cases.
    if not (batch.min() >= PIXEL_MIN and batch.max() <= PIXEL_MAX):
        if not np.isfinite(batch).all():
            raise InputError("pixels must be finite numbers")
        raise InputError(f"pixels must lie in [{PIXEL_MIN:g}, {PIXEL_MAX:g}]")
    return batch


@dataclass
class DigitsModel:
    weights: np.ndarray  # [64, 10], feature scaling folded in; stored as float32
    bias: np.ndarray  # [10]
    card: dict = field(default_factory=dict)

    def __post_init__(self):
        # Stored as float32 (the version hashes those bytes); evaluated in float64, which NumPy
        # reaches without a conversion of each request's batch.
        self.weights = np.asarray(self.weights, dtype=np.float64)
        self.bias = np.asarray(self.bias, dtype=np.float64)

    @property
    def version(self) -> str:
        return self.card["version"]

    @property
    def digest(self) -> str:
        return self.card["weights_sha256"]

    @classmethod
    def load(cls, directory: Path | str) -> "DigitsModel":
        directory = Path(directory)
        try:
            card = json.loads((directory / CARD_FILE).read_text())
            with np.load(directory / WEIGHTS_FILE, allow_pickle=False) as arrays:
                weights = arrays["weights"].astype(np.float32)
                bias = arrays["bias"].astype(np.float32)
        # A truncated or foreign file fails in the zip reader (BadZipFile), the JSON parser or
        # NumPy's header parser: every one of them means "not a model", never a crash.
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            raise ModelError(f"cannot read the model in {directory}: {type(exc).__name__}: {exc}") from None
        if not isinstance(card, dict) or not isinstance(card.get("version"), str):
            raise ModelError(f"cannot read the model in {directory}: {CARD_FILE} is not a model card")
        if weights.shape != (N_FEATURES, N_CLASSES) or bias.shape != (N_CLASSES,):
            raise ModelError(f"weights of shape {weights.shape}/{bias.shape}, expected (64, 10)/(10,)")
        actual = weights_digest(weights, bias)  # before the float64 copy: the hash is of the stored bytes
        if card.get("weights_sha256") != actual:
            raise ModelError(f"model card weights_sha256 {card.get('weights_sha256')!r} does not match"
                             f" the weights ({actual})")
        return cls(weights=weights, bias=bias, card=card)

    def predict_proba(self, batch: np.ndarray) -> np.ndarray:
        logits = batch @ self.weights + self.bias
        logits -= logits.max(axis=1, keepdims=True)
        np.exp(logits, out=logits)
        logits /= logits.sum(axis=1, keepdims=True)
        return logits

    def predict_top(self, pixels: np.ndarray) -> tuple[int, float]:
        """(label, probability) for one image: the softmax denominator is all that is needed."""
        logits = pixels @ self.weights
        logits += self.bias
        label = int(logits.argmax())
        logits -= logits[label]
        return label, float(1.0 / np.exp(logits, out=logits).sum())

    def self_test(self, sample_path: Path | str) -> None:
        """Predict the bundled sample and compare with what training recorded; raise on mismatch.

        A sample written with these very weights must be reproduced exactly (it proves the
        NumPy path computes what training measured). A sample from other weights (another
        version, or the same version trained on another CPU, fetched without its own sample)
        only has to get the true labels right.
        """
        try:
            sample = json.loads(Path(sample_path).read_text())
            pixels = to_batch(flatten_numbers(sample["pixels"]), len(sample["pixels"]))
            same_weights = sample.get("weights_sha256") == self.card.get("weights_sha256")
            expected = np.asarray(sample["labels"] if same_weights else sample["truth"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelError(f"cannot read the self-test sample {sample_path}: {exc}") from None
        labels = self.predict_proba(pixels).argmax(axis=1)
        wrong = int((labels != expected).sum())
        allowed = 0 if same_weights else len(expected) // SELF_TEST_TOLERANCE
        if wrong > allowed:
            raise ModelError(f"self-test failed: {wrong} of {len(expected)} sample images misclassified"
                             f" (at most {allowed} allowed)")
