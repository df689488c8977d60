"""Data drift: new inputs against the training statistics stored in the model card.

A feature has drifted when its population stability index (PSI, over the card's histogram
bins) passes PSI_DRIFT, or its mean moved by more than MEAN_SHIFT_DRIFT training standard
deviations. More than RETRAIN_FRACTION of the features drifted means: retrain.
"""
from __future__ import annotations

import csv
import zipfile
from pathlib import Path

import numpy as np

from app.model import N_FEATURES, DigitsModel

# The usual PSI reading: < 0.1 stable, 0.1-0.25 moderate, > 0.25 a significant shift.
PSI_DRIFT = 0.25
MEAN_SHIFT_DRIFT = 0.5
# ARCHITECTURE.md: "a change beyond 25 % asks for retraining".
RETRAIN_FRACTION = 0.25
# Pixels that are always 0 in training have std 0; a floor of one intensity step keeps a
# handful of stray non-zero pixels from reading as an infinite shift.
STD_FLOOR = 1.0
# Empty bins would make PSI infinite; a share of 1e-4 stands in for "almost never seen".
EPSILON = 1e-4


class DriftDataError(ValueError):
    """The data file cannot be read as rows of 64 numeric pixel values."""


def load_data(path: Path | str) -> np.ndarray:
    """A CSV (optional header row), .npy or .npz (first array) file -> float [N, 64]."""
    path = Path(path)
    try:
        if path.suffix == ".npy":
            data = np.load(path, allow_pickle=False)
        elif path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as arrays:
                if not arrays.files:
                    raise DriftDataError(f"{path} holds no array")
                data = arrays[arrays.files[0]]
        else:
            with path.open(newline="") as handle:
                rows = [row for row in csv.reader(handle) if row]
            if rows and not _numeric(rows[0]):
                rows = rows[1:]  # a header
            data = np.array(rows, dtype=np.float64)
        data = np.asarray(data, dtype=np.float64)
    except DriftDataError:
        raise
    # Whatever the file holds (ragged or non-numeric rows, NUL bytes, a broken zip, strings in a .npy):
    # one clear error, never a traceback (issue 20).
    except (OSError, ValueError, TypeError, EOFError, csv.Error, zipfile.BadZipFile) as exc:
        raise DriftDataError(f"cannot read {path}: {str(exc)[:200] or type(exc).__name__}") from None
    if data.ndim != 2 or data.shape[1] != N_FEATURES or len(data) == 0:
        raise DriftDataError(f"{path}: expected rows of {N_FEATURES} pixel values, got shape {data.shape}")
    if not np.isfinite(data).all():
        raise DriftDataError(f"{path}: holds NaN or infinite values")
    return data


def _numeric(row: list[str]) -> bool:
    try:
        [float(cell) for cell in row]
    except ValueError:
        return False
    return True


def psi(expected: np.ndarray, actual: np.ndarray) -> np.ndarray:
    """Population stability index per row of two share matrices (same bins, rows sum to 1)."""
    expected = np.clip(expected, EPSILON, None)
    actual = np.clip(actual, EPSILON, None)
    return ((actual - expected) * np.log(actual / expected)).sum(axis=-1)


def drift_report(data: np.ndarray, model: DigitsModel) -> dict:
    stats = model.card["training_stats"]
    mean = np.asarray(stats["feature_mean"])
    std = np.asarray(stats["feature_std"])
    edges = np.asarray(stats["histogram_edges"])
    expected = np.asarray(stats["feature_histograms"])
    # Values outside the training range fall in the outermost bins rather than vanishing.
    clipped = np.clip(data, edges[0], np.nextafter(edges[-1], edges[0]))
    actual = np.stack([np.histogram(clipped[:, j], bins=edges)[0] for j in range(N_FEATURES)]) / len(data)
    feature_psi = psi(expected, actual)
    new_mean = data.mean(axis=0)
    shift = np.abs(new_mean - mean) / np.maximum(std, STD_FLOOR)
    drifted = (feature_psi > PSI_DRIFT) | (shift > MEAN_SHIFT_DRIFT)
    fraction = float(drifted.mean())

    train_classes = np.asarray(stats["class_histogram"], dtype=np.float64)
    predicted = np.concatenate([model.predict_proba(data[i:i + 4096]).argmax(axis=1)
                                for i in range(0, len(data), 4096)])
    new_classes = np.bincount(predicted, minlength=len(train_classes))
    return {
        "model_version": model.version,
        "rows": int(len(data)),
        "features": N_FEATURES,
        "drifted_features": int(drifted.sum()),
        "drifted_fraction": round(fraction, 4),
        "retrain_above_fraction": RETRAIN_FRACTION,
        "decision": "retrain" if fraction > RETRAIN_FRACTION else "ok",
        "thresholds": {"psi": PSI_DRIFT, "mean_shift_std": MEAN_SHIFT_DRIFT},
        "per_feature": [
            {"feature": j, "train_mean": round(float(mean[j]), 4), "new_mean": round(float(new_mean[j]), 4),
             "mean_shift_std": round(float(shift[j]), 4), "psi": round(float(feature_psi[j]), 4),
             "drifted": bool(drifted[j])}
            for j in range(N_FEATURES)
        ],
        "predictions": {
            "train_class_share": np.round(train_classes / train_classes.sum(), 4).tolist(),
            "new_class_share": np.round(new_classes / len(data), 4).tolist(),
            "psi": round(float(psi(train_classes / train_classes.sum(), new_classes / len(data))), 4),
        },
    }
