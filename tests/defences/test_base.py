"""The detector contract: the threshold rule, the metrics, the registry and bad detector files."""

from __future__ import annotations

import re
import shutil

import h5py
import keras
import numpy as np
import pytest
from defences_fixtures import tiny_badnet

from poison_tf.defences.base import load_detector, registered_kinds, threshold_from_scores
from poison_tf.defences.mahalanobis import MahalanobisDetector
from poison_tf.defences.metrics import detection_metrics
from poison_tf.defences.vae import VAEDetector
from poison_tf.errors import UserInputError


def test_mean_plus_k_std_is_exact_on_hand_made_scores():
    scores = np.array([1.0, 2.0, 3.0, 4.0])  # mean 2.5, population std sqrt(1.25)
    assert threshold_from_scores(scores) == pytest.approx(2.5 + np.sqrt(1.25), abs=1e-12)
    assert threshold_from_scores(scores, k=2) == pytest.approx(2.5 + 2 * np.sqrt(1.25))
    assert threshold_from_scores(scores, k=0) == pytest.approx(2.5)


def test_frr_quantile_rejects_exactly_that_fraction():
    scores = np.arange(100, dtype=float)
    threshold = threshold_from_scores(scores, frr=0.05)
    assert threshold == pytest.approx(94.05)
    assert np.mean(scores > threshold) == 0.05
    assert threshold_from_scores([1.0, 2.0, 3.0, 4.0], frr=0.25) == pytest.approx(3.25)


@pytest.mark.parametrize(
    "scores, kwargs",
    [
        ([], {}),
        ([1.0, np.nan], {}),
        ([1.0, 2.0], {"k": 1, "frr": 0.1}),
        ([1.0, 2.0], {"frr": 0.0}),
        ([1.0, 2.0], {"frr": 1.5}),
    ],
)
def test_bad_calibration_input_is_a_user_error(scores, kwargs):
    with pytest.raises(UserInputError, match="calibrate"):
        threshold_from_scores(scores, **kwargs)


def test_calibrate_sets_threshold_and_flag_uses_it():
    detector = VAEDetector()
    with pytest.raises(UserInputError, match="threshold"):
        detector.flag(np.zeros((1, 4, 4, 1)))
    assert detector.calibrate([1.0, 2.0, 3.0, 4.0], frr=0.25) == detector.threshold == 3.25


def test_detection_metrics_exact():
    out = detection_metrics([0.0, 1.0, 2.0, 3.0], [2.5, 4.0, 5.0], threshold=2.0)
    assert out == pytest.approx(
        {"frr": 0.25, "detection_rate": 1.0, "roc_auc": 11 / 12, "threshold": 2.0}
    )
    with pytest.raises(UserInputError):
        detection_metrics([], [1.0], 0.0)


def test_registry_knows_the_builtin_detectors():
    assert {"vae", "strip", "fine_pruning", "mahalanobis"} <= set(registered_kinds())


def test_non_hdf5_and_missing_files_name_the_file(tmp_path):
    text = tmp_path / "VAE.h5"
    text.write_text("not a model\n")
    with pytest.raises(UserInputError, match=re.escape(str(text))):
        load_detector(text)
    with pytest.raises(UserInputError, match="not found"):
        load_detector(tmp_path / "missing.h5")


def test_hdf5_without_kind_or_with_unknown_kind(tmp_path):
    plain = tmp_path / "plain.h5"
    with h5py.File(plain, "w") as f:
        f.create_dataset("data", data=np.zeros(3))
    with pytest.raises(UserInputError, match=f"{re.escape(str(plain))}.*not a poison_tf detector"):
        load_detector(plain)
    odd = tmp_path / "odd.h5"
    with h5py.File(odd, "w") as f:
        f.attrs["poison_tf_detector"] = "neural_cleanse_v9"
    with pytest.raises(UserInputError, match=f"{re.escape(str(odd))}.*unknown detector kind"):
        load_detector(odd)


@pytest.fixture(scope="module")
def saved_mahalanobis(tmp_path_factory):
    world = tiny_badnet()
    path = tmp_path_factory.mktemp("det") / "mahalanobis.h5"
    MahalanobisDetector(world.model).fit(world.val_x, world.val_y).save(path)
    return path


@pytest.mark.parametrize("keep", [0.5, 0.9])
def test_truncated_detector_file_names_the_file(saved_mahalanobis, tmp_path, keep):
    cut = tmp_path / "cut.h5"
    shutil.copy(saved_mahalanobis, cut)
    with open(cut, "r+b") as f:
        f.truncate(int(cut.stat().st_size * keep))
    with pytest.raises(UserInputError, match=re.escape(str(cut))):
        load_detector(cut)


def test_wrong_kind_through_subclass_load(saved_mahalanobis):
    assert isinstance(MahalanobisDetector.load(saved_mahalanobis), MahalanobisDetector)
    with pytest.raises(UserInputError, match="'mahalanobis' detector"):
        VAEDetector.load(saved_mahalanobis)


def test_stored_lambda_classifier_is_refused(tmp_path):
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Lambda(lambda t: t * 2.0, name="double")(inputs)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(4, activation="relu", name="fc")(x)
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(x))
    x = np.random.default_rng(0).uniform(size=(20, 8, 8, 1)).astype("float32")
    path = tmp_path / "lambda.h5"
    MahalanobisDetector(model, n_folds=2).fit(x).save(path)
    with pytest.raises(UserInputError, match=f"{re.escape(str(path))}.*cannot be rebuilt safely"):
        load_detector(path)
