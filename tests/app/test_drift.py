"""Drift: the training data passes, a shifted data set asks for retraining, files load."""
from __future__ import annotations

import numpy as np
import pytest

from app.drift import PSI_DRIFT, DriftDataError, drift_report, load_data, psi


def test_training_data_has_no_drift(model, split):
    report = drift_report(split[0], model)
    assert report["decision"] == "ok" and report["drifted_features"] == 0
    assert max(f["psi"] for f in report["per_feature"]) == pytest.approx(0.0, abs=1e-3)
    assert max(f["mean_shift_std"] for f in report["per_feature"]) == pytest.approx(0.0, abs=1e-3)
    assert report["predictions"]["psi"] < 0.01


def test_held_out_data_has_no_drift(model, split):
    report = drift_report(split[1], model)
    assert report["decision"] == "ok"
    assert report["drifted_fraction"] <= 0.05
    assert report["rows"] == 360 and report["features"] == 64


def test_brighter_images_ask_for_retraining(model, split):
    shifted = np.clip(split[1] + 3, 0, 16)
    report = drift_report(shifted, model)
    assert report["decision"] == "retrain"
    assert report["drifted_fraction"] > 0.9
    assert report["predictions"]["psi"] > PSI_DRIFT  # the predicted class mix moved too


def test_drift_on_a_quarter_of_the_pixels_is_the_threshold(model, split):
    data = split[1].copy()
    informative = np.argsort(-np.asarray(model.card["training_stats"]["feature_std"]))
    # Blank out the most varied pixels: 16 of 64 is exactly 25 % (not more), 17 is more.
    data[:, informative[:16]] = 0
    at_limit = drift_report(data, model)
    assert at_limit["drifted_features"] == 16 and at_limit["decision"] == "ok"
    data[:, informative[16]] = 0
    assert drift_report(data, model)["decision"] == "retrain"


def test_psi_numbers():
    same = np.array([[0.5, 0.5]])
    assert psi(same, same)[0] == 0.0
    # (0.9-0.5) ln(0.9/0.5) + (0.1-0.5) ln(0.1/0.5)
    expected = 0.4 * np.log(1.8) + (-0.4) * np.log(0.2)
    assert psi(same, np.array([[0.9, 0.1]]))[0] == pytest.approx(expected)


def test_load_csv_with_header_npy_and_npz(tmp_path, split):
    rows = split[1][:5]
    csv_path = tmp_path / "new.csv"
    csv_path.write_text(",".join(f"p{j}" for j in range(64)) + "\n"
                        + "\n".join(",".join(str(int(v)) for v in row) for row in rows) + "\n")
    np.testing.assert_array_equal(load_data(csv_path), rows)
    np.save(tmp_path / "new.npy", rows)
    np.testing.assert_array_equal(load_data(tmp_path / "new.npy"), rows)
    np.savez(tmp_path / "new.npz", x=rows)
    np.testing.assert_array_equal(load_data(tmp_path / "new.npz"), rows)


@pytest.mark.parametrize("content, fragment", [
    ("1,2,3\n4,5,6\n", "expected rows of 64 pixel values, got shape (2, 3)"),
    ("", "got shape (0,)"),
    (",".join(["1"] * 64) + "\n" + ",".join(["x"] * 64) + "\n", "cannot read"),
    (",".join(["nan"] * 64) + "\n", "NaN or infinite"),
])
def test_bad_data_files_are_refused(tmp_path, content, fragment):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(DriftDataError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        load_data(path)


def test_missing_file_is_refused(tmp_path):
    with pytest.raises(DriftDataError, match="cannot read"):
        load_data(tmp_path / "absent.npy")
