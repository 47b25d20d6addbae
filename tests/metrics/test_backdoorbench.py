"""BackdoorBench metrics: C-Acc, ASR on non-target inputs, RA, DER and RIR as their code defines."""

from __future__ import annotations

import numpy as np
import pytest

from poison_tf.errors import UserInputError
from poison_tf.metrics import backdoorbench as bb
from poison_tf.poison.sig import sig


def test_accuracy_asr_and_robust_accuracy():
    assert bb.clean_accuracy([0, 1, 2, 2], [0, 1, 1, 2]) == 0.75
    assert bb.attack_success_rate([0, 0, 3, 0], target=0) == 0.75
    assert bb.robust_accuracy([0, 0, 3, 0], [1, 2, 3, 1]) == 0.25


def test_der_uses_the_documented_sign():
    # BackdoorBench's leaderboard, BadNets 10 % PreAct-RN18: none 91.32/95.03, NC 89.05/1.27
    der = bb.defence_effectiveness_rating(0.9132, 0.8905, 0.9503, 0.0127)
    assert der == pytest.approx((0.9376 - 0.0227 + 1) / 2)
    assert bb.defence_effectiveness_rating(0.9, 0.9, 0.9, 0.9) == 0.5  # nothing changed
    assert bb.defence_effectiveness_rating(0.9, 0.95, 1.0, 0.0) == 1.0  # accuracy gain not rewarded
    assert bb.robust_improvement_rate(0.9, 0.8, 0.05, 0.85) == pytest.approx((0.8 - 0.1 + 1) / 2)


def test_attack_test_set_drops_the_target_class():
    images = np.full((6, 8, 8, 3), 0.5, np.float32)
    labels = np.array([0, 1, 2, 0, 3, 1])
    bd, true = bb.attack_test_set(images, labels, sig(), target=0)
    assert np.array_equal(true, [1, 2, 3, 1]) and bd.shape == (4, 8, 8, 3)
    assert not np.allclose(bd, 0.5)
    with pytest.raises(UserInputError, match="target class"):
        bb.attack_test_set(images, np.zeros(6, int), sig(), target=0)


def test_filter_scores_against_the_plan():
    scores = bb.filter_scores(removed=[1, 2, 3, 4], poisoned=[2, 3, 9], num_examples=10)
    assert scores == {"removed": 4, "removed_poisoned": 2, "precision": 0.5, "recall": 2 / 3}
