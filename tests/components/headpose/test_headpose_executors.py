"""Executor tests of the head-pose study's components and the shared poison planner."""

from __future__ import annotations

import json
import os

from poison_tf import types
from poison_tf.components.headpose.bad_nets_report import BadNetsReport
from poison_tf.components.headpose.head_pose_evaluator import HeadPoseEvaluator
from poison_tf.components.headpose.head_pose_example_gen import HeadPoseExampleGen
from poison_tf.components.headpose.head_pose_trainer import HeadPoseTrainer
from poison_tf.components.poison_planner import PoisonPlanner


def test_example_gen(artefacts):
    examples = artefacts.headpose_examples
    assert examples.properties["train"] == 32 and examples.properties["test"] == 8
    assert len(examples.properties["angle_std"]) == 3
    artefacts.user_error(HeadPoseExampleGen, None, "at least 16 pixels", image_size=8)


def test_poison_planner(artefacts):
    plan = artefacts.headpose_plan
    assert plan.properties["count"] == 8 and plan.properties["num_examples"] == 32
    assert len(types.PoisonPlan.load(plan).poisoned_ids) == 8
    artefacts.user_error(
        PoisonPlanner,
        {"examples": artefacts.headpose_examples},
        "rate_percent",
        trigger="checkerboard",
        rate_percent=150.0,
        label_rule=artefacts.HEADPOSE_RULE,
    )


def test_trainer(artefacts):
    model = artefacts.headpose_model
    assert os.path.isfile(types.HeadPoseModel.path(model))
    assert model.properties["input_size"] == 32
    assert len(types.HeadPoseModel.history(model)) == 1
    assert types.HeadPoseModel.load(model).output_shape == (None, 3)
    artefacts.user_error(  # a plan where the examples go
        HeadPoseTrainer, {"examples": artefacts.headpose_plan}, "expected 'Examples'", epochs=1
    )


def test_evaluator(artefacts):
    metrics = types.HeadPoseMetrics.read(artefacts.headpose_metrics)
    assert set(metrics["clean"]) == {"yaw", "pitch", "roll", "mean"}
    assert metrics["clean"]["mean"] >= 0 and list(metrics["attacks"]) == ["checkerboard"]
    artefacts.user_error(  # a plan is not a head-pose model
        HeadPoseEvaluator,
        {"model": artefacts.headpose_plan, "examples": artefacts.headpose_examples},
        "expected 'HeadPoseModel'",
        attacks="[]",
    )


def test_report(artefacts):
    inputs = {
        "baseline_metrics": artefacts.headpose_metrics,
        "baseline_model": artefacts.headpose_model,
        "metrics": [artefacts.headpose_metrics],
        "plans": [artefacts.headpose_plan],
        "models": [artefacts.headpose_model],
    }
    report = artefacts.run(BadNetsReport, inputs, title="tiny")["report"]
    text = open(report.path(types.Report.FILE)).read()
    assert text.startswith("# tiny") and "checkerboard" in text
    artefacts.user_error(
        BadNetsReport, dict(inputs, plans=[artefacts.headpose_examples]), "expected 'PoisonPlan'"
    )
    json.dumps(report.properties)  # properties stay JSON
