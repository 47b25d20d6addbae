"""Executor tests of the clean-image backdoor's components."""

from __future__ import annotations

import os

import pytest

from poison_tf import types
from poison_tf.components.clean_image.clean_image_pair_selector import CleanImagePairSelector
from poison_tf.components.clean_image.clean_image_planner import CleanImagePlanner
from poison_tf.components.clean_image.clean_image_report import CleanImageReport
from poison_tf.components.segmentation.seg_evaluator import SegEvaluator


@pytest.fixture(scope="module")
def pairs(artefacts):
    inputs = {"examples": artefacts.seg_examples, "model": artefacts.seg_model}
    return artefacts.run(CleanImagePairSelector, inputs, num_tsne_pairs=1)["pairs"]


@pytest.fixture(scope="module")
def plan(artefacts, pairs):
    inputs = {"examples": artefacts.seg_examples, "pairs": pairs}
    return artefacts.run(CleanImagePlanner, inputs, ratio=1.0)["plan"]


def test_pair_selector(artefacts, pairs):
    chosen = types.ClassPairs.load(pairs)
    assert len(chosen) == 1 and pairs.properties["pairs"] == chosen[0].slug
    assert os.path.isfile(pairs.path(types.ClassPairs.SCATTER_PNG))
    inputs = {"examples": artefacts.seg_examples, "model": artefacts.seg_model}
    artefacts.user_error(CleanImagePairSelector, inputs, "--pairs", pairs="nosuchclass:bus")


def test_planner(artefacts, pairs, plan):
    relabel = types.RelabelPlan.load(plan)
    assert plan.properties["relabelled"] == relabel.count == relabel.host_initial  # ratio 1
    assert plan.properties["pair"] == types.ClassPairs.load(pairs)[0].slug
    inputs = {"examples": artefacts.seg_examples, "pairs": pairs}
    artefacts.user_error(CleanImagePlanner, inputs, "--ratio", ratio=1.5)


def test_report(artefacts, pairs, plan):
    evaluated = {"model": artefacts.seg_model, "examples": artefacts.seg_examples, "plan": plan}
    attacked = artefacts.run(SegEvaluator, evaluated, global_batch_size=4, export=False)["metrics"]
    assert os.path.isfile(attacked.path(types.SegMetrics.ATTACK_FILE))
    inputs = {
        "examples": artefacts.seg_examples,
        "pairs": pairs,
        "plans": [plan],
        "base_model": artefacts.seg_model,
        "base_metrics": artefacts.seg_metrics,
        "base_attacks": [attacked],
        "models": [artefacts.seg_model],
        "metrics": [attacked],
    }
    report = artefacts.run(CleanImageReport, inputs, num_samples=1)["report"]
    assert "instance" in open(report.path(types.Report.FILE)).read().lower()
    artefacts.user_error(CleanImageReport, dict(inputs, plans=[pairs]), "'RelabelPlan'")
