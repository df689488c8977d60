"""The trained artefact: accuracy, model card numbers, determinism, integrity and input checks."""
from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from app import MODEL_DIR
from app.model import (CARD_FILE, MAX_BATCH, SAMPLE_FILE, WEIGHTS_ATOL, WEIGHTS_FILE, WEIGHTS_RTOL, DigitsModel,
                       InputError, ModelError, flatten_numbers, outputs_match, to_batch, weights_deviation,
                       weights_digest)
from app.train import HISTOGRAM_EDGES, NUMERIC_LIBRARIES, library_versions, train

ROOT = Path(__file__).resolve().parents[2]
# A BLAS kernel other than the one this CPU would pick, available on every CPU of the family:
# NumPy's and SciPy's wheels bundle OpenBLAS built with DYNAMIC_ARCH, which picks a kernel per
# CPU at run time and lets the OPENBLAS_CORETYPE variable force one (OpenBLAS README, "Support for
# multiple targets in a single library": x86-64 targets Prescott ... SkylakeX; ARMV8 on arm64).
# An unknown name falls back to autodetection, so on macOS (Accelerate) this checks plain
# repeatability. Here the default is SkylakeX, and Prescott gives other weight bytes.
OTHER_KERNEL = {"x86_64": "Prescott", "amd64": "Prescott", "aarch64": "ARMV8", "arm64": "ARMV8"}


def test_held_out_accuracy_matches_the_card(model, split):
    _, x_test, _, y_test = split
    accuracy = float((model.predict_proba(x_test).argmax(axis=1) == y_test).mean())
    assert accuracy == pytest.approx(model.card["metrics"]["test_accuracy"], abs=1e-6)
    assert accuracy >= 0.95
    assert model.card["data"]["test_rows"] == len(y_test) == 360


def test_card_training_statistics_are_those_of_the_training_split(model, split):
    x_train, _, y_train, _ = split
    stats = model.card["training_stats"]
    np.testing.assert_allclose(stats["feature_mean"], x_train.mean(axis=0), atol=1e-6)
    np.testing.assert_allclose(stats["feature_std"], x_train.std(axis=0), atol=1e-6)
    assert stats["class_histogram"] == np.bincount(y_train, minlength=10).tolist()
    assert sum(stats["class_histogram"]) == model.card["data"]["train_rows"] == 1437
    histograms = np.asarray(stats["feature_histograms"])
    assert histograms.shape == (64, len(HISTOGRAM_EDGES) - 1)
    np.testing.assert_allclose(histograms.sum(axis=1), 1.0, atol=1e-5)
    # Pixel 0 (top-left corner) is blank in every digit: all of it in the first bin.
    assert histograms[0, 0] == 1.0 and stats["feature_std"][0] == 0.0


def test_card_records_version_digest_and_library_versions(model):
    assert model.digest == weights_digest(model.weights.astype(np.float32), model.bias.astype(np.float32))
    assert model.version.startswith("v-") and len(model.version) == 18
    assert model.version != model.digest
    assert set(model.card["libraries"]) == {"python", "numpy", "scipy", "scikit-learn"}
    inputs = model.card["inputs"]
    assert set(inputs) == {"data_sha256", "hyperparameters", "code_sha256", "libraries"}
    assert inputs["libraries"] == {name: model.card["libraries"][name] for name in NUMERIC_LIBRARIES}


def test_probabilities_are_a_distribution(model, split):
    probabilities = model.predict_proba(split[1][:64])
    assert probabilities.shape == (64, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-9)
    label, probability = model.predict_top(split[1][0])
    assert label == probabilities[0].argmax() and probability == pytest.approx(probabilities[0].max())


@pytest.fixture(scope="module")
def retrained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("retrained")
    return train(folder), DigitsModel.load(folder)


def test_training_is_deterministic(tmp_path, retrained, model):
    first, first_model = retrained
    second = train(tmp_path / "b")
    assert first["version"] == second["version"]
    assert first == second  # same process, same kernel: the very same card, digest included
    first_model.self_test(tmp_path / "b" / SAMPLE_FILE)
    assert first["libraries"] == library_versions()
    if first["inputs"] == model.card["inputs"]:
        # Same inputs as the committed artefact (same pinned libraries): same version on any CPU,
        # and weights equal within the cross-kernel tolerance, not bit for bit.
        assert first["version"] == model.version
        assert outputs_match(first_model.weights, first_model.bias, model.weights, model.bias), \
            weights_deviation(first_model.weights, first_model.bias, model.weights, model.bias)
        assert first["metrics"]["test_accuracy"] == pytest.approx(model.card["metrics"]["test_accuracy"], abs=2 / 360)
    else:  # other library versions are other code: another version, but not another quality
        assert first["version"] != model.version
        assert first["metrics"]["test_accuracy"] == pytest.approx(model.card["metrics"]["test_accuracy"], abs=0.01)


def test_another_blas_kernel_gives_the_same_version(tmp_path, retrained):
    """What issue 13 saw on a SkylakeX machine, reproduced here by forcing another OpenBLAS kernel."""
    first, first_model = retrained
    env = {**os.environ, "OPENBLAS_CORETYPE": OTHER_KERNEL.get(platform.machine().lower(), "")}
    subprocess.run([sys.executable, "-m", "app.train", "--output-dir", str(tmp_path)], cwd=ROOT, env=env,
                   check=True, capture_output=True)
    other = DigitsModel.load(tmp_path)
    assert other.version == first["version"]
    assert outputs_match(other.weights, other.bias, first_model.weights, first_model.bias)
    other.self_test(MODEL_DIR / SAMPLE_FILE)  # the bundled sample of possibly other bytes: true labels


def test_weights_within_tolerance_are_the_same_model(tmp_path, model, sample):
    """A kernel change moves weights by float32 rounding; that must pass, a real change must not."""
    rng = np.random.default_rng(7)
    unit = WEIGHTS_ATOL + WEIGHTS_RTOL * np.abs(model.weights)
    nudged = model.weights + unit * rng.uniform(-0.9, 0.9, model.weights.shape)
    assert outputs_match(nudged, model.bias, model.weights, model.bias)
    changed = model.weights.copy()
    changed[5, 3] += 3 * unit[5, 3]
    assert not outputs_match(changed, model.bias, model.weights, model.bias)
    assert weights_deviation(changed, model.bias, model.weights, model.bias) == pytest.approx(3, rel=1e-3)
    # Such a nudged artefact (same version, other bytes) loads and passes the bundled self-test on
    # the true labels, as a model retrained on another CPU must.
    shutil.copytree(MODEL_DIR, tmp_path / "m")
    card = dict(model.card, weights_sha256=weights_digest(nudged.astype(np.float32), model.bias.astype(np.float32)))
    np.savez(tmp_path / "m" / WEIGHTS_FILE, weights=nudged.astype(np.float32), bias=model.bias.astype(np.float32))
    (tmp_path / "m" / CARD_FILE).write_text(json.dumps(card))
    reloaded = DigitsModel.load(tmp_path / "m")
    assert reloaded.version == model.version and reloaded.digest != model.digest
    reloaded.self_test(MODEL_DIR / SAMPLE_FILE)


def test_tampered_weights_fail_to_load(tmp_path):
    shutil.copytree(MODEL_DIR, tmp_path / "m")
    with np.load(tmp_path / "m" / WEIGHTS_FILE) as arrays:
        weights, bias = arrays["weights"].copy(), arrays["bias"]
    weights[0, 0] += 0.5
    np.savez(tmp_path / "m" / WEIGHTS_FILE, weights=weights, bias=bias)
    with pytest.raises(ModelError, match="does not match the weights"):
        DigitsModel.load(tmp_path / "m")


def test_missing_artefact_fails_to_load(tmp_path):
    with pytest.raises(ModelError, match="cannot read the model"):
        DigitsModel.load(tmp_path)


@pytest.mark.parametrize("name, content, message", [
    (WEIGHTS_FILE, b"PK\x03\x04 truncated zip", "BadZipFile"),
    (WEIGHTS_FILE, b"", "cannot read the model"),
    (WEIGHTS_FILE, b"\x93NUMPY garbage", "cannot read the model"),
    (CARD_FILE, b"{not json", "JSONDecodeError"),
    (CARD_FILE, b"[1, 2]", "is not a model card"),
])
def test_corrupt_artefact_is_a_model_error(tmp_path, name, content, message):
    """Whatever a corrupt upload looks like, loading says so instead of raising something else."""
    shutil.copytree(MODEL_DIR, tmp_path / "m")
    (tmp_path / "m" / name).write_bytes(content)
    with pytest.raises(ModelError, match=message):
        DigitsModel.load(tmp_path / "m")


def test_self_test_catches_wrong_predictions(tmp_path, model, sample):
    bad = dict(sample, labels=[(label + 1) % 10 for label in sample["labels"]])
    (tmp_path / "s.json").write_text(json.dumps(bad))
    with pytest.raises(ModelError, match="self-test failed: 16 of 16"):
        model.self_test(tmp_path / "s.json")


def test_self_test_of_another_version_uses_the_true_labels(tmp_path, model, sample):
    other = dict(sample, weights_sha256="sha256-0000000000000000", labels=[0] * len(sample["labels"]))
    (tmp_path / "s.json").write_text(json.dumps(other))
    model.self_test(tmp_path / "s.json")  # the true labels are met (at most 1 in 8 missed)
    other["truth"] = [(label + 1) % 10 for label in sample["truth"]]
    (tmp_path / "s.json").write_text(json.dumps(other))
    with pytest.raises(ModelError, match="at most 2 allowed"):
        model.self_test(tmp_path / "s.json")


@pytest.mark.parametrize("data, message", [
    ([], "non-empty array"),
    ("1,2", "non-empty array"),
    ([1, "2"], "must be numbers"),
    ([True] * 64, "must be numbers"),
    ([[1] * 8, 2], "all numbers or all rows"),
    ([None] * 64, "must be numbers"),
])
def test_flatten_rejects_non_numbers(data, message):
    with pytest.raises(InputError, match=message):
        flatten_numbers(data)


@pytest.mark.parametrize("flat, rows, message", [
    ([1.0] * 63, 1, "expected 64 pixel values"),
    ([1.0] * 128, 1, "expected 64 pixel values"),
    ([1.0] * 64 * (MAX_BATCH + 1), MAX_BATCH + 1, "1 to 64 images"),
    ([1.0] * 64, 0, "1 to 64 images"),
    ([float("nan")] + [1.0] * 63, 1, "finite"),
    ([float("inf")] + [1.0] * 63, 1, "finite"),
    ([10 ** 400] + [1] * 63, 1, "finite"),
    ([-0.5] + [1.0] * 63, 1, r"lie in \[0, 16\]"),
    ([16.5] + [1.0] * 63, 1, r"lie in \[0, 16\]"),
])
def test_to_batch_rejects_bad_batches(flat, rows, message):
    with pytest.raises(InputError, match=message):
        to_batch(flat, rows)


def test_to_batch_accepts_rows_and_bounds():
    batch = to_batch(flatten_numbers([[0] * 64, [16.0] * 64]), 2)
    assert batch.shape == (2, 64) and batch.max() == 16.0 and batch.min() == 0.0
