"""The trained artefact: accuracy, model card numbers, determinism, integrity and input checks."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from app import MODEL_DIR
from app.model import (CARD_FILE, MAX_BATCH, SAMPLE_FILE, WEIGHTS_FILE, DigitsModel, InputError, ModelError,
                       flatten_numbers, to_batch, weights_version)
from app.train import HISTOGRAM_EDGES, library_versions, train


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


def test_card_records_version_and_library_versions(model):
    assert model.version == weights_version(model.weights.astype(np.float32), model.bias.astype(np.float32))
    assert model.version.startswith("sha256-") and len(model.version) == 23
    assert set(model.card["libraries"]) == {"python", "numpy", "scipy", "scikit-learn"}


def test_probabilities_are_a_distribution(model, split):
    probabilities = model.predict_proba(split[1][:64])
    assert probabilities.shape == (64, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-9)
    label, probability = model.predict_top(split[1][0])
    assert label == probabilities[0].argmax() and probability == pytest.approx(probabilities[0].max())


def test_training_is_deterministic(tmp_path, model):
    first = train(tmp_path / "a")
    second = train(tmp_path / "b")
    assert first["version"] == second["version"]
    assert (tmp_path / "a" / CARD_FILE).read_text() == (tmp_path / "b" / CARD_FILE).read_text()
    reloaded = DigitsModel.load(tmp_path / "a")
    reloaded.self_test(tmp_path / "a" / SAMPLE_FILE)
    if first["libraries"] == model.card["libraries"]:
        # Same pinned versions as the committed artefact: the very same weights.
        assert first["version"] == model.version
    else:  # other library versions may move the last bits of the weights, not the quality
        assert first["metrics"]["test_accuracy"] == pytest.approx(model.card["metrics"]["test_accuracy"], abs=0.01)
    assert first["libraries"] == library_versions()


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


def test_self_test_catches_wrong_predictions(tmp_path, model, sample):
    bad = dict(sample, labels=[(label + 1) % 10 for label in sample["labels"]])
    (tmp_path / "s.json").write_text(json.dumps(bad))
    with pytest.raises(ModelError, match="self-test failed: 16 of 16"):
        model.self_test(tmp_path / "s.json")


def test_self_test_of_another_version_uses_the_true_labels(tmp_path, model, sample):
    other = dict(sample, version="sha256-0000000000000000", labels=[0] * len(sample["labels"]))
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
