"""STRIP: triggered inputs keep low-entropy predictions under superimposition."""

from __future__ import annotations

import numpy as np
import pytest
from defences_fixtures import tiny_badnet

from poison_tf.defences.base import load_detector
from poison_tf.defences.metrics import detection_metrics
from poison_tf.defences.strip import StripDetector
from poison_tf.errors import UserInputError


@pytest.fixture(scope="module")
def fitted():
    world = tiny_badnet()
    return world, StripDetector(world.model, n_blends=16, pool_size=64).fit(world.val_x)


def test_catches_the_trigger_at_a_low_false_rejection_rate(fitted):
    world, detector = fitted
    clean, triggered = detector.score(world.test_x), detector.score(world.triggered_x)
    metrics = detection_metrics(clean, triggered, detector.threshold)
    print("STRIP", metrics)
    assert metrics["frr"] < 0.12  # calibrated for 5 % on the clean fit images
    assert metrics["detection_rate"] > metrics["frr"] + 0.4
    assert metrics["roc_auc"] > 0.85
    # Score = -entropy: triggered inputs have the lower mean entropy.
    assert np.median(detector.entropies(world.triggered_x)) < np.median(-clean)


def test_score_of_an_image_does_not_depend_on_its_batch(fitted):
    world, detector = fitted
    scores = detector.score(world.test_x[:40])
    assert detector.score(world.test_x[7:8])[0] == scores[7]
    assert len(np.unique(scores)) > 30  # different inputs get different blends


def test_save_load_gives_identical_scores(fitted, tmp_path):
    world, detector = fitted
    detector.save(tmp_path / "STRIP.h5")
    loaded = load_detector(tmp_path / "STRIP.h5")
    assert isinstance(loaded, StripDetector) and loaded.pool.shape == (64, 16, 16, 3)
    assert loaded.threshold == detector.threshold
    np.testing.assert_array_equal(
        loaded.score(world.triggered_x), detector.score(world.triggered_x)
    )


def test_bad_hyper_parameters_are_user_errors():
    model = tiny_badnet().model
    with pytest.raises(UserInputError, match="n_blends"):
        StripDetector(model, n_blends=200, pool_size=100)
    with pytest.raises(UserInputError, match="alpha"):
        StripDetector(model, alpha=1.0)
