"""VAE reconstruction detector: catches the white-square trigger, mean + 1·std rule on held-out
clean scores (or a chosen FRR), file."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
from defences_fixtures import tiny_badnet

from poison_tf.defences import streaming
from poison_tf.defences.base import load_detector
from poison_tf.defences.metrics import detection_metrics
from poison_tf.defences.vae import VAEDetector, build_decoder, build_encoder
from poison_tf.errors import UserInputError


@pytest.fixture(scope="module")
def fitted():
    world = tiny_badnet()
    detector = VAEDetector(latent_dim=16, epochs=20, batch_size=32, learning_rate=3e-3, seed=0)
    return world, detector.fit(world.val_x)


def test_threshold_is_mean_plus_one_std_of_the_held_out_clean_scores(fitted):
    world, detector = fitted
    held_out = detector.calibration_indices
    assert len(held_out) == round(0.2 * len(world.val_x))
    scores = detector.score(world.val_x[held_out])
    assert detector.threshold == pytest.approx(scores.mean() + scores.std(), rel=1e-9)
    assert detector.history["loss"][-1] < detector.history["loss"][0]


def test_the_vae_never_trains_on_the_images_behind_the_threshold(monkeypatch):
    """The root cause of the study's 41-46 % FRR: statistics of images the VAE was fitted on."""
    world = tiny_badnet()
    seen = []
    original = streaming.shuffled_batches

    def spy(x, y, batch_size, rng):
        for xb, yb in original(x, y, batch_size, rng):
            seen.append(xb)
            yield xb, yb

    monkeypatch.setattr(streaming, "shuffled_batches", spy)
    clean = world.val_x[:50]
    detector = VAEDetector(latent_dim=4, epochs=1, batch_size=16, seed=3).fit(clean)
    trained_rows = {row.tobytes() for row in np.concatenate(seen)}  # tf.data reads ahead
    held_out = clean[detector.calibration_indices]
    assert len(trained_rows) == 40 and len(held_out) == 10
    assert not any(row.tobytes() in trained_rows for row in held_out)


def test_frr_rule_sets_the_quantile_and_bad_rules_are_refused(fitted):
    world, _ = fitted
    detector = VAEDetector(latent_dim=8, epochs=1, batch_size=64, seed=0, frr=0.1)
    detector.fit(world.val_x[:100])
    scores = detector.score(world.val_x[:100][detector.calibration_indices])
    assert detector.threshold == pytest.approx(np.quantile(scores, 0.9), rel=1e-9)
    assert np.mean(scores > detector.threshold) <= 0.1
    with pytest.raises(UserInputError, match="frr"):
        VAEDetector(frr=1.5)
    with pytest.raises(UserInputError, match="holdout"):
        VAEDetector(holdout=1.0)
    with pytest.raises(UserInputError, match="too few"):
        VAEDetector(epochs=1, holdout=0.5).fit(world.val_x[:3])


def test_catches_the_trigger_well_above_its_false_rejections(fitted):
    world, detector = fitted
    metrics = detection_metrics(
        detector.score(world.test_x), detector.score(world.triggered_x), detector.threshold
    )
    print("VAE", metrics)
    assert metrics["roc_auc"] > 0.9
    assert metrics["detection_rate"] > 0.85
    assert metrics["frr"] < 0.3  # mean + 1·std of unseen clean scores: ~16 % for a Gaussian
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
