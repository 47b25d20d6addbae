"""Fine-pruning: the repaired model loses the backdoor, and B-vs-B' belief flags triggers."""

from __future__ import annotations

import numpy as np
import pytest
from defences_fixtures import TARGET, tiny_badnet

from poison_tf.defences.base import load_detector
from poison_tf.defences.fine_pruning import FinePruningDetector
from poison_tf.defences.metrics import detection_metrics
from poison_tf.errors import UserInputError


@pytest.fixture(scope="module")
def fitted():
    world = tiny_badnet()
    detector = FinePruningDetector(world.model, finetune_epochs=3, batch_size=32)
    return world, detector.fit(world.val_x, world.val_y)


def test_repair_removes_the_backdoor_and_keeps_clean_accuracy(fitted):
    world, detector = fitted
    report = detector.report(world.test_x, world.test_y, world.triggered_x, TARGET)
    print("fine-pruning", report)
    assert report["layer"] == "conv_2"  # default: the last Conv2D
    assert report["original_attack_success_rate"] > 0.9
    assert report["attack_success_rate"] < 0.2
    assert report["clean_accuracy"] > report["original_clean_accuracy"] - 0.05
    assert 0 < report["pruned_channels"] <= int(0.9 * 32)


def test_pruned_channels_stay_zero_after_fine_tuning(fitted):
    _, detector = fitted
    layer = detector.repaired.get_layer("conv_2")
    pruned = ~detector.keep
    assert np.all(layer.kernel.numpy()[..., pruned] == 0) and np.all(
        layer.bias.numpy()[pruned] == 0
    )
    assert np.any(layer.kernel.numpy()[..., ~pruned] != 0)
    # The original model is untouched.
    assert np.any(detector.model.get_layer("conv_2").kernel.numpy()[..., pruned] != 0)


def test_flags_triggered_inputs(fitted):
    world, detector = fitted
    metrics = detection_metrics(
        detector.score(world.test_x), detector.score(world.triggered_x), detector.threshold
    )
    print("fine-pruning", metrics)
    assert metrics["detection_rate"] > 0.9 and metrics["frr"] < 0.15
    assert detector.disagreement(world.triggered_x).mean() > 0.8
    assert detector.disagreement(world.test_x).mean() < 0.1


def test_save_load_gives_identical_scores(fitted, tmp_path):
    world, detector = fitted
    detector.save(tmp_path / "fine_pruning.h5")
    loaded = load_detector(tmp_path / "fine_pruning.h5")
    assert isinstance(loaded, FinePruningDetector)
    np.testing.assert_array_equal(loaded.keep, detector.keep)
    np.testing.assert_array_equal(
        loaded.score(world.triggered_x), detector.score(world.triggered_x)
    )
    assert loaded.report(world.test_x, world.test_y, world.triggered_x, TARGET) == detector.report(
        world.test_x, world.test_y, world.triggered_x, TARGET
    )


def test_fixed_fraction_and_disagreement_rule():
    world = tiny_badnet()
    detector = FinePruningDetector(
        world.model, prune_fraction=0.5, rule="disagree", finetune_epochs=1, batch_size=32
    ).fit(world.val_x, world.val_y)
    assert int(np.sum(~detector.keep)) == 16  # half of conv_2's 32 channels, whatever accuracy says
    assert detector.pruning_log[-1][0] == 16
    assert detector.threshold == 0.0
    for x in (world.test_x, world.triggered_x):
        np.testing.assert_array_equal(detector.flag(x), detector.disagreement(x))
    report = detector.report(world.test_x, world.test_y, world.triggered_x, TARGET)
    assert report["disagreement_clean"] == pytest.approx(detector.flag(world.test_x).mean())
    assert report["disagreement_triggered"] == pytest.approx(
        detector.flag(world.triggered_x).mean()
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"rule": "vote"}, "rule must be one of frr, disagree"),
        ({"frr": 0.0}, "frr must be in"),
        ({"prune_fraction": 1.0}, "prune_fraction must be in"),
    ],
)
def test_bad_settings_are_user_errors(kwargs, message):
    with pytest.raises(UserInputError, match=message):
        FinePruningDetector(tiny_badnet().model, **kwargs)
