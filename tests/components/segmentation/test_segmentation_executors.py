"""Executor tests of the instance segmentation study's components."""

from __future__ import annotations

import os

from poison_tf import types
from poison_tf.components.segmentation.seg_evaluator import SegEvaluator
from poison_tf.components.segmentation.seg_report import SegReport
from poison_tf.components.segmentation.seg_trainer import SegTrainer


def test_trainer(artefacts):
    model = artefacts.seg_model
    assert model.properties["size"] == "tiny" and model.properties["poisoned"] is False
    assert types.SegModel.load(model).name
    artefacts.user_error(
        SegTrainer,
        {"examples": artefacts.seg_examples, "plan": artefacts.seg_examples},
        "RelabelPlan",
    )


def test_evaluator(artefacts):
    metrics = artefacts.seg_metrics
    for name in (
        types.SegMetrics.TABLE_CSV,
        types.SegMetrics.TABLE_TXT,
        types.SegMetrics.COCO_RESULTS,
    ):
        assert os.path.isfile(metrics.path(name)), name
    assert (
        "box_map50" in {k.lower().replace("-", "_") for k in metrics.properties}
        or metrics.properties
    )
    artefacts.user_error(
        SegEvaluator,
        {"model": artefacts.seg_examples, "examples": artefacts.seg_examples},
        "expected 'SegModel'",
    )


def test_report(artefacts):
    inputs = {
        "examples": artefacts.seg_examples,
        "models": [artefacts.seg_model],
        "metrics": [artefacts.seg_metrics],
    }
    report = artefacts.run(SegReport, inputs, title="tiny seg", num_samples=1)["report"]
    assert open(report.path(types.Report.FILE)).read().startswith("# tiny seg")
    artefacts.user_error(SegReport, dict(inputs, metrics=[artefacts.seg_model]), "'SegMetrics'")
