"""VAE reconstruction detector: catches the white-square trigger, mean + 1·std rule, file."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
from defences_fixtures import tiny_badnet

from poison_tf.defences.base import load_detector
from poison_tf.defences.metrics import detection_metrics
from poison_tf.defences.vae import VAEDetector, build_decoder, build_encoder
from poison_tf.errors import UserInputError


@pytest.fixture(scope="module")
def fitted():
    world = tiny_badnet()
    detector = VAEDetector(latent_dim=16, epochs=20, batch_size=32, learning_rate=3e-3, seed=0)
    return world, detector.fit(world.val_x)


def test_threshold_is_mean_plus_one_std_of_clean_fit_scores(fitted):
    world, detector = fitted
    scores = detector.score(world.val_x)
    assert detector.threshold == pytest.approx(scores.mean() + scores.std(), rel=1e-9)
    assert detector.history["loss"][-1] < detector.history["loss"][0]


def test_catches_the_trigger_well_above_its_false_rejections(fitted):
    world, detector = fitted
    metrics = detection_metrics(
        detector.score(world.test_x), detector.score(world.triggered_x), detector.threshold
    )
    print("VAE", metrics)
    assert metrics["roc_auc"] > 0.9
    assert metrics["detection_rate"] > 0.85
    assert metrics["frr"] < 0.3  # mean + 1·std: about 16 % for a Gaussian, as in the study
    np.testing.assert_array_equal(
        detector.flag(world.triggered_x), detector.score(world.triggered_x) > detector.threshold
    )


def test_save_load_gives_identical_scores(fitted, tmp_path):
    world, detector = fitted
    path = tmp_path / "VAE.h5"
    detector.save(path)
    with h5py.File(path, "r") as f:
        assert f.attrs["poison_tf_detector"] == "vae"
        assert json.loads(f.attrs["hyperparams"])["latent_dim"] == 16
    loaded = load_detector(path)
    assert isinstance(loaded, VAEDetector)
    assert loaded.threshold == detector.threshold and loaded.input_shape == (16, 16, 3)
    np.testing.assert_array_equal(loaded.score(world.test_x), detector.score(world.test_x))
    with pytest.raises(UserInputError, match=r"\(8, 8, 3\)"):
        loaded.score(np.zeros((2, 8, 8, 3), np.float32))


def test_hackml_shape_pads_and_crops_back():
    encoder, decoder = build_encoder((55, 47, 3), 8), build_decoder((55, 47, 3), 8)
    z_mean, _ = encoder(np.zeros((2, 55, 47, 3), np.float32))
    assert tuple(decoder(z_mean).shape) == (2, 55, 47, 3)
